"""Image and tabular perturbations: determinism and their definitions."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from assay.perturb import PerturbEnv, parse_recipe, perturb_inputs, perturbation_names
from assay.perturb._tabular import column_stats


@pytest.fixture
def image(tmp_path: Path) -> Path:
    a = np.full((32, 32), 40, dtype=np.uint8)
    a[8:24, 14:18] = 200  # a grey "1" on a dark background: room to brighten and darken
    p = tmp_path / "one.png"
    Image.fromarray(a, mode="L").save(p)
    return p


@pytest.mark.parametrize("name", perturbation_names("image"))
def test_image_perturbations_write_a_changed_deterministic_png(
    name: str, image: Path, tmp_path: Path
) -> None:
    env = PerturbEnv(image_dir=tmp_path / "out")
    [a] = perturb_inputs([{"image": str(image)}], parse_recipe(name), ids=["1"], env=env)
    [b] = perturb_inputs([{"image": str(image)}], parse_recipe(name), ids=["1"], env=env)
    assert a == b and a["image"] != str(image)
    before = np.asarray(Image.open(image), dtype=float)
    after = np.asarray(Image.open(a["image"]), dtype=float)
    assert after.shape == before.shape and np.abs(after - before).sum() > 0


def test_occlusion_covers_the_stated_area(image: Path, tmp_path: Path) -> None:
    env = PerturbEnv(image_dir=tmp_path / "out")
    [a] = perturb_inputs(
        [{"image": str(image)}], parse_recipe("occlusion:0.25"), ids=["1"], env=env
    )
    after = np.asarray(Image.open(a["image"]))
    assert (after == 128).sum() == 16 * 16


def test_tabular_perturbations_use_column_statistics() -> None:
    frame = pd.DataFrame(
        {"age": [20, 30, 40, 50], "city": ["a", "b", "c", "a"], "w": [1.0, 2.0, 3.0, 4.0]}
    )
    env = PerturbEnv(columns=column_stats(frame, ["age", "city", "w"]))
    rows = frame.to_dict("records")
    ids = [str(i) for i in range(4)]
    noisy = perturb_inputs(rows, parse_recipe("numeric_noise:0.1"), ids=ids, env=env)
    sd = float(np.std(frame["w"]))
    for r, n in zip(rows, noisy):
        assert (
            abs(n["w"] - r["w"]) < 6 * 0.1 * sd
            and isinstance(n["age"], int)
            and n["city"] == r["city"]
        )
    missing = perturb_inputs(rows, parse_recipe("missing:0.34"), ids=ids, env=env)
    assert all(sum(v is None for v in m.values()) == 1 for m in missing)
    flipped = perturb_inputs(rows, parse_recipe("category_flip:1.0"), ids=ids, env=env)
    assert all(
        f["city"] != r["city"] and f["city"] in {"a", "b", "c"} for f, r in zip(flipped, rows)
    )
    scaled = perturb_inputs(rows, parse_recipe("scale:1.0"), ids=ids, env=env)
    assert all(
        s["w"] == r["w"] * 1000 and s["age"] == r["age"] * 1000 for s, r in zip(scaled, rows)
    )
