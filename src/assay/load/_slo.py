"""Service-level objectives: ``"p95<800ms,errors<1%"``, parsed once, checked on a load step.

Grammar (terms joined by commas; spaces are ignored)::

    slo     := term ("," term)*
    term    := [timing "."] stat op number unit    latency terms
             | ("errors" | "timeouts") op number "%"
    timing  := "latency" (default) | "ttft" | "itl" | "tpot"
    stat    := "p50" | "p90" | "p95" | "p99" | "p99.9" | "max" | "mean"
    op      := "<" | "<="
    unit    := "ms" | "s" | "us"

``p95<800ms`` bounds the end-to-end latency's 95th percentile, ``ttft.p99<200ms`` the time to
first token's, ``errors<1%`` the share of requests that failed or timed out.

Goodput (vLLM ``benchmark_serving``): the requests per second that met every SLO *as a
per-request bound*: the request succeeded and each timing named by a latency term (whatever its
statistic) is within that term's threshold.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from assay.errors import ConfigError
from assay.load._samples import Sample

__all__ = ["SLO", "SLO_GRAMMAR", "SLOTerm", "parse_slo"]

Timing = Literal["latency", "ttft", "itl", "tpot"]

SLO_GRAMMAR = (
    "terms joined by commas, each `[latency.|ttft.|itl.|tpot.]STAT<NUMBER(ms|s|us)` with STAT one "
    "of p50, p90, p95, p99, p99.9, max, mean, or `errors<NUMBER%` / `timeouts<NUMBER%` "
    '(example: "p95<800ms,ttft.p99<300ms,errors<1%")'
)
_STATS = {
    "p50": 0.5,
    "p90": 0.9,
    "p95": 0.95,
    "p99": 0.99,
    "p99_9": 0.999,
    "max": None,
    "mean": None,
}
_UNITS = {"ms": 1e-3, "s": 1.0, "us": 1e-6}
_TERM = re.compile(
    r"^(?:(?P<timing>latency|ttft|itl|tpot)[._])?(?P<stat>p99[._]9|p\d\d|max|mean|errors|timeouts)"
    r"(?P<op><=|<)(?P<num>\d+(?:\.\d*)?|\.\d+)(?P<unit>ms|us|s|%)$"
)


@dataclass(frozen=True)
class SLOTerm:
    """One bound: ``stat`` of ``timing`` (``"errors"``/``"timeouts"``: a rate) below ``limit``
    (seconds, or a fraction for rates)."""

    timing: Timing | None
    stat: str
    limit: float
    inclusive: bool
    text: str

    @property
    def quantile(self) -> float | None:
        return _STATS.get(self.stat)

    @property
    def key(self) -> str:
        """The name of the measured statistic in a step summary (``"p95_ms"``,
        ``"ttft.p99_ms"``, ``"error_rate"``)."""
        if self.stat in ("errors", "timeouts"):
            return "error_rate" if self.stat == "errors" else "timeout_rate"
        prefix = "" if self.timing in (None, "latency") else f"{self.timing}."
        return f"{prefix}{self.stat}_ms"  # p99.9 is written p99_9 (a dot separates path parts)

    def holds(self, measured: float) -> bool:
        """Whether a measured value (seconds, or a fraction) meets the bound."""
        return measured <= self.limit if self.inclusive else measured < self.limit


@dataclass(frozen=True)
class SLO:
    """A parsed SLO: its terms and the text it came from."""

    terms: tuple[SLOTerm, ...]
    text: str

    def request_meets(self, sample: Sample) -> bool:
        """Whether one request meets every term as a per-request bound (goodput's rule): it
        succeeded and each bounded timing it has is within the limit (a streamed timing it
        lacks — a one-token answer has no ITL — does not count against it)."""
        if not sample.ok:
            return False
        for term in self.terms:
            if term.timing is None and term.stat in ("errors", "timeouts"):
                continue
            value = _timing_of(sample, term.timing or "latency")
            if value is not None and not term.holds(value):
                return False
        return True


def _timing_of(sample: Sample, timing: Timing) -> float | None:
    if timing == "latency":
        return sample.latency_s
    if timing == "ttft":
        return sample.ttft_s
    if timing == "itl":
        return sample.itl_s
    return sample.tpot_s


def parse_slo(text: str, *, where: str = "--slo") -> SLO:
    """Parse ``"p95<800ms,errors<1%"`` (grammar in the module docstring).

    Raises:
        ConfigError: a term does not parse; the message names it and gives the grammar.

    Example:
        >>> slo = parse_slo("p95<800ms, ttft.p99<=0.3s, errors<1%")
        >>> [(t.key, t.limit) for t in slo.terms]
        [('p95_ms', 0.8), ('ttft.p99_ms', 0.3), ('error_rate', 0.01)]
    """
    terms: list[SLOTerm] = []
    for raw in text.split(","):
        part = raw.replace(" ", "").lower()
        if not part:
            continue
        m = _TERM.match(part)
        bad = m is None
        if m is not None:
            stat, unit, timing = m["stat"].replace(".", "_"), m["unit"], m["timing"]
            rate = stat in ("errors", "timeouts")
            bad = (rate and (unit != "%" or timing is not None)) or (
                not rate and (unit == "%" or stat not in _STATS)
            )
        if bad or m is None:
            raise ConfigError(
                f"{where}: cannot read the SLO term {raw.strip()!r}; write {SLO_GRAMMAR}"
            )
        number = float(m["num"])
        limit = number / 100.0 if m["unit"] == "%" else number * _UNITS[m["unit"]]
        terms.append(
            SLOTerm(
                timing=m["timing"],  # type: ignore[arg-type]
                stat=m["stat"].replace(".", "_"),
                limit=limit,
                inclusive=m["op"] == "<=",
                text=part,
            )
        )
    if not terms:
        raise ConfigError(f"{where}: the SLO {text!r} is empty; write {SLO_GRAMMAR}")
    return SLO(terms=tuple(terms), text=text)
