"""``seed`` arguments and named streams: determinism, independence, errors."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from scipy import stats as sps

from assay.stats import as_generator, stream


def test_as_generator_accepts_every_kind_of_seed() -> None:
    g = np.random.default_rng(1)
    assert as_generator(g) is g
    assert as_generator(5).random() == np.random.default_rng(5).random()
    assert as_generator(np.int64(5)).random() == np.random.default_rng(5).random()
    ss = np.random.SeedSequence(5)
    assert as_generator(ss).random() == np.random.default_rng(5).random()
    assert isinstance(as_generator(None), np.random.Generator)


@pytest.mark.parametrize("bad", ["0", 1.5, [1, 2]])
def test_a_wrong_seed_names_the_parameter(bad: object) -> None:
    with pytest.raises(TypeError, match=r"^seed must be an int"):
        as_generator(bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"^seed must be an int"):
        stream(bad, "x")  # type: ignore[arg-type]


def test_stream_needs_string_names() -> None:
    with pytest.raises(ValueError, match="at least one name"):
        stream(0)
    with pytest.raises(TypeError, match="names must be strings"):
        stream(0, "slices", 3)  # type: ignore[arg-type]


def test_same_names_give_the_same_stream(seed: int) -> None:
    a = stream(seed, "performance", "candidate").random(100)
    b = stream(seed, "performance", "candidate").random(100)
    np.testing.assert_array_equal(a, b)
    # an int, the SeedSequence of that int and a numpy integer are the same root
    c = stream(np.random.SeedSequence(seed), "performance", "candidate").random(100)
    d = stream(np.int64(seed), "performance", "candidate").random(100)
    np.testing.assert_array_equal(a, c)
    np.testing.assert_array_equal(a, d)


def test_stream_is_a_named_spawn_of_the_seed_sequence(seed: int) -> None:
    """A stream is ``SeedSequence(seed)`` extended by a key per name, as ``spawn`` extends it
    by a counter: a nested name path continues the parent's key."""
    ss = np.random.SeedSequence(seed)
    child = np.random.SeedSequence(seed, spawn_key=ss.spawn_key)
    assert stream(child, "a", "b").random() == stream(seed, "a", "b").random()
    spawned = ss.spawn(1)[0]
    assert stream(spawned, "a").random() != stream(seed, "a").random()


def test_different_names_give_different_streams(seed: int) -> None:
    names = [
        ("performance", "candidate"),
        ("performance", "baseline"),
        ("slices", "candidate"),
        ("performance", "candidate", "x"),
        ("performancecandidate",),
        ("performance", "candidat", "e"),
    ]
    firsts = {stream(seed, *n).integers(2**63) for n in names}
    assert len(firsts) == len(names)
    assert stream(seed, "a").random() != stream(seed + 1, "a").random()


def test_differently_named_streams_are_uncorrelated(seed: int) -> None:
    n = 20_000
    a = stream(seed, "performance", "candidate").standard_normal(n)
    b = stream(seed, "performance", "baseline").standard_normal(n)
    c = stream(seed, "slices", "candidate").standard_normal(n)
    # |r| of independent normals is ~N(0, 1/n): 5/sqrt(n) is a 5-sigma bound
    for x, y in [(a, b), (a, c), (b, c)]:
        assert abs(np.corrcoef(x, y)[0, 1]) < 5 / np.sqrt(n)
    # and each is a uniform stream: Kolmogorov-Smirnov against U(0, 1)
    u = stream(seed, "fairness", "candidate").random(n)
    assert sps.kstest(u, "uniform").pvalue > 1e-4


def test_a_generator_seed_stands_for_its_seed_sequence() -> None:
    """As with ``Generator.spawn``, a child does not depend on what the parent drew, and a
    stream of a stream continues the name path."""
    g = np.random.default_rng(3)
    first = stream(g, "a").random()
    g.random(10)
    assert stream(g, "a").random() == first == stream(3, "a").random()
    assert stream(stream(3, "x"), "y").random() == stream(3, "x", "y").random()


def test_streams_are_the_same_in_another_process(seed: int) -> None:
    """The spawn key does not come from Python's salted ``hash``: a fresh interpreter with
    another hash seed draws the same numbers."""
    code = (
        "from assay.stats import stream; "
        f"print(repr(stream({seed}, 'slices', 'candidate', 'length').random()))"
    )
    here = repr(stream(seed, "slices", "candidate", "length").random())
    for hashseed in ("1", "2"):
        out = subprocess.run(
            [sys.executable, "-c", code],
            check=True,
            capture_output=True,
            text=True,
            env={"PYTHONHASHSEED": hashseed, "PYTHONPATH": ":".join(sys.path)},
        )
        assert out.stdout.strip() == here
