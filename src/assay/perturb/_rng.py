"""A cheap, deterministic random source per perturbed example.

Seeding Python's Mersenne Twister costs about 8 µs (it fills 624 words of state), more than most
text perturbations take, and a perturbation suite seeds one generator per example and perturbation.
This module uses a counter-based generator instead: the stream of an example is SplitMix64 keyed by
a 64-bit hash of (seed, example id, perturbation, severity) — draw ``j`` is ``mix(key + j·γ)`` — so
starting a stream costs one hash, and the first draws of a whole batch are computed at once with
numpy (:func:`stream_heads`). Draws past the precomputed ones continue the same sequence in Python,
so the values never depend on how examples were batched.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["CounterRandom", "example_key", "example_keys", "stream_heads"]

_M64 = 0xFFFFFFFFFFFFFFFF
_GAMMA = 0x9E3779B97F4A7C15
_C1 = 0xBF58476D1CE4E5B9
_C2 = 0x94D049BB133111EB
_INV53 = 1.0 / 9007199254740992.0
#: Draws precomputed per example by :func:`stream_heads` (a text perturbation rarely needs more).
HEAD = 6


def _mix(z: int) -> int:
    z = ((z ^ (z >> 30)) * _C1) & _M64
    z = ((z ^ (z >> 27)) * _C2) & _M64
    return z ^ (z >> 31)


def _hash64(text: str) -> int:
    return int.from_bytes(
        hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little"
    )


def example_key(seed: int, example_id: str, name: str, severity: float) -> int:
    """The 64-bit key of one example's stream; the same arguments give the same key everywhere."""
    return _mix(_hash64(f"{seed}\x1f{example_id}") ^ _hash64(f"{name}\x1f{severity!r}"))


def example_keys(seed: int, example_ids: Sequence[str], name: str, severity: float) -> np.ndarray:
    """:func:`example_key` for many ids (uint64), hashing each id once."""
    ids = np.fromiter(
        (_hash64(f"{seed}\x1f{i}") for i in example_ids), dtype=np.uint64, count=len(example_ids)
    )
    return _mix_np(ids ^ np.uint64(_hash64(f"{name}\x1f{severity!r}")))


def _mix_np(z: np.ndarray) -> np.ndarray:
    z = (z ^ (z >> np.uint64(30))) * np.uint64(_C1)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(_C2)
    return z ^ (z >> np.uint64(31))


def stream_heads(keys: np.ndarray, count: int = HEAD) -> list[list[int]]:
    """The first ``count`` draws of each key's stream, as Python ints (uint64 arithmetic wraps)."""
    steps = np.arange(1, count + 1, dtype=np.uint64) * np.uint64(_GAMMA)
    return _mix_np(keys.astype(np.uint64)[:, None] + steps[None, :]).tolist()


class CounterRandom(random.Random):
    """SplitMix64 behind the ``random.Random`` interface (``randrange``, ``sample``, ``shuffle``,
    ``gauss`` … all work). Not for cryptography or long simulations: for the few dozen draws a
    perturbation makes per example, where construction and seeding cost must be near zero.

    Example:
        >>> a, b = CounterRandom(7), CounterRandom(7)
        >>> [a.randrange(10) for _ in range(5)] == [b.randrange(10) for _ in range(5)]
        True
    """

    def __init__(self, key: int = 0, head: list[int] | None = None) -> None:
        # Deliberately not calling random.Random.__init__: seeding the Mersenne Twister is the
        # cost this class exists to avoid.
        self.reset(key, head)

    def reset(self, key: int, head: list[int] | None = None) -> None:
        """Start the stream of ``key``; ``head`` holds its first draws when precomputed."""
        self._key = key & _M64
        self._head = head if head is not None else []
        self._n = len(self._head)
        self._pos = 0
        self.gauss_next = None

    def seed(self, a: Any = None, version: int = 2) -> None:
        self.reset(a if isinstance(a, int) else _hash64(repr(a)))

    def _next(self) -> int:
        pos = self._pos
        self._pos = pos + 1
        if pos < self._n:
            return self._head[pos]
        return _mix((self._key + (pos + 1) * _GAMMA) & _M64)

    def getrandbits(self, k: int) -> int:
        if k < 0:
            raise ValueError("number of bits must be non-negative")
        out = bits = 0
        while bits < k:
            out = (out << 64) | self._next()
            bits += 64
        return out >> (bits - k)

    def random(self) -> float:
        return (self._next() >> 11) * _INV53

    def _randbelow(self, n: int) -> int:
        # Multiply-shift (Lemire): one draw, bias below n / 2**64 — irrelevant at these sizes.
        if n <= 1 << 32:
            return (self._next() * n) >> 64
        return self.getrandbits(n.bit_length() + 64) % n

    def randrange(self, start: int, stop: int | None = None, step: int = 1) -> int:
        if stop is None and step == 1 and isinstance(start, int) and start > 0:
            return self._randbelow(start)
        return super().randrange(start, stop, step)

    def getstate(self) -> tuple[Any, ...]:
        return (self._key, self._pos, tuple(self._head))

    def setstate(self, state: tuple[Any, ...]) -> None:
        self._key, self._pos, head = state
        self._head = list(head)
        self._n = len(self._head)
