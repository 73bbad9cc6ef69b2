"""The openai: adapter against a real HTTP server on 127.0.0.1 (tests/lm_server.py)."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("transformers")

from assay import evaluate
from assay._runner import suite_from_dict
from assay._types import UNPARSEABLE_LABEL, CallSettings, OverridesCallSettings, TakesTimeout
from assay.config import EngineSettings, Suite
from assay.engine import Engine, Request, content_key
from assay.errors import ModelError, PartialBatchError, RetryableModelError
from assay.models import load_model
from lm_fixtures import tiny_gpt2, write_rows
from lm_server import LMServer

KEY = "sk-test-ThisMustNeverLeak-0123456789"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LMServer]:
    model_dir = tiny_gpt2(tmp_path_factory.mktemp("tiny") / "gpt2")
    with LMServer(model_dir, slow_s=1.5) as s:
        yield s


def _classifier_suite(
    server: LMServer, data: Path, *, options: dict[str, object], engine: dict[str, object]
) -> Suite:
    """The served tiny model as a positive/negative classifier on ``data``."""
    verbaliser = {"positive": "positive", "negative": "negative"}
    return suite_from_dict(
        {
            "data": {"path": str(data), "id": "id", "input": "text", "label": "label"},
            "models": {
                "candidate": {
                    "spec": f"openai:tiny@{server.url}",
                    "options": {"verbaliser": verbaliser, **options},
                }
            },
            "engine": engine,
            "checks": {"performance": {"n_bootstrap": 50}},
        }
    )


@pytest.mark.parametrize("stream", [False, True])
def test_fault_run_completes_and_accounts_for_every_failure(
    server: LMServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, stream: bool
) -> None:
    monkeypatch.setenv("MY_KEY_VAR", KEY)
    tag = "s" if stream else "n"
    rows = [
        ("ok1", f"SAY positive {tag} END", "positive"),
        ("ok2", f"SAY negative {tag} END", "negative"),
        ("r429", f"SAY positive F429 {tag} END", "positive"),
        ("r500", f"SAY negative F500 {tag} END", "negative"),
        ("slow", f"SAY positive FSLOW {tag} END", "positive"),
        ("cut", f"SAY negative FCUT {tag} END", "negative"),
        ("dead", f"SAY positive FDEAD {tag} END", "positive"),
        ("json", f"SAY negative FJSON {tag} END", "negative"),
        ("noise", f"SAY maybe {tag} END", "negative"),
    ]
    data = write_rows(tmp_path / "d.csv", rows)
    out = tmp_path / "out"
    suite = _classifier_suite(
        server,
        data,
        options={
            "api_key_env": "MY_KEY_VAR",
            "stream": stream,
            "timeout_s": 0.8,
            "retries": 3,
            "backoff_s": 0.01,
            "price_per_1k": 2.0,
        },
        engine={"cache": str(tmp_path / "cache.db"), "batch_size": 16, "progress": False},
    )
    report = evaluate(suite, out=out, progress=False)
    perf = report.result("performance")
    # two requests fail for good (always 500, always malformed JSON); every other one is answered
    assert perf.errors is not None
    assert perf.errors.n_errors == 2
    messages = " | ".join(e["error"] for e in perf.errors.examples)
    assert "HTTP 500" in messages and "gave up after 3 retries" in messages
    assert "malformed" in messages
    assert perf.n == 7
    # "maybe" names no label: an answer, counted wrong, shown as its own class
    assert any(UNPARSEABLE_LABEL in f for f in perf.flags)
    assert perf.metrics["accuracy"].value == pytest.approx(6 / 7)
    # the key went to the server, and nowhere else
    assert any(h["headers"].get("authorization") == f"Bearer {KEY}" for h in server.seen)
    for p in [*out.rglob("*"), tmp_path / "cache.db"]:
        if p.is_file():
            assert KEY.encode() not in p.read_bytes(), p
    assert KEY not in repr(report.models)


def test_retries_and_timeout_default_to_the_suite_engine_settings(
    server: LMServer, tmp_path: Path
) -> None:
    """The adapter used its own defaults (3 retries, a 60 s timeout) whatever the suite's
    ``engine`` said; now ``engine.retries``/``timeout_s`` apply unless the model's options say."""
    def run(options: dict[str, object], tag: str) -> object:
        rows = [
            ("ok", f"SAY positive {tag} END", "positive"),
            ("r500", f"SAY negative F500 {tag} END", "negative"),
            ("slow", f"SAY positive FSLOW {tag} END", "positive"),
        ]
        suite = _classifier_suite(
            server,
            write_rows(tmp_path / f"{tag}.csv", rows),
            options=options,
            engine={"cache": None, "retries": 0, "backoff_s": 0.01, "timeout_s": 0.8},
        )
        return evaluate(suite, write=False, progress=False).result("performance")

    perf = run({}, "eng1")
    assert perf.errors is not None and perf.errors.n_errors == 2
    messages = " | ".join(e["error"] for e in perf.errors.examples)
    assert "HTTP 500" in messages and "gave up" not in messages
    # the model's own options win: retried, so both answer on their second call
    perf = run({"retries": 2, "timeout_s": 5.0}, "eng2")
    assert perf.errors is None or perf.errors.n_errors == 0
    assert perf.n == 3


def test_the_adapter_sends_each_request_once_and_says_what_is_transient(server: LMServer) -> None:
    """It used to retry each request itself; now a 429 or 500 comes back as a RetryableModelError
    (with the server's Retry-After) after one call, and a batch that half failed hands every
    input's answer or error to the engine."""
    m = load_model(f"openai:tiny@{server.url}")
    with pytest.raises(RetryableModelError) as err:
        m.predict(["SAY x F429 once END"])
    assert err.value.retry_after_s == pytest.approx(0.2)
    assert server.calls["SAY x F429 once END"] == 1
    with pytest.raises(PartialBatchError) as partial:
        m.predict(["SAY y F500 half END", "SAY z half END"])
    failed, answered = partial.value.results
    assert isinstance(failed, RetryableModelError) and "HTTP 500" in str(failed)
    assert getattr(answered, "text", None) == "z half"
    assert server.calls["SAY y F500 half END"] == 1 and server.calls["SAY z half END"] == 1


def test_the_engine_retries_a_429_no_sooner_than_retry_after(server: LMServer) -> None:
    """The engine is the one place that retries: the 429s are asked again after the server's
    Retry-After (0.2 s, far above the 0.01 s backoff), the answered neighbour is not re-sent."""
    m = load_model(f"openai:tiny@{server.url}", name="lm")
    prompts = ["SAY a F429 eng429 END", "SAY b eng429 END"]
    fp = m.info().fingerprint
    reqs = [Request(content_key(fp, p), "lm", p) for p in prompts]
    eng = Engine(
        EngineSettings(cache=None, retries=3, backoff_s=0.01, progress=False),
        cache_path=None,
        progress=False,
    )
    waits: list[float] = []

    def sleep(seconds: float) -> None:  # records the engine's waits, and waits
        waits.append(seconds)
        time.sleep(seconds)

    eng._sleep = sleep
    started = time.perf_counter()
    answers = eng.run(reqs, {"lm": m})
    assert time.perf_counter() - started >= 0.4
    assert [answers[r.key].output.text for r in reqs] == ["a F429 eng429", "b eng429"]  # type: ignore[union-attr]
    assert waits == [0.2, 0.2] and eng.stats.n_retries == 2 and eng.stats.n_errors == 0
    assert server.calls[prompts[0]] == 3 and server.calls[prompts[1]] == 1


def test_options_override_the_engine_settings_through_call_settings(server: LMServer) -> None:
    m = load_model(f"openai:tiny@{server.url}", options={"retries": 0, "timeout_s": 0.8})
    assert isinstance(m, OverridesCallSettings) and isinstance(m, TakesTimeout)
    assert m.call_settings == CallSettings(retries=0, backoff_s=None, timeout_s=0.8)
    assert load_model(f"openai:tiny@{server.url}").call_settings == CallSettings()
    # retries 0 beats the engine's 3: the 500 is not asked again
    fp = m.info().fingerprint
    req = Request(content_key(fp, "SAY c F500 own END"), "lm", "SAY c F500 own END")
    eng = Engine(EngineSettings(cache=None, retries=3, progress=False), cache_path=None)
    (r,) = eng.run([req], {"lm": m}).values()
    assert r.error is not None and "HTTP 500" in r.error and "gave up" not in r.error
    assert server.calls["SAY c F500 own END"] == 1


def test_streaming_timings_usage_cost_and_logprobs(
    server: LMServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ASSAY_OPENAI_API_KEY", raising=False)
    m = load_model(
        f"openai:tiny@{server.url}",
        options={"stream": True, "price_per_1k_prompt": 1.0, "price_per_1k_completion": 3.0},
    )
    (o,) = m.predict(["SAY one two three four END"])
    assert o.text == "one two three four"
    assert o.timings is not None and 0 < o.timings["ttft_s"] <= o.timings["latency_s"]
    assert o.timings["itl_s"] > 0 and o.timings["tokens_per_s"] > 0
    assert o.usage is not None and o.usage["completion_tokens"] == 4
    expected = (o.usage["prompt_tokens"] * 1.0 + 4 * 3.0) / 1000
    assert o.usage["cost"] == pytest.approx(expected, rel=1e-12)
    c = load_model(
        f"openai:tiny@{server.url}",
        options={"logprobs": True, "verbaliser": {"pos": "positive", "neg": "negative"}},
    )
    (p,) = c.predict(["SAY positive END"])
    # top_logprobs: "positive" -0.1, "other" -2.5 (no label): neg is not listed, so it gets the
    # floor, the 2nd (last) listed probability, never 0; the labels held exp(-0.1) of the mass
    pos, floor = math.exp(-0.1), math.exp(-2.5)
    assert p.label == "pos"
    assert p.probabilities == pytest.approx({"pos": pos / (pos + floor), "neg": floor / (pos + floor)})
    assert p.floored == ["neg"] and p.label_mass == pytest.approx(pos)


def test_completions_endpoint_and_a_permanent_4xx(server: LMServer) -> None:
    m = load_model(f"openai:tiny@{server.url}", options={"endpoint": "completions"})
    assert m.predict(["SAY fine END"])[0].text == "fine"
    bad = load_model(f"openai:tiny@{server.url.replace('/v1', '/nope')}", options={"retries": 0})
    with pytest.raises(ModelError, match="HTTP 404"):
        bad.predict(["SAY fine END"])


def test_key_is_scrubbed_from_errors(server: LMServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSAY_OPENAI_API_KEY", KEY)
    m = load_model(f"openai:tiny@http://127.0.0.1:1/v1?key={KEY}", options={"retries": 0})
    assert KEY not in m.info().spec and KEY not in str(m.info().to_dict())
    with pytest.raises(ModelError) as err:
        m.predict(["x"])
    assert KEY not in str(err.value)
    assert os.environ["ASSAY_OPENAI_API_KEY"] == KEY


def test_url_password_never_reaches_report_json_or_html(server: LMServer, tmp_path: Path) -> None:
    # the suite's own record of the model spec kept `user:password@` (redacted only in models[])
    data = write_rows(tmp_path / "d.csv", [("a", "SAY positive END", "positive")])
    with_password = server.url.replace("http://", "http://someone:hunter2-secret@")
    suite = suite_from_dict(
        {
            "data": {"path": str(data), "id": "id", "input": "text", "label": "label"},
            "models": {
                "candidate": {
                    "spec": f"openai:tiny@{with_password}",
                    "options": {"verbaliser": {"positive": "positive", "negative": "negative"}},
                }
            },
            "engine": {"cache": None, "progress": False},
        }
    )
    evaluate(suite, out=tmp_path / "out", progress=False)
    for name in ("report.json", "report.html"):
        text = (tmp_path / "out" / name).read_text(encoding="utf-8")
        assert "hunter2-secret" not in text and "someone" not in text, name
    assert f"openai:tiny@{server.url}" in (tmp_path / "out" / "report.json").read_text()
