"""The suite: what to evaluate, on what, how, and which gates decide."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    field_validator,
    model_validator,
)

from assay._types import canonical_label

__all__ = [
    "ColumnRoles",
    "DatasetSpec",
    "EngineSettings",
    "Label",
    "Suite",
]


def _label(value: Any) -> Any:
    """A class label as written in YAML (``1``, ``1.0``, ``true``, ``" fresh"``) → its canonical
    string (``None`` and NaN are refused: a missing label is not a class)."""
    if isinstance(value, (list, dict)):
        return value  # pydantic refuses it: "Input should be a valid string"
    return canonical_label(value)


#: A class label in a suite: ``labels: [0, 1]`` and ``positive_label: 1`` hold the same labels as
#: the data's ``0``/``1`` (compared as canonical strings, see ``assay._types.canonical_label``).
Label = Annotated[str, BeforeValidator(_label)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


class ColumnRoles(_Strict):
    """Which column plays which part.

    ``input`` is one text column (``"text"``), several feature columns (``["age", "income"]``),
    or an image column (``{"image": "path"}``).

    Attributes:
        id: the column of unique example ids (default: the 0-based row number).
        input: what the model reads: one text column, a list of feature columns, or
            ``{image: <column of images>}`` (paths of image or ``.npy`` files, relative to the
            data file or the suite; image bytes; arrays of pixels).
        label: the column with the true answer (class, number or reference text).
        groups: sensitive-attribute columns that fairness compares groups of.
        time: a date or time column; domain_shift compares periods along it.
        domain: the column naming each row's source or domain; domain_shift compares seen and
            unseen domains.
        slices: categorical columns whose values the slices check scores one by one.
    """

    id: str | None = None
    input: str | list[str] | dict[str, str] | None = None
    label: str | None = None
    groups: list[str] = Field(default_factory=list)
    time: str | None = None
    domain: str | None = None
    slices: list[str] = Field(default_factory=list)

    @field_validator("input")
    @classmethod
    def _input_shape(cls, v: Any) -> Any:
        if isinstance(v, dict) and set(v) != {"image"}:
            raise ValueError("a mapping input must be {image: <column with image paths>}")
        if isinstance(v, list) and not v:
            raise ValueError("input lists no columns; give one text column or feature columns")
        return v

    def input_columns(self) -> list[str]:
        """The columns the model reads."""
        if self.input is None:
            return []
        if isinstance(self.input, str):
            return [self.input]
        if isinstance(self.input, dict):
            return [self.input["image"]]
        return list(self.input)


class DatasetSpec(ColumnRoles):
    """One dataset: where it is, its format and column roles, and how to treat bad rows.

    Attributes:
        path: file or folder (a Hugging Face ``save_to_disk`` folder). Relative paths are resolved
            against the suite file's folder.
        format: ``auto`` (from the extension), ``csv``, ``tsv``, ``jsonl``, ``parquet``, ``hf``.
        labels: the allowed label set, in order; inferred from the data when omitted (labels
            that differ only in case or spacing are then refused: declare them).
        outside_labels: what a predicted label that is not among the labels does: ``error``
            stops the run (exit 2) naming the file, row and value; ``other`` counts it as a wrong
            answer of the class ``(other)``, reported as ``performance.unscored.outside_labels``.
        on_invalid: ``error`` stops at the first invalid row; ``skip`` drops invalid rows and counts
            them by reason in the Report.
        limit: read only the first ``limit`` rows (for a quick look).
    """

    path: str
    format: Literal["auto", "csv", "tsv", "jsonl", "parquet", "hf"] = "auto"
    labels: list[Label] | None = None
    outside_labels: Literal["error", "other"] = "error"
    on_invalid: Literal["error", "skip"] = "error"
    limit: int | None = Field(default=None, gt=0)


class RaySettings(_Strict):
    """Where and how the ``ray`` backend runs the models (``engine.backend: ray``).

    Attributes:
        address: the Ray cluster to join (``ray://head:10001`` or ``head:6379``); the
            ``RAY_ADDRESS`` environment variable wins over it; with neither, a Ray instance is
            started on this machine for the run (and stopped after it).
        actors_per_model: Ray actors each model runs on; each loads its model once and answers
            one batch at a time, so this is how many batches of a model are in flight.
        num_cpus: CPUs each actor reserves.
        num_gpus: GPUs each actor reserves (fractions share a GPU).
        memory_gb: memory each actor reserves, in GiB (``null``: no reservation).
        max_restarts: times Ray restarts an actor whose process died (its batch is sent again).
        start_timeout_s: seconds to wait for a model's actors to be placed and load the model;
            actors the cluster has no room for fail the run after it, naming what they ask.
        ship_package: upload this assay package to the workers (Ray ``runtime_env.py_modules``),
            so every node runs the driver's assay; its dependencies must be installed there.
        runtime_env: a Ray runtime environment for the workers (``pip``, ``env_vars``,
            ``working_dir``, …), merged with the package when ``ship_package`` is on.
    """

    address: str | None = None
    actors_per_model: int = Field(default=1, gt=0)
    num_cpus: float = Field(default=1.0, ge=0)
    num_gpus: float = Field(default=0.0, ge=0)
    memory_gb: float | None = Field(default=None, gt=0)
    max_restarts: int = Field(default=3, ge=0)
    start_timeout_s: float = Field(default=300.0, gt=0)
    ship_package: bool = False
    runtime_env: dict[str, Any] = Field(default_factory=dict)


class EngineSettings(_Strict):
    """How models are called.

    Attributes:
        cache: the answer cache file (SQLite), relative to the suite's folder; ``null`` turns
            caching off.
        batch_size: inputs per model call.
        concurrency: batches in flight at once.
        retries: further tries of a call that failed with a retryable error.
        backoff_s: first wait between tries, in seconds (doubles each try; a server's
            Retry-After wins).
        timeout_s: seconds one call may take before it fails (``null``: no limit).
        errors: ``exclude`` leaves failed calls out of every metric (and counts them); ``wrong``
            counts them as wrong answers.
        stop_when_failed: the run stops (exit 2, naming the first cause) when at least this share
            of a suite model's distinct calls failed after retries; at 1.0, only when nothing it
            was asked could be scored.
        progress: show progress bars.
        backend: ``local`` calls the models in this process (threads); ``ray`` calls them on Ray
            actors (``engine.ray``), for models that are slow per input or need other machines.
            The cache, retries and scoring stay in this process either way.
        ray: the Ray cluster and the resources of each actor (``backend: ray`` only).
        stream: score a suite of ``predictions:`` files chunk by chunk, never holding the rows
            (docs/distributed.md): ``auto`` when the data file has at least a million rows and
            every check can stream; ``true`` always (a suite that cannot stream is refused,
            saying why); ``false`` never.
        chunk_rows: rows per chunk when streaming.
    """

    cache: str | None = ".assay/cache.db"
    batch_size: int = Field(default=64, gt=0)
    concurrency: int = Field(default=1, gt=0)
    retries: int = Field(default=3, ge=0)
    backoff_s: float = Field(default=0.5, ge=0)
    timeout_s: float | None = Field(default=None, gt=0)
    errors: Literal["exclude", "wrong"] = "exclude"
    stop_when_failed: float = Field(default=1.0, gt=0, le=1)
    progress: bool = True
    backend: Literal["local", "ray"] = "local"
    ray: RaySettings = Field(default_factory=RaySettings)
    stream: bool | Literal["auto"] = "auto"
    chunk_rows: int = Field(default=100_000, gt=0)


class ModelEntry(_Strict):
    """A model with adapter options: ``{spec: "hf:./ckpt", options: {max_new_tokens: 32}}``.

    A plain spec string is the same as ``{spec: ..., options: {}}``. Options are adapter-specific
    (see each adapter's docs); secrets never go here, only the *name* of the environment variable
    that holds them (``api_key_env``).
    """

    spec: str
    options: dict[str, Any] = Field(default_factory=dict)
    # Where the spec's relative paths resolve: None for the suite's folder (a spec written in the
    # suite); the working directory for one given on the command line or to ``evaluate(model=)``.
    _base_dir: Path | None = PrivateAttr(default=None)

    @classmethod
    def from_here(cls, spec: str, options: dict[str, Any] | None = None) -> ModelEntry:
        """A model given on the command line: its relative paths resolve against the working
        directory, not the suite's folder."""
        entry = cls(spec=spec, options=options or {})
        entry._base_dir = Path.cwd()
        return entry


def _default_checks() -> dict[str, dict[str, Any]]:
    return {"performance": {}}


class Suite(_Strict):
    """A validated suite file.

    Example::

        name: sentiment
        data: {path: test.csv, id: id, input: text, label: label}
        models: {candidate: "sklearn:model.joblib"}
        trust: true
        checks: {performance: {}, slices: {columns: [genre]}}
        gates: ["performance.f1_macro.lower >= 0.80"]

    Attributes:
        name: the suite's name, shown on the report.
        description: what the suite evaluates, shown on the report and the model card.
        intended_use: what the model is for, for the model card.
        seed: the seed every random stream (bootstrap, perturbations, folds) derives from.
        level: the confidence level of every interval (0.95: 95% intervals).
        task: ``classification``, ``regression`` or ``generation``; ``auto`` reads it from the
            models.
        trust: allow loading model files that run code when loaded (joblib, pickle).
        data: datasets by name (a single mapping with ``path`` is the dataset ``test``).
        models: models by name: a spec string (``"sklearn:model.joblib"``) or ``{spec, options}``;
            the first is the one gates speak about (a list is named candidate, baseline, ...).
        checks: checks by name, each with its options (``{}`` for the defaults); see below.
        engine: how models are called (batching, retries, cache).
        gates: conditions that must hold for the suite to pass, such as
            ``"performance.f1_macro.lower >= 0.80"``.
        out: the folder report.json and report.html are written to.
    """

    name: str = "suite"
    description: str | None = None
    intended_use: str | None = None
    seed: int = 0
    level: float = Field(default=0.95, gt=0, lt=1)
    task: Literal["auto", "classification", "regression", "generation"] = "auto"
    trust: bool = False
    data: dict[str, DatasetSpec]
    models: dict[str, str | ModelEntry]
    checks: dict[str, dict[str, Any]] = Field(default_factory=_default_checks)
    engine: EngineSettings = Field(default_factory=EngineSettings)
    gates: list[str] = Field(default_factory=list)
    out: str = "out"
    #: folder of the suite file; relative paths resolve against it. Not part of the YAML.
    base_dir: Path = Field(default=Path("."), exclude=True)

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, values: Any) -> Any:
        if not isinstance(values, dict):
            return values
        values = dict(values)
        data = values.get("data")
        # A single dataset may be given directly; it is named "test".
        if isinstance(data, dict) and "path" in data:
            values["data"] = {"test": data}
        models = values.get("models")
        if isinstance(models, str):
            values["models"] = {"candidate": models}
        elif isinstance(models, list):
            names = ["candidate", "baseline"] + [f"model{i}" for i in range(2, len(models))]
            values["models"] = dict(zip(names, models))
        checks = values.get("checks")
        if isinstance(checks, list):
            values["checks"] = {str(c): {} for c in checks}
        elif isinstance(checks, dict):
            values["checks"] = {k: (v if v is not None else {}) for k, v in checks.items()}
        return values

    @field_validator("data")
    @classmethod
    def _some_data(cls, v: dict[str, DatasetSpec]) -> dict[str, DatasetSpec]:
        if not v:
            raise ValueError("no dataset; add `data: {path: test.csv, label: label, input: text}`")
        return v

    @field_validator("models")
    @classmethod
    def _some_models(cls, v: dict[str, str | ModelEntry]) -> dict[str, str | ModelEntry]:
        if not v:
            raise ValueError('no model; add `models: {candidate: "sklearn:model.joblib"}`')
        return v

    @property
    def primary_model(self) -> str:
        """The model the gates speak about: the first one listed."""
        return next(iter(self.models))

    def model_spec(self, name: str) -> tuple[str, dict[str, Any]]:
        """The spec string and adapter options of the model called ``name``."""
        entry = self.models[name]
        if isinstance(entry, str):
            return entry, {}
        return entry.spec, dict(entry.options)

    def model_base_dir(self, name: str) -> Path:
        """The folder the relative paths in model ``name``'s spec resolve against: the suite's
        folder, or the working directory for a model given on the command line."""
        entry = self.models[name]
        if isinstance(entry, ModelEntry) and entry._base_dir is not None:
            return entry._base_dir
        return self.base_dir

    @property
    def primary_dataset(self) -> str:
        """The dataset checks use unless told otherwise: ``test`` if present, else the first."""
        return "test" if "test" in self.data else next(iter(self.data))

    def resolve(self, path: str) -> Path:
        """A path from the suite, resolved against the suite file's folder."""
        p = Path(path).expanduser()
        return p if p.is_absolute() else (self.base_dir / p)

    def out_dir(self) -> Path:
        """The output folder: ``out:`` written in the suite file resolves against the suite's
        folder; the default ``out`` (and ``ASSAY_OUT``, made absolute when read) against the
        working directory."""
        if "out" in self.model_fields_set:
            return self.resolve(self.out)
        return Path(self.out)
