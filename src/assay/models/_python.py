"""``python:`` — a function or class from the user's own code."""

from __future__ import annotations

import difflib
import hashlib
import importlib
import importlib.util
import inspect
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np

from assay._types import ModelInfo, Output, Payload, Task, canonical_label
from assay.errors import ModelError
from assay.models._convert import (
    coerce_output,
    parse_task,
    probabilities_from,
    resolve_path,
    task_of,
)
from assay.models._registry import check_options, register_model

__all__ = ["PythonModel", "python_model"]

_OPTIONS = {"task"}


class PythonModel:
    """User code as a Model.

    ``predict_fn`` takes the list of payloads (and ``params=`` when its signature accepts it) and
    returns one answer per payload; each answer becomes an ``Output`` by the rules of
    :func:`assay.models._convert.coerce_output` (label / number / text / vector / dict / Output).
    ``proba_fn``, when given, returns class probabilities (a matrix whose columns follow
    ``classes``, or one mapping per input); they fill answers that came without probabilities.

    The task is, first found: ``options["task"]``; the suite's declared ``task``
    (:meth:`declare_task`); a ``task`` attribute on the function or class;
    ``classification`` when there is a ``predict_proba`` or class list; otherwise it is read from
    the first answers (see :func:`assay.models._convert.task_of`). Until the model has answered, a
    task that must be read from answers is reported as ``classification`` with
    ``details["task_source"] == "default"``; declare the task to avoid the guess.

    ``max_concurrency``: how many batches the engine may run at once (the wrapped object's or
    function's ``max_concurrency`` attribute; ``None``, no limit but ``engine.concurrency``).

    The fingerprint (part of every cache key) hashes the module, the callable's name, the source
    file and the object's own ``fingerprint`` (a str, or a method returning one) when it has one:
    code that loads weights or data files should declare one, e.g. their sha256.
    """

    def __init__(
        self,
        *,
        name: str,
        spec: str,
        predict_fn: Callable[..., Any],
        proba_fn: Callable[..., Any] | None,
        classes: Sequence[Any] | None,
        task: Task | None,
        max_concurrency: int | None = None,
        task_source: str,
        fingerprint: str,
        details: dict[str, Any],
    ) -> None:
        self._name = name
        self._spec = spec
        self._predict_fn = predict_fn
        self._takes_params = _accepts_params(predict_fn)
        self._proba_fn = proba_fn
        self._classes = list(classes) if classes is not None else None
        self._task = task
        self._task_source = task_source
        self._fingerprint = fingerprint
        self._details = details
        self.max_concurrency = max_concurrency

    def declare_task(self, task: Task) -> None:
        """Take the suite's declared task (:class:`~assay._types.TakesDeclaredTask`) unless the
        model's own ``options.task`` named one: it beats the ``task`` attribute and the guesses,
        which the suite knows better."""
        if self._task_source != "option":
            self._task = task
            self._task_source = "suite"

    def info(self) -> ModelInfo:
        task: Task = self._task or "classification"
        labels = (
            tuple(canonical_label(c) for c in self._classes)
            if self._classes is not None and task == "classification"
            else None
        )
        return ModelInfo(
            name=self._name,
            spec=self._spec,
            task=task,
            fingerprint=self._fingerprint,
            labels=labels,
            details={**self._details, "task_source": self._task_source},
        )

    def predict(
        self, batch: Sequence[Payload], params: dict[str, Any] | None = None
    ) -> list[Output]:
        where = f"model {self._name!r}"
        items = list(batch)
        if self._takes_params:
            raw = self._predict_fn(items, params=params)
        else:
            raw = self._predict_fn(items)
        answers = _as_list(raw, where=f"{where}: predict")
        if len(answers) != len(items):
            raise ModelError(
                f"{where}: predict returned {len(answers)} answers for {len(items)} inputs"
            )
        outputs = [
            coerce_output(a, task=self._task, where=f"{where} (input {i})")
            for i, a in enumerate(answers)
        ]
        if self._proba_fn is not None:
            outputs = self._with_probabilities(items, outputs, where=where)
        if self._task is None and outputs:
            # Read from the first answers, once; later batches are converted with it.
            self._task = task_of(outputs[0])
            self._task_source = "outputs"
        return outputs

    def _with_probabilities(
        self, items: list[Payload], outputs: list[Output], *, where: str
    ) -> list[Output]:
        assert self._proba_fn is not None  # checked by the caller
        rows = _as_list(self._proba_fn(items), where=f"{where}: predict_proba")
        if len(rows) != len(items):
            raise ModelError(
                f"{where}: predict_proba returned {len(rows)} rows for {len(items)} inputs"
            )
        merged = []
        for i, (out, row) in enumerate(zip(outputs, rows, strict=True)):
            if out.probabilities is not None:
                merged.append(out)
                continue
            if isinstance(row, Mapping):
                probs = probabilities_from(row, where=f"{where} (input {i})")
            else:
                assert self._classes is not None  # required at load when predict_proba exists
                values = list(np.asarray(row, dtype=float).ravel())
                if len(values) != len(self._classes):
                    raise ModelError(
                        f"{where}: predict_proba gave {len(values)} columns for "
                        f"{len(self._classes)} classes"
                    )
                probs = probabilities_from(
                    dict(zip(self._classes, values, strict=True)), where=f"{where} (input {i})"
                )
            label = out.label if out.label is not None else max(probs, key=probs.__getitem__)
            merged.append(
                coerce_output(
                    {**out.to_dict(), "label": label, "probabilities": probs},
                    task="classification",
                    where=f"{where} (input {i})",
                )
            )
        return merged


def _as_list(raw: Any, *, where: str) -> list[Any]:
    if isinstance(raw, (str, bytes, Mapping)) or raw is None:
        raise ModelError(f"{where}: returned {type(raw).__name__}; return a list, one per input")
    if isinstance(raw, np.ndarray):
        return list(raw) if raw.ndim <= 1 else [list(r) for r in raw]
    try:
        return list(raw)
    except TypeError:
        raise ModelError(
            f"{where}: returned {type(raw).__name__}; return a list, one per input"
        ) from None


def _accepts_params(fn: Callable[..., Any]) -> bool:
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return False
    return any(
        p.name == "params" or p.kind is inspect.Parameter.VAR_KEYWORD
        for p in sig.parameters.values()
    )


@register_model("python")
def _load_python(
    target: str,
    *,
    name: str,
    spec: str,
    trust: bool,
    base_dir: Path,
    options: dict[str, Any],
) -> PythonModel:
    # No trust flag: this imports the user's own module, which they chose to name, the same as
    # running it. (Pickles are different: they carry code from whoever wrote the file.)
    check_options(options, _OPTIONS, name=name, prefix="python")
    module_ref, sep, attr = target.rpartition(":")
    if not sep or not module_ref or not attr:
        raise ModelError(
            f"models.{name}: {spec!r} names no callable; write python:package.module:function or "
            "python:path/to/file.py:function"
        )
    module, source = _import(module_ref, base_dir=base_dir, name=name)
    obj = _attribute(module, attr, module_ref=module_ref, name=name)
    kind = "function"
    if inspect.isclass(obj):
        try:
            obj = obj()
        except Exception as exc:
            raise ModelError(
                f"models.{name}: cannot instantiate {attr} with no arguments: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        kind = "class"
    h = hashlib.sha256(f"python:{module.__name__}:{attr}\n".encode())
    if source is not None:
        h.update(source.read_bytes())
    return python_model(
        obj,
        name=name,
        spec=spec,
        options=options,
        kind=kind,
        attr=attr,
        module_ref=module_ref,
        fingerprint=h,
        details={"callable": attr, "source": source.name if source is not None else None},
    )


def python_model(
    obj: Any,
    *,
    name: str,
    spec: str,
    options: Mapping[str, Any],
    kind: str = "function",
    attr: str,
    module_ref: str | None = None,
    fingerprint: Any,
    details: Mapping[str, Any],
) -> PythonModel:
    """A ``PythonModel`` around a function, or an object with ``predict`` (and optionally
    ``predict_proba`` with ``classes_`` or ``labels``). ``attr`` (and the
    ``module_ref`` it was found in) name it in messages.

    ``fingerprint`` is a started ``hashlib`` hash (of where the code lives); the object's own
    declared fingerprint is added to it.
    """
    if callable(getattr(obj, "predict", None)):
        predict_fn = obj.predict
        proba_fn = getattr(obj, "predict_proba", None)
        proba_fn = proba_fn if callable(proba_fn) else None
        classes = getattr(obj, "classes_", None)
        if classes is None:
            classes = getattr(obj, "labels", None)
        kind = kind if kind == "class" else "object"
    elif callable(obj):
        predict_fn, proba_fn, classes = obj, None, None
    else:
        raise ModelError(
            f"models.{name}: {attr}{f' in {module_ref}' if module_ref else ''} is a "
            f"{type(obj).__name__}; expected a function "
            "taking a list of inputs, or a class with predict()"
        )
    if proba_fn is not None and classes is None:
        raise ModelError(
            f"models.{name}: {attr} has predict_proba but no classes_ or labels attribute, so its "
            "columns cannot be named; add `classes_ = [...]` (or `labels`)"
        )
    task = parse_task(options.get("task"), name=name)
    task_source = "option"
    if task is None:
        task = parse_task(getattr(obj, "task", None), name=name)
        task_source = "attribute"
    if task is None and (proba_fn is not None or classes is not None):
        task, task_source = "classification", "attribute"
    if task is None:
        task_source = "default"
    fingerprint.update(_declared_fingerprint(obj, name=name, attr=attr).encode())
    return PythonModel(
        name=name,
        spec=spec,
        predict_fn=predict_fn,
        proba_fn=proba_fn,
        classes=list(classes) if classes is not None else None,
        task=task,
        task_source=task_source,
        fingerprint=fingerprint.hexdigest(),
        max_concurrency=getattr(obj, "max_concurrency", None),
        details={"adapter": "python", "kind": kind, **details},
    )


def _import(module_ref: str, *, base_dir: Path, name: str) -> tuple[ModuleType, Path | None]:
    """Import a dotted module or a ``.py`` file; return it and its source file."""
    if module_ref.endswith(".py") or "/" in module_ref or "\\" in module_ref:
        path = resolve_path(module_ref, base_dir).resolve()
        if not path.is_file():
            near = difflib.get_close_matches(
                path.name, [f.name for f in path.parent.glob("*.py")], n=1
            )
            hint = (
                f"; did you mean {near[0]!r}?"
                if near
                else f"; the path resolves against {base_dir}"
            )
            raise ModelError(f"models.{name}: python file {path} does not exist{hint}")
        digest = hashlib.sha256(str(path).encode()).hexdigest()[:12]
        mod_name = f"_assay_user_{path.stem}_{digest}"
        spec = importlib.util.spec_from_file_location(mod_name, path)
        if spec is None or spec.loader is None:
            raise ModelError(f"models.{name}: cannot import {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[mod_name] = module
        try:
            with _on_path(path.parent):
                spec.loader.exec_module(module)
        except Exception as exc:
            sys.modules.pop(mod_name, None)
            raise ModelError(
                f"models.{name}: importing {path} failed: {type(exc).__name__}: {exc}"
            ) from exc
        return module, path
    try:
        with _on_path(base_dir.resolve()):
            module = importlib.import_module(module_ref)
    except ModuleNotFoundError as exc:
        raise ModelError(
            f"models.{name}: no module named {module_ref!r} ({exc}); check the name, or give a "
            "file path such as python:models/predict.py:predict"
        ) from exc
    except Exception as exc:
        raise ModelError(
            f"models.{name}: importing {module_ref} failed: {type(exc).__name__}: {exc}"
        ) from exc
    file = getattr(module, "__file__", None)
    return module, (Path(file) if file and Path(file).is_file() else None)


def _attribute(module: ModuleType, attr: str, *, module_ref: str, name: str) -> Any:
    obj: Any = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            public = sorted(
                k for k, v in vars(module).items() if not k.startswith("_") and callable(v)
            )
            raise ModelError(
                f"models.{name}: {module_ref} has no {attr!r}; its callables: "
                f"{', '.join(public[:20]) or 'none'}"
            )
        obj = getattr(obj, part)
    return obj


@contextmanager
def _on_path(folder: Path) -> Iterator[None]:
    """``folder`` first on ``sys.path`` while user code is imported (for sibling imports)."""
    entry = str(folder)
    sys.path.insert(0, entry)
    try:
        yield
    finally:
        with suppress(ValueError):
            sys.path.remove(entry)


def _declared_fingerprint(obj: Any, *, name: str, attr: str) -> str:
    """The object's own ``fingerprint`` (a string, or a method returning one), or ``""``.

    The source file's hash does not see the weights or data files the code reads; code that
    loads such files declares a fingerprint of them, so that new weights are never answered from
    the cache of the old ones.
    """
    declared = getattr(obj, "fingerprint", None)
    if declared is None:
        return ""
    if callable(declared):
        try:
            declared = declared()
        except Exception as exc:
            raise ModelError(
                f"models.{name}: {attr}.fingerprint() raised {type(exc).__name__}: {exc}"
            ) from exc
    if not isinstance(declared, str):
        raise ModelError(
            f"models.{name}: {attr}.fingerprint is a {type(declared).__name__}; expected a str "
            "(or a method returning one), e.g. the sha256 of the weights file it loads"
        )
    return "\nfingerprint:" + declared
