"""``Check``: plans Requests, scores Responses into a CheckResult; and the check registry."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

import numpy as np
from pydantic import BaseModel, ConfigDict

from assay._types import Model, ModelInfo, Request, Response, content_key
from assay.config._suite import Suite
from assay.data._dataset import Dataset
from assay.errors import ConfigError
from assay.stats._random import stream

__all__ = [
    "MAX_ROUNDS",
    "ROW_METRICS",
    "Check",
    "CheckConfig",
    "RunContext",
    "check_names",
    "gate_metric_names",
    "get_check",
    "register_check",
]

#: The most rounds of :meth:`Check.next_requests` one evaluation runs.
MAX_ROUNDS = 50


class CheckConfig(BaseModel):
    """Options common to every check. Checks subclass this with their own fields."""

    model_config = ConfigDict(extra="forbid")

    dataset: str | None = None


@dataclass
class RunContext:
    """What a check can see: the suite, the loaded datasets and models."""

    suite: Suite
    datasets: dict[str, Dataset]
    models: dict[str, Model]
    model_infos: dict[str, ModelInfo]
    notes: list[str] = field(default_factory=list)
    #: show progress bars for long work inside checks (sentence embeddings)
    progress: bool = False

    @property
    def level(self) -> float:
        return self.suite.level

    @property
    def seed(self) -> int:
        return self.suite.seed

    def rng(self, *names: str) -> np.random.Generator:
        """The run's random stream named ``names``: :func:`assay.stats.stream` of the seed.

        Checks call :meth:`Check.rng`, which names the check and the model first.
        """
        return stream(self.seed, *names)

    def dataset(self, name: str | None) -> Dataset:
        return self.datasets[name or self.suite.primary_dataset]

    def answers_by_id(self, model: str) -> bool:
        """Whether ``model`` answers by example id only (a predictions file): it cannot answer
        new inputs such as perturbed or swapped texts."""
        return bool(getattr(self.models[model], "keyed_by_id", False))

    def original_requests(self, model: str, dataset: Dataset) -> list[Request]:
        """One Request per row of ``dataset`` for ``model``, tagged with the example id.

        Models answering by id (a predictions file) get ``{"id": ...}`` as payload.
        """
        fp = self.model_infos[model].fingerprint
        by_id = self.answers_by_id(model)
        payloads = [{"id": i} for i in dataset.ids] if by_id else dataset.payloads()
        return [
            Request(key=content_key(fp, p), model=model, payload=p, tags={"example_id": i})
            for i, p in zip(dataset.ids, payloads)
        ]


class Check(ABC):
    """One evaluation, for one model.

    Subclasses set ``name`` and ``Config``, and implement :meth:`score` and :meth:`gate_patterns`;
    :meth:`plan` asks for the model's answers on the check's dataset unless overridden. Checks
    never call models: they return Requests from ``plan`` and get the Responses in ``score``.
    """

    name: ClassVar[str]
    Config: ClassVar[type[CheckConfig]] = CheckConfig

    def __init__(self, config: CheckConfig, model: str) -> None:
        self.config = config
        self.model = model

    def plan(self, ctx: RunContext) -> list[Request]:
        """The Requests this check needs answered. Default: the model on every row of the
        check's dataset (``config.dataset``, else the suite's primary dataset)."""
        return ctx.original_requests(self.model, ctx.dataset(self.config.dataset))

    def rng(self, ctx: RunContext, *purpose: str, shared: bool = False) -> np.random.Generator:
        """This check's own random stream for its model, a fresh generator at its start.

        The stream is named (check, model, *purpose), so two checks, two models, or two
        purposes of one check (one bootstrap per slice, per group …) never share draws, and a
        purpose's draws do not depend on what other purposes drew before.

        Args:
            ctx: the run context (its seed is the root).
            purpose: names that tell this stream from the check's others, e.g. a slice.
            shared: the same stream for every model of the check (the model is left out of the
                name), for choosing which examples to ask: the models then answer, and are
                compared on, the same rows, and their requests are shared.
        """
        return ctx.rng(self.name, "*" if shared else self.model, *purpose)

    @abstractmethod
    def score(self, ctx: RunContext, responses: Mapping[str, Response]):  # -> CheckResult
        """Turn the answers into a CheckResult."""

    def next_requests(self, ctx: RunContext, responses: Mapping[str, Response]) -> list[Request]:
        """More Requests that depend on answers already given (an adversarial search asks a
        model round after round). ``evaluate`` calls this after each engine run, with every
        answer so far, until every check returns ``[]`` or a bounded number of rounds
        (:data:`MAX_ROUNDS`) has passed; then it calls :meth:`score`. Default: no more."""
        return []

    @classmethod
    def validate_suite(cls, config: CheckConfig, suite: Suite, *, source: str = "suite") -> None:
        """Checks of ``config`` that need the whole suite (the datasets' input kinds), run when
        the suite loads. Raise ConfigError naming the YAML path. Default: nothing to check."""
        return None

    @classmethod
    @abstractmethod
    def gate_patterns(cls, config: CheckConfig, suite: Suite) -> list[str]:
        """Metric paths (without the check name) gates may name; ``*`` stands for one segment
        whose values are known only from data (a slice value, a class label)."""


_REGISTRY: dict[str, type[Check]] = {}

C = TypeVar("C", bound=type[Check])


def register_check(name: str) -> Callable[[C], C]:
    """Class decorator that registers a Check under ``name``."""

    def deco(cls: C) -> C:
        cls.name = name
        _REGISTRY[name] = cls
        return cls

    return deco


def check_names() -> list[str]:
    return sorted(_REGISTRY)


def get_check(name: str) -> type[Check]:
    """The Check class registered under ``name``.

    Raises:
        ConfigError: unknown name; the message lists the known ones.
    """
    try:
        return _REGISTRY[name]
    except KeyError:
        raise ConfigError(
            f"checks.{name}: unknown check; known checks: {', '.join(check_names())}"
        ) from None


def parse_check_config(name: str, raw: dict[str, Any]) -> CheckConfig:
    cls = get_check(name)
    try:
        return cls.Config.model_validate(raw)
    except Exception as e:
        raise ConfigError(f"checks.{name}: {e}") from None


#: The metrics computed on a subset of rows (a slice, the training rows) when a check names none.
ROW_METRICS: dict[str, list[str]] = {
    "classification": ["accuracy", "f1_macro"],
    "regression": ["mae", "rmse"],
}


def gate_metric_names(task: str, defaults: Mapping[str, list[str]]) -> list[str]:
    """The default metric names a suite's gates may name: the task's, or both tasks' while the
    suite leaves the task to be inferred (``auto``)."""
    if task in defaults:
        return list(defaults[task])
    return [*defaults["classification"], *defaults["regression"]]

