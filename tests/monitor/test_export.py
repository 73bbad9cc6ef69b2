"""The feedback loop: selecting live examples for the next fine-tune, writing them atomically."""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest
from monitor_fixtures import (
    ListStore,
    acs_fixture,  # noqa: F401  (the fixture `acs`)
    acs_suite,
    as_events,
    reference_table,
)

from assay.errors import ConfigError
from assay.monitor._export import export_examples, select_examples, write_examples
from assay.monitor._windows import events_frame
from assay.monitor._worker import WindowWorker

T0 = datetime(2026, 12, 7, 10, 0, tzinfo=timezone.utc)


def _events() -> list[dict]:
    """Six production events over two hourly windows and a candidate's answers for three."""
    rows = [
        # id, minute, prediction, p(1), label
        ("a", 0, "1", 0.95, "1"),  # confident and right
        ("b", 10, "1", 0.55, None),  # low confidence
        ("c", 20, "0", 0.10, "1"),  # misclassified
        ("d", 70, "1", 0.52, "0"),  # low confidence and misclassified, window 2
        ("e", 80, "0", 0.20, None),
        ("f", 90, "1", 0.90, None),
    ]
    out = []
    for i, m, pred, p, label in rows:
        out.append({
            "event_id": i, "timestamp": (T0 + timedelta(minutes=m)).isoformat(),
            "model_version": "v1", "inputs": {"text": f"input {i}"}, "prediction": pred,
            "probabilities": {"0": 1 - p, "1": p}, "label": label,
        })  # fmt: skip
    for i, pred in (("a", "1"), ("e", "1"), ("f", "1")):
        out.append({"event_id": i, "timestamp": out[0]["timestamp"], "model_version": "v2-cand",
                    "inputs": {"text": f"input {i}"}, "prediction": pred})  # fmt: skip
    return out


SUMMARIES = [
    {"id": 1, "start": "2026-12-07T10:00:00Z", "end": "2026-12-07T11:00:00Z",
     "drift": {"share_drifted": 0.0}, "gates": [{"expression": "drift.n_drifted <= 0", "passed": True}]},
    {"id": 2, "start": "2026-12-07T11:00:00Z", "end": "2026-12-07T12:00:00Z",
     "drift": {"share_drifted": 0.5}, "gates": [{"expression": "drift.n_drifted <= 0", "passed": False}]},
]  # fmt: skip


def test_each_reason_selects_what_it_says_once_per_event() -> None:
    frame = events_frame(_events())
    out = select_examples(
        frame,
        SUMMARIES,
        ["drifted", "low-confidence", "misclassified", "disagreement"],
        low_confidence=0.6,
    )
    got = dict(zip(out["id"], out["reasons"]))
    assert got == {
        "b": "low-confidence",
        "c": "misclassified",
        "d": "drifted,low-confidence,misclassified",
        "e": "drifted,disagreement",
        "f": "drifted",
    }
    assert out["model_version"].unique().tolist() == ["v1"]  # production rows only
    assert dict(zip(out["id"], out["window"])) == {"b": 1, "c": 1, "d": 2, "e": 2, "f": 2}
    e = out[out["id"] == "e"].iloc[0]
    assert e["other_predictions"] == {"v2-cand": "1"}
    assert list(out.columns[:4]) == ["id", "text", "label", "prediction"]
    # a window counts as drifted by its share too, when asked
    by_share = select_examples(frame, [{**SUMMARIES[0], "drift": {"share_drifted": 0.3}}],
                               ["drifted"], drift_share=0.25)  # fmt: skip
    assert by_share["id"].tolist() == ["a", "b", "c"]


def test_cap_per_reason_is_a_seeded_sample() -> None:
    rng = np.random.default_rng(0)
    events = [
        {"event_id": f"e{i}", "timestamp": (T0 + timedelta(seconds=i)).isoformat(),
         "inputs": {"x": i}, "prediction": "1", "probabilities": {"0": 0.5, "1": 0.5},
         "label": "0" if rng.random() < 0.5 else "1"}
        for i in range(300)
    ]  # fmt: skip
    frame = events_frame(events)
    a = select_examples(frame, [], ["low-confidence", "misclassified"], cap_per_reason=20, seed=3)
    b = select_examples(frame, [], ["low-confidence", "misclassified"], cap_per_reason=20, seed=3)
    c = select_examples(frame, [], ["low-confidence", "misclassified"], cap_per_reason=20, seed=4)
    assert a.equals(b) and not a.equals(c)
    counts = {r: a["reasons"].str.contains(r).sum() for r in ("low-confidence", "misclassified")}
    assert counts == {"low-confidence": 20, "misclassified": 20}
    assert a["id"].is_unique and 20 <= len(a) <= 40
    assert set(a[a["reasons"].str.contains("misclassified")]["label"]) == {"0"}


def test_unknown_reason_is_refused_with_the_choices() -> None:
    with pytest.raises(ConfigError, match="choose from drifted, low-confidence"):
        select_examples(events_frame(_events()), [], ["confusing"])


def test_jsonl_and_parquet_are_ready_for_fine_tuning(tmp_path) -> None:
    out = select_examples(events_frame(_events()), SUMMARIES, ["misclassified", "disagreement"])
    path = write_examples(out, tmp_path / "next.jsonl")
    lines = [json.loads(x) for x in path.read_text().splitlines()]
    assert lines[0] == {
        "id": "c", "inputs": {"text": "input c"}, "label": "1", "prediction": "0",
        "confidence": pytest.approx(0.9),
        "provenance": {"window": 1, "reasons": ["misclassified"], "model_version": "v1",
                       "timestamp": "2026-12-07T10:20:00Z", "slice": None},
    }  # fmt: skip
    assert lines[-1]["other_predictions"] == {"v2-cand": "1"}
    pq = write_examples(out, tmp_path / "next.parquet")
    back = pd.read_parquet(pq)
    assert back["id"].tolist() == [x["id"] for x in lines]
    assert back["text"].tolist()[0] == "input c"
    assert [p for p in os.listdir(tmp_path) if p.endswith(".tmp")] == []


def test_a_failed_write_leaves_the_previous_file_and_no_temporary(tmp_path, monkeypatch) -> None:
    path = tmp_path / "next.jsonl"
    path.write_text("previous export\n")
    out = select_examples(events_frame(_events()), SUMMARIES, ["misclassified"])

    def broken_replace(src, dst):  # the rename fails (e.g. the disk is full, EXDEV)
        raise OSError("rename failed")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(OSError, match="rename failed"):
        write_examples(out, path)
    assert path.read_text() == "previous export\n"
    assert sorted(os.listdir(tmp_path)) == ["next.jsonl"]
    with pytest.raises(ConfigError, match="write .jsonl or .parquet"):
        write_examples(out, tmp_path / "next.csv")


def test_export_from_the_store_of_scored_acs_windows(acs, tmp_path) -> None:
    """ACS 2018 traffic scored by the worker, then exported: the drifted window's events, the
    misclassified ones once labelled, and the groups the fairness check flagged."""
    ref_all = acs["reference"].sample(frac=1, random_state=0)
    ref = reference_table(ref_all.iloc[:3000])
    cur = acs["current"]
    rows = cur[cur["year"] == 2018].sample(1500, random_state=0)
    store = ListStore()
    store.add_events(as_events(rows, start=T0, step_s=2.4, labelled_every=1))
    suite = acs_suite(["drift.n_drifted <= 0"])
    WindowWorker(store, {"window": {"every": "1h"}}, suite, ref).run_once(T0 + timedelta(hours=2))
    (window,) = store.windows()
    assert window["passed"] is False
    result = export_examples(
        store, "1d", ["drifted", "misclassified", "slice", "low-confidence"],
        tmp_path / "next_finetune.jsonl", now=T0 + timedelta(hours=2), cap_per_reason=200,
    )  # fmt: skip
    lines = [json.loads(x) for x in result.path.read_text().splitlines()]
    assert result.n_rows == len(lines) and result.n_events == 1500 and result.n_windows == 1
    assert result.by_reason["drifted"] == 200  # every event of the drifted window, capped
    wrong = (rows["prediction"] != rows["employed"]).sum()
    assert result.by_reason["misclassified"] == min(200, wrong)
    for line in lines:
        if "misclassified" in line["provenance"]["reasons"]:
            assert line["label"] != line["prediction"]
        assert line["provenance"]["window"] == window["id"]
        assert set(line["inputs"]) >= {"AGEP", "ANC", "SEX"} and line["label"] is not None
    report = json.loads(window["report_json"])
    fairness = next(r for r in report["results"] if r["check"] == "fairness")
    flagged = [
        g["name"] for f in fairness["tables"]["features"] for g in f["groups"] if g["flagged"]
    ]
    slices = {x["provenance"]["slice"] for x in lines if "slice" in x["provenance"]["reasons"]}
    assert flagged and slices == {f"sex={g}" for g in flagged}
    assert len({x["id"] for x in lines}) == len(lines)


def test_cli_export_with_the_real_store(tmp_path) -> None:
    store_mod = pytest.importorskip("assay.monitor._store", reason="the store comes with h1's part")
    import typer
    from typer.testing import CliRunner

    from assay._cli.monitor_export import export_command

    db = f"sqlite:///{tmp_path / 'monitor.db'}"
    store = store_mod.Store(db)
    store.migrate()
    from assay.monitor._schema import Event

    store.add_events([Event.model_validate(e) for e in _events()])
    app = typer.Typer()
    app.command("export")(export_command)
    app.command("noop")(lambda: None)
    res = CliRunner().invoke(
        app, ["export", "--db", db, "--since", "3650d", "--select", "misclassified",
              "--out", str(tmp_path / "x.jsonl")],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "wrote 2 examples" in res.output
    bad = CliRunner().invoke(app, ["export", "--db", db, "--select", "nope", "--out", "x.jsonl"])
    assert bad.exit_code == 2 and "choose from" in bad.output
