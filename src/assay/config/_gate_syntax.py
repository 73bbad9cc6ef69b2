"""The syntax of one gate: ``<path> <op> <number>``, the path's segments separated by dots.

A segment that holds spaces, dots, comparison signs or glob characters — a group named
``Black women``, a class named ``>50K`` — is written in double or single quotes:
``fairness.race."Amer Indian".accuracy.lower >= 0.7``. Inside quotes a dot stands for the ``_``
that metric keys use in its place (keys are dot-separated) and ``*``, ``?`` and ``[`` are literal
characters; outside quotes ``*`` matches any one segment (the runner's gate matching).

The runner validates and decides gates (``assay._runner._gates``); checks read a gate's segments
to name a value the data must hold (a fairness group) before any model is asked.
"""

from __future__ import annotations

import re

__all__ = ["GATE_OPS", "split_gate"]

#: Comparison operators, longest first (``>=`` before ``>``).
GATE_OPS = (">=", "<=", "==", ">", "<")
_SEGMENT = r"""(?:"[^"]*"|'[^']*'|[^<>=!\s"'.]+)"""
_GATE_RE = re.compile(
    rf"^\s*(?P<path>{_SEGMENT}(?:\.{_SEGMENT})*)\s*(?P<op>>=|<=|==|>|<)\s*(?P<num>\S+)\s*$"
)
_GLOB = re.compile(r"([*?\[])")


def _segment(raw: str) -> str:
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'":
        # literal: dots as metric keys write them, glob characters escaped for fnmatch
        return _GLOB.sub(r"[\1]", raw[1:-1].replace(".", "_"))
    return raw


def split_gate(text: str) -> tuple[list[str], str, str] | None:
    """``(segments, op, number text)`` of a gate, or ``None`` if ``text`` is not of the form
    ``<path> <op> <number>``.

    Example:
        >>> split_gate('fairness.race."Black women".accuracy.lower >= 0.7')
        (['fairness', 'race', 'Black women', 'accuracy', 'lower'], '>=', '0.7')
    """
    m = _GATE_RE.match(text)
    if not m:
        return None
    segments = [_segment(s) for s in re.findall(_SEGMENT, m["path"])]
    return segments, m["op"], m["num"]
