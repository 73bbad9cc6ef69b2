"""Reports that kept only the first ``keep_predictions`` rows: refused unless the prefix is accepted."""

from __future__ import annotations

import pytest
from planted import per_example, planted

from assay.compare import compare_paired
from assay.compare._paired import align_tables
from assay.errors import ReportError


def _truncated(table: dict, k: int) -> dict:
    out = {key: (v[:k] if isinstance(v, list) else v) for key, v in table.items()}
    return {**out, "truncated": True}


def test_truncated_tables_are_refused_with_the_fix() -> None:
    p = planted("better", n=400, seed=1)
    cand, base = _truncated(per_example(p, "candidate"), 150), per_example(p, "baseline")
    base = _truncated(base, 150)
    with pytest.raises(
        ReportError, match=r"truncated \(cand.json kept 150 of 400, prod.json kept 150 of 400"
    ) as e:
        align_tables(cand, base, task="classification", names=("cand.json", "prod.json"))
    assert "keep_predictions" in str(e.value) and "--allow-truncated" in str(e.value)
    # One side truncated: the ids differ, and the message says why.
    with pytest.raises(ReportError, match="cand.json kept only the first predictions"):
        align_tables(
            cand,
            per_example(p, "baseline"),
            task="classification",
            names=("cand.json", "prod.json"),
        )


def test_accepted_prefix_is_compared_and_noted() -> None:
    p = planted("better", n=400, seed=1)
    cand = _truncated(per_example(p, "candidate"), 150)
    base = _truncated(per_example(p, "baseline"), 150)
    paired = align_tables(cand, base, task="classification", allow_truncated=True)
    assert paired.n == 150
    c = compare_paired(paired)
    assert c.n == 150
    assert any("compared on the first 150 examples only" in n for n in c.notes)
