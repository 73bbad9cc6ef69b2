"""Models: the protocol, the spec-prefix registry and the adapters."""

# The adapter modules register their prefixes on import; they import their heavy libraries
# (scikit-learn, joblib, pandas) only when a model is loaded.
from assay._types import Model, ModelInfo, Output, Payload, Task
from assay.models import _hf, _openai, _predictions, _python, _sklearn  # noqa: F401
from assay.models._objects import model_from_object
from assay.models._registry import ModelFactory, load_model, model_prefixes, register_model

__all__ = [
    "Model",
    "ModelFactory",
    "ModelInfo",
    "Output",
    "Payload",
    "Task",
    "load_model",
    "model_from_object",
    "model_prefixes",
    "register_model",
]
