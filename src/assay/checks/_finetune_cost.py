"""The ``finetune_cost`` check: what did fine-tuning cost on general ability?

The same paired comparison as ``compare`` (McNemar, paired bootstrap, DeLong), run on a second,
general-ability dataset that the fine-tuning data did not cover: a negative difference there is
catastrophic forgetting. It exists as its own check so that a suite can compare the models on the
fine-tuning task (``compare``) and on general ability (``finetune_cost``) in one run.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import Field

from assay._types import Response
from assay.checks._base import CheckConfig, RunContext, register_check
from assay.checks._compare import CompareCheck, CompareConfig
from assay.config._suite import Suite
from assay.errors import ConfigError
from assay.report._schema import CheckResult

__all__ = ["FinetuneCostCheck", "FinetuneCostConfig"]


class FinetuneCostConfig(CompareConfig):
    """Options of ``finetune_cost``: those of ``compare``; ``dataset`` (general ability) is
    required.

    Attributes:
        dataset: the general-ability dataset the fine-tuning data did not cover (required).
    """

    dataset: str = Field(...)


@register_check("finetune_cost")
class FinetuneCostCheck(CompareCheck):
    """The candidate against the baseline on a general-ability dataset, paired.

    Result: metrics ``<metric>.diff`` (candidate − baseline with a paired interval) and the
    ``comparison`` table, as for ``compare``.
    """

    Config = FinetuneCostConfig  # type: ignore[assignment]  # a CompareConfig with dataset required

    @classmethod
    def validate_suite(cls, config: CheckConfig, suite: Suite, *, source: str = "suite") -> None:
        assert isinstance(config, FinetuneCostConfig)
        if config.dataset not in suite.data:
            raise ConfigError(
                f"{source}: checks.finetune_cost.dataset: {config.dataset!r} is not a dataset; "
                f"datasets: {', '.join(suite.data)}; name the general-ability dataset"
            )
        if len(suite.models) < 2:
            raise ConfigError(
                f"{source}: checks.finetune_cost needs two models, the fine-tuned candidate and "
                f"its base (`models: [candidate, baseline]`); found {len(suite.models)}"
            )
        super().validate_suite(config, suite, source=source)

    def score(self, ctx: RunContext, responses: Mapping[str, Response]) -> CheckResult | None:
        result = super().score(ctx, responses)
        return None if result is None else result.model_copy(update={"check": self.name})
