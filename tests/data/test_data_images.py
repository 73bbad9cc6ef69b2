"""Image columns: where relative paths are looked up, what a value may be (files, .npy, bytes,
arrays, a Hugging Face Image feature), the content hash in each payload, and rows whose image
cannot be read."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from assay.data import load_dataset
from assay.data._images import file_sha256, read_image
from assay.errors import DataError


def _png(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG")
    return buf.getvalue()


def _grey(value: int) -> np.ndarray:
    a = np.full((6, 5), value, dtype=np.uint8)
    a[0, 0] = 255 - value
    return a


def _spec(path: str, column: str = "image", **extra: object) -> dict[str, object]:
    return {"path": path, "id": "id", "input": {"image": column}, "label": "label", **extra}


def test_relative_paths_are_looked_up_next_to_the_data_file_then_the_suite(
    tmp_path: Path,
) -> None:
    (tmp_path / "work" / "images").mkdir(parents=True)
    (tmp_path / "work" / "images" / "a.png").write_bytes(_png(_grey(10)))
    (tmp_path / "shared").mkdir()
    (tmp_path / "shared" / "b.png").write_bytes(_png(_grey(20)))
    absolute = tmp_path / "c.jpg"
    Image.fromarray(_grey(30)).save(absolute, format="JPEG")
    pd.DataFrame(
        {
            "id": ["a", "b", "c"],
            # next to the CSV; next to the suite (the digits example's convention); an absolute JPEG
            "image": ["images/a.png", "shared/b.png", str(absolute)],
            "label": ["x", "y", "x"],
        }
    ).to_csv(tmp_path / "work" / "test.csv", index=False)
    ds = load_dataset(_spec("work/test.csv"), base_dir=tmp_path)
    payloads = ds.payloads()
    expected = [tmp_path / "work" / "images" / "a.png", tmp_path / "shared" / "b.png", absolute]
    assert [p["image"] for p in payloads] == [str(e.resolve()) for e in expected]  # type: ignore[index]
    assert [p["sha256"] for p in payloads] == [file_sha256(e) for e in expected]  # type: ignore[index]
    # what the user wrote stays in the table (reports show it)
    assert ds.frame["image"].tolist()[0] == "images/a.png"


def test_a_hugging_face_image_dataset_on_disk(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    images = [Image.fromarray(_grey(v)) for v in (0, 100, 200)]
    ds_hf = datasets.Dataset.from_dict(
        {"id": ["a", "b", "c"], "img": images, "label": ["x", "y", "x"]},
        features=datasets.Features(
            {
                "id": datasets.Value("string"),
                "img": datasets.Image(),
                "label": datasets.Value("string"),
            }
        ),
    )
    ds_hf.save_to_disk(str(tmp_path / "hfdata"))
    ds = load_dataset(_spec("hfdata", column="img"), base_dir=tmp_path)
    pixels = [np.asarray(read_image(p["image"])) for p in ds.payloads()]  # type: ignore[index]
    for got, v in zip(pixels, (0, 100, 200)):
        np.testing.assert_array_equal(got, _grey(v))


def test_arrays_keep_every_pixel_and_equal_arrays_are_stored_once(tmp_path: Path) -> None:
    a = np.linspace(0, 1, 30, dtype=np.float64).reshape(6, 5)
    frame = pd.DataFrame(
        {"id": ["a", "b"], "pixels": [a.tolist(), a.tolist()], "label": ["x", "x"]}
    )
    frame.to_parquet(tmp_path / "t.parquet")
    ds = load_dataset(_spec("t.parquet", column="pixels"), base_dir=tmp_path)
    first, second = ds.payloads()
    assert first == second  # the same content is the same question
    np.testing.assert_array_equal(np.load(first["image"]), a)  # type: ignore[index]
    assert len(list((tmp_path / ".assay" / "images").iterdir())) == 1


@pytest.mark.parametrize(
    ("value", "found"),
    [
        (b"GIF89a but not really", "does not decode"),
        ([[300, 1], [2, 3]], "integer pixels must lie in 0-255"),
        ([[0.5, 1.5], [0.1, 0.2]], "float pixels must lie in [0, 1]"),
        ([1, 2, 3], "is not an image"),
    ],
)
def test_a_value_that_is_not_an_image_names_its_row(
    tmp_path: Path, value: object, found: str
) -> None:
    good = _png(_grey(5)) if isinstance(value, bytes) else _grey(5).tolist()
    frame = pd.DataFrame(
        {"id": ["a", "b", "c"], "image": [good, value, good], "label": ["x", "x", "x"]}
    )
    # bytes in a Parquet binary column; arrays as JSON lists (Parquet wants one list type)
    name = "t.parquet" if isinstance(value, bytes) else "t.jsonl"
    if isinstance(value, bytes):
        frame.to_parquet(tmp_path / name)
    else:
        frame.to_json(tmp_path / name, orient="records", lines=True)
    with pytest.raises(DataError) as e:
        load_dataset(_spec(name), base_dir=tmp_path)
    msg = str(e.value)
    assert f"{name}: row 2, column 'image'" in msg and found in msg and "on_invalid" in msg


def test_a_broken_npy_file_is_skipped_and_counted_under_skip(tmp_path: Path) -> None:
    np.save(tmp_path / "ok.npy", _grey(7))
    (tmp_path / "bad.npy").write_bytes(b"\x93NUMPY truncated")
    pd.DataFrame({"id": ["a", "b"], "image": ["ok.npy", "bad.npy"], "label": ["x", "x"]}).to_csv(
        tmp_path / "t.csv", index=False
    )
    with pytest.raises(DataError, match=r"row 2, column 'image'.*bad\.npy.*does not decode"):
        load_dataset(_spec("t.csv"), base_dir=tmp_path)
    ds = load_dataset(_spec("t.csv", on_invalid="skip"), base_dir=tmp_path)
    assert ds.ids == ["a"]
    assert ds.dropped == {"image not readable": 1}
    assert ds.dropped_examples[0]["row"] == 2 and "bad.npy" in ds.dropped_examples[0]["detail"]
