"""Top-k accuracy: is the true class among the ``k`` classes the model scores highest?

Definition: example ``i`` with true class ``t`` is a hit when fewer than ``k`` classes rank above
``t``, where class ``c`` ranks above ``t`` if ``p_i[c] > p_i[t]``, or if the scores are equal and
``c`` comes after ``t`` in ``labels`` (scikit-learn's ``top_k_accuracy_score`` breaks ties this
way). Top-k accuracy is the mean of the hits; with ``k = 1`` and no ties it is the accuracy of the
arg-max prediction.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from assay.errors import MetricError
from assay.metrics._proba_summary import check_proba
from assay.metrics._validation import check_labels, encode_labels

__all__ = ["top_k_accuracy_scores"]


def top_k_accuracy_scores(
    y_true: ArrayLike, proba: ArrayLike, *, labels: Sequence[Any], k: int = 2
) -> NDArray[np.float64]:
    """1.0 where the true class is among the ``k`` highest-scored classes, else 0.0.

    Args:
        y_true: true labels, every value in ``labels``.
        proba: ``(n, n_labels)`` class probabilities, columns in ``labels`` order.
        labels: the class labels.
        k: how many of the highest-scored classes count; ``1 <= k < len(labels)``.

    Returns:
        The per-example hits (their mean is the top-k accuracy).

    Raises:
        MetricError: a label outside ``labels``, an invalid ``proba``, or ``k`` out of range
            (with ``k >= len(labels)`` every example would be a hit).

    Example:
        >>> top_k_accuracy_scores(["a", "b"], [[0.5, 0.3, 0.2], [0.6, 0.1, 0.3]],
        ...                       labels=["a", "b", "c"]).tolist()
        [1.0, 0.0]
    """
    labs = check_labels(labels)
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or not 1 <= k < len(labs):
        raise MetricError(
            f"k must be an int with 1 <= k < {len(labs)} (the number of labels); got {k!r}"
        )
    t = encode_labels(y_true, labs, name="y_true")
    p = check_proba(proba, len(t), len(labs))
    own = p[np.arange(len(t)), t][:, None]
    later = np.arange(len(labs))[None, :] > t[:, None]
    above = (p > own) | ((p == own) & later)
    return (above.sum(axis=1) < k).astype(np.float64)
