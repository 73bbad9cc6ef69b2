"""Each public package's ``__all__`` is exactly its public names (httpx keeps the same test)."""

from __future__ import annotations

import importlib
import types

import pytest

PACKAGES = [
    "assay.config",
    "assay.data",
    "assay.models",
    "assay.engine",
    "assay.metrics",
    "assay.stats",
    "assay.checks",
    "assay.report",
    "assay.errors",
    "assay.perturb",
    "assay.tracking",
    "assay.generalization",
    "assay.integrations",
    "assay.fairness",
    "assay.leakage",
    "assay.compare",
    "assay.drift",
    "assay.uncertainty",
    "assay.load",
]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_exactly_the_public_names(name: str) -> None:
    module = importlib.import_module(name)
    public = {
        n
        for n, v in vars(module).items()
        if not n.startswith("_")
        and not isinstance(v, types.ModuleType)
        and n not in {"annotations", "TYPE_CHECKING"}
    }
    assert set(module.__all__) == public
    assert len(module.__all__) == len(set(module.__all__))


def test_top_level_names_resolve() -> None:
    import assay

    for n in assay.__all__:
        assert getattr(assay, n) is not None
    with pytest.raises(AttributeError):
        _ = assay.no_such_name  # type: ignore[attr-defined]
