"""Helpers below the engine and the models: progress bars, retry and backoff policy, redaction of
secrets.

Private to assay; any layer may import it (see docs/architecture.md).
"""

from assay._util._progress import ProgressDisplay
from assay._util._redact import REDACTED, redact_record, redact_spec
from assay._util._retry import MAX_BACKOFF_S, backoff_delay, describe_error, is_retryable

__all__ = [
    "MAX_BACKOFF_S",
    "REDACTED",
    "ProgressDisplay",
    "backoff_delay",
    "describe_error",
    "is_retryable",
    "redact_record",
    "redact_spec",
]
