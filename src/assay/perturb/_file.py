"""``perturb_file``: a data file in, the same rows with perturbed inputs out (``assay perturb``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from assay.data._readers import read_table
from assay.errors import ConfigError, DataError
from assay.perturb._apply import apply_variant, parse_recipe
from assay.perturb._base import PerturbEnv

__all__ = ["perturb_file"]


def perturb_file(
    data: str | Path,
    *,
    input: str,
    recipe: str,
    out: str | Path,
    id: str | None = None,
    seed: int = 0,
    keep_original: bool = True,
) -> dict[str, Any]:
    """Perturb the text column ``input`` of ``data`` with ``recipe`` and write JSON lines to ``out``.

    Each output row is the input row with ``input`` replaced, plus ``original_<input>`` (when
    ``keep_original``) and ``perturbed`` (whether the perturbation changed it). Deterministic for
    ``seed`` and the row ids (``id`` column, else the row number).

    Args:
        data: CSV, TSV, JSONL or Parquet file.
        input: the text column to perturb.
        recipe: ``"typos:0.1,case,distractor"`` — perturbations applied in order.
        out: the JSONL file to write.
        id: the id column; default: the row number.
        seed: the seed.
        keep_original: keep the original text in ``original_<input>``.

    Returns:
        ``{"rows": n, "changed": k, "out": path}``.

    Raises:
        ConfigError: an unknown perturbation, or one that does not apply to text.
        DataError: the file cannot be read, or lacks the columns.
    """
    variant = parse_recipe(recipe, where="--recipe")
    if variant.kind != "text":
        raise ConfigError(
            f"--recipe: {recipe!r} is a {variant.kind} perturbation; `assay perturb` rewrites text "
            "columns (image and tabular perturbations run inside the robustness check)"
        )
    frame = read_table(data)
    for col, flag in ((input, "--input"), (id, "--id")):
        if col is not None and col not in frame.columns:
            raise DataError(
                f"{data}: {flag} {col!r} is not a column; columns: {', '.join(map(str, frame.columns))}"
            )
    ids = frame[id].astype(str).tolist() if id else [str(i) for i in range(len(frame))]
    env = PerturbEnv()
    texts = frame[input].fillna("").astype(str).tolist()
    new = [apply_variant(variant, t, seed=seed, example_id=i, env=env) for t, i in zip(texts, ids)]
    out_path = Path(out)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    changed = 0
    records = frame.to_dict(orient="records")
    with open(out_path, "w", encoding="utf-8") as f:
        for rec, old, text in zip(records, texts, new):
            row = {k: (None if isinstance(v, float) and v != v else v) for k, v in rec.items()}
            if keep_original:
                row[f"original_{input}"] = old
            row[input] = text
            row["perturbed"] = text != old
            changed += text != old
            f.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
    return {"rows": len(new), "changed": changed, "out": str(out_path)}
