"""The domain_shift check: accuracy per domain and per time period against an in-domain reference.

``seen`` names the domains the model was fine-tuned on. The pooled seen domains are the
reference: ``gap`` is unseen minus seen accuracy, and each unseen domain's gap is against the
pooled seen domains (each seen domain's against the other seen domains), so the two samples are
independent and Newcombe's interval for a difference of proportions applies. Periods (``year``,
``quarter``, ``month`` of the declared time column) are compared with the first period that has
``min_n`` examples.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field

from assay._types import Response
from assay.checks._base import Check, CheckConfig, RunContext, register_check
from assay.checks._performance import gather
from assay.config._suite import Suite
from assay.errors import ConfigError
from assay.report._schema import CheckResult
from assay.stats import proportion_difference, wilson_interval
from assay.stats._estimate import Estimate

__all__ = ["DomainShiftCheck", "DomainShiftConfig"]


class DomainShiftConfig(CheckConfig):
    """Options of the domain_shift check.

    Attributes:
        column: the domain column (default: the dataset's ``domain``).
        seen: domains seen in fine-tuning; without it, each domain is compared with the rest.
        time: the time column (default: the dataset's ``time``); ``None`` and no declared time
            column: no periods.
        period: ``year``, ``quarter`` or ``month``.
        min_n: domains and periods with fewer examples are listed but get no metrics.
    """

    column: str | None = None
    seen: list[str] = Field(default_factory=list)
    time: str | None = None
    period: Literal["year", "quarter", "month"] = "year"
    min_n: int = Field(default=20, ge=1)


def _seg(v: Any) -> str:
    return str(v).replace(".", "_").strip() or "(empty)"


@register_check("domain_shift")
class DomainShiftCheck(Check):
    """Does accuracy hold on domains and periods the model was not fine-tuned on?"""

    Config = DomainShiftConfig

    @classmethod
    def validate_suite(cls, config: CheckConfig, suite: Suite, *, source: str = "suite") -> None:
        assert isinstance(config, DomainShiftConfig)
        spec = suite.data[config.dataset or suite.primary_dataset]
        if not (config.column or spec.domain or config.time or spec.time):
            raise ConfigError(
                f"{source}: checks.domain_shift: no domain or time column; declare `domain:` or "
                "`time:` in the dataset, or give checks.domain_shift.column / time"
            )

    @classmethod
    def gate_patterns(cls, config: CheckConfig, suite: Suite) -> list[str]:
        return [
            "seen.accuracy",
            "unseen.accuracy",
            "gap",
            "domain.*.accuracy",
            "domain.*.gap",
            "period.*.accuracy",
            "period.*.gap",
        ]

    def score(self, ctx: RunContext, responses: Mapping[str, Response]) -> CheckResult:
        cfg = self.config
        assert isinstance(cfg, DomainShiftConfig)
        ds = ctx.dataset(cfg.dataset)
        pred = gather(ctx, self.model, cfg.dataset, responses)
        flags = list(pred.flags)
        if pred.task != "classification":
            flags.append("domain_shift scores classification models only so far")
            return CheckResult(
                check=self.name,
                model=self.model,
                dataset=ds.name,
                n=pred.n,
                errors=pred.errors,
                flags=flags,
            )
        level = ctx.level
        frame = ds.frame.loc[pred.ids]
        right = np.asarray(pred.y_true == pred.y_pred, dtype=bool)
        metrics: dict[str, Estimate] = {}
        tables: dict[str, Any] = {"seen": list(cfg.seen), "min_n": cfg.min_n}

        def rate(mask: np.ndarray) -> Estimate:
            return wilson_interval(int(right[mask].sum()), int(mask.sum()), level=level)

        def gap(a: np.ndarray, b: np.ndarray) -> Estimate:
            return proportion_difference(
                int(right[a].sum()), int(a.sum()), int(right[b].sum()), int(b.sum()), level=level
            )

        col = cfg.column or ds.spec.domain
        if col:
            if col not in frame.columns:
                raise ConfigError(
                    f"checks.domain_shift.column: {col!r} is not a column of dataset {ds.name!r}; "
                    f"columns: {', '.join(map(str, frame.columns))}"
                )
            values = frame[col].astype("string").fillna("(missing)").to_numpy(dtype=object)
            present = set(values)
            missing = [s for s in cfg.seen if s not in present]
            if missing:
                flags.append(f"seen domains not in the data: {', '.join(missing)}")
            seen_mask = np.isin(values, cfg.seen)
            rows = []
            if cfg.seen:
                metrics["seen.accuracy"] = rate(seen_mask)
                metrics["unseen.accuracy"] = rate(~seen_mask)
                metrics["gap"] = gap(~seen_mask, seen_mask)
            for v, n in pd.Series(values).value_counts().items():
                m = values == v
                is_seen = v in cfg.seen
                ref = (seen_mask & ~m) if cfg.seen else ~m
                row: dict[str, Any] = {
                    "domain": str(v),
                    "n": int(n),
                    "seen": is_seen,
                    "too_small": int(n) < cfg.min_n,
                }
                if not row["too_small"]:
                    acc, g = rate(m), gap(m, ref)
                    metrics[f"domain.{_seg(v)}.accuracy"] = acc
                    metrics[f"domain.{_seg(v)}.gap"] = g
                    row.update(accuracy=acc.to_dict(), gap=g.to_dict(), worse=bool(g.upper < 0))
                    if g.upper < 0:
                        flags.append(
                            f"domain {v} (n={n}{', seen' if is_seen else ''}) is worse "
                            f"than the reference by {-g.value:.3f} [{-g.upper:.3f}, {-g.lower:.3f}]"
                        )
                rows.append(row)
            tables["domains"] = rows
            if cfg.seen and metrics["gap"].upper < 0:
                flags.append(
                    f"unseen domains are less accurate than seen ones by {-metrics['gap'].value:.3f}"
                )
        tcol = cfg.time or ds.spec.time
        if tcol:
            if tcol not in frame.columns:
                raise ConfigError(
                    f"checks.domain_shift.time: {tcol!r} is not a column of dataset {ds.name!r}"
                )
            t = pd.to_datetime(frame[tcol], errors="coerce", format="mixed")
            bad = int(t.isna().sum())
            if bad:
                flags.append(f"{bad} rows have no readable time in {tcol!r}; left out of periods")
            freq = {"year": "Y", "quarter": "Q", "month": "M"}[cfg.period]
            periods = t.dt.to_period(freq).astype("string").fillna("").to_numpy(dtype=object)
            order = sorted(p for p in set(periods) if p)
            counts = {p: int((periods == p).sum()) for p in order}
            ref_p = next((p for p in order if counts[p] >= cfg.min_n), None)
            prow = []
            for p in order:
                m = periods == p
                row = {
                    "period": p,
                    "n": counts[p],
                    "too_small": counts[p] < cfg.min_n,
                    "reference": p == ref_p,
                }
                if not row["too_small"]:
                    acc = rate(m)
                    metrics[f"period.{_seg(p)}.accuracy"] = acc
                    row["accuracy"] = acc.to_dict()
                    if ref_p is not None and p != ref_p:
                        g = gap(m, periods == ref_p)
                        metrics[f"period.{_seg(p)}.gap"] = g
                        row["gap"] = g.to_dict()
                prow.append(row)
            tables["periods"] = prow
            tables["reference_period"] = ref_p
        return CheckResult(
            check=self.name,
            model=self.model,
            dataset=ds.name,
            n=pred.n,
            metrics=metrics,
            tables=tables,
            errors=pred.errors,
            flags=flags,
        )
