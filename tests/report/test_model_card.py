"""The model card is filled from the Report; what was not evaluated is said, not hidden."""

from __future__ import annotations

from pathlib import Path

from assay.report import Report, render_model_card, write_model_card
from assay.report._schema import CheckResult
from assay.stats import Estimate


def test_model_card_sections(sample_report: Report, tmp_path: Path) -> None:
    sample_report.suite["intended_use"] = "Sorting English movie reviews | not medical text"
    sample_report.results.append(
        CheckResult(
            check="fairness",
            model="candidate",
            dataset="reviews",
            n=740,
            metrics={
                "counterfactual.gender.flip_rate": Estimate(0.07, 0.05, 0.09, 0.95, "wilson", 740)
            },
            flags=["swapping names changes 7% of answers"],
        )
    )
    card = render_model_card(sample_report)
    assert card.startswith("# Model card: candidate")
    for title in (
        "## Model details",
        "## Intended use",
        "## Metrics",
        "## Fairness",
        "## Robustness",
        "## Limitations",
        "## Evaluation data",
        "## Provenance",
        "## Decision",
    ):
        assert title in card
    assert "Sorting English movie reviews \\| not medical text" in card
    acc = sample_report.result("performance", "candidate").metrics["accuracy"]  # type: ignore[union-attr]
    assert f"| accuracy | {acc.value:.3f} [{acc.lower:.3f}, {acc.upper:.3f}] |" in card
    assert "| counterfactual.gender.flip_rate | 0.070 [0.050, 0.090] | wilson |" in card
    robustness = card.split("## Robustness")[1].split("##")[0]
    assert "Not evaluated" in robustness
    assert "not evaluated: robustness, generalization" in card
    assert "gate failed: performance.roc_auc.lower &gt;= 0.97" in card  # an entity, shown as >
    assert "| reviews | data/reviews.csv | 743 |" in card
    assert "hf:./checkpoints/distilbert-ft" in card
    assert (
        write_model_card(sample_report, tmp_path / "card.md", model="baseline")
        .read_text()
        .startswith("# Model card: baseline")
    )


def test_cli_report_writes_every_output(sample_report: Report, tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from assay._cli.main import app

    src = sample_report.save(tmp_path / "report.json")
    res = CliRunner().invoke(
        app,
        [
            "report",
            str(src),
            "--markdown",
            str(tmp_path / "s.md"),
            "--junit",
            str(tmp_path / "g.xml"),
            "--model-card",
            str(tmp_path / "card.md"),
        ],
    )
    assert res.exit_code == 1, res.output  # gates failed
    for name in ("s.md", "g.xml", "card.md"):
        assert (tmp_path / name).stat().st_size > 200
