"""The fine-tune's length-grouped batches (``assay.models._finetune._epoch_batches``)."""

from __future__ import annotations

import numpy as np
import pytest

from assay.models._finetune import _epoch_batches


@pytest.mark.parametrize("group", [True, False])
def test_every_row_once_per_epoch_in_batches_of_the_size(group: bool) -> None:
    lengths = np.random.default_rng(1).integers(5, 300, size=1234)
    batches = _epoch_batches(lengths, 16, seed=3, group_by_length=group)
    rows = np.concatenate(batches)
    assert sorted(rows.tolist()) == list(range(1234))
    assert len(batches) == -(-1234 // 16)  # as many steps as without grouping
    assert sum(len(b) != 16 for b in batches) == 1


def test_grouped_batches_have_less_padding_and_a_random_order() -> None:
    lengths = np.random.default_rng(1).integers(5, 300, size=4000)

    def padding(batches: list[np.ndarray]) -> int:
        return int(sum(lengths[b].max() * len(b) - lengths[b].sum() for b in batches))

    grouped = _epoch_batches(lengths, 16, seed=0, group_by_length=True)
    plain = _epoch_batches(lengths, 16, seed=0, group_by_length=False)
    assert padding(grouped) < 0.2 * padding(plain)
    # the batches are not in length order: the longest batch is not always first or last
    longest = [int(lengths[b].max()) for b in grouped]
    assert longest != sorted(longest) and longest != sorted(longest, reverse=True)
    # seeded: the same epoch gives the same batches, another epoch others
    again = _epoch_batches(lengths, 16, seed=0, group_by_length=True)
    other = _epoch_batches(lengths, 16, seed=1, group_by_length=True)
    assert all(np.array_equal(x, y) for x, y in zip(grouped, again, strict=True))
    assert not all(np.array_equal(x, y) for x, y in zip(grouped, other, strict=True))
