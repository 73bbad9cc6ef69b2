"""The monitor's settings, tokens and event schema."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from assay.errors import ConfigError
from assay.monitor._config import MonitorSettings, TokenSet, parse_duration
from assay.monitor._schema import Event, batch_models


def test_tokens_from_the_environment_with_scopes() -> None:
    tokens = TokenSet.from_env_value("ingest:abc read+ingest:d:e:f admin:zz")
    assert tokens.scopes("abc") == {"ingest"}
    assert tokens.scopes("d:e:f") == {"read", "ingest"}  # a token is all after the first colon
    assert tokens.scopes("zz") == {"ingest", "read", "admin"}  # admin implies the others
    assert tokens.scopes("ab") is None and tokens.scopes("abcd") is None
    assert tokens.scopes("") is None and tokens.scopes(None) is None
    with pytest.raises(ConfigError, match="SCOPES:TOKEN"):
        TokenSet.from_env_value("justatoken")
    with pytest.raises(ConfigError, match="one of ingest, read, admin"):
        TokenSet.from_env_value("write:abc")
    with pytest.raises(ConfigError, match="no tokens"):
        TokenSet.from_env_value("")


def test_tokens_from_a_file_in_clear_or_as_a_sha256(tmp_path: Path) -> None:
    digest = hashlib.sha256(b"grafana-token").hexdigest()
    yaml_file = tmp_path / "tokens.yaml"
    yaml_file.write_text(
        "tokens:\n"
        "  - {name: collector, token: c-1, scopes: [ingest]}\n"
        f"  - {{name: grafana, token_sha256: {digest}, scopes: [read]}}\n"
    )
    tokens = TokenSet.from_file(yaml_file)
    assert tokens.scopes("c-1") == {"ingest"} and tokens.scopes("grafana-token") == {"read"}
    json_file = tmp_path / "tokens.json"
    json_file.write_text(json.dumps({"tokens": [{"token": "j", "scopes": ["admin"]}]}))
    assert TokenSet.from_file(json_file).scopes("j") == {"ingest", "read", "admin"}
    for bad, msg in [
        ("tokens: {a: 1}", "a list under 'tokens:'"),
        ("tokens: [{token: x}]", r"tokens\[0\].scopes"),
        ("tokens: [{scopes: [read]}]", "token or token_sha256"),
        ("tokens: [{token_sha256: abc, scopes: [read]}]", "64 hex digits"),
    ]:
        yaml_file.write_text(bad)
        with pytest.raises(ConfigError, match=msg):
            TokenSet.from_file(yaml_file)
    with pytest.raises(ConfigError, match="cannot read"):
        TokenSet.from_file(tmp_path / "missing.yaml")


def test_settings_from_the_environment_and_flags() -> None:
    env = {
        "ASSAY_MONITOR_DB": "sqlite:///x.db",
        "ASSAY_MONITOR_PORT": "9000",
        "ASSAY_MONITOR_MAX_BATCH": "10",
        "ASSAY_MONITOR_WINDOW_EVENTS": "500",
    }
    s = MonitorSettings.from_env(env, port=9100, host=None)
    assert (s.db, s.port, s.host, s.limits.max_batch) == ("sqlite:///x.db", 9100, "127.0.0.1", 10)
    assert (s.window.events, s.window.every) == (500, None)
    assert MonitorSettings().window.length == timedelta(hours=1)
    with pytest.raises(ConfigError, match="store_inputs"):
        MonitorSettings.from_env({}, store_inputs="md5")
    with pytest.raises(ConfigError, match="input_hash_key"):
        MonitorSettings.from_env({}, store_inputs="hash")
    assert MonitorSettings.from_env({}, store_inputs="truncate:16").store_inputs == "truncate:16"
    with pytest.raises(ConfigError, match="duration"):
        MonitorSettings.from_env({}, retention="forever")


def test_durations() -> None:
    assert parse_duration("90s") == timedelta(seconds=90)
    assert parse_duration("1.5h") == timedelta(minutes=90)
    assert parse_duration("2w") == timedelta(days=14)
    for bad in ("0s", "7", "1y", "-1d"):
        with pytest.raises(ConfigError):
            parse_duration(bad)


def _event(**over: object) -> dict[str, object]:
    return {
        "event_id": "e",
        "timestamp": "2026-12-07T10:00:00",
        "inputs": {},
        "prediction": "1",
        **over,
    }


def test_an_event_keeps_its_value_types() -> None:
    inputs = {"b": True, "i": 3, "f": 1.5, "s": "1", "t": "true", "n": None, "l": [1], "z": 0}
    e = Event.model_validate(_event(inputs=inputs, timestamp="2026-12-07T12:00:00+02:00"))
    assert e.inputs == inputs and [type(v) for v in e.inputs.values()] == [
        type(v) for v in inputs.values()
    ]
    assert Event.model_validate(_event()).model_version == "unknown"


@pytest.mark.parametrize(
    ("over", "field"),
    [
        ({"event_id": ""}, "event_id"),
        ({"event_id": "x" * 201}, "event_id"),
        ({"event_id": "a\x00b"}, "event_id"),
        ({"timestamp": "soon"}, "timestamp"),
        ({"timestamp": "9999-12-31T23:00:00-05:00"}, "timestamp"),
        ({"prediction": float("nan")}, "prediction"),
        ({"probabilities": {"1": 1.5}}, "probabilities"),
        ({"latency_ms": float("inf")}, "latency_ms"),
        ({"groups": {"sex": 1}}, "groups"),
        ({"inputs": [1, 2]}, "inputs"),
        ({"unknown": 1}, "unknown"),
    ],
)
def test_an_invalid_event_names_its_field(over: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        Event.model_validate(_event(**over))
    assert info.value.errors()[0]["loc"][0] == field


def test_the_batch_models_carry_the_server_limit() -> None:
    events, labels = batch_models(2)
    events.model_validate({"events": [_event(), _event()]})
    with pytest.raises(ValidationError, match="at most 2"):
        events.model_validate({"events": [_event()] * 3})
    with pytest.raises(ValidationError, match="at least 1"):
        labels.model_validate({"labels": []})
