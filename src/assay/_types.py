"""The shared vocabulary of assay, below every other package.

What data, models, the engine and the checks all speak: a model's ``Task``, its input ``Payload``
and ``Output``, ``ModelInfo``, the ``Model`` protocol and the optional capabilities a model may
declare (typed Protocols checked with ``isinstance``), the engine's ``Request`` / ``Response`` and
their ``content_key``, the canonical form of class labels and the placeholder labels that stand
for answers that are not a class. Importing this module imports nothing else from assay, so any
layer may use it (see docs/architecture.md).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

__all__ = [
    "ERROR_LABEL",
    "OTHER_LABEL",
    "UNPARSEABLE_LABEL",
    "AdaptsConcurrency",
    "AnswersById",
    "CallSettings",
    "CoversIds",
    "LimitsConcurrency",
    "LocatesAnswers",
    "Model",
    "ModelInfo",
    "Output",
    "OverridesCallSettings",
    "Payload",
    "Request",
    "Response",
    "TakesDeclaredTask",
    "TakesTimeout",
    "Task",
    "WrapsEstimator",
    "canonical_label",
    "content_key",
]

#: The predicted class of a failed call when errors count as wrong answers.
ERROR_LABEL = "(error)"

#: The label of an answer that names no class. It is an answer (not an error): it counts as a
#: wrong prediction in every metric, shows as its own column of the confusion matrix, and its rate
#: is reported with an interval (``unparseable_rate``).
UNPARSEABLE_LABEL = "(unparseable)"

#: The class a predicted label outside the dataset's labels becomes when the data entry says
#: ``outside_labels: other``: a wrong answer, counted (``performance.unscored.outside_labels``).
OTHER_LABEL = "(other)"

Task = Literal["classification", "regression", "generation", "embedding"]

#: One model input, JSON-serialisable: a text (``str``), a mapping of feature name to value
#: (tabular), or a mapping with an ``"image"`` path. Generation parameters travel in
#: ``Request.params``, not here.
Payload = Any


@dataclass(frozen=True)
class Output:
    """What a model answered for one input. Exactly one of label, value or text is the answer.

    Attributes:
        label: predicted class (as a string), for classification.
        probabilities: class → probability, for classifiers that give them.
        value: predicted number, for regression.
        spread: for regression, the model's own spread of ``value`` (a predicted standard
            deviation, or any non-negative scale that grows with the expected error); read by
            the uncertainty check (abstention by spread, ``normalized`` conformal).
        quantiles: for regression, predicted quantiles, level → value (``{0.05: 1.2, 0.95:
            3.4}``), values non-decreasing in the level; read by the uncertainty check
            (``quantile`` conformal, CQR).
        text: generated text, for generation.
        embedding: a vector, for embedding models.
        usage: token counts and the like (``{"prompt_tokens": 12, ...}``).
        timings: the call's own timings, measured by the adapter: ``latency_s`` (the request's
            latency) and, for streamed generation, ``ttft_s``, ``itl_s``, ``tpot_s``,
            ``tokens_per_s`` (see docs/language-models.md).
        finish_reason: why a served model stopped (``stop``, ``length``, ...), ``""`` when the
            server gave no reason; ``None`` when the model is not one that says. ``length`` and
            ``""`` mark an answer that may be cut short.
        label_mass: for a language model scored as a classifier, the probability its labels
            held before the label probabilities were renormalised (1 − the mass outside them).
        floored: labels that were absent from the server's top log-probabilities and were given
            the stated floor (the k-th listed probability) instead of 0.
    """

    label: str | None = None
    probabilities: dict[str, float] | None = None
    value: float | None = None
    text: str | None = None
    embedding: list[float] | None = None
    usage: dict[str, float] | None = None
    timings: dict[str, float] | None = None
    finish_reason: str | None = None
    label_mass: float | None = None
    floored: list[str] | None = None
    spread: float | None = None
    quantiles: dict[float, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        """A compact JSON-ready dict (``None`` fields left out)."""
        return {k: v for k, v in self.__dict__.items() if v is not None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Output:
        """Inverse of :meth:`to_dict` (also after JSON, which writes quantile levels as
        strings)."""
        q = data.get("quantiles")
        if q is not None:
            data = {**data, "quantiles": {float(k): float(v) for k, v in q.items()}}
        return cls(**data)


@dataclass(frozen=True)
class ModelInfo:
    """What identifies a model in reports and cache keys.

    Attributes:
        name: the model's name in the suite (``"candidate"``, ``"baseline"``).
        spec: the spec string it was loaded from (``"sklearn:model.joblib"``), secrets removed.
        task: what it does.
        fingerprint: a hash of the model file(s), or name and version; part of every cache key, so
            a changed model is never answered from an old cache.
        labels: the classes it predicts, when known.
        details: anything else worth recording (library versions, class name, ...).
    """

    name: str
    spec: str
    task: Task
    fingerprint: str
    labels: tuple[str, ...] | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "spec": self.spec,
            "task": self.task,
            "fingerprint": self.fingerprint,
            "labels": list(self.labels) if self.labels is not None else None,
            "details": self.details,
        }


@runtime_checkable
class Model(Protocol):
    """Anything assay can evaluate.

    ``predict`` receives a batch of payloads and returns one ``Output`` per payload, in order.
    It raises :class:`assay.errors.RetryableModelError` for transient failures (the engine retries)
    and any other exception for permanent ones (recorded as an error Response). ``params`` carries
    per-request options such as generation settings; adapters that take none ignore it.
    """

    def info(self) -> ModelInfo: ...

    def predict(
        self, batch: Sequence[Payload], params: dict[str, Any] | None = None
    ) -> list[Output]: ...


# ----------------------------------------------------------- capabilities
#
# What a model may do beyond ``Model``. Each is a runtime-checkable Protocol that the runner, the
# engine and the run context test with ``isinstance``; a model declares a capability by having
# the member, never by a flag that someone probes with ``getattr``. Where a capability is a
# property, a plain attribute implements it; ``isinstance`` sees only that it exists, its type
# is for mypy.


@runtime_checkable
class AnswersById(Protocol):
    """A model that answers only the dataset's own examples, by id (a predictions file).

    Its payloads are ``{"id": ...}`` instead of inputs, so it cannot answer new inputs (perturbed,
    swapped or generated texts): checks that need them skip it with a note.
    """

    @property
    def keyed_by_id(self) -> Literal[True]: ...


@runtime_checkable
class CoversIds(Protocol):
    """A model with a fixed set of answers (a predictions file) that can say which ids it covers."""

    def coverage(self, ids: Sequence[str]) -> tuple[list[str], list[str]]:
        """(``ids`` it has no answer for, in the given order; ids it answers that are not in
        ``ids``, in its own order). The runner notes both in the Report."""
        ...


@runtime_checkable
class LocatesAnswers(Protocol):
    """A model whose answers are rows of a file (a predictions file), which can say where the
    answer for an id is, so that a message about that answer names the file and row."""

    def locate(self, id: str) -> str | None:
        """Where the answer for ``id`` is, as a user reads it (``"row 61 of preds.csv"``), or
        ``None`` when it has none."""
        ...


@runtime_checkable
class LimitsConcurrency(Protocol):
    """A model that caps how many of its batches the engine runs at once.

    ``max_concurrency`` is a positive int, or ``None`` for no limit of its own (the engine's
    ``concurrency`` still applies). A local transformer says 1: a fast tokenizer is not
    thread-safe.
    """

    @property
    def max_concurrency(self) -> int | None: ...


@runtime_checkable
class AdaptsConcurrency(Protocol):
    """A model that adapts how many requests it keeps in flight (``openai:``): its record says
    the concurrency it started from, used and why (a JSON-ready dict with a one-line ``why``),
    for the report."""

    def concurrency_record(self) -> dict[str, Any]: ...


@runtime_checkable
class WrapsEstimator(Protocol):
    """A model around a fitted scikit-learn style estimator (``fit``/``predict``), which a fit
    recipe (``checks.cv.fit: sklearn``) clones and refits."""

    @property
    def estimator(self) -> Any: ...


@runtime_checkable
class TakesDeclaredTask(Protocol):
    """A model that cannot know its task until it answers (user code), and takes the suite's
    declared ``task`` instead of guessing it from the first answers. A task the model's own
    options name wins over the suite's."""

    def declare_task(self, task: Task) -> None: ...


@runtime_checkable
class AnswersEachInput(Protocol):
    """A model whose batch is independent calls (one HTTP request per input, ``openai:``).

    ``predict_each`` does what ``predict`` does (same return value, same exceptions) and also
    hands each input's answer to ``on_answer(index, output)`` as soon as it arrives — possibly
    from another thread — so the engine can commit it to the cache before the rest of the batch
    is done: a run killed mid-batch then repeats only the calls that were truly in flight.
    """

    def predict_each(
        self,
        batch: Sequence[Payload],
        params: dict[str, Any] | None,
        on_answer: Callable[[int, Output], None],
    ) -> list[Output]: ...


@dataclass(frozen=True)
class CallSettings:
    """A model's own settings for how the engine calls it; ``None`` keeps the suite's ``engine``
    setting of the same name.

    Attributes:
        retries: how often a transiently failing input is asked again.
        backoff_s: base of the exponential backoff between attempts.
        timeout_s: the longest one call over the network may take (see :class:`TakesTimeout`).
    """

    retries: int | None = None
    backoff_s: float | None = None
    timeout_s: float | None = None


@runtime_checkable
class OverridesCallSettings(Protocol):
    """A model whose options override some of the suite's engine settings for its own calls
    (``openai:`` with ``options.retries``, ``backoff_s`` or ``timeout_s``)."""

    @property
    def call_settings(self) -> CallSettings: ...


@runtime_checkable
class TakesTimeout(Protocol):
    """A model that calls over a network and can bound each call. The engine, which owns
    timeouts, hands it the timeout it resolved (the model's ``call_settings.timeout_s``, else
    the suite's ``engine.timeout_s``) before it calls the model; a model keeps its own default
    when neither says."""

    def set_timeout(self, timeout_s: float) -> None: ...


# --------------------------------------------------------------- labels


def canonical_label(value: Any) -> str:
    """The canonical string of a class label.

    Integers and integral floats become their integer digits (``1.0`` → ``"1"``); booleans
    become ``"True"``/``"False"``; strings are stripped of surrounding whitespace; anything else
    is ``str()``.

    Raises:
        ValueError: for NaN or ``None`` (a missing label is not a class).

    Example:
        >>> canonical_label(1.0), canonical_label(" fresh "), canonical_label(True)
        ('1', 'fresh', 'True')
    """
    if value is None:
        raise ValueError("a missing label (None) has no class")
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        f = float(value)
        if math.isnan(f):
            raise ValueError("a missing label (NaN) has no class")
        return str(int(f)) if f.is_integer() else repr(f)
    if isinstance(value, bytes):
        return value.decode("utf-8").strip()
    return str(value).strip()


# -------------------------------------------------------- requests and responses


def content_key(fingerprint: str, payload: Payload, params: dict[str, Any] | None = None) -> str:
    """The cache key of one model call: a hash of the model fingerprint, payload and parameters.

    Two requests with the same key are the same question to the same model, whichever check asked.
    """
    blob = json.dumps(
        {"m": fingerprint, "p": payload, "o": params or {}},
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Request:
    """One question for one model.

    Attributes:
        key: content key (see :func:`content_key`); equal keys are answered once.
        model: the model's name in the suite.
        payload: the input.
        params: per-request options (generation settings); part of the key.
        tags: free labels for the asking check (``{"example_id": "17", "variant": "typos"}``);
            not part of the key.
    """

    key: str
    model: str
    payload: Payload
    params: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Response:
    """The answer to one Request.

    Attributes:
        key: the Request's key.
        output: what the model answered; ``None`` when it failed.
        latency_s: the request's latency when the model measured it (``Output.timings``'s
            ``latency_s``: an HTTP request's own time), else the wall time of the call per
            example (a batch's time divided by its size); for a cached answer, the latency
            measured when it was first asked.
        error: the error message when the call failed after retries, else ``None``.
        cached: whether this came from the cache rather than a fresh call.
        measured_at: for a cached answer, when it was answered (Unix time), else ``None``.
    """

    key: str
    output: Output | None
    latency_s: float
    error: str | None = None
    cached: bool = False
    measured_at: float | None = None

    @property
    def ok(self) -> bool:
        return self.error is None and self.output is not None
