"""Label leakage in tabular data: one feature that predicts the label almost perfectly.

For each feature, a one-feature predictor is fitted on the training rows and scored on the test
rows: for a numeric feature a depth-3 decision tree on that column, for any other feature the most
frequent label of each value (values unseen in training get the overall most frequent label). Its
test accuracy, with a Wilson interval, is compared with the majority-class rate. A feature whose
accuracy reaches ``threshold`` is flagged: it is the label, a copy of it, or recorded after it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from assay.stats._wilson import wilson_interval

__all__ = ["FeatureLeak", "label_leakage"]


@dataclass(frozen=True)
class FeatureLeak:
    """How well one feature alone predicts the label on the test rows."""

    feature: str
    kind: str
    accuracy: float
    lower: float
    upper: float
    n: int
    majority_rate: float
    flagged: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def label_leakage(
    train: pd.DataFrame,
    test: pd.DataFrame,
    *,
    features: Sequence[str],
    label: str,
    threshold: float = 0.98,
    level: float = 0.95,
) -> list[FeatureLeak]:
    """One-feature predictors of the label, best first (see the module docstring).

    Example:
        >>> import pandas as pd
        >>> tr = pd.DataFrame({"x": range(100), "leak": [i % 2 for i in range(100)],
        ...                    "y": [i % 2 for i in range(100)]})
        >>> [f.feature for f in label_leakage(tr, tr, features=["x", "leak"], label="y")
        ...  if f.flagged]
        ['leak']
    """
    from sklearn.tree import DecisionTreeClassifier

    y_tr = train[label].astype(str).to_numpy()
    y_te = test[label].astype(str).to_numpy()
    values, counts = np.unique(y_tr, return_counts=True)
    majority = values[np.argmax(counts)]
    majority_rate = float(np.mean(y_te == majority)) if len(y_te) else float("nan")
    out = []
    for f in features:
        col_tr, col_te = train[f], test[f]
        numeric = pd.api.types.is_numeric_dtype(col_tr) and not pd.api.types.is_bool_dtype(col_tr)
        if numeric:
            x_tr = col_tr.to_numpy(dtype=float)
            x_te = col_te.to_numpy(dtype=float)
            fill = float(np.nanmedian(x_tr)) if np.isfinite(x_tr).any() else 0.0
            a_tr = np.where(np.isfinite(x_tr), x_tr, fill).reshape(-1, 1)
            a_te = np.where(np.isfinite(x_te), x_te, fill).reshape(-1, 1)
            tree = DecisionTreeClassifier(max_depth=3, random_state=0).fit(a_tr, y_tr)
            pred = tree.predict(a_te)
        else:
            keys_tr = col_tr.astype("string").fillna("(missing)")
            mapping = (
                pd.Series(y_tr, index=keys_tr.index)
                .groupby(keys_tr.to_numpy())
                .agg(lambda s: s.value_counts().index[0])
            )
            keys_te = col_te.astype("string").fillna("(missing)")
            pred = keys_te.map(mapping).fillna(majority).to_numpy()
        k = int(np.sum(pred == y_te))
        est = wilson_interval(k, len(y_te), level=level)
        out.append(
            FeatureLeak(
                str(f),
                "numeric" if numeric else "categorical",
                est.value,
                est.lower,
                est.upper,
                len(y_te),
                majority_rate,
                bool(est.value >= threshold and est.value > majority_rate),
            )
        )
    return sorted(out, key=lambda r: -r.accuracy)
