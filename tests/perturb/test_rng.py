"""The counter-based random source: deterministic, batch-independent, and uniform enough."""

from __future__ import annotations

import numpy as np
from scipy.stats import chisquare

from assay.perturb import PerturbEnv, apply_variant, parse_recipe, perturb_inputs, rng_for
from assay.perturb._rng import CounterRandom, example_key, example_keys, stream_heads


def test_batched_streams_equal_the_one_at_a_time_streams() -> None:
    keys = example_keys(3, ["a", "b", "c"], "typos/0/typos", 0.1)
    assert keys.tolist() == [example_key(3, i, "typos/0/typos", 0.1) for i in "abc"]
    for key, head in zip(keys.tolist(), stream_heads(keys, 4)):
        lone, batched = CounterRandom(key), CounterRandom(key, head)
        # past the precomputed head the batched stream continues the same sequence
        assert [lone.getrandbits(64) for _ in range(9)] == [
            batched.getrandbits(64) for _ in range(9)
        ]


def test_perturb_inputs_equals_apply_variant_on_each_input() -> None:
    texts = ["The film was not good at all", "A quiet, moving evening", "Dull", ""] * 3
    ids = [str(i) for i in range(len(texts))]
    env = PerturbEnv()
    for recipe in ("typos:0.3", "case:0.5", "synonyms:0.5", "typos:0.1,case,fillers"):
        v = parse_recipe(recipe)
        batch = perturb_inputs(texts, v, ids=ids, seed=7, env=env)
        one = [apply_variant(v, t, seed=7, example_id=i, env=env) for t, i in zip(texts, ids)]
        assert batch == one
        assert perturb_inputs(texts[5:], v, ids=ids[5:], seed=7, env=env) == batch[5:]
        assert perturb_inputs(texts, v, ids=ids, seed=8, env=env) != batch


def test_draws_are_uniform_and_streams_differ() -> None:
    counts = np.zeros(10)
    for i in range(2000):
        r = rng_for(0, str(i), "x", 0.1)
        for _ in range(5):
            counts[r.randrange(10)] += 1
    assert chisquare(counts).pvalue > 1e-3
    r = CounterRandom(1)
    xs = [r.random() for _ in range(20000)]
    assert min(xs) >= 0 and max(xs) < 1 and abs(np.mean(xs) - 0.5) < 0.01
    assert rng_for(0, "1", "x", 0.1).random() != rng_for(0, "2", "x", 0.1).random()
