"""A regression answer's spread and quantiles as user code returns them (python: dicts):
validated once, at the entry, naming where."""

from __future__ import annotations

import math

import pytest

from assay._types import Output
from assay.errors import ModelError
from assay.models._convert import coerce_output, task_of


def test_a_dict_with_a_spread_or_quantiles_is_a_regression_answer():
    out = coerce_output({"value": 2, "spread": 0.5}, task=None, where="m")
    assert out == Output(value=2.0, spread=0.5) and task_of(out) == "regression"
    out = coerce_output(
        {"value": 2.0, "quantiles": {"0.95": 3, 0.05: 1.0}}, task="regression", where="m"
    )
    assert out.quantiles == {0.05: 1.0, 0.95: 3.0} and list(out.quantiles) == [0.05, 0.95]


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ({"value": 1.0, "spread": -0.1}, "spread -0.1 must be a finite number ≥ 0"),
        ({"value": 1.0, "spread": math.inf}, "spread inf must be a finite number ≥ 0"),
        ({"value": 1.0, "spread": "wide"}, "spread 'wide' is not a number"),
        ({"value": 1.0, "quantiles": {0.05: 2.0, 0.95: 1.0}}, "quantiles cross"),
        ({"value": 1.0, "quantiles": {1.5: 2.0}}, "quantile level 1.5 is outside (0, 1)"),
        ({"value": 1.0, "quantiles": {0.5: math.nan}}, "give a finite number"),
        ({"label": "a", "spread": 1.0}, "come with a regression value"),
    ],
)
def test_bad_spreads_and_quantiles_are_refused_naming_where(answer, message):
    with pytest.raises(ModelError, match="^model 'm' \\(input 3\\)") as err:
        coerce_output(answer, task=None, where="model 'm' (input 3)")
    assert message in str(err.value)
