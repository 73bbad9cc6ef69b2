"""How the openai: adapter reads served answers: label probabilities from logprobs, stop,
max_new_tokens and finish_reason, interrupted streams, empty and template-token answers.

Against the real HTTP test server on 127.0.0.1 (tests/lm_server.py), whose ``DIST`` prompts make
its log-probabilities follow a scripted answer distribution, word by word.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("transformers")

from rich.console import Console

from assay import evaluate
from assay._runner import suite_from_dict
from assay._types import UNPARSEABLE_LABEL
from assay.config import EngineSettings
from assay.engine import Engine, Request, content_key
from assay.errors import ConfigError, ModelError, RetryableModelError
from assay.models import load_model
from assay.report import Report, print_summary
from lm_fixtures import tiny_gpt2, write_rows
from lm_server import LMServer

pytestmark = pytest.mark.slow

THUMBS = {"up": "thumbs up", "down": "thumbs down"}
PROMPT = "Review: {input}\nAnswer:"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LMServer]:
    model_dir = tiny_gpt2(tmp_path_factory.mktemp("tiny") / "gpt2")
    with LMServer(model_dir) as s:
        yield s


def _run(server: LMServer, tmp_path: Path, rows: list[tuple[str, str, str]], **kw: Any) -> Report:
    options: dict[str, Any] = kw.pop("options")
    task = kw.pop("task", "classification")
    checks = (
        {"generation": {"reference": "label", "n_bootstrap": 50}}
        if task == "generation"
        else {"performance": {"n_bootstrap": 50}}
    )
    suite = suite_from_dict(
        {
            "task": task,
            "data": {"path": str(write_rows(tmp_path / "d.csv", rows)), "id": "id", "input": "text"}
            | ({"label": "label"} if task != "generation" else {}),
            "models": {"candidate": {"spec": f"openai:tiny@{server.url}", "options": options}},
            "engine": {"cache": None, "progress": False, "backoff_s": 0.01, **kw},
            "checks": checks,
        }
    )
    return evaluate(suite, write=False, progress=False)


def _console(report: Report) -> str:
    c = Console(record=True, width=200)
    print_summary(report, console=c)
    return c.export_text()


# -- label probabilities ------------------------------------------------------------------------


def test_labels_sharing_a_first_token_are_scored_by_their_whole_verbalisations(
    server: LMServer, tmp_path: Path
) -> None:
    # "thumbs up" and "thumbs down" share their first token: its probability (0.9) belongs to
    # both. Crediting it to the first label listed gave P(up) = 1 on every row and AUC 0.5.
    up, down = 0.7, 0.2
    m = load_model(
        f"openai:tiny@{server.url}",
        options={
            "endpoint": "completions",
            "prompt": PROMPT,
            "verbaliser": THUMBS,
            "logprobs": True,
        },
    )
    assert m.info().details["label_scoring"] == "verbalisation"
    (o,) = m.predict([f"DIST thumbs up={up}|thumbs down={down} END"])
    assert o.label == "up" and o.text == "thumbs up"
    assert o.probabilities == pytest.approx({"up": up / (up + down), "down": down / (up + down)})
    assert o.label_mass == pytest.approx(up + down)
    rows = [
        (f"r{i}", f"DIST thumbs up={p}|thumbs down={0.9 - p} END", "up" if p > 0.45 else "down")
        for i, p in enumerate([0.8, 0.6, 0.5, 0.3, 0.2, 0.1, 0.7, 0.05])
    ]
    report = _run(
        server,
        tmp_path,
        rows,
        options={
            "endpoint": "completions",
            "prompt": PROMPT,
            "verbaliser": THUMBS,
            "logprobs": True,
        },
    )
    perf = report.result("performance")
    assert perf.metrics["accuracy"].value == 1.0
    assert perf.metrics["roc_auc"].value == 1.0
    assert perf.metrics["outside_label_mass"].value == pytest.approx(0.1)
    assert "10.0% of the probability outside the labels" in _console(report)


def test_the_chat_endpoint_refuses_labels_sharing_a_first_word(server: LMServer) -> None:
    with pytest.raises(
        ConfigError, match=r"up, down all begin with 'thumbs'.*endpoint: completions"
    ):
        load_model(f"openai:tiny@{server.url}", options={"verbaliser": THUMBS, "logprobs": True})
    # without logprobs nothing is scored from the first token: the answer is parsed
    m = load_model(f"openai:tiny@{server.url}", options={"verbaliser": THUMBS})
    assert m.predict(["SAY thumbs down END"])[0].label == "down"


def test_a_first_token_that_begins_two_labels_is_refused_on_chat(server: LMServer) -> None:
    # "go" begins "good" and "gone" (a sub-word collision no first word reveals)
    m = load_model(
        f"openai:tiny@{server.url}",
        options={"verbaliser": {"a": "good", "b": "gone"}, "logprobs": True, "retries": 0},
    )
    with pytest.raises(ModelError, match="'go' begins the verbalisations of labels a, b"):
        m.predict(["DIST go=0.9 END"])


@pytest.mark.parametrize("endpoint", ["chat", "completions"])
def test_a_label_missing_from_top_logprobs_gets_the_stated_floor_not_zero(
    server: LMServer, endpoint: str
) -> None:
    # five answers more likely than "negative": with the top 5 listed, "negative" is not
    dist = "positive=0.6|great=0.2|good=0.1|fine=0.05|ok=0.03|negative=0.02"
    m = load_model(
        f"openai:tiny@{server.url}",
        options={
            "endpoint": endpoint,
            "verbaliser": {"pos": "positive", "neg": "negative"},
            "logprobs": True,
            "top_logprobs": 5,
        },
    )
    (o,) = m.predict([f"DIST {dist} END"])
    floor = 0.03  # the 5th listed probability: an upper bound on the unlisted "negative"
    assert o.label == "pos"
    assert o.probabilities == pytest.approx({"pos": 0.6 / (0.6 + floor), "neg": floor / 0.63})
    assert o.floored == ["neg"] and o.label_mass == pytest.approx(0.6)


def test_the_floor_keeps_log_loss_finite_and_is_counted(server: LMServer, tmp_path: Path) -> None:
    rows = [
        ("a", "DIST positive=0.6|great=0.2|good=0.1|fine=0.05|ok=0.03|negative=0.02 END", "neg"),
        ("b", "DIST negative=0.7|positive=0.2 END", "neg"),
        ("c", "DIST positive=0.8|negative=0.1 END", "pos"),
        ("d", "DIST negative=0.6|positive=0.3 END", "pos"),
    ]
    report = _run(
        server,
        tmp_path,
        rows,
        options={"verbaliser": {"pos": "positive", "neg": "negative"}, "logprobs": True},
    )
    perf = report.result("performance")
    # row a: P(neg) = 0.03 / 0.63, not 0 (which made log loss 34.5 / 4 on its own)
    expected = (
        -(math.log(0.03 / 0.63) + math.log(0.7 / 0.9) + math.log(0.8 / 0.9) + math.log(0.3 / 0.9))
        / 4
    )
    assert perf.metrics["log_loss"].value == pytest.approx(expected, rel=1e-6)
    assert perf.metrics["label_floor_rate"].value == pytest.approx(1 / 4)
    assert perf.tables["answers"]["label_floor"] == 1
    assert any("missing from the server's top log-probabilities (neg)" in f for f in perf.flags)
    assert "1 of 4 with a label given the floor" in _console(report)


def test_an_answer_naming_no_label_is_unparseable_whatever_the_logprobs(server: LMServer) -> None:
    m = load_model(
        f"openai:tiny@{server.url}",
        options={"verbaliser": {"pos": "positive", "neg": "negative"}, "logprobs": True},
    )
    (o,) = m.predict(["DIST positive=0.5|negative=0.1 END SAY I am not sure END"])
    assert o.label == UNPARSEABLE_LABEL
    assert o.probabilities == pytest.approx({"pos": 5 / 6, "neg": 1 / 6})


# -- stop, max_new_tokens, finish_reason ---------------------------------------------------------


@pytest.mark.parametrize("endpoint", ["chat", "completions"])
@pytest.mark.parametrize("stream", [False, True])
def test_stop_ends_the_answer_on_both_endpoints(
    server: LMServer, endpoint: str, stream: bool
) -> None:
    m = load_model(
        f"openai:tiny@{server.url}",
        options={"endpoint": endpoint, "stream": stream, "stop": ["Review"]},
    )
    (o,) = m.predict([f"SAY positive Review: a long rambling tail {endpoint} {stream} END"])
    assert o.text is not None and o.text.strip() == "positive"
    assert o.finish_reason == "stop"
    with pytest.raises(ConfigError, match=r"options.stop: expected a string or a list"):
        load_model(f"openai:tiny@{server.url}", options={"stop": [3]})


def test_answers_cut_by_max_new_tokens_or_without_a_finish_reason_are_counted(
    server: LMServer, tmp_path: Path
) -> None:
    rows = [
        ("long", "SAY one two three four five END", "one two three"),
        ("short", "SAY one two END", "one two"),
        ("nofin", "FNOFIN SAY one END", "one"),
        ("fine", "SAY three END", "three"),
    ]
    report = _run(server, tmp_path, rows, task="generation", options={"max_new_tokens": 3})
    g = report.result("generation")
    assert g.metrics["exact_match"].value == 1.0  # max_new_tokens reached the server
    assert g.metrics["cut_short_rate"].value == pytest.approx(2 / 4)
    assert g.tables["answers"]["cut_short"] == 2
    assert any("1 of 4 answers stopped at max_new_tokens" in f for f in g.flags)
    assert any("1 of 4 answers came with no finish_reason" in f for f in g.flags)
    assert "2 of 4 cut short" in _console(report)


def test_a_stream_interrupted_with_done_but_no_finish_reason_is_retried(
    server: LMServer, tmp_path: Path
) -> None:
    m = load_model(f"openai:tiny@{server.url}", options={"stream": True})
    with pytest.raises(RetryableModelError, match="no finish_reason.*interrupted"):
        m.predict(["FINTR one SAY a b c END"])
    # through the engine: asked again, and the complete answer is what is cached
    prompt = "FINTR two SAY a b c END"
    fp = m.info().fingerprint
    cache = tmp_path / "cache.db"
    settings = EngineSettings(cache=str(cache), retries=2, backoff_s=0.01, progress=False)
    (r,) = (
        Engine(settings, cache_path=cache)
        .run([Request(content_key(fp, prompt), "lm", prompt)], {"lm": m})
        .values()
    )
    assert r.ok and r.output is not None and r.output.text == "a b c"
    assert r.output.finish_reason == "stop"
    assert server.calls[prompt] == 2
    (again,) = (
        Engine(settings, cache_path=cache)
        .run([Request(content_key(fp, prompt), "lm", prompt)], {"lm": m})
        .values()
    )
    assert again.output is not None and again.output.text == "a b c"
    assert server.calls[prompt] == 2  # from the cache, complete


# -- empty and template-token answers ----------------------------------------------------------


def test_empty_and_template_token_answers_are_counted_with_a_hint(
    server: LMServer, tmp_path: Path
) -> None:
    rows = [
        ("e1", "FEMPTY one", "pos"),
        ("e2", "FEMPTY two", "neg"),
        ("t1", "SAY [INST] END", "pos"),
    ]
    report = _run(server, tmp_path, rows, options={"labels": ["pos", "neg"]})
    perf = report.result("performance")
    assert perf.metrics["unparseable_rate"].value == 1.0
    assert perf.metrics["empty_rate"].value == pytest.approx(2 / 3)
    hint = [f for f in perf.flags if "chat-template token" in f]
    assert hint and "endpoint: completions" in hint[0]
    text = _console(report)
    assert "3 of 3 named no label · 2 of 3 empty" in text
    assert "hint candidate: every answer from the chat endpoint was empty" in text
    # generation too; and a completions endpoint gets no chat hint
    gen = _run(server, tmp_path, rows, task="generation", options={})
    assert gen.result("generation").metrics["empty_rate"].value == pytest.approx(2 / 3)
    assert any("chat-template" in f for f in gen.result("generation").flags)
    comp = _run(server, tmp_path, rows, task="generation", options={"endpoint": "completions"})
    assert not any("chat-template" in f for f in comp.result("generation").flags)
