"""``assay.fairness.__all__`` is exactly its public names (as tests/test_exported_members.py does
for the other packages)."""

from __future__ import annotations

import types

import assay.fairness


def test_all_is_exactly_the_public_names() -> None:
    public = {
        n
        for n, v in vars(assay.fairness).items()
        if not n.startswith("_") and not isinstance(v, types.ModuleType) and n != "annotations"
    }
    assert set(assay.fairness.__all__) == public
    assert assay.fairness.__all__ == sorted(assay.fairness.__all__)
