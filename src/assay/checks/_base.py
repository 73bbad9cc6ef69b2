"""``Check``: plans Requests, scores Responses into a CheckResult; and the check registry."""

from __future__ import annotations

import difflib
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar, runtime_checkable

import numpy as np
from pydantic import BaseModel, ConfigDict, ValidationError

from assay._types import AnswersById, Model, ModelInfo, Request, Response, Task, content_key
from assay.config._fit import FitRecipe
from assay.config._load import format_validation_errors
from assay.config._suite import Suite
from assay.data._dataset import Dataset
from assay.errors import ConfigError
from assay.load import LoadPlan
from assay.metrics import headline_metrics
from assay.stats._random import stream

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "MAX_ROUNDS",
    "ROW_METRICS",
    "Check",
    "CheckConfig",
    "DeclaresLoad",
    "FittedModel",
    "Fitter",
    "ModelProvider",
    "RunContext",
    "check_names",
    "gate_metric_names",
    "get_check",
    "register_check",
]

#: The most rounds of :meth:`Check.next_requests` one evaluation runs.
MAX_ROUNDS = 50


class CheckConfig(BaseModel):
    """Options common to every check. Checks subclass this with their own fields.

    Attributes:
        dataset: the suite dataset the check reads (default: the primary dataset, ``test`` when
            declared, else the first).
    """

    model_config = ConfigDict(extra="forbid")

    dataset: str | None = None


class FittedModel(Model, Protocol):
    """A model fitted inside the run on its first ``predict``; ``fit_error`` is the traceback of
    a fit that raised, else ``None``."""

    @property
    def fit_error(self) -> str | None: ...


class Fitter(Protocol):
    """A fit recipe made ready for one evaluated model (see :meth:`RunContext.fitter`)."""

    @property
    def digest(self) -> str:
        """A hash of what defines the recipe, for the fingerprints of the models it fits."""
        ...

    def fit_model(
        self, rows: pd.DataFrame, *, name: str, fold: str, task: Task, fingerprint: str
    ) -> FittedModel: ...


class ModelProvider(Protocol):
    """What the runner lends checks to build or load the models they need beyond the suite's.

    Checks never import ``assay.models`` (an import-linter contract): the runner implements this
    with the model registry and the fitting service, with the suite's ``trust`` and folder.
    """

    def load(self, spec: str, *, name: str, options: Mapping[str, Any]) -> Model: ...

    def fitter(self, recipe: FitRecipe, *, model: Model, info: ModelInfo, seed: int) -> Fitter: ...


@runtime_checkable
class DeclaresLoad(Protocol):
    """A check that needs its model called on a schedule (latency under load), which the engine's
    cache and dedup must not answer. The runner runs :meth:`load_plan` with the load generator
    after the engine, on the rows :meth:`load_rows` gives, and puts the measured table in
    ``RunContext.load_results[(check name, model)]`` before :meth:`Check.score`."""

    def load_plan(self, ctx: RunContext) -> LoadPlan: ...

    def load_rows(self, ctx: RunContext) -> tuple[list[Any], list[Any] | None]:
        """The inputs to draw from and, to score the answers, the right answer of each."""
        ...


@dataclass
class RunContext:
    """What a check can see: the suite, the loaded datasets and models; and, through the runner's
    ``provider``, the models a check needs beyond the suite's (a judge, fold models)."""

    suite: Suite
    datasets: dict[str, Dataset]
    models: dict[str, Model]
    model_infos: dict[str, ModelInfo]
    notes: list[str] = field(default_factory=list)
    #: show progress bars for long work inside checks (sentence embeddings)
    progress: bool = False
    #: loads and fits models for checks (set by the runner)
    provider: ModelProvider | None = None
    #: what the runner measured for each check that declares a load plan (:class:`DeclaresLoad`),
    #: by (check name, model): the load run's table (``LoadReport.to_dict()``)
    load_results: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    #: (model, id of a dataset) → (that dataset, its Requests): see :meth:`original_requests`
    _original: dict[tuple[str, int], tuple[Dataset, list[Request]]] = field(
        default_factory=dict, repr=False
    )

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
        return isinstance(self.models[model], AnswersById)

    def require_model(
        self, spec: str, *, name: str, options: Mapping[str, Any] | None = None
    ) -> str:
        """``name``, under which the model of ``spec`` is loaded into this run the first time it
        is asked for (same registry, ``trust`` and folder as the suite's models). Its Requests
        name it, so the engine caches, dedupes and retries its calls like any model's; it is
        listed among the Report's models.

        Raises:
            ConfigError, ModelError: the spec or options are invalid.
        """
        if name not in self.models:
            m = self._provider().load(spec, name=name, options=dict(options or {}))
            self.models[name] = m
            self.model_infos[name] = m.info()
        return name

    def fitter(self, recipe: FitRecipe, *, model: str) -> Fitter:
        """The fit ``recipe`` made ready for the evaluated ``model`` (``fit: sklearn`` clones its
        estimator).

        Raises:
            ConfigError: the recipe cannot be used, naming the suite path to fix.
        """
        return self._provider().fitter(
            recipe, model=self.models[model], info=self.model_infos[model], seed=self.seed
        )

    def fit_model(
        self,
        fitter: Fitter,
        rows: pd.DataFrame,
        *,
        name: str,
        fold: str,
        task: Task,
        fingerprint: str,
    ) -> FittedModel:
        """A model fitted by ``fitter`` on ``rows`` (on its first ``predict``), added to the run
        under ``name`` so that its Requests go through the engine (cached by ``fingerprint``)."""
        m = fitter.fit_model(rows, name=name, fold=fold, task=task, fingerprint=fingerprint)
        self.models[name] = m
        return m

    def _provider(self) -> ModelProvider:
        if self.provider is None:
            raise ConfigError(
                "this RunContext has no model provider, so checks cannot load or fit models; "
                "run the suite with assay.evaluate"
            )
        return self.provider

    def original_requests(self, model: str, dataset: Dataset) -> list[Request]:
        """One Request per row of ``dataset`` for ``model``, tagged with the example id.

        Models answering by id (a predictions file) get ``{"id": ...}`` as payload. Made once per
        (model, dataset) and shared by every check that asks (performance, slices and fairness
        ask the same rows): a million rows make a million Requests, not three million. Each
        caller gets its own list of the shared (frozen) Requests.
        """
        known = self._original.get((model, id(dataset)))
        if known is not None and known[0] is dataset:
            return list(known[1])
        fp = self.model_infos[model].fingerprint
        by_id = self.answers_by_id(model)
        payloads = [{"id": i} for i in dataset.ids] if by_id else dataset.payloads()
        requests = [
            Request(key=content_key(fp, p), model=model, payload=p, tags={"example_id": i})
            for i, p in zip(dataset.ids, payloads)
        ]
        # the dataset is kept with its Requests, so its id cannot be reused while they are
        self._original[(model, id(dataset))] = (dataset, requests)
        return list(requests)


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
        close = difflib.get_close_matches(name, check_names(), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ConfigError(
            f"checks.{name}: unknown check; {hint}known checks: {', '.join(check_names())}"
        ) from None


def parse_check_config(name: str, raw: dict[str, Any]) -> CheckConfig:
    cls = get_check(name)
    try:
        return cls.Config.model_validate(raw or {})
    except ValidationError as e:
        details = format_validation_errors(
            e,
            known=sorted(cls.Config.model_fields),
            prefix=f"checks.{name}.",
            see=f"{name} takes: {', '.join(sorted(cls.Config.model_fields))}",
        )
        raise ConfigError(f"checks.{name}: invalid options:\n{details}") from None


#: The metrics computed on a subset of rows (a slice, the training rows) when a check names none:
#: the catalogue's two first headline metrics of the task.
ROW_METRICS: dict[str, list[str]] = {
    task: list(headline_metrics(task, max_rank=2)) for task in ("classification", "regression")
}


def gate_metric_names(task: str, defaults: Mapping[str, list[str]]) -> list[str]:
    """The default metric names a suite's gates may name: the task's, or both tasks' while the
    suite leaves the task to be inferred (``auto``)."""
    if task in defaults:
        return list(defaults[task])
    return [*defaults["classification"], *defaults["regression"]]
