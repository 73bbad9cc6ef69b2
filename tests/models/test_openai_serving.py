"""Served LLMs as they behave: per-request latency, stream timings, a server that answers one
request at a time, cache keys that cover streaming, missing usage (tests/lm_server.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("transformers")

from assay import evaluate
from assay._runner import suite_from_dict
from assay.config import EngineSettings
from assay.engine import Engine, Request, content_key
from assay.models import load_model
from lm_fixtures import tiny_gpt2, write_rows
from lm_server import LMServer

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_gpt2(tmp_path_factory.mktemp("tiny") / "gpt2")


@pytest.fixture(scope="module")
def server(model_dir: Path) -> Iterator[LMServer]:
    with LMServer(model_dir) as s:
        yield s


def _suite(url: str, data: Path, options: dict[str, Any], engine: dict[str, Any], **checks: Any):
    return suite_from_dict(
        {
            "task": "generation",
            "data": {"path": str(data), "id": "id", "input": "text", "label": "label"},
            "models": {"candidate": {"spec": f"openai:tiny@{url}", "options": options}},
            "engine": {"progress": False, **engine},
            "checks": checks or {"generation": {"metrics": ["exact_match"], "n_bootstrap": 50}},
        }
    )


def _ask(model: Any, prompts: list[str], **settings: Any) -> tuple[dict[str, Any], Engine]:
    fp = model.info().fingerprint
    reqs = [Request(content_key(fp, p), "lm", p) for p in prompts]
    engine = Engine(EngineSettings(cache=None, progress=False, **settings), cache_path=None)
    answers = engine.run(reqs, {"lm": model})
    return {r.payload: answers[r.key] for r in reqs}, engine


# -- timings -----------------------------------------------------------------------------------


def test_latency_table_holds_each_requests_own_latency(model_dir: Path, tmp_path: Path) -> None:
    """It was the batch's time divided by its size: mean = p50 = max for every answer. At a
    server that answers one at a time, the k-th of a burst waits k service times."""
    rows = [(f"r{i}", f"SAY ok {i} END", f"ok {i}") for i in range(8)]
    with LMServer(model_dir, serial=True, service_s=0.05) as s:
        suite = _suite(s.url, write_rows(tmp_path / "d.csv", rows), {}, {"cache": None})
        report = evaluate(suite, write=False, progress=False)
    lat = report.result("generation").tables["latency"]
    # latencies 0.05, 0.10, ..., 0.40 s: the median is about half the max (a share: all equal)
    assert lat["max_s"] >= 8 * 0.05 and lat["max_s"] > 1.5 * lat["p50_s"]
    assert lat["source"] == "request" and lat["n"] == 8


def test_stream_timings_follow_vllm_and_one_token_has_no_rate(server: LMServer) -> None:
    m = load_model(f"openai:tiny@{server.url}", options={"stream": True})
    one, many = m.predict(["SAY single END", "SAY a b c d e f END"])
    assert one.text == "single" and one.timings is not None
    # one token: no decode span, so no rate (it was 1 / (total - ttft), a huge number)
    assert "tokens_per_s" not in one.timings and "tpot_s" not in one.timings
    assert 0 < one.timings["ttft_s"] <= one.timings["latency_s"]
    t = many.timings
    assert t is not None and many.usage is not None and many.usage["completion_tokens"] == 6
    assert t["tokens_per_s"] * t["tpot_s"] == pytest.approx(1.0)
    assert t["itl_gaps"] == 5 and t["ttft_s"] + 5 * t["itl_s"] <= t["latency_s"] + 1e-9


# -- a server that answers one request at a time -----------------------------------------------


def test_adaptive_concurrency_completes_where_a_fixed_one_times_out(model_dir: Path) -> None:
    """32 in flight at a serial server that takes 0.15 s an answer, 0.5 s timeout: a fixed limit
    times most requests out in the queue, retries and all; the AIMD limit backs off and answers
    every one, and its record and errors say why."""
    with LMServer(model_dir, serial=True, service_s=0.15) as s:
        results = {}
        for adaptive in (False, True):
            m = load_model(
                f"openai:tiny@{s.url}",
                options={"timeout_s": 0.5, "adapt_concurrency": adaptive, "backoff_s": 0.05},
            )
            prompts = [f"SAY x{i} {adaptive} END" for i in range(30)]
            answers, engine = _ask(m, prompts, retries=3)
            results[adaptive] = (answers, engine.stats, m.concurrency_record())
        assert s.most_at_once == 1
    fixed_answers, fixed_stats, fixed_rec = results[False]
    answers, stats, rec = results[True]
    assert fixed_stats.n_errors > 15  # most of the 30 timed out, three retries each
    error = next(a.error for a in fixed_answers.values() if a.error)
    assert "likely queued" in error and "raise timeout_s" in error
    assert fixed_rec["final"] == 32 and "fixed" in fixed_rec["why"]
    assert stats.n_errors == 0 and all(a.ok for a in answers.values())
    assert rec["final"] < 32 and rec["decreases"] and "32 →" in rec["why"]


def test_the_report_records_the_concurrency_and_suggests_the_fix(
    model_dir: Path, tmp_path: Path
) -> None:
    rows = [(f"r{i}", f"SAY ok {i} END", f"ok {i}") for i in range(24)]
    with LMServer(model_dir, serial=True, service_s=0.05) as s:
        suite = _suite(
            s.url,
            write_rows(tmp_path / "d.csv", rows),
            {"timeout_s": 0.5, "backoff_s": 0.05, "concurrency": 16},
            {"cache": None},
        )
        report = evaluate(suite, write=False, progress=False)
    rec = report.engine["concurrency"]["candidate"]
    assert rec["configured"] == 16 and rec["final"] < 16
    assert any("concurrency 16 →" in n and "options.concurrency:" in n for n in report.notes)


# -- cache keys --------------------------------------------------------------------------------


def test_adding_stream_to_a_cached_suite_asks_again_and_reports_fresh_timings(
    server: LMServer, tmp_path: Path
) -> None:
    """``stream`` was left out of the fingerprint: the streamed run read the plain answers from
    the cache, sent nothing and reported no TTFT."""
    data = write_rows(tmp_path / "d.csv", [(f"r{i}", f"SAY c{i} END", f"c{i}") for i in range(4)])
    cache = {"cache": str(tmp_path / "cache.db")}
    first = evaluate(_suite(server.url, data, {}, cache), write=False, progress=False)
    assert first.engine["n_called"] == 4
    sent = len(server.seen)
    streamed = evaluate(
        _suite(server.url, data, {"stream": True}, cache), write=False, progress=False
    )
    assert streamed.engine["n_called"] == 4 and len(server.seen) == sent + 4
    g = streamed.result("generation")
    assert "ttft_s" in g.metrics and not any("from the cache" in f for f in g.flags)
    assert "n_cached" not in g.tables["latency"]
    # asked again with the same settings: answered from the cache, and the report says so
    again = evaluate(_suite(server.url, data, {"stream": True}, cache), write=False, progress=False)
    assert again.engine["n_cached"] == 4 and len(server.seen) == sent + 4
    g2 = again.result("generation")
    assert g2.tables["latency"]["n_cached"] == 4 and "measured_from" in g2.tables["latency"]
    assert any("4 of 4 answers come from the cache" in f and "--no-cache" in f for f in g2.flags)


def test_settings_that_change_answers_or_timings_change_the_fingerprint(server: LMServer) -> None:
    base = load_model(f"openai:tiny@{server.url}").info().fingerprint
    for option, value in [
        ("stream", True),
        ("logprobs", True),
        ("top_logprobs", 3),
        ("temperature", 0.7),
        ("seed", 1),
        ("endpoint", "completions"),
        ("prompt", "Q: {input}"),
        ("max_new_tokens", 5),
        ("system", "be brief"),
    ]:
        fp = load_model(f"openai:tiny@{server.url}", options={option: value}).info().fingerprint
        assert fp != base, option
    for option, value in [("timeout_s", 3.0), ("concurrency", 2), ("adapt_concurrency", False)]:
        fp = load_model(f"openai:tiny@{server.url}", options={option: value}).info().fingerprint
        assert fp == base, option


# -- usage -------------------------------------------------------------------------------------


def test_streams_ask_for_usage_and_a_server_that_refuses_the_option_still_answers(
    model_dir: Path,
) -> None:
    with LMServer(model_dir, reject_stream_options=True) as s:
        m = load_model(f"openai:tiny@{s.url}", options={"stream": True})
        first, second = (m.predict([f"SAY fine {i} END"])[0] for i in range(2))
        assert (first.text, second.text) == ("fine 0", "fine 1")
        bodies = [seen["body"] for seen in s.seen]
    # asked once with stream_options (refused), then without, and never again with it
    assert [("stream_options" in b) for b in bodies] == [True, False, False]
    assert bodies[0]["stream_options"] == {"include_usage": True}
    assert first.usage is None  # the server could not be asked for it


def test_a_price_without_usage_is_flagged_for_generation_and_classifiers(
    model_dir: Path, tmp_path: Path
) -> None:
    rows = [("a", "SAY positive END", "positive"), ("b", "SAY negative END", "negative")]
    data = write_rows(tmp_path / "d.csv", rows)
    verbaliser = {"positive": "positive", "negative": "negative"}
    with LMServer(model_dir, usage=False) as s:
        gen = evaluate(
            _suite(s.url, data, {"stream": True, "price_per_1k": 2.0}, {"cache": None}),
            write=False,
            progress=False,
        ).result("generation")
        suite = suite_from_dict(
            {
                "data": {"path": str(data), "id": "id", "input": "text", "label": "label"},
                "models": {
                    "candidate": {
                        "spec": f"openai:tiny@{s.url}",
                        "options": {"verbaliser": verbaliser, "price_per_1k": 2.0},
                    }
                },
                "engine": {"cache": None, "progress": False},
                "checks": {"performance": {"n_bootstrap": 50}},
            }
        )
        perf = evaluate(suite, write=False, progress=False).result("performance")
    for result in (gen, perf):
        assert any(
            "price is set but the server returned no token usage for 2 of 2" in f
            for f in result.flags
        ), result.flags
        assert "usage" not in result.tables


def test_classifiers_report_usage_and_cost(server: LMServer, tmp_path: Path) -> None:
    rows = [("a", "SAY positive END", "positive"), ("b", "SAY negative no END", "negative")]
    suite = suite_from_dict(
        {
            "data": {
                "path": str(write_rows(tmp_path / "d.csv", rows)),
                "id": "id",
                "input": "text",
                "label": "label",
            },
            "models": {
                "candidate": {
                    "spec": f"openai:tiny@{server.url}",
                    "options": {
                        "verbaliser": {"positive": "positive", "negative": "negative"},
                        "logprobs": True,
                        "price_per_1k_prompt": 1.0,
                        "price_per_1k_completion": 3.0,
                    },
                }
            },
            "engine": {"cache": None, "progress": False},
            "checks": {"performance": {"n_bootstrap": 50}},
        }
    )
    perf = evaluate(suite, write=False, progress=False).result("performance")
    usage = perf.tables["usage"]
    # the test server counts prompt words and answer words
    assert usage["prompt_tokens"] == 3 + 4 and usage["completion_tokens"] == 1 + 2
    assert usage["cost"] == pytest.approx((7 * 1.0 + 3 * 3.0) / 1000)
    assert usage["n_with_usage"] == 2 and not any("price" in f for f in perf.flags)


def test_interrupted_streams_bring_the_concurrency_down(model_dir: Path, tmp_path: Path) -> None:
    """A stream cut with [DONE] and no finish_reason (FINTR: on its first request) says the
    server serves one at a time: the limit halves, and the retries are answered."""
    rows = [(f"r{i}", f"FINTR SAY ok {i} END", f"ok {i}") for i in range(8)]
    with LMServer(model_dir) as s:
        suite = _suite(
            s.url,
            write_rows(tmp_path / "d.csv", rows),
            {"stream": True, "concurrency": 8, "backoff_s": 0.01},
            {"cache": None},
        )
        report = evaluate(suite, write=False, progress=False)
    rec = report.engine["concurrency"]["candidate"]
    assert rec["decreases"].get("interrupted", 0) >= 1 and rec["final"] < 8
    assert report.result("generation").metrics["exact_match"].value == 1.0
