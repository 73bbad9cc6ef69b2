"""What a reader must see first: failed gates, comparison verdicts and every flagged finding,
gated or not, in one short de-duplicated list ordered by severity.

The HTML summary, the notebook view and the Markdown summary read this list; a NO-GO lower down
(an ungated ``finetune_cost``) can no longer hide under a PASS.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from assay.report._schema import Report

__all__ = ["SEVERITIES", "Finding", "findings"]

Severity = Literal["fail", "no-go", "inconclusive", "warning", "go"]

#: Severities, most severe first: a failed gate, a comparison that says NO-GO, one that cannot
#: tell, a flagged finding, a comparison that says GO.
SEVERITIES: tuple[Severity, ...] = ("fail", "no-go", "inconclusive", "warning", "go")


@dataclass(frozen=True)
class Finding:
    """One line of the summary.

    Attributes:
        severity: one of :data:`SEVERITIES`.
        check: the check it comes from (the first part of a gate's path).
        text: what was found, once (the same text from several models or checks is one
            finding, under the first check that said it).
        models: the models it was found for, in report order.
        verdict: a comparison's verdict (``go``, ``no-go``, ``inconclusive``), else ``None``.
        gated: whether a gate decides on it (a failed gate, or a check some gate reads).
    """

    severity: Severity
    check: str
    text: str
    models: tuple[str, ...]
    verdict: str | None = None
    gated: bool = False


@dataclass
class _Entry:
    severity: Severity
    check: str
    models: list[str] = field(default_factory=list)
    verdict: str | None = None
    gated: bool = False


def findings(report: Report) -> list[Finding]:
    """The summary's findings of ``report``, most severe first, each text once."""
    gated_checks = {g.gate.split(".", 1)[0].strip() for g in report.gates}
    merged: dict[str, _Entry] = {}

    def add(
        severity: Severity,
        check: str,
        text: str,
        model: str | None,
        *,
        verdict: str | None = None,
        gated: bool = False,
    ) -> None:
        entry = merged.setdefault(text, _Entry(severity, check, verdict=verdict, gated=gated))
        if model is not None and model not in entry.models:
            entry.models.append(model)
        if SEVERITIES.index(severity) < SEVERITIES.index(entry.severity):
            entry.severity = severity

    for g in report.gates:
        if not g.passed:
            detail = f" ({g.detail})" if g.detail else ""
            add(
                "fail",
                g.gate.split(".", 1)[0].strip(),
                f"gate failed: {g.gate}{detail}",
                None,
                gated=True,
            )
    for r in report.results:
        comparison = r.tables.get("comparison")
        gated = r.check in gated_checks
        verdict = comparison.get("verdict") if isinstance(comparison, dict) else None
        if verdict in _VERDICTS:
            assert isinstance(comparison, dict)
            reasons = comparison.get("reasons") or []
            reason = f": {reasons[0]}" if reasons else ""
            text = f"{verdict.upper()} against {comparison.get('baseline')}{reason}"
            add(_VERDICTS[verdict], r.check, text, r.model, verdict=verdict, gated=gated)
            continue  # its flags repeat its reasons
        for flag in r.flags:
            add("warning", r.check, flag, r.model, gated=gated)
    out = [
        Finding(e.severity, e.check, text, tuple(e.models), e.verdict, e.gated)
        for text, e in merged.items()
    ]
    return sorted(out, key=lambda f: SEVERITIES.index(f.severity))


_VERDICTS: dict[str, Severity] = {"go": "go", "no-go": "no-go", "inconclusive": "inconclusive"}
