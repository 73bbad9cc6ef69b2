from __future__ import annotations

from pathlib import Path

import pytest

from assay._runner import load_suite, suite_from_dict
from assay.errors import ConfigError

BASE = {
    "data": {"path": "test.csv", "input": "text", "label": "label"},
    "models": {"candidate": "python:mod:f"},
}


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "suite.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def test_minimal_suite_normalises_single_dataset_and_defaults(tmp_path: Path) -> None:
    p = write(tmp_path, "data: {path: t.csv, input: text, label: y}\nmodels: 'python:m:f'\n")
    suite = load_suite(p)
    assert list(suite.data) == ["test"]
    assert suite.models == {"candidate": "python:m:f"}
    assert suite.checks == {"performance": {}}
    assert suite.base_dir == tmp_path.resolve()
    assert suite.resolve("t.csv") == tmp_path.resolve() / "t.csv"


def test_model_list_names_candidate_and_baseline() -> None:
    suite = suite_from_dict({**BASE, "models": ["python:a:f", "python:b:f"]})
    assert list(suite.models) == ["candidate", "baseline"]
    assert suite.primary_model == "candidate"


def test_missing_file_says_how_to_create_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="assay init"):
        load_suite(tmp_path / "nope.yaml")


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    p = write(tmp_path, "data:\n  path: [unclosed\nmodels: x\n")
    with pytest.raises(ConfigError, match=r"line \d+"):
        load_suite(p)


def test_empty_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="empty"):
        load_suite(write(tmp_path, ""))


def test_unknown_field_names_yaml_path() -> None:
    raw = {**BASE, "data": {**BASE["data"], "lable": "y"}}
    with pytest.raises(
        ConfigError, match=r"data\.test\.lable: unknown field; did you mean 'label'\?"
    ):
        suite_from_dict(raw)


def test_wrong_type_names_path_and_value() -> None:
    with pytest.raises(ConfigError, match=r"engine\.batch_size.*found 0"):
        suite_from_dict({**BASE, "engine": {"batch_size": 0}})


def test_unknown_check_lists_known() -> None:
    with pytest.raises(
        ConfigError,
        match=r"checks\.robustnes: unknown check; did you mean 'robustness'\? known checks: .*perf",
    ):
        suite_from_dict({**BASE, "checks": {"robustnes": {}}})


def test_check_option_error_names_check() -> None:
    with pytest.raises(ConfigError, match=r"checks\.slices"):
        suite_from_dict({**BASE, "checks": {"slices": {"min_n": "many"}}})


def test_check_option_typo_gets_did_you_mean_not_pydantic_text() -> None:
    with pytest.raises(ConfigError) as info:
        suite_from_dict({**BASE, "checks": {"performance": {"n_bootstap": 10}}})
    msg = str(info.value)
    assert "checks.performance.n_bootstap: unknown field; did you mean 'n_bootstrap'?" in msg
    assert "errors.pydantic.dev" not in msg and "validation error for" not in msg


def test_check_option_wrong_type_names_path_and_value() -> None:
    with pytest.raises(ConfigError) as info:
        suite_from_dict({**BASE, "checks": {"slices": {"min_n": "many"}}})
    assert "checks.slices.min_n:" in str(info.value) and "(found 'many')" in str(info.value)
    assert "errors.pydantic.dev" not in str(info.value)


def test_check_options_must_be_a_mapping() -> None:
    with pytest.raises(
        ConfigError, match=r"checks\.performance: Input should be a valid dictionary"
    ):
        suite_from_dict({**BASE, "checks": {"performance": [1, 2]}})


def test_gate_on_a_class_that_does_not_exist_is_refused_at_load() -> None:
    labelled = {**BASE, "data": {**BASE["data"], "labels": ["sports", "politics"]}}
    gate = "performance.per_class.sports.recall.lower >= 0.5"
    assert suite_from_dict({**labelled, "gates": [gate]}).gates == [gate]
    with pytest.raises(ConfigError) as info:
        suite_from_dict({**labelled, "gates": ["performance.per_class.Sports.recall.lower >= 0.5"]})
    assert "did you mean performance.per_class.sports.recall?" in str(info.value)
    # without declared labels the classes are known only from the data: any class may be named
    assert suite_from_dict({**BASE, "gates": ["performance.per_class.Sports.recall >= 0"]})


def test_env_overrides_file_and_explicit_overrides_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSAY_SEED", "7")
    assert suite_from_dict({**BASE, "seed": 1}).seed == 7
    assert suite_from_dict({**BASE, "seed": 1}, overrides={"seed": 9}).seed == 9
    monkeypatch.setenv("ASSAY_SEED", "seven")
    with pytest.raises(ConfigError, match="ASSAY_SEED"):
        suite_from_dict(BASE)


def test_check_dataset_must_be_declared() -> None:
    with pytest.raises(ConfigError, match="dataset 'train' is not declared"):
        suite_from_dict({**BASE, "checks": {"performance": {"dataset": "train"}}})


def test_a_field_at_the_wrong_level_says_where_it_belongs() -> None:
    # was "labels: unknown field; did you mean 'labels'?"
    with pytest.raises(ConfigError) as e:
        suite_from_dict({**BASE, "labels": ["a", "b"]})
    assert "labels: unknown field; 'labels' belongs at 'data.labels'" in str(e.value)
    with pytest.raises(ConfigError) as e:
        suite_from_dict({**BASE, "engine": {"concurency": 2}})
    assert "did you mean 'concurrency'?" in str(e.value)


@pytest.mark.parametrize("check", ["performance", "fairness", "compare"])
def test_integer_positive_label_is_a_label_like_integer_labels(check: str) -> None:
    data = {**BASE["data"], "labels": [0, 1]}
    models = {"candidate": "python:mod:f", "baseline": "python:mod:g"}
    suite = suite_from_dict(
        {**BASE, "data": data, "models": models, "checks": {check: {"positive_label": 1}}}
    )
    assert suite.data["test"].labels == ["0", "1"]
    from assay.checks._base import parse_check_config

    assert parse_check_config(check, suite.checks[check]).positive_label == "1"  # type: ignore[attr-defined]
    assert parse_check_config(check, {"positive_label": 1.0}).positive_label == "1"  # type: ignore[attr-defined]
    with pytest.raises(ConfigError, match=rf"checks\.{check}\.positive_label"):
        parse_check_config(check, {"positive_label": [1]})


def test_out_in_the_suite_is_relative_to_the_suite_and_assay_out_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "suites"
    folder.mkdir()
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ASSAY_OUT", raising=False)
    p = folder / "suite.yaml"
    p.write_text("data: {path: t.csv, input: text, label: y}\nmodels: {m: 'python:mod:f'}\n")
    assert load_suite(p).out_dir() == Path("out")  # the default: where assay runs
    p.write_text(p.read_text() + "out: results\n")
    assert load_suite(p).out_dir() == folder / "results"
    monkeypatch.setenv("ASSAY_OUT", "from_env")
    assert load_suite(p).out_dir() == tmp_path / "from_env"
