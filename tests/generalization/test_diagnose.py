"""Overfitting diagnosis on curves whose answers are known by construction."""

from __future__ import annotations

import numpy as np
import pytest

from assay.generalization import Series, TrainingLog, diagnose, smooth


def _log(train: list[float], val: list[float], steps: list[int] | None = None) -> TrainingLog:
    steps = steps or list(range(1, len(val) + 1))
    return TrainingLog(
        "t",
        "csv",
        {
            "train/loss": Series.build("train/loss", steps, train),
            "val/loss": Series.build("val/loss", steps, val),
        },
    )


def test_smoothing_is_tensorboards_debiased_ema() -> None:
    x = np.array([1.0, 3.0, 2.0, 5.0])
    w = 0.6
    last, want = 0.0, []
    for i, v in enumerate(x):  # literal definition
        last = last * w + (1 - w) * v
        want.append(last / (1 - w ** (i + 1)))
    np.testing.assert_allclose(smooth(x, w), want)
    np.testing.assert_array_equal(smooth(x, 0.0), x)


@pytest.mark.parametrize(
    ("val", "verdict", "divergence"),
    [
        ([1.0, 0.8, 0.7, 0.65, 0.62, 0.61, 0.605, 0.6], "none", None),
        ([1.0, 0.8, 0.7, 0.6, 0.605, 0.61, 0.615, 0.62], "mild", 4.0),
        ([1.0, 0.8, 0.7, 0.6, 0.65, 0.7, 0.8, 0.9], "severe", 4.0),
    ],
)
def test_verdicts(val: list[float], verdict: str, divergence: float | None) -> None:
    train = [1.0 / (i + 1) for i in range(len(val))]
    d = diagnose(_log(train, val), smoothing=0, patience=3)
    assert d.verdict == verdict
    assert d.divergence_step == divergence
    best = int(np.argmin(val))
    assert d.best_step == best + 1
    assert d.gap_at_last == pytest.approx(val[-1] - train[-1])
    assert d.validation_rise == pytest.approx((val[-1] - val[best]) / val[best])


def test_no_divergence_when_training_also_gets_worse() -> None:
    val = [1.0, 0.8, 0.7, 0.75, 0.8, 0.85]
    train = [1.0, 0.8, 0.6, 0.65, 0.7, 0.75]  # both rise: a bad learning rate, not overfitting
    d = diagnose(_log(train, val), smoothing=0, patience=3)
    assert d.divergence_step is None
    assert d.verdict == "severe"  # the rise itself is still judged


def test_early_stopping_step_and_recommendation() -> None:
    val = [1.0, 0.8, 0.7, 0.72, 0.71, 0.73, 0.74]
    d = diagnose(_log([0.9, 0.7, 0.5, 0.4, 0.3, 0.2, 0.1], val), smoothing=0, patience=3)
    assert d.early_stop_step == 6.0  # steps 4, 5, 6 without beating step 3
    assert "step 3" in d.recommendation and "step 6" in d.recommendation


def test_training_interpolated_on_a_finer_grid() -> None:
    tr_steps = list(range(0, 101, 5))
    log = TrainingLog(
        "t",
        "trainer_state",
        {
            "loss": Series.build("loss", tr_steps, [1 - s / 200 for s in tr_steps]),
            "eval_loss": Series.build("eval_loss", [25, 50, 75, 100], [0.9, 0.8, 0.85, 0.9]),
        },
    )
    d = diagnose(log, smoothing=0)
    assert d.train_series == "loss" and d.best_step == 50
    assert d.gap_at_best == pytest.approx(0.8 - 0.75)
    assert not any("interpolated" in n for n in d.notes)  # every eval step is a training step


def test_higher_is_better_metric() -> None:
    steps = list(range(1, 7))
    log = TrainingLog(
        "t",
        "csv",
        {
            "train_accuracy": Series.build(
                "train_accuracy", steps, [0.6, 0.7, 0.8, 0.9, 0.95, 0.99]
            ),
            "val_accuracy": Series.build("val_accuracy", steps, [0.6, 0.68, 0.75, 0.7, 0.65, 0.6]),
        },
    )
    d = diagnose(log, smoothing=0)
    assert d.direction == "higher" and d.best_step == 3 and d.verdict == "severe"
    assert d.gap_at_last == pytest.approx(0.99 - 0.6)


@pytest.mark.parametrize(
    ("name", "direction"),
    [
        # catalogued metrics the word heuristics took for losses
        ("eval_mcc", "higher"),
        ("val/cohen_kappa", "higher"),
        ("eval_exact_match", "higher"),
        ("eval_specificity_macro", "higher"),
        ("eval_ter", "lower"),
        # the heuristics still name the uncatalogued ones
        ("train/loss", "lower"),
        ("eval_perplexity", "lower"),
        ("val_accuracy", "higher"),
    ],
)
def test_metric_direction_reads_the_catalogue_first(name: str, direction: str) -> None:
    from assay.generalization._diagnose import metric_direction

    assert metric_direction(name) == direction
