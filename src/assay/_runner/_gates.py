"""Gates: declared thresholds on metric paths that decide pass or fail.

A gate reads ``<check>.<metric path>[.value|.lower|.upper] <op> <number>``, for example
``performance.f1_macro.lower >= 0.80`` or ``slices.genre.*.accuracy.lower >= 0.70``. Without an
attribute the point value is compared. ``*`` matches any one segment; a gate with a wildcard passes
when every matching metric passes (slices marked too small are left out, and named in the detail).
A segment with spaces or symbols is quoted: ``fairness.race."Black women".accuracy >= 0.7`` (the
syntax: :mod:`assay.config._gate_syntax`).
"""

from __future__ import annotations

import difflib
import fnmatch
import math
import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from assay.checks._base import CheckConfig, get_check
from assay.config import Suite
from assay.config._gate_syntax import split_gate
from assay.errors import ConfigError
from assay.report._schema import CheckResult, GateOutcome

__all__ = ["Gate", "evaluate_gates", "parse_gate", "validate_gate_paths", "validate_gates"]

_OPS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge,
    ">": operator.gt,
    "<=": operator.le,
    "<": operator.lt,
    "==": operator.eq,
}
_ATTRS = ("value", "lower", "upper")


@dataclass(frozen=True)
class Gate:
    """A parsed gate."""

    text: str
    check: str
    metric: str
    attr: str
    op: str
    threshold: float

    @property
    def has_wildcard(self) -> bool:
        return "*" in self.metric.replace("[*]", "")

    def compare(self, x: float) -> bool:
        return _OPS[self.op](x, self.threshold)


def parse_gate(text: str, *, where: str = "gates") -> Gate:
    """Parse ``"performance.f1_macro.lower >= 0.8"``.

    Raises:
        ConfigError: not of the form ``<path> <op> <number>``.
    """
    split = split_gate(text)
    if split is None:
        raise ConfigError(
            f"{where}: {text!r} is not a gate; write `<check>.<metric>[.lower|.upper|.value] <op> <number>` "
            f"with op one of {', '.join(_OPS)}, e.g. `performance.f1_macro.lower >= 0.80` (quote a "
            'name with spaces or symbols: `fairness.race."Black women".accuracy >= 0.7`)'
        )
    parts, op, num = split
    try:
        threshold = float(num)
    except ValueError:
        raise ConfigError(
            f"{where}: {text!r}: threshold {num!r} is not a number; write a number, "
            "e.g. `performance.f1_macro.lower >= 0.80`"
        ) from None
    if len(parts) < 2:
        raise ConfigError(
            f"{where}: {text!r}: the path needs a check and a metric, e.g. performance.accuracy"
        )
    attr = "value"
    if parts[-1] in _ATTRS:
        attr = parts.pop()
    if len(parts) < 2:
        raise ConfigError(f"{where}: {text!r}: no metric before .{attr}")
    return Gate(text.strip(), parts[0], ".".join(parts[1:]), attr, op, threshold)


def _segments_match(pattern: Sequence[str], path: Sequence[str]) -> bool:
    return len(pattern) == len(path) and all(
        p == "*" or q == "*" or fnmatch.fnmatchcase(q, p) for p, q in zip(pattern, path)
    )


def validate_gates(
    gates: Sequence[str],
    suite: Suite,
    configs: Mapping[str, CheckConfig],
    *,
    source: str = "suite",
) -> list[Gate]:
    """Parse every gate and check that its path can exist for the suite's checks.

    Raises:
        ConfigError: a malformed gate, a check not in the suite, or a metric path no check
            produces; the message lists the valid paths.
    """
    patterns = {
        name: get_check(name).gate_patterns(config, suite) for name, config in configs.items()
    }
    return validate_gate_paths(gates, patterns, source=source)


def validate_gate_paths(
    gates: Sequence[str],
    patterns: Mapping[str, Sequence[str]],
    *,
    source: str = "suite",
    runner: str = "the suite",
) -> list[Gate]:
    """Parse every gate and check its path against ``patterns`` (check → metric path patterns).

    ``validate_gates`` passes the patterns of a suite's checks; a command that produces one
    check's result by itself (``assay leakage``, ``assay curves``) passes the paths it produces.

    Args:
        gates: the gate texts.
        patterns: check name → the metric paths it can produce (``*`` matches one segment).
        source: where the gates come from, for messages (``gates[i]`` follows it).
        runner: what produces the results, for messages (``"the suite"``, ``"assay leakage"``).

    Raises:
        ConfigError: a malformed gate, a check ``runner`` does not run, or a metric path it
            does not produce; the message lists the valid paths.
    """
    parsed = []
    for i, text in enumerate(gates):
        where = f"{source}: gates[{i}]"
        gate = parse_gate(text, where=where)
        if gate.check not in patterns:
            listed = "\n".join(f"    {c}.{p}" for c, pats in patterns.items() for p in pats)
            raise ConfigError(
                f"{where}: {text!r} names check {gate.check!r}, which {runner} does not run; "
                f"checks in {runner}: {', '.join(patterns) or '(none)'}"
                + (f"; valid paths:\n{listed}" if listed else "")
            )
        pats = list(patterns[gate.check])
        if not any(_segments_match(p.split("."), gate.metric.split(".")) for p in pats):
            listed = "\n".join(f"    {gate.check}.{p}" for p in pats)
            close = difflib.get_close_matches(gate.metric, pats, n=1)
            hint = f" (did you mean {gate.check}.{close[0]}?)" if close else ""
            raise ConfigError(
                f"{where}: {text!r}: no metric {gate.check}.{gate.metric}{hint}; valid paths "
                f"(add .lower, .upper or .value; * stands for any value):\n{listed}"
            )
        parsed.append(gate)
    return parsed


def evaluate_gates(
    gates: Sequence[str], results: Sequence[CheckResult], *, model: str
) -> list[GateOutcome]:
    """Decide every gate on ``model``'s results.

    A gate whose metric is undefined (NaN) or absent fails, with the reason in ``detail``
    (a check's ``not_computed`` table says why a metric it could not compute is absent).
    """
    outcomes = []
    for text in gates:
        gate = parse_gate(text)
        result = next((r for r in results if r.check == gate.check and r.model == model), None)
        if result is None:
            outcomes.append(
                GateOutcome(
                    gate=gate.text,
                    passed=False,
                    threshold=gate.threshold,
                    detail=f"check {gate.check!r} produced no result for {model!r}",
                )
            )
            continue
        excluded = set(result.tables.get("too_small_keys", []))
        pattern = gate.metric.split(".")
        keys = [k for k in result.metrics if _segments_match(pattern, k.split("."))]
        skipped = [k for k in keys if k in excluded]
        keys = [k for k in keys if k not in excluded]
        if not keys:
            detail = (
                _not_computed(result, pattern) or f"no metric matched {gate.check}.{gate.metric}"
            )
            if skipped:
                detail += f" (too small to judge: {', '.join(skipped)})"
            outcomes.append(
                GateOutcome(gate=gate.text, passed=False, threshold=gate.threshold, detail=detail)
            )
            continue
        matches = []
        for k in keys:
            x = getattr(result.metrics[k], gate.attr)
            ok = (not math.isnan(x)) and gate.compare(x)
            matches.append({"metric": k, "observed": None if math.isnan(x) else x, "passed": ok})
        failing = [m for m in matches if not m["passed"]]
        worst = _worst(matches, gate)
        if failing:
            names = ", ".join(f"{m['metric']}={_fmt(m['observed'])}" for m in failing[:5])
            detail = f"{len(failing)} of {len(matches)} failed: {names}"
        else:
            detail = f"{len(matches)} metric(s) pass" if gate.has_wildcard else "pass"
        if skipped:
            detail += f"; too small to judge: {', '.join(skipped)}"
        outcomes.append(
            GateOutcome(
                gate=gate.text,
                passed=not failing,
                observed=worst,
                threshold=gate.threshold,
                detail=detail,
                matches=matches if gate.has_wildcard else [],
            )
        )
    return outcomes


def _not_computed(result: CheckResult, pattern: list[str]) -> str:
    """Why the metrics a gate names were not computed, from the check's ``not_computed`` table
    (metric path → reason), or ``""``."""
    table = result.tables.get("not_computed")
    if not isinstance(table, Mapping):
        return ""
    for key, reason in table.items():
        if _segments_match(pattern, str(key).split(".")):
            return f"{'.'.join(pattern)} was not computed: {reason}"
    return ""


def _worst(matches: list[dict[str, object]], gate: Gate) -> float | None:
    values = [float(m["observed"]) for m in matches if m["observed"] is not None]  # type: ignore[arg-type]
    if len(values) < len(matches) or not values:
        return None
    return min(values) if gate.op in (">=", ">") else max(values)


def _fmt(x: object) -> str:
    return "undefined" if x is None else f"{float(x):.4g}"  # type: ignore[arg-type]
