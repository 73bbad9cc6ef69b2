"""Turning ``random_state`` arguments into generators (no global RNG anywhere)."""

from __future__ import annotations

import numpy as np

__all__ = ["RandomState", "as_generator"]

RandomState = int | np.random.Generator | None


def as_generator(random_state: RandomState) -> np.random.Generator:
    """Return a ``numpy.random.Generator`` for ``random_state``.

    Args:
        random_state: an int seed, an existing generator (returned as is), or ``None`` for fresh
            OS entropy.

    Returns:
        A generator. Never the legacy global ``numpy.random`` state.
    """
    if isinstance(random_state, np.random.Generator):
        return random_state
    if random_state is None or isinstance(random_state, (int, np.integer)):
        return np.random.default_rng(random_state)
    raise TypeError(
        f"random_state must be an int, a numpy.random.Generator or None; got {type(random_state)!r}"
    )
