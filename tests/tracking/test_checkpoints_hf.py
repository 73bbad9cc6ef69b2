"""``assay run --checkpoints`` on real transformers checkpoints: all-MiniLM-L6-v2 with a
classification head saved after 0, 1 and 2 training steps; accuracy against the step in the report
and in TensorBoard, checked against an independent forward pass per checkpoint."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import yaml
from typer.testing import CliRunner

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from assay._cli.main import app  # noqa: E402
from assay._runner import find_checkpoints  # noqa: E402
from assay.report import Report  # noqa: E402
from lm_fixtures import minilm_path  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")
GOOD = ["great", "good", "fun", "moving", "lovely"]
BAD = ["awful", "bad", "dull", "boring", "weak"]
STEPS = (0, 1, 2)


def _texts() -> tuple[list[str], list[str]]:
    texts, labels = [], []
    for i in range(40):
        words, lab = (GOOD, "pos") if i % 2 == 0 else (BAD, "neg")
        texts.append(f"the film was {words[i % 5]} and {words[(i // 2) % 5]}")
        labels.append(lab)
    return texts, labels


def _accuracy(folder: Path, texts: list[str], labels: list[str]) -> float:
    """One text at a time, no padding: an independent forward pass."""
    tok = transformers.AutoTokenizer.from_pretrained(folder)
    m = transformers.AutoModelForSequenceClassification.from_pretrained(folder).eval()
    with torch.inference_mode():
        pred = [
            m.config.id2label[int(m(**tok(t, return_tensors="pt")).logits.argmax())] for t in texts
        ]
    return float(np.mean([p == y for p, y in zip(pred, labels)]))


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[int, float]]:
    tmp = tmp_path_factory.mktemp("hfckpt")
    texts, labels = _texts()
    torch.manual_seed(0)
    tok = transformers.AutoTokenizer.from_pretrained(minilm_path())
    model = transformers.AutoModelForSequenceClassification.from_pretrained(
        minilm_path(),
        num_labels=2,
        id2label={0: "neg", 1: "pos"},
        label2id={"neg": 0, "pos": 1},
        local_files_only=True,
    )
    opt = torch.optim.AdamW(model.parameters(), lr=5e-4)
    batch = tok(texts, return_tensors="pt", padding=True)
    target = torch.tensor([model.config.label2id[y] for y in labels])
    expected = {}
    for step in STEPS:
        if step:  # one full-batch training step between checkpoints
            model.train()
            loss = model(**batch, labels=target).loss
            loss.backward()
            opt.step()
            opt.zero_grad()
        d = tmp / "checkpoints" / f"checkpoint-{step}"
        model.eval()
        model.save_pretrained(d)
        tok.save_pretrained(d)
        expected[step] = _accuracy(d, texts, labels)
    (tmp / "test.csv").write_text(
        "id,text,label\n"
        + "".join(f"t{i},{t},{y}\n" for i, (t, y) in enumerate(zip(texts, labels)))
    )
    suite = {
        "name": "hfckpt",
        "data": {"path": "test.csv", "id": "id", "input": "text", "label": "label"},
        "models": {"candidate": "sklearn:unused.joblib"},
        "task": "classification",
        "checks": {"performance": {"n_bootstrap": 200}},
        "engine": {"cache": None, "progress": False},
    }
    (tmp / "suite.yaml").write_text(yaml.safe_dump(suite))
    return tmp, expected


@pytest.mark.slow
def test_hf_checkpoint_sweep_to_report_and_tensorboard(run_dir) -> None:
    tmp, expected = run_dir
    found = find_checkpoints(tmp / "checkpoints")
    assert [s for s, _ in found] == list(STEPS)
    assert all(spec.startswith("hf:") for _, spec in found)
    # The planted training moves the metric: the sweep must show different points, not one model.
    assert expected[2] > expected[0]
    res = CliRunner().invoke(
        app,
        [
            "run",
            str(tmp / "suite.yaml"),
            "--checkpoints",
            str(tmp / "checkpoints"),
            "--out",
            str(tmp / "out"),
            "--tensorboard",
            str(tmp / "tb"),
            "--quiet",
        ],
    )
    assert res.exit_code == 0, res.output
    report = Report.load(tmp / "out" / "report.json")
    sweep = report.result("checkpoints")
    assert sweep is not None
    acc = sweep.tables["series"]["accuracy"]
    assert acc["step"] == list(STEPS)
    assert acc["value"] == pytest.approx([expected[s] for s in STEPS], abs=1e-12)
    assert all(lo <= v <= hi for v, lo, hi in zip(acc["value"], acc["lower"], acc["upper"]))
    # The report's own metrics are the last checkpoint's.
    perf = report.result("performance")
    assert perf is not None and perf.metrics["accuracy"].value == pytest.approx(expected[2])
    assert 'id="check-checkpoints"' in (tmp / "out" / "report.html").read_text()

    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    ea = EventAccumulator(str(tmp / "tb"), size_guidance={"scalars": 0})
    ea.Reload()
    got = [(e.step, e.value) for e in ea.Scalars("candidate/checkpoints.accuracy")]
    assert [s for s, _ in got] == list(STEPS)
    assert [v for _, v in got] == pytest.approx([expected[s] for s in STEPS], rel=1e-6)
