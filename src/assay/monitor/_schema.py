"""The monitor's wire format: an event (one production prediction), a label (delayed ground truth)
and the batch bodies of ``POST /v1/events`` and ``POST /v1/labels``.

Validation is pydantic's: a bad field is a 422 whose ``loc`` is its path (``["body", "events", 3,
"timestamp"]``). The limits below bound what one request may hold; the batch size and the body size
are set per server (:class:`~assay.monitor._config.Limits`), the string limits here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    create_model,
)

__all__ = [
    "MAX_ID_CHARS",
    "MAX_KEYS",
    "MAX_NAME_CHARS",
    "MAX_VALUE_CHARS",
    "Event",
    "EventBatch",
    "IngestResponse",
    "Label",
    "LabelBatch",
    "LabelResponse",
    "batch_models",
]

#: An event id or model version: 1..200 characters.
MAX_ID_CHARS = 200
#: A key of ``inputs``, ``probabilities`` or ``groups`` (a column name).
MAX_NAME_CHARS = 200
#: A string value (an input text, a prediction, a label, a group value).
MAX_VALUE_CHARS = 100_000
#: Keys in one ``inputs``, ``probabilities`` or ``groups`` object.
MAX_KEYS = 1_000


def _encodable(value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid UTF-8 text (no lone surrogate)") from None
    return value


#: Ids are stored as text, not JSON: no NUL (PostgreSQL's text cannot hold one) and no lone
#: surrogate (no database can encode one).
Id = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_ID_CHARS, pattern=r"^[^\x00]+$"),
    AfterValidator(_encodable),
]
Name = Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME_CHARS)]
Text = Annotated[str, StringConstraints(max_length=MAX_VALUE_CHARS)]
#: A prediction or a label: a class name or a number (finite).
Value = Annotated[
    Text | int | Annotated[float, Field(allow_inf_nan=False)], Field(union_mode="left_to_right")
]
#: An input value: what JSON can hold, bounded in length where it is a string.
InputValue = Annotated[
    StrictBool
    | Text
    | int
    | Annotated[float, Field(allow_inf_nan=False)]
    | list[Any]
    | dict[str, Any]
    | None,
    Field(union_mode="left_to_right"),
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Event(_Model):
    """One production prediction. Ingest is idempotent by ``(event_id, model_version)``: a
    candidate's shadow prediction for the same event is stored beside production's, and a re-sent
    event is counted once."""

    event_id: Id
    # Kept as sent (with or without an offset): the store converts it to UTC, taking a time
    # without an offset as UTC. A Python validator here cost a third of validating a batch.
    # The bounds keep the conversion to UTC inside the years datetime can hold.
    timestamp: datetime = Field(
        description="ISO 8601; a time without an offset is UTC.",
        gt=datetime(1, 1, 2),
        lt=datetime(9999, 12, 30),
    )
    model_version: Id = "unknown"
    inputs: dict[Name, InputValue] = Field(max_length=MAX_KEYS)
    prediction: Value
    probabilities: dict[Name, Annotated[float, Field(ge=0.0, le=1.0)]] | None = Field(
        default=None, max_length=MAX_KEYS
    )
    groups: dict[Name, Text] | None = Field(default=None, max_length=MAX_KEYS)
    latency_ms: Annotated[float, Field(ge=0.0, allow_inf_nan=False)] | None = None
    label: Value | None = None


class Label(_Model):
    """Delayed ground truth for every model version of ``event_id``."""

    event_id: Id
    label: Value


class IngestResponse(_Model):
    """What ``POST /v1/events`` acknowledges: every event of the batch is committed."""

    n_received: int
    n_new: int
    n_duplicate: int


class LabelResponse(_Model):
    """What ``POST /v1/labels`` acknowledges: labels applied to stored events, and those kept
    pending until their event arrives."""

    n_received: int
    n_applied: int
    n_pending: int


class EventBatch(_Model):
    """The body of ``POST /v1/events`` (the server's own model caps the batch size)."""

    events: list[Event] = Field(min_length=1)


class LabelBatch(_Model):
    """The body of ``POST /v1/labels`` (the server's own model caps the batch size)."""

    labels: list[Label] = Field(min_length=1)


def batch_models(max_events: int) -> tuple[type[EventBatch], type[LabelBatch]]:
    """The two batch bodies with a server's batch limit (a longer list is a 422 naming it)."""
    events = create_model(
        "EventBatch",
        __base__=EventBatch,
        events=(list[Event], Field(min_length=1, max_length=max_events)),
    )
    labels = create_model(
        "LabelBatch",
        __base__=LabelBatch,
        labels=(list[Label], Field(min_length=1, max_length=max_events)),
    )
    return events, labels
