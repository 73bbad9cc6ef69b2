"""A model that answers through the engine, on a streamed run: Requests a chunk at a time.

For a model given by spec or in memory (``sklearn:``, ``python:``, ``hf:``, ``openai:``, …), each
chunk of valid data rows becomes Requests (the same payloads and cache keys as the in-memory
path builds from a ``Dataset``); the engine answers them — from the cache, deduplicated, with
retries, on this process's threads or on Ray actors — and the answers are encoded into a
:class:`~assay.checks._stream.Chunk` for the checks' states. Only one chunk's Requests and
Responses are alive at a time, so memory is bounded by ``engine.chunk_rows``, not by the file.

A failed call is left out of every metric (``engine.errors: exclude``; ``wrong`` does not
stream) and counted as ``performance.unscored.calls_failed`` with its cause, as in memory; the
run stops as in memory when the share of failed calls reaches ``engine.stop_when_failed``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from assay._runner._stream_source import ChunkTally, KeptRows, StreamPlan, kept_chunks
from assay._types import OTHER_LABEL, Model, Request, Response, canonical_label, content_key
from assay.checks._predictions import (
    EXACT_SUM,
    MAX_UNSCORED_EXAMPLES,
    PROBA_SUM_TOLERANCE,
    failure_cause,
    probability_value,
)
from assay.checks._stream import Chunk
from assay.data._dataset import row_payloads
from assay.data._readers import coerce_text_columns
from assay.engine import Engine
from assay.errors import ModelError

__all__ = ["model_chunks"]


def model_chunks(
    plan: StreamPlan,
    *,
    engine: Engine,
    models: Mapping[str, Model],
    fingerprint: str,
    input_spec: str | list[str],
    stats: dict[str, Any],
) -> Iterator[tuple[Chunk, ChunkTally]]:
    """Each chunk's valid rows asked of ``plan.model`` through ``engine`` and encoded.

    ``stats`` accumulates the engine's counts over the chunks (``report.engine``).

    Raises:
        ModelError: an answer without a label, a predicted label outside the labels (naming
            the example), or probabilities that are not a distribution.
    """
    inputs = [input_spec] if isinstance(input_spec, str) else list(input_spec)
    text = plan.data.format in ("csv", "tsv")
    for kept in kept_chunks(plan, data_columns=inputs):
        frame = (
            coerce_text_columns(kept.data[inputs])
            if text and not isinstance(input_spec, str)
            else kept.data
        )
        payloads = row_payloads(frame, input_spec)
        requests = [
            Request(
                key=content_key(fingerprint, p),
                model=plan.model,
                payload=p,
                tags={"example_id": str(i)},
            )
            for i, p in zip(kept.ids.tolist(), payloads, strict=True)
        ]
        responses = engine.run(requests, models)
        for key, value in engine.stats.to_dict().items():
            if isinstance(value, (int, float)):
                stats[key] = stats.get(key, 0) + value
        yield _encode(plan, kept, requests, responses)


def _encode(
    plan: StreamPlan,
    kept: KeptRows,
    requests: list[Request],
    responses: Mapping[str, Response],
) -> tuple[Chunk, ChunkTally]:
    n = len(requests)
    k = len(plan.labels)
    code = {label: i for i, label in enumerate(plan.labels)}
    tally = ChunkTally(calls=n)
    ok = np.ones(n, dtype=bool)
    y_pred = np.full(n, -1, dtype=np.intp)
    proba = np.zeros((n, k))
    has_proba = np.zeros(n, dtype=bool)
    for i, req in enumerate(requests):
        resp = responses.get(req.key)
        where = f"id {kept.ids[i]!r} (row {int(kept.rows[i]) + 1} of {plan.data.path.name})"
        if resp is None or not resp.ok:
            ok[i] = False
            tally.failed += 1
            tally.causes[failure_cause(resp)] += 1
            if len(tally.failed_examples) < MAX_UNSCORED_EXAMPLES:
                tally.failed_examples.append(where)
                error = "no response" if resp is None else str(resp.error)
                tally.error_examples.append({"id": str(kept.ids[i]), "error": error})
            continue
        out = resp.output
        assert out is not None
        if out.label is None:
            raise ModelError(
                f"model {plan.model!r}: the answer for {where} has no label; a classifier must "
                "return labels"
            )
        label = canonical_label(out.label)
        c = code.get(label)
        if c is None:
            if not plan.other:
                raise ModelError(
                    f"model {plan.model!r} predicted {label!r} for {where}, which is not among "
                    f"the labels of {plan.data.path.name}: {', '.join(plan.labels)}. Fix: map the "
                    "model's classes to these labels (label_map: in a scikit-learn model's "
                    "options); or add the class to `labels:` in the data entry; or set "
                    f"`outside_labels: other` there to count it as a wrong answer of {OTHER_LABEL}"
                )
            c = 1 - int(kept.y_true[i])  # binary only (a multiclass `other` does not stream)
        y_pred[i] = c
        if out.probabilities:
            has_proba[i] = True
            _fill(proba[i], out.probabilities, code, plan=plan, where=where, tally=tally)
    no_proba = ok & ~has_proba
    if no_proba.any():
        tally.no_probabilities = int(no_proba.sum())
        tally.no_probabilities_examples = [
            f"id {kept.ids[i]!r} (row {int(kept.rows[i]) + 1} of {plan.data.path.name})"
            for i in np.flatnonzero(no_proba)[:MAX_UNSCORED_EXAMPLES]
        ]
        proba[no_proba] = 1.0 / k
    tally.n = int(ok.sum())
    columns = {col: kept.data[col].to_numpy(dtype=object)[ok] for col in plan.columns}
    chunk = Chunk(
        rows=kept.rows[ok],
        ids=kept.ids[ok],
        y_true=kept.y_true[ok],
        y_pred=y_pred[ok],
        proba=proba[ok] if has_proba.any() else None,
        columns=columns,
    )
    return chunk, tally


def _fill(
    row: np.ndarray,
    probabilities: Mapping[str, float],
    code: Mapping[str, int],
    *,
    plan: StreamPlan,
    where: str,
    tally: ChunkTally,
) -> None:
    """One answer's probabilities into ``row`` (label order), checked and renormalised as the
    in-memory path does."""
    for raw, value in probabilities.items():
        label = canonical_label(raw)
        x = probability_value(value, model=plan.model, label=label, where=where)
        c = code.get(label)
        if c is None:
            raise ModelError(
                f"model {plan.model!r}: the probabilities for {where} name the class {label!r}, "
                f"which is not among the labels ({', '.join(plan.labels)}). Fix: map the model's "
                "classes to the labels (label_map:), or add the class to `labels:` in the data "
                "entry"
            )
        row[c] += x
    s = float(row.sum())
    if abs(s - 1.0) > PROBA_SUM_TOLERANCE:
        raise ModelError(
            f"model {plan.model!r}: the probabilities for {where} sum to {s:.6g}, not 1; return a "
            f"distribution over {', '.join(plan.labels)}"
        )
    if abs(s - 1.0) > EXACT_SUM:
        tally.renormalised += 1
        tally.renormalised_min = min(tally.renormalised_min, s)
        tally.renormalised_max = max(tally.renormalised_max, s)
    row /= s
