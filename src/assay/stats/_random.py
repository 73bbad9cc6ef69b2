"""Seeds: turning a ``seed`` argument into a generator, and named independent streams.

Everything random in assay takes ``seed: Seed`` and never touches numpy's global state. A run has
one seed; each consumer (a check, a model, one bootstrap of it) draws from its own stream,
:func:`stream`, a child of the run's ``numpy.random.SeedSequence`` whose spawn key is derived from
names. Two different names give independent streams; the same names give the same stream in every
process (the key comes from BLAKE2b of the names, not from Python's per-process salted ``hash``).
"""

from __future__ import annotations

import hashlib

import numpy as np

__all__ = ["Seed", "as_generator", "stream"]

#: What a ``seed`` argument accepts: an int, a generator (used as is), a ``SeedSequence``, or
#: ``None`` for fresh OS entropy.
Seed = int | np.random.Generator | np.random.SeedSequence | None


def _check(seed: object) -> None:
    if seed is None or isinstance(
        seed, (int, np.integer, np.random.Generator, np.random.SeedSequence)
    ):
        return
    raise TypeError(
        "seed must be an int, a numpy.random.Generator, a numpy.random.SeedSequence or None; "
        f"got {type(seed).__name__} {seed!r}"
    )


def as_generator(seed: Seed) -> np.random.Generator:
    """Return a ``numpy.random.Generator`` for ``seed``.

    Args:
        seed: an int, an existing generator (returned as is, so its state is shared), a
            ``numpy.random.SeedSequence``, or ``None`` for fresh OS entropy.

    Returns:
        A generator. Never the legacy global ``numpy.random`` state.

    Raises:
        TypeError: ``seed`` is none of these.

    Example:
        >>> as_generator(0).integers(10) == as_generator(0).integers(10)
        True
    """
    _check(seed)
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def _name_key(name: str) -> tuple[int, int]:
    """Two 32-bit words of BLAKE2b(name): a fixed width, so a path of names is unambiguous."""
    d = hashlib.blake2b(name.encode("utf-8"), digest_size=8, person=b"assay-stream").digest()
    return int.from_bytes(d[:4], "little"), int.from_bytes(d[4:], "little")


def stream(seed: Seed, *names: str) -> np.random.Generator:
    """The independent random stream named ``names`` under ``seed``.

    The stream is ``numpy.random.SeedSequence(seed, spawn_key=key(names))``: a child of the seed's
    sequence, like those ``SeedSequence.spawn`` makes, addressed by names instead of a spawn
    counter, so it does not depend on how many other streams were made before it. Each call
    returns a fresh generator at the start of its stream.

    Args:
        seed: the run's seed. An int or ``None`` is the root's entropy; a ``SeedSequence`` is
            extended (its own spawn key first); a ``Generator`` stands for the ``SeedSequence``
            it was made from, as in ``Generator.spawn``: what it drew before does not matter.
        names: the stream's path, e.g. ``("performance", "candidate")``; at least one.

    Returns:
        A new generator.

    Raises:
        TypeError: ``seed`` is not a seed (or a generator not made from a ``SeedSequence``), or
            a name is not a string.
        ValueError: no names.

    Example:
        >>> a = stream(0, "performance", "candidate").random()
        >>> a == stream(0, "performance", "candidate").random()
        True
        >>> a == stream(0, "performance", "baseline").random()
        False
    """
    _check(seed)
    if not names:
        raise ValueError("stream needs at least one name, e.g. stream(seed, 'performance')")
    bad = [n for n in names if not isinstance(n, str)]
    if bad:
        raise TypeError(f"stream names must be strings; got {bad!r}")
    if isinstance(seed, np.random.Generator):
        seed = seed.bit_generator.seed_seq  # type: ignore[assignment]
        if not isinstance(seed, np.random.SeedSequence):
            raise TypeError("seed: this generator was not made from a SeedSequence; pass an int")
    elif not isinstance(seed, np.random.SeedSequence):
        seed = np.random.SeedSequence(None if seed is None else int(seed))
    key = tuple(w for n in names for w in _name_key(n))
    child = np.random.SeedSequence(
        seed.entropy, spawn_key=(*seed.spawn_key, *key), pool_size=seed.pool_size
    )
    return np.random.default_rng(child)
