"""python: functions and classes from the user's own module or file."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from assay._types import LimitsConcurrency, TakesDeclaredTask
from assay.config import EngineSettings
from assay.engine import Engine, Request, content_key
from assay.errors import ConfigError, ModelError
from assay.models import Output, load_model


def write(tmp_path: Path, name: str, source: str) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(source))
    return path


MODULE = """
    import numpy as np

    def labels(batch):
        return [1 if "good" in t else 0 for t in batch]

    def scored(batch):
        return [{"probabilities": {"pos": 0.8, "neg": 0.2}} if "good" in t
                else {"label": "neg", "probabilities": {"pos": 0.1, "neg": 0.9}} for t in batch]

    def numbers(batch):
        return np.array([len(t) * 0.5 for t in batch])

    def texts(batch, params=None):
        return [t.upper() + (params or {}).get("suffix", "") for t in batch]
    texts.task = "generation"

    def outputs(batch):
        from assay.models import Output
        return [Output(label=" yes ") for _ in batch]

    def wrong_count(batch):
        return [1]

    def nothing(batch):
        return [None for _ in batch]

    class Keyword:
        classes_ = ["neg", "pos"]

        def __init__(self):
            self.word = "good"

        def predict(self, batch):
            return ["pos" if self.word in t else "neg" for t in batch]

        def predict_proba(self, batch):
            return np.array([[0.3, 0.7] if self.word in t else [0.6, 0.4] for t in batch])

    class OneAtATime:
        max_concurrency = 1

        def predict(self, batch):
            return [0 for _ in batch]

    class NoLabels:
        def predict(self, batch):
            return [0 for _ in batch]

        def predict_proba(self, batch):
            return [[1.0] for _ in batch]

    NOT_CALLABLE = 3
"""


@pytest.fixture
def module_file(tmp_path: Path) -> Path:
    return write(tmp_path, "user_models.py", MODULE)


def test_function_returning_labels(module_file: Path) -> None:
    model = load_model("python:user_models.py:labels", base_dir=module_file.parent)
    info = model.info()
    assert info.task == "classification" and info.details["task_source"] == "default"
    assert model.predict(["good film", "bad film"]) == [Output(label="1"), Output(label="0")]
    info = model.info()
    assert info.details["task_source"] == "outputs"
    assert info.spec == "python:user_models.py:labels"


def test_function_returning_probabilities(module_file: Path) -> None:
    model = load_model(f"python:{module_file}:scored")
    good, bad = model.predict(["good", "bad"])
    assert good == Output(label="pos", probabilities={"pos": 0.8, "neg": 0.2})
    assert bad == Output(label="neg", probabilities={"pos": 0.1, "neg": 0.9})


def test_numbers_are_regression_and_text_follows_the_task_attribute(module_file: Path) -> None:
    reg = load_model(f"python:{module_file}:numbers")
    assert reg.predict(["abcd"]) == [Output(value=2.0)]
    assert reg.info().task == "regression"

    gen = load_model(f"python:{module_file}:texts")
    assert gen.info().task == "generation" and gen.info().details["task_source"] == "attribute"
    assert gen.predict(["hi"], {"suffix": "!"}) == [Output(text="HI!")]


def test_task_option_wins(module_file: Path) -> None:
    model = load_model(f"python:{module_file}:texts", options={"task": "classification"})
    assert model.info().task == "classification"
    assert model.predict(["hi"]) == [Output(label="HI")]
    with pytest.raises(ConfigError, match="task 'ranking' is not one of"):
        load_model(f"python:{module_file}:texts", options={"task": "ranking"})


def test_outputs_are_canonicalised(module_file: Path) -> None:
    model = load_model(f"python:{module_file}:outputs")
    assert model.predict(["x"]) == [Output(label="yes")]


def test_class_with_predict_proba_and_classes(module_file: Path) -> None:
    model = load_model(f"python:{module_file}:Keyword")
    info = model.info()
    assert info.task == "classification" and info.labels == ("neg", "pos")
    assert info.details["kind"] == "class"
    good, bad = model.predict(["good", "meh"])
    assert good == Output(label="pos", probabilities={"neg": 0.3, "pos": 0.7})
    assert bad == Output(label="neg", probabilities={"neg": 0.6, "pos": 0.4})


def test_max_concurrency_is_taken_from_the_object(module_file: Path) -> None:
    one = load_model(f"python:{module_file}:OneAtATime")
    assert isinstance(one, LimitsConcurrency) and one.max_concurrency == 1
    free = load_model(f"python:{module_file}:Keyword")
    assert isinstance(free, LimitsConcurrency) and free.max_concurrency is None


def test_a_declared_task_beats_the_guess_and_the_attribute_not_the_option(
    module_file: Path,
) -> None:
    """The runner used to write the suite's task into the options of ``python:`` specs only;
    now any model that declares TakesDeclaredTask is told the task."""
    counts = load_model(f"python:{module_file}:labels")
    assert isinstance(counts, TakesDeclaredTask)
    counts.declare_task("regression")
    assert counts.info().task == "regression" and counts.info().details["task_source"] == "suite"
    assert counts.predict(["good"]) == [Output(value=1.0)]  # not the class "1"
    gen = load_model(f"python:{module_file}:texts")
    gen.declare_task("classification")  # type: ignore[attr-defined]
    assert gen.info().task == "classification"
    own = load_model(f"python:{module_file}:texts", options={"task": "generation"})
    own.declare_task("classification")  # type: ignore[attr-defined]
    assert own.info().task == "generation" and own.info().details["task_source"] == "option"


def test_a_declared_fingerprint_joins_the_cache_key(tmp_path: Path) -> None:
    """The source file's hash did not see the weights a class loads: new weights were answered
    from the old weights' cache. A ``fingerprint`` attribute or method now joins the key."""
    weights = tmp_path / "w.txt"
    weights.write_text("1")
    write(
        tmp_path,
        "weighted.py",
        f"""
        import hashlib
        from pathlib import Path

        WEIGHTS = Path({str(weights)!r})

        class Weighted:
            def fingerprint(self):
                return hashlib.sha256(WEIGHTS.read_bytes()).hexdigest()

            def predict(self, batch):
                return [WEIGHTS.read_text() for _ in batch]

        class Versioned:
            fingerprint = "v2"

            def predict(self, batch):
                return [1 for _ in batch]

        class Bad:
            fingerprint = 3

            def predict(self, batch):
                return [1 for _ in batch]
        """,
    )
    before = load_model(f"python:{tmp_path / 'weighted.py'}:Weighted").info().fingerprint
    weights.write_text("2")
    after = load_model(f"python:{tmp_path / 'weighted.py'}:Weighted").info().fingerprint
    assert before != after
    versioned = load_model(f"python:{tmp_path / 'weighted.py'}:Versioned").info().fingerprint
    assert versioned not in (before, after)
    with pytest.raises(ModelError, match="fingerprint is a int; expected a str"):
        load_model(f"python:{tmp_path / 'weighted.py'}:Bad")


def test_dotted_module_resolved_against_base_dir(tmp_path: Path) -> None:
    write(tmp_path, "pkg_assay_test/__init__.py", "")
    write(
        tmp_path,
        "pkg_assay_test/scoring.py",
        "def predict(batch):\n    return ['a'] * len(batch)\n",
    )
    try:
        model = load_model("python:pkg_assay_test.scoring:predict", base_dir=tmp_path)
        assert model.predict([1, 2]) == [Output(label="a"), Output(label="a")]
        assert str(tmp_path) not in sys.path  # the folder was on the path only while importing
    finally:
        for name in [m for m in sys.modules if m.startswith("pkg_assay_test")]:
            del sys.modules[name]


def test_editing_the_source_changes_the_fingerprint(tmp_path: Path) -> None:
    path = write(tmp_path, "edit_me.py", "def f(batch):\n    return [1] * len(batch)\n")
    before = load_model(f"python:{path}:f").info().fingerprint
    assert load_model(f"python:{path}:f").info().fingerprint == before
    path.write_text("def f(batch):\n    return [2] * len(batch)\n")
    edited = load_model(f"python:{path}:f")
    assert edited.info().fingerprint != before
    assert edited.predict(["x"]) == [Output(label="2")]
    write(tmp_path, "edit_me.py", "def f(batch):\n    return [2] * len(batch)\n\ng = f\n")
    assert (
        load_model(f"python:{path}:g").info().fingerprint
        != load_model(f"python:{path}:f").info().fingerprint
    )


def test_a_wrong_answer_count_is_split_by_the_engine(module_file: Path) -> None:
    model = load_model(f"python:{module_file}:wrong_count")
    fp = model.info().fingerprint
    reqs = [Request(content_key(fp, t), "candidate", t) for t in ["a", "b"]]
    eng = Engine(EngineSettings(cache=None, backoff_s=0), cache_path=None, progress=False)
    answers = eng.run(reqs, {"candidate": model})
    # split into single items: a one-item batch with one answer is fine
    assert all(r.ok for r in answers.values())

    none_model = load_model(f"python:{module_file}:nothing")
    with pytest.raises(ModelError, match=r"model 'candidate' \(input 0\): returned None"):
        none_model.predict(["a"])


def test_load_errors(module_file: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="does not exist"):
        load_model("python:missing.py:f", base_dir=tmp_path)
    with pytest.raises(ModelError, match=r"has no 'nope'; its callables: .*labels"):
        load_model(f"python:{module_file}:nope")
    with pytest.raises(ModelError, match="is a int; expected a function"):
        load_model(f"python:{module_file}:NOT_CALLABLE")
    with pytest.raises(ModelError, match="predict_proba but no classes_ or labels"):
        load_model(f"python:{module_file}:NoLabels")
    with pytest.raises(ModelError, match="names no callable"):
        load_model("python:just_a_module")
    with pytest.raises(ModelError, match="no module named 'no_such_mod_xyz'"):
        load_model("python:no_such_mod_xyz:f")
    broken = write(tmp_path, "broken.py", "raise RuntimeError('import-time failure')\n")
    with pytest.raises(ModelError, match=r"importing .*broken.py failed: RuntimeError"):
        load_model(f"python:{broken}:f")
