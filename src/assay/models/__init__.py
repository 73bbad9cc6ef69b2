"""Models: the protocol, the spec-prefix registry and the adapters."""

from assay.models._base import Model, ModelInfo, Output, Payload, Task

__all__ = ["Model", "ModelInfo", "Output", "Payload", "Task"]
