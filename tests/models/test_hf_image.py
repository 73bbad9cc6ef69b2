"""hf: image classifiers: a tiny random-weight ViT saved here with its image processor, asked
about PNG files, .npy arrays, image bytes and arrays held in a Parquet file, against a literal
forward pass written in the test; the cache follows the image bytes; broken images are named."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

import assay  # noqa: E402
from assay._types import Output  # noqa: E402
from assay.data import load_dataset  # noqa: E402
from assay.errors import DataError, ModelError, PartialBatchError  # noqa: E402
from assay.models import load_model  # noqa: E402

os.environ.setdefault("HF_HUB_OFFLINE", "1")
LABELS = ["zero", "one", "two"]
N = 8


@pytest.fixture(scope="module")
def vit_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 28×28 one-channel ViT with random weights, saved with its image processor."""
    torch.manual_seed(0)
    config = transformers.ViTConfig(
        image_size=28,
        patch_size=7,
        num_channels=1,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        id2label=dict(enumerate(LABELS)),
        label2id={lbl: i for i, lbl in enumerate(LABELS)},
    )
    out = tmp_path_factory.mktemp("vit") / "ckpt"
    transformers.ViTForImageClassification(config).save_pretrained(out)
    transformers.ViTImageProcessor(
        size={"height": 28, "width": 28}, image_mean=[0.5], image_std=[0.5]
    ).save_pretrained(out)
    return out


def _pixels(n: int = N, seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, size=(28, 28), dtype=np.uint8) for _ in range(n)]


def _png(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG")
    return buf.getvalue()


def _literal_probs(folder: Path, pixels: list[np.ndarray]) -> np.ndarray:
    """The definition, without the image processor: x / 255, (x − 0.5) / 0.5, one image at a
    time through the model loaded by its class."""
    model = transformers.ViTForImageClassification.from_pretrained(folder).eval()
    rows = []
    with torch.inference_mode():
        for a in pixels:
            x = (torch.tensor(a, dtype=torch.float32) / 255.0 - 0.5) / 0.5
            rows.append(model(pixel_values=x[None, None]).logits.softmax(-1)[0].numpy())
    return np.array(rows)


def _probs(outputs: list[Output]) -> np.ndarray:
    return np.array([[o.probabilities[lbl] for lbl in LABELS] for o in outputs])  # type: ignore[index]


def _png_dataset(root: Path, pixels: list[np.ndarray]) -> Path:
    """``root/data/test.csv`` whose image paths are relative to its own folder."""
    (root / "data" / "img").mkdir(parents=True, exist_ok=True)
    for i, a in enumerate(pixels):
        (root / "data" / "img" / f"{i}.png").write_bytes(_png(a))
    frame = pd.DataFrame(
        {
            "id": [f"r{i}" for i in range(len(pixels))],
            "image": [f"img/{i}.png" for i in range(len(pixels))],
            "label": [LABELS[i % 3] for i in range(len(pixels))],
        }
    )
    frame.to_csv(root / "data" / "test.csv", index=False)
    return root / "data" / "test.csv"


def _suite(root: Path, vit_dir: Path, checks: dict | None = None, **data: object) -> Path:
    suite = {
        "name": "tiny-vit",
        "data": {
            "path": "data/test.csv",
            "id": "id",
            "input": {"image": "image"},
            "label": "label",
            **data,
        },
        "models": {"candidate": f"hf:{vit_dir}"},
        "checks": checks or {"performance": {}},
    }
    (root / "suite.yaml").write_text(yaml.safe_dump(suite))
    return root / "suite.yaml"


def test_png_answers_equal_a_literal_forward_pass(vit_dir: Path, tmp_path: Path) -> None:
    pixels = _pixels()
    _png_dataset(tmp_path, pixels)
    ds = load_dataset(
        {"path": "data/test.csv", "id": "id", "input": {"image": "image"}, "label": "label"},
        base_dir=tmp_path,
    )
    model = load_model(f"hf:{vit_dir}", base_dir=tmp_path)
    info = model.info()
    assert info.task == "classification" and info.labels == tuple(LABELS)
    assert info.details["mode"] == "image-classification"
    out = model.predict(ds.payloads())
    # float32 on the CPU, batched against one at a time: equal to rounding, 1e-5 absolute
    np.testing.assert_allclose(_probs(out), _literal_probs(vit_dir, pixels), atol=1e-5, rtol=0)
    assert [o.label for o in out] == [LABELS[int(p.argmax())] for p in _probs(out)]


def test_npy_files_bytes_and_arrays_answer_as_the_png(vit_dir: Path, tmp_path: Path) -> None:
    pixels = _pixels(6, seed=1)
    (tmp_path / "npy").mkdir()
    for i, a in enumerate(pixels):
        # uint8 for some, floats in [0, 1] for the others: both are pixels
        np.save(tmp_path / "npy" / f"{i}.npy", a if i % 2 else a.astype(np.float32) / 255.0)
    frame = pd.DataFrame(
        {
            "id": [f"r{i}" for i in range(len(pixels))],
            "npy": [f"npy/{i}.npy" for i in range(len(pixels))],
            "png_bytes": [_png(a) for a in pixels],
            "hf_image": [{"bytes": _png(a), "path": None} for a in pixels],
            "array": [a.tolist() for a in pixels],
            "label": ["zero"] * len(pixels),
        }
    )
    frame.to_parquet(tmp_path / "test.parquet")
    model = load_model(f"hf:{vit_dir}", base_dir=tmp_path)
    expected = _literal_probs(vit_dir, pixels)
    for column in ("npy", "png_bytes", "hf_image", "array"):
        ds = load_dataset(
            {"path": "test.parquet", "id": "id", "input": {"image": column}, "label": "label"},
            base_dir=tmp_path,
        )
        got = _probs(model.predict(ds.payloads()))
        np.testing.assert_allclose(got, expected, atol=1e-5, rtol=0, err_msg=column)
    # bytes and arrays were written once, by content, beside the suite's cache
    stored = sorted(p.suffix for p in (tmp_path / ".assay" / "images").iterdir())
    assert stored.count(".npy") == len(pixels) and stored.count(".img") == len(pixels)


def test_the_cache_follows_the_image_bytes_not_the_path(vit_dir: Path, tmp_path: Path) -> None:
    pixels = _pixels(4, seed=2)
    _png_dataset(tmp_path, pixels)
    suite = _suite(tmp_path, vit_dir)
    first = assay.evaluate(suite, write=False, progress=False)
    assert first.engine["n_called"] == 4
    assert assay.evaluate(suite, write=False, progress=False).engine["n_called"] == 0
    # the same path, other pixels: that row is a new question; the others are still cached
    (tmp_path / "data" / "img" / "2.png").write_bytes(_png(255 - pixels[2]))
    third = assay.evaluate(suite, write=False, progress=False)
    assert third.engine["n_called"] == 1
    assert third.datasets[0]["fingerprint"] != first.datasets[0]["fingerprint"]


def test_an_image_that_does_not_decode_names_its_file_and_row(
    vit_dir: Path, tmp_path: Path
) -> None:
    _png_dataset(tmp_path, _pixels(5, seed=3))
    (tmp_path / "data" / "img" / "3.png").write_bytes(b"not a png at all")
    suite = _suite(tmp_path, vit_dir)
    with pytest.raises(DataError) as e:
        assay.evaluate(suite, write=False, progress=False)
    msg = str(e.value)
    assert "row 4" in msg and "3.png" in msg and "does not decode" in msg and "test.csv" in msg
    # under on_invalid: skip the row is dropped, counted by reason, and the rest evaluated
    report = assay.evaluate(
        _suite(tmp_path, vit_dir, on_invalid="skip"), write=False, progress=False
    )
    assert report.datasets[0]["dropped"] == {"image not readable": 1}
    assert report.datasets[0]["dropped_examples"][0]["row"] == 4
    assert report.result("performance").n == 4  # type: ignore[union-attr]


def test_a_missing_image_file_names_where_it_was_looked_for(vit_dir: Path, tmp_path: Path) -> None:
    _png_dataset(tmp_path, _pixels(3, seed=4))
    (tmp_path / "data" / "img" / "1.png").unlink()
    with pytest.raises(DataError, match=r"row 2.*img/1\.png.*no such file"):
        assay.evaluate(_suite(tmp_path, vit_dir), write=False, progress=False)


def test_an_unreadable_image_at_prediction_fails_alone(vit_dir: Path, tmp_path: Path) -> None:
    good = tmp_path / "good.png"
    good.write_bytes(_png(_pixels(1)[0]))
    (tmp_path / "bad.png").write_bytes(b"\x89PNG broken")
    model = load_model(f"hf:{vit_dir}", base_dir=tmp_path)
    with pytest.raises(PartialBatchError) as e:
        model.predict([{"image": str(good)}, {"image": "bad.png"}, "a text"])
    ok, bad, text = e.value.results
    assert isinstance(ok, Output) and ok.label in LABELS
    assert isinstance(bad, ModelError) and "bad.png" in str(bad) and "does not decode" in str(bad)
    assert isinstance(text, ModelError) and "input: {image: <column>}" in str(text)


def test_text_options_are_refused_for_an_image_classifier(vit_dir: Path) -> None:
    with pytest.raises(assay.errors.ConfigError, match="max_length apply to text models only"):
        load_model(f"hf:{vit_dir}", options={"max_length": 10})


def test_a_checkpoint_without_its_image_processor_says_how_to_save_it(
    vit_dir: Path, tmp_path: Path
) -> None:
    bare = tmp_path / "bare"
    bare.mkdir()
    for f in ("config.json", "model.safetensors"):
        (bare / f).write_bytes((vit_dir / f).read_bytes())
    with pytest.raises(ModelError, match=r"no preprocessor_config\.json.*save_pretrained"):
        load_model(f"hf:{bare}")


def test_image_perturbations_reach_the_model(vit_dir: Path, tmp_path: Path) -> None:
    pixels = _pixels(6, seed=5)
    _png_dataset(tmp_path, pixels)
    perturbations = ["gaussian_noise:0.3", "blur:0.3", "rotation:0.3", "contrast:0.5"]
    suite = _suite(tmp_path, vit_dir, {"robustness": {"perturbations": perturbations}})
    report = assay.evaluate(suite, write=False, progress=False)
    r = report.result("robustness")
    assert r is not None
    for key in ("gaussian_noise", "blur", "rotation", "contrast"):
        assert r.metrics[f"{key}.flip_rate"].n == 6, key
        assert r.metrics[f"{key}.n_unchanged"].value == 0, key
    # 6 originals + 4 perturbations of 6 images, each a new picture
    assert report.engine["n_called"] == 6 + 4 * 6
    # one perturbed answer recomputed literally from the perturbed file the run wrote
    files = sorted((tmp_path / ".assay" / "perturbed").glob("*.png"))
    assert len(files) == 4 * 6
    model = load_model(f"hf:{vit_dir}")
    pert = [np.asarray(Image.open(f)) for f in files[:3]]
    got = _probs(model.predict([{"image": str(f)} for f in files[:3]]))
    np.testing.assert_allclose(got, _literal_probs(vit_dir, pert), atol=1e-5, rtol=0)


def test_a_perturbed_payload_carries_the_hash_of_its_own_bytes(tmp_path: Path) -> None:
    from assay.data._images import ImageRef, file_sha256, image_payload
    from assay.perturb import PerturbEnv, parse_recipe, perturb_inputs

    path = tmp_path / "a.png"
    path.write_bytes(_png(_pixels(1)[0]))
    original = image_payload(ImageRef(str(path), file_sha256(path)))
    env = PerturbEnv(image_dir=tmp_path / "out")
    [out] = perturb_inputs([original], parse_recipe("blur:0.3"), ids=["1"], env=env)
    assert out["image"] != original["image"]
    assert out["sha256"] == file_sha256(out["image"]) != original["sha256"]


def test_a_lora_adapter_on_an_image_classifier_is_refused_with_the_fix(
    vit_dir: Path, tmp_path: Path
) -> None:
    pytest.importorskip("peft")
    adapter = tmp_path / "adapter"
    adapter.mkdir()
    (adapter / "config.json").write_bytes((vit_dir / "config.json").read_bytes())
    lora = {"base_model_name_or_path": str(vit_dir), "peft_type": "LORA"}
    (adapter / "adapter_config.json").write_text(json.dumps(lora))
    with pytest.raises(ModelError, match=r"LoRA adapter on an image classifier.*merge_and_unload"):
        load_model(f"hf:{adapter}")
