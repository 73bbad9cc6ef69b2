"""One canonical string form for class labels, shared by datasets and model adapters.

Datasets and models disagree on label types (``1`` vs ``1.0`` vs ``"1"``, ``numpy.int64`` vs
``int``, ``True`` vs ``"True"``). Classification labels are compared as canonical strings.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["canonical_label"]


def canonical_label(value: Any) -> str:
    """The canonical string of a class label.

    Integers and integral floats become their integer digits (``1.0`` → ``"1"``); booleans
    become ``"True"``/``"False"``; strings are stripped of surrounding whitespace; anything else
    is ``str()``.

    Raises:
        ValueError: for NaN or ``None`` (a missing label is not a class).

    Example:
        >>> canonical_label(1.0), canonical_label(" fresh "), canonical_label(True)
        ('1', 'fresh', 'True')
    """
    if value is None:
        raise ValueError("a missing label (None) has no class")
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        f = float(value)
        if math.isnan(f):
            raise ValueError("a missing label (NaN) has no class")
        return str(int(f)) if f.is_integer() else repr(f)
    if isinstance(value, bytes):
        return value.decode("utf-8").strip()
    return str(value).strip()
