"""Train the sentiment classifier epoch by epoch and write its training logs, as a fine-tune would.

A small neural network on TF-IDF features (``MLPClassifier.partial_fit``: one hidden layer of 64
units, Adam, mini-batches of 64, almost no weight decay), trained for more epochs than it needs, so
that it overfits as an over-long fine-tune does. It logs, like the Hugging Face Trainer:

- the training loss every 20 steps (the mean log loss of the last 20 mini-batches),
- the validation loss and accuracy once per epoch, on 20% of the training movies held out,

into ``work/runs/sentiment-mlp/``: a ``trainer_state.json`` (``log_history``) and TensorBoard event
files (``train/loss``, ``eval/loss``, ``eval/accuracy``), the two formats ``assay curves`` reads.

Run after ``prepare.py``: ``python examples/sentiment/train_logs.py``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import log_loss
from sklearn.model_selection import GroupShuffleSplit
from sklearn.neural_network import MLPClassifier

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, default=HERE / "work")
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    out = args.work / "runs" / "sentiment-mlp"
    out.mkdir(parents=True, exist_ok=True)

    rows = pd.read_csv(args.work / "train.csv")
    split = GroupShuffleSplit(n_splits=1, test_size=0.2, random_state=args.seed)
    tr_idx, va_idx = next(split.split(rows, groups=rows["movie_name"]))
    vec = TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True)
    x_tr = vec.fit_transform(rows["text"].iloc[tr_idx].astype(str))
    x_va = vec.transform(rows["text"].iloc[va_idx].astype(str))
    y_tr = rows["label"].iloc[tr_idx].to_numpy()
    y_va = rows["label"].iloc[va_idx].to_numpy()
    classes = np.unique(y_tr)

    clf = MLPClassifier(
        hidden_layer_sizes=(64,), alpha=1e-6, learning_rate_init=1e-3, random_state=args.seed
    )
    rng = np.random.default_rng(args.seed)
    history: list[dict[str, float]] = []
    step, window = 0, []
    batch = 64
    for epoch in range(1, args.epochs + 1):
        order = rng.permutation(x_tr.shape[0])
        for start in range(0, len(order), batch):
            idx = order[start : start + batch]
            clf.partial_fit(x_tr[idx], y_tr[idx], classes=classes)
            step += 1
            window.append(clf.loss_)  # the mini-batch's log loss (plus the tiny L2 term)
            if step % 20 == 0:
                history.append({"loss": float(np.mean(window)), "epoch": epoch, "step": step})
                window = []
        proba = clf.predict_proba(x_va)
        history.append(
            {
                "eval_loss": float(log_loss(y_va, proba, labels=classes)),
                "eval_accuracy": float(np.mean(classes[proba.argmax(1)] == y_va)),
                "epoch": epoch,
                "step": step,
            }
        )
    state = {"global_step": step, "num_train_epochs": args.epochs, "log_history": history}
    (out / "trainer_state.json").write_text(json.dumps(state, indent=1))
    _write_tensorboard(out / "tensorboard", history)
    best = min((h for h in history if "eval_loss" in h), key=lambda h: h["eval_loss"])
    print(
        f"{args.epochs} epochs, {step} steps; best eval_loss {best['eval_loss']:.4f} at step "
        f"{best['step']}; wrote {out}/trainer_state.json and {out}/tensorboard/"
    )


def _write_tensorboard(folder: Path, history: list[dict[str, float]]) -> None:
    try:
        from tensorboard.summary import Writer
    except ImportError:  # the tracking extra is not installed: trainer_state.json only
        print("tensorboard is not installed; skipped the TensorBoard log")
        return
    writer = Writer(str(folder))
    for h in history:
        if "loss" in h:
            writer.add_scalar("train/loss", h["loss"], int(h["step"]))
        if "eval_loss" in h:
            writer.add_scalar("eval/loss", h["eval_loss"], int(h["step"]))
            writer.add_scalar("eval/accuracy", h["eval_accuracy"], int(h["step"]))
    writer.close()


if __name__ == "__main__":
    main()
