"""The monitor's settings and its bearer tokens.

Precedence, highest first: explicit arguments (the CLI's flags), ``ASSAY_MONITOR_*`` environment
variables, the defaults below.

Tokens come from a YAML or JSON file (``--tokens FILE`` / ``ASSAY_MONITOR_TOKENS_FILE``)::

    tokens:
      - name: collector          # shown nowhere but in error messages about the file
        token: "s3cret-ingest"   # or token_sha256: "<hex sha256 of the token>"
        scopes: [ingest]
      - name: grafana
        token_sha256: "9f86d0..."
        scopes: [read]

or from ``ASSAY_MONITOR_TOKENS``: whitespace-separated ``SCOPES:TOKEN`` entries, scopes joined by
``+`` (``"ingest:abc read+ingest:def admin:ghi"``; a token is everything after the first colon).
Only the sha256 of each token is kept in memory; a presented token is hashed and compared with
every known hash by :func:`hmac.compare_digest`, so the time taken says nothing about how much of it
matched. ``admin`` implies ``read`` and ``ingest``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from assay.errors import ConfigError

__all__ = [
    "SCOPES",
    "Limits",
    "MonitorSettings",
    "Scope",
    "TokenSet",
    "WindowSpec",
    "parse_duration",
]

Scope = Literal["ingest", "read", "admin"]
SCOPES: tuple[Scope, ...] = ("ingest", "read", "admin")

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|sec|min|m|h|d|w)\s*$", re.I)
_UNIT = {"s": 1, "sec": 1, "min": 60, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str | int | float | timedelta, *, what: str = "duration") -> timedelta:
    """``"90s"``, ``"15m"``, ``"1h"``, ``"7d"``, ``"2w"`` (or seconds as a number) as a timedelta.

    Example:
        >>> parse_duration("7d")
        datetime.timedelta(days=7)
    """
    if isinstance(text, timedelta):
        return text
    if isinstance(text, (int, float)) and not isinstance(text, bool):
        seconds = float(text)
    else:
        m = _DURATION.match(str(text))
        if not m:
            raise ConfigError(
                f"{what}: {text!r} is not a duration; write a number and a unit, e.g. 90s, 15min, 1h, 7d (calendar months are not fixed periods)"
            )
        seconds = float(m.group(1)) * _UNIT[m.group(2).lower()]
    if seconds <= 0:
        raise ConfigError(f"{what}: {text!r} must be longer than zero")
    return timedelta(seconds=seconds)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Limits(_Model):
    """What one request may hold. A body over ``max_body_bytes`` is refused with 413 before it is
    read in full; a batch over ``max_batch`` items is a 422."""

    max_batch: int = Field(default=5_000, ge=1)
    max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)


class WindowSpec(_Model):
    """Tumbling windows: by time (``every: 1h``, aligned to the epoch in UTC) or by count
    (``events: 1000``). ``grace``: how long a quiet time window waits past its end for events
    still in flight (default 1min; an event past its end closes it at once). ``rescore_every``:
    how often the latest windows are checked for labels that arrived since they were scored, and
    scored again (realised metrics beside the estimates; pending gates decided)."""

    every: str | None = "1h"
    events: int | None = Field(default=None, ge=1)
    grace: str | None = None
    rescore_every: str = "5min"

    @field_validator("every", "grace", "rescore_every")
    @classmethod
    def _duration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value, what="window")
        return value

    def model_post_init(self, _: Any) -> None:
        if (self.every is None) == (self.events is None):
            raise ValueError("window: give either every (a duration, e.g. 1h) or events (a count)")

    @property
    def length(self) -> timedelta | None:
        """The window's duration (None for count windows)."""
        return parse_duration(self.every, what="window.every") if self.every else None


class MonitorSettings(_Model):
    """Everything the monitor server needs besides the suite and the reference data.

    ``store_inputs``: ``raw`` keeps inputs as sent; ``hash`` keeps each input value as its keyed
    HMAC-SHA256 (``input_hash_key`` is the key: equal values stay equal, so categorical drift can
    still be measured, and nobody without the key can test guesses); ``truncate:N`` keeps the first
    N characters of each string value (numbers as sent). ``production_version``: the
    ``model_version`` whose events the windows score (default: every event); a candidate's
    predictions sent for the same events under another version are compared with it live
    (``GET /v1/shadow``).
    """

    db: str = "sqlite:///monitor.db"
    host: str = "127.0.0.1"
    port: int = Field(default=8765, ge=0, le=65535)
    tokens_file: Path | None = None
    store_inputs: str = "raw"
    input_hash_key: str | None = Field(default=None, repr=False)
    sqlite_synchronous: Literal["FULL", "NORMAL"] = "FULL"
    retention: str | None = None
    pending_label_limit: str = "7d"
    limits: Limits = Limits()
    webhook_url: str | None = None
    window: WindowSpec = WindowSpec()
    production_version: str | None = Field(default=None, min_length=1, max_length=200)
    log_level: Literal["critical", "error", "warning", "info", "debug"] = "info"

    @field_validator("store_inputs")
    @classmethod
    def _policy(cls, value: str) -> str:
        if value in ("raw", "hash"):
            return value
        m = re.fullmatch(r"truncate:(\d+)", value)
        if m and int(m.group(1)) >= 0:
            return value
        raise ValueError(
            f"store_inputs: {value!r}; write raw, hash or truncate:N (e.g. truncate:64)"
        )

    @field_validator("retention", "pending_label_limit")
    @classmethod
    def _durations(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value, what="duration")
        return value

    def model_post_init(self, _: Any) -> None:
        if self.store_inputs == "hash" and not self.input_hash_key:
            raise ValueError(
                "store_inputs=hash needs input_hash_key (ASSAY_MONITOR_INPUT_HASH_KEY): a secret "
                "that keeps the hashes from being guessed"
            )

    @property
    def retention_delta(self) -> timedelta | None:
        return parse_duration(self.retention, what="retention") if self.retention else None

    @property
    def pending_label_delta(self) -> timedelta:
        return parse_duration(self.pending_label_limit, what="pending_label_limit")

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: Any) -> MonitorSettings:
        """Settings from ``ASSAY_MONITOR_*`` variables, then ``overrides`` (None values are left
        out, so CLI flags that were not given do not hide the environment)."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for name in (
            "db",
            "host",
            "port",
            "tokens_file",
            "store_inputs",
            "input_hash_key",
            "sqlite_synchronous",
            "retention",
            "pending_label_limit",
            "webhook_url",
            "log_level",
            "production_version",
        ):
            raw = env.get(f"ASSAY_MONITOR_{name.upper()}")
            if raw:
                values[name] = raw
        limits = {
            name: env[f"ASSAY_MONITOR_{name.upper()}"]
            for name in ("max_batch", "max_body_bytes")
            if env.get(f"ASSAY_MONITOR_{name.upper()}")
        }
        if limits:
            values["limits"] = limits
        window = {
            name: env[f"ASSAY_MONITOR_WINDOW_{name.upper()}"]
            for name in ("every", "events", "grace", "rescore_every")
            if env.get(f"ASSAY_MONITOR_WINDOW_{name.upper()}")
        }
        if window:
            values["window"] = {**({"every": None} if "events" in window else {}), **window}
        values.update({k: v for k, v in overrides.items() if v is not None})
        try:
            return cls(**values)
        except ValidationError as exc:
            err = exc.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "settings"
            raise ConfigError(f"monitor settings {where}: {err['msg']}") from None


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


@dataclass(frozen=True)
class _Entry:
    name: str
    digest: bytes
    scopes: frozenset[str]


class TokenSet:
    """The known tokens, as sha256 digests with their scopes."""

    def __init__(self, entries: list[_Entry]) -> None:
        if not entries:
            raise ConfigError(
                "the monitor has no tokens: give --tokens FILE or set ASSAY_MONITOR_TOKENS "
                "(e.g. ASSAY_MONITOR_TOKENS='ingest:<token> read:<token>'); see docs/monitor.md"
            )
        self._entries = entries

    def __len__(self) -> int:
        return len(self._entries)

    def scopes(self, token: str | None) -> frozenset[str] | None:
        """The scopes of ``token`` (None: unknown). Every entry is compared, in constant time."""
        if not token:
            return None
        presented = _digest(token)
        found: frozenset[str] | None = None
        for entry in self._entries:
            if hmac.compare_digest(presented, entry.digest):
                found = entry.scopes
        if found is not None and "admin" in found:
            return frozenset(SCOPES)
        return found

    @classmethod
    def from_env_value(cls, value: str) -> TokenSet:
        entries = []
        for i, item in enumerate(value.split(), start=1):
            scopes, sep, token = item.partition(":")
            if not sep or not token:
                raise ConfigError(
                    f"ASSAY_MONITOR_TOKENS entry {i}: write SCOPES:TOKEN (scopes joined by +, "
                    "e.g. ingest:abc read+ingest:def)"
                )
            entries.append(
                _Entry(
                    f"env#{i}",
                    _digest(token),
                    _scopes(scopes.split("+"), f"ASSAY_MONITOR_TOKENS entry {i}"),
                )
            )
        return cls(entries)

    @classmethod
    def from_file(cls, path: str | Path) -> TokenSet:
        path = Path(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read the tokens file ({exc.strerror})") from None
        try:
            data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        except (ValueError, yaml.YAMLError) as exc:
            raise ConfigError(
                f"{path}: not valid {path.suffix.lstrip('.') or 'YAML'} ({exc})"
            ) from None
        items = data.get("tokens") if isinstance(data, dict) else None
        if not isinstance(items, list):
            raise ConfigError(f"{path}: write a list under 'tokens:' (see docs/monitor.md)")
        entries = []
        for i, item in enumerate(items):
            where = f"{path}: tokens[{i}]"
            if not isinstance(item, dict):
                raise ConfigError(
                    f"{where}: write a mapping with token (or token_sha256) and scopes"
                )
            if "token" in item:
                digest = _digest(str(item["token"]))
            elif "token_sha256" in item:
                try:
                    digest = bytes.fromhex(str(item["token_sha256"]))
                except ValueError:
                    digest = b""
                if len(digest) != 32:
                    raise ConfigError(f"{where}.token_sha256: write the 64 hex digits of a sha256")
            else:
                raise ConfigError(f"{where}: give token or token_sha256")
            scopes = item.get("scopes")
            if not isinstance(scopes, list):
                raise ConfigError(f"{where}.scopes: write a list, e.g. [ingest] or [read, admin]")
            entries.append(
                _Entry(str(item.get("name", f"tokens[{i}]")), digest, _scopes(scopes, where))
            )
        return cls(entries)

    @classmethod
    def load(cls, settings: MonitorSettings, environ: dict[str, str] | None = None) -> TokenSet:
        """The file of ``settings.tokens_file`` if given, else ``ASSAY_MONITOR_TOKENS``."""
        env = os.environ if environ is None else environ
        if settings.tokens_file is not None:
            return cls.from_file(settings.tokens_file)
        return cls.from_env_value(env.get("ASSAY_MONITOR_TOKENS", ""))


def _scopes(values: list[Any], where: str) -> frozenset[str]:
    bad = [v for v in values if v not in SCOPES]
    if bad or not values:
        raise ConfigError(f"{where}: scopes {values!r}; each must be one of {', '.join(SCOPES)}")
    return frozenset(str(v) for v in values)
