"""Generating text perturbations for 100,000 texts: assay against nlpaug (same run), as a ratio.

Three kinds: keyboard typos, WordNet synonyms and case changes. nlpaug's keyboard augmenter is the
reference for typos. nlpaug's synonym augmenter needs nltk's WordNet download, which a machine
without network access cannot get; when it cannot run, synonyms and case are compared against a
straightforward pure-Python implementation written here (tokenise, pick words, look them up), and
the printout says so. nlpaug is timed on a subset (it is slow) and its rate scaled to the full set.

Run: ``python benchmarks/bench_perturb.py [--n 100000] [--reference-n 5000]``.
"""

from __future__ import annotations

import argparse
import random
import re
import time
from pathlib import Path

import pandas as pd

from assay.perturb import PerturbEnv, load_synonyms, parse_recipe, perturb_inputs

ROOT = Path(__file__).resolve().parents[1]


def corpus(n: int) -> list[str]:
    """Rotten Tomatoes reviews from the sentiment example if prepared, else generated sentences."""
    texts: list[str] = []
    for name in ("train.csv", "test.csv"):
        p = ROOT / "examples" / "sentiment" / "work" / name
        if p.exists():
            texts += pd.read_csv(p)["text"].dropna().astype(str).tolist()
    if not texts:
        rng = random.Random(0)
        words = [
            "the",
            "movie",
            "was",
            "good",
            "bad",
            "dull",
            "great",
            "story",
            "plot",
            "actors",
            "really",
            "quite",
            "funny",
            "slow",
        ]
        texts = [
            " ".join(rng.choice(words) for _ in range(rng.randrange(8, 30))) for _ in range(5000)
        ]
    return [texts[i % len(texts)] for i in range(n)]


_WORD = re.compile(r"\w+|\W+")


def plain_synonyms(texts: list[str], table: dict, p: float, seed: int) -> list[str]:
    """The straightforward way: tokenise, draw each word with probability p, swap in a synonym."""
    rng = random.Random(seed)
    out = []
    for t in texts:
        toks = _WORD.findall(t)
        for i, tok in enumerate(toks):
            if tok.isalpha() and rng.random() < p:
                syn = table.get(tok.lower())
                if syn:
                    toks[i] = rng.choice(syn[:4])
        out.append("".join(toks))
    return out


def plain_case(texts: list[str], p: float, seed: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for t in texts:
        toks = _WORD.findall(t)
        for i, tok in enumerate(toks):
            if tok.isalpha() and rng.random() < p:
                toks[i] = rng.choice((tok.upper(), tok.lower(), tok.title()))
        out.append("".join(toks))
    return out


def timed(fn, *args, **kw) -> float:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    fn(*args, **kw)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=100_000)
    ap.add_argument("--reference-n", type=int, default=5_000)
    args = ap.parse_args()
    texts = corpus(args.n)
    ids = [str(i) for i in range(len(texts))]
    env = PerturbEnv()
    table = load_synonyms()  # loaded once, outside the timings of both sides
    sub = texts[: args.reference_n]

    ours = {}
    for name, recipe in (
        ("typos", "typos:0.1"),
        ("synonyms", "synonyms:0.1"),
        ("case", "case:0.1"),
    ):
        ours[name] = timed(perturb_inputs, texts, parse_recipe(recipe), ids=ids, seed=0, env=env)

    ref: dict[str, tuple[float, str]] = {}
    try:
        import nlpaug.augmenter.char as nac

        aug = nac.KeyboardAug(aug_word_p=0.1, include_special_char=False, include_numeric=False)
        ref["typos"] = (timed(aug.augment, sub) * len(texts) / len(sub), "nlpaug KeyboardAug")
    except ImportError:
        ref["typos"] = (float("nan"), "nlpaug not installed")
    try:
        import nlpaug.augmenter.word as naw

        syn = naw.SynonymAug(aug_src="wordnet", aug_p=0.1)
        ref["synonyms"] = (timed(syn.augment, sub) * len(texts) / len(sub), "nlpaug SynonymAug")
    except Exception as e:  # nltk's WordNet is missing without a download
        reason = type(e).__name__
        t = timed(plain_synonyms, texts, table, 0.1, 0)
        ref["synonyms"] = (t, f"pure Python (nlpaug SynonymAug unavailable: {reason})")
    ref["case"] = (timed(plain_case, texts, 0.1, 0), "pure Python (nlpaug has no case augmenter)")

    print(f"text perturbations, {len(texts):,} texts (reference timed on {len(sub):,}, scaled)")
    print(f"{'kind':10s} {'assay s':>9s} {'reference s':>12s} {'ratio':>7s}  reference")
    total_a = total_r = 0.0
    for k in ours:
        r, what = ref[k]
        total_a += ours[k]
        total_r += r
        print(f"{k:10s} {ours[k]:9.2f} {r:12.2f} {r / ours[k]:6.1f}×  {what}")
    print(f"{'all':10s} {total_a:9.2f} {total_r:12.2f} {total_r / total_a:6.1f}×")


if __name__ == "__main__":
    main()
