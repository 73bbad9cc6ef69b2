"""The ``Model`` protocol, its ``Output`` and ``ModelInfo``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

__all__ = ["Model", "ModelInfo", "Output", "Payload", "Task"]

Task = Literal["classification", "regression", "generation", "embedding"]

#: One model input, JSON-serialisable: a text (``str``), a mapping of feature name to value
#: (tabular), or a mapping with an ``"image"`` path. Generation parameters travel in
#: ``Request.params``, not here.
Payload = Any


@dataclass(frozen=True)
class Output:
    """What a model answered for one input. Exactly one of label, value or text is the answer.

    Attributes:
        label: predicted class (as a string), for classification.
        probabilities: class → probability, for classifiers that give them.
        value: predicted number, for regression.
        text: generated text, for generation.
        embedding: a vector, for embedding models.
        usage: token counts and the like (``{"prompt_tokens": 12, ...}``).
        timings: token timings for streamed generation (``{"ttft_s": 0.1, ...}``).
    """

    label: str | None = None
    probabilities: dict[str, float] | None = None
    value: float | None = None
    text: str | None = None
    embedding: list[float] | None = None
    usage: dict[str, float] | None = None
    timings: dict[str, float] | None = None

    def to_dict(self) -> dict[str, Any]:
        """A compact JSON-ready dict (``None`` fields left out)."""
        return {k: v for k, v in self.__dict__.items() if v is not None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Output:
        """Inverse of :meth:`to_dict`."""
        return cls(**data)


@dataclass(frozen=True)
class ModelInfo:
    """What identifies a model in reports and cache keys.

    Attributes:
        name: the model's name in the suite (``"candidate"``, ``"baseline"``).
        spec: the spec string it was loaded from (``"sklearn:model.joblib"``), secrets removed.
        task: what it does.
        fingerprint: a hash of the model file(s), or name and version; part of every cache key, so
            a changed model is never answered from an old cache.
        labels: the classes it predicts, when known.
        details: anything else worth recording (library versions, class name, ...).
    """

    name: str
    spec: str
    task: Task
    fingerprint: str
    labels: tuple[str, ...] | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "spec": self.spec,
            "task": self.task,
            "fingerprint": self.fingerprint,
            "labels": list(self.labels) if self.labels is not None else None,
            "details": self.details,
        }


@runtime_checkable
class Model(Protocol):
    """Anything assay can evaluate.

    ``predict`` receives a batch of payloads and returns one ``Output`` per payload, in order.
    It raises :class:`assay.errors.RetryableModelError` for transient failures (the engine retries)
    and any other exception for permanent ones (recorded as an error Response). ``params`` carries
    per-request options such as generation settings; adapters that take none ignore it.
    """

    def info(self) -> ModelInfo: ...

    def predict(
        self, batch: Sequence[Payload], params: dict[str, Any] | None = None
    ) -> list[Output]: ...
