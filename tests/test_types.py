"""The capabilities a model may declare (``assay._types``), seen through ``isinstance`` on the
real adapters: each adapter has exactly the capabilities it declares, no more."""

from __future__ import annotations

from pathlib import Path

import joblib
import pytest
from sklearn.linear_model import LogisticRegression

from assay._types import (
    AnswersById,
    CoversIds,
    LimitsConcurrency,
    Model,
    OverridesCallSettings,
    TakesDeclaredTask,
    TakesTimeout,
    WrapsEstimator,
)
from assay.models import load_model

CAPABILITIES = [
    AnswersById,
    CoversIds,
    LimitsConcurrency,
    WrapsEstimator,
    TakesDeclaredTask,
    OverridesCallSettings,
    TakesTimeout,
]


@pytest.fixture
def models(tmp_path: Path) -> dict[str, Model]:
    (tmp_path / "preds.csv").write_text("id,prediction\n1,a\n2,b\n")
    (tmp_path / "user.py").write_text("def predict(batch):\n    return [0 for _ in batch]\n")
    est = LogisticRegression().fit([[0.0], [1.0], [2.0], [3.0]], [0, 0, 1, 1])
    joblib.dump(est, tmp_path / "m.joblib")
    return {
        "predictions": load_model("predictions:preds.csv", base_dir=tmp_path),
        "python": load_model("python:user.py:predict", base_dir=tmp_path),
        "sklearn": load_model("sklearn:m.joblib", base_dir=tmp_path, trust=True),
        # an openai: model connects on its first predict, not when it is loaded
        "openai": load_model("openai:tiny@http://127.0.0.1:1/v1"),
    }


DECLARED = {
    "predictions": {AnswersById, CoversIds},
    "python": {LimitsConcurrency, TakesDeclaredTask},
    "sklearn": {WrapsEstimator},
    "openai": {OverridesCallSettings, TakesTimeout},
}


@pytest.mark.parametrize("adapter", sorted(DECLARED))
def test_each_adapter_has_exactly_the_capabilities_it_declares(
    models: dict[str, Model], adapter: str
) -> None:
    model = models[adapter]
    assert isinstance(model, Model)
    have = {cap for cap in CAPABILITIES if isinstance(model, cap)}
    assert have == DECLARED[adapter]


def test_a_plain_object_declares_nothing() -> None:
    class Plain:
        keyed_by_id_flag = True

        def predict(self, batch: object, params: object = None) -> list[object]:
            return []

    assert not any(isinstance(Plain(), cap) for cap in CAPABILITIES)
