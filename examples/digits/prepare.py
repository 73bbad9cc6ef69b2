"""Build the digits example: scikit-learn's bundled handwritten digits written as PNG files, and a
pixel classifier that reads those files.

The 1,797 8×8 images ship with scikit-learn (``sklearn.datasets.load_digits``). Each is scaled from
0–16 grey levels to 0–255 and enlarged to 32×32 (bilinear), the size of a small real scan, so that
blur, rotation and occlusion act on something like a picture. Output goes to
``examples/digits/work/`` (ignored by git):

- ``images/<id>.png``: one greyscale PNG per digit;
- ``train.csv`` / ``test.csv``: ``id``, ``image`` (path relative to this folder) and ``label``;
- ``model.joblib``: logistic regression on the 32×32 pixels, read by ``model.py``.

Run: ``python examples/digits/prepare.py [--n-test 600] [--limit N]``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
from PIL import Image
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from model import SIZE, pixels  # noqa: E402  (the same reading as at prediction time)

WORK = HERE / "work"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-test", type=int, default=600, help="digits held out for the suite")
    ap.add_argument("--limit", type=int, default=None, help="use only the first N digits")
    args = ap.parse_args(argv)
    work = WORK
    digits = load_digits()
    images, target = digits.images[: args.limit], digits.target[: args.limit]
    (work / "images").mkdir(parents=True, exist_ok=True)
    rows = []
    for i, (a, y) in enumerate(zip(images, target)):
        img = Image.fromarray(np.rint(a * 255 / 16).astype(np.uint8), mode="L")
        img = img.resize((SIZE, SIZE), Image.Resampling.BILINEAR)
        rel = f"work/images/{i:04d}.png"  # relative to this folder, where model.py reads it
        img.save(work / "images" / f"{i:04d}.png")
        rows.append({"id": f"digit{i:04d}", "image": rel, "label": int(y)})
    frame = pd.DataFrame(rows)
    train, test = train_test_split(
        frame, test_size=args.n_test, random_state=0, stratify=frame["label"]
    )
    train.to_csv(work / "train.csv", index=False)
    test.to_csv(work / "test.csv", index=False)
    model = LogisticRegression(max_iter=2000, C=0.5)
    model.fit(pixels([{"image": p} for p in train["image"]]), train["label"])
    joblib.dump(model, work / "model.joblib")
    acc = model.score(pixels([{"image": p} for p in test["image"]]), test["label"])
    print(f"train {len(train)} / test {len(test)} digits → {work}; test accuracy {acc:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
