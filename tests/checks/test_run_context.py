"""The run context lends checks models they cannot build themselves (checks never import
``assay.models``): ``require_model`` (a judge) and ``fitter``/``fit_model`` (fold models), both
backed by the runner's provider, and both answered through the engine like the suite's models."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from assay._runner import suite_from_dict
from assay._runner._models import SuiteModels
from assay._types import content_key
from assay.checks import RunContext
from assay.config import EngineSettings
from assay.config._fit import FitRecipe
from assay.engine import Engine, Request
from assay.errors import ConfigError


@pytest.fixture
def ctx(tmp_path: Path) -> RunContext:
    frame = pd.DataFrame({"id": range(40), "x": range(40), "y": [i % 2 for i in range(40)]})
    frame.to_csv(tmp_path / "d.csv", index=False)
    (tmp_path / "m.py").write_text(
        "def predict(batch):\n    return [str(len(str(b))) for b in batch]\n"
        "def fit(rows):\n    mean = rows['x'].mean()\n"
        "    return lambda batch: [str(int(r['x'] > mean)) for r in batch]\n"
    )
    suite = suite_from_dict(
        {
            "data": {"path": "d.csv", "id": "id", "input": ["x"], "label": "y"},
            "models": {"m": "python:m.py:predict"},
            "engine": {"cache": None, "progress": False},
        },
        base_dir=tmp_path,
    )
    provider = SuiteModels(suite)
    m = provider.load("python:m.py:predict", name="m", options={})
    return RunContext(
        suite=suite, datasets={}, models={"m": m}, model_infos={"m": m.info()}, provider=provider
    )


def test_require_model_loads_once_and_the_engine_answers_it(ctx: RunContext) -> None:
    name = ctx.require_model(
        "python:m.py:predict", name="judge:abc", options={"task": "generation"}
    )
    first = ctx.models[name]
    assert name == "judge:abc" and ctx.model_infos[name].task == "generation"
    assert ctx.require_model("python:m.py:predict", name="judge:abc") == name
    assert ctx.models[name] is first  # loaded once
    fp = ctx.model_infos[name].fingerprint
    reqs = [Request(content_key(fp, p), name, p) for p in ["a", "bb", "a"]]
    answers = Engine(EngineSettings(cache=None, progress=False), cache_path=None).run(
        reqs, ctx.models
    )
    assert [answers[r.key].output.text for r in reqs] == ["1", "2", "1"]  # type: ignore[union-attr]


def test_fold_models_come_from_the_context_and_join_the_run(ctx: RunContext) -> None:
    fitter = ctx.fitter(FitRecipe(fit="python:m.py:fit", data="d"), model="m")
    rows = pd.DataFrame({"x": [0, 10]})
    fold = ctx.fit_model(
        fitter, rows, name="m::cv fold 1", fold="fold 1", task="classification", fingerprint="f1"
    )
    assert ctx.models["m::cv fold 1"] is fold and "m::cv fold 1" not in ctx.model_infos
    assert fold.fit_error is None
    assert [o.label for o in fold.predict([{"x": 3}, {"x": 7}])] == ["0", "1"]
    # the sklearn recipe needs a model with an estimator; a python: model has none
    with pytest.raises(ConfigError, match="is not an sklearn: model"):
        ctx.fitter(FitRecipe(fit="sklearn", data="d"), model="m")


def test_a_context_without_a_provider_says_so(ctx: RunContext) -> None:
    bare = RunContext(suite=ctx.suite, datasets={}, models={}, model_infos={})
    with pytest.raises(ConfigError, match="no model provider"):
        bare.require_model("python:m.py:predict", name="judge:x")


def test_checks_asking_the_same_rows_share_one_set_of_requests(tmp_path: Path) -> None:
    """Performance, slices and fairness ask a model about the same rows: the Requests are made
    once (a million rows, a million Requests), and each check gets its own list of them."""
    from assay.checks._fairness import FairnessCheck
    from assay.checks._performance import PerformanceCheck
    from assay.checks._slices import SlicesCheck
    from assay.data import load_dataset

    frame = pd.DataFrame({"id": range(30), "x": range(30), "g": ["a", "b", "c"] * 10})
    frame.assign(y=[i % 2 for i in range(30)]).to_csv(tmp_path / "d.csv", index=False)
    (tmp_path / "m.py").write_text("def predict(batch):\n    return [1 for b in batch]\n")
    suite = suite_from_dict(
        {
            "data": {"path": "d.csv", "id": "id", "input": ["x"], "label": "y", "groups": ["g"]},
            "models": {"m": "python:m.py:predict"},
            "engine": {"cache": None, "progress": False},
        },
        base_dir=tmp_path,
    )
    m = SuiteModels(suite).load("python:m.py:predict", name="m", options={})
    ds = load_dataset(suite.data["test"], name="test", base_dir=tmp_path)
    ctx = RunContext(
        suite=suite, datasets={"test": ds}, models={"m": m}, model_infos={"m": m.info()}
    )
    plans = [
        cls(cls.Config(), "m").plan(ctx) for cls in (PerformanceCheck, SlicesCheck, FairnessCheck)
    ]
    assert all(len(p) == 30 for p in plans)
    assert all(a is b for p in plans[1:] for a, b in zip(plans[0], p, strict=True))
    plans[0].append(plans[0][0])  # a check's own list: changing it changes no other's
    assert len(ctx.original_requests("m", ds)) == 30
