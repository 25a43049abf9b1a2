"""Smoke test of the benchmark harness: 10k rows, one run each, no notebook, into tmp_path."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_bench_runs_at_10k_rows(tmp_path: Path) -> None:
    out = tmp_path / "results"
    subprocess.run(
        [sys.executable, "-m", "bench.bench", "--sizes", "10k", "--formats", "csv,parquet",
         "--repeat", "1", "--skip-notebook", "--wait-idle", "0", "--cache", str(tmp_path / "cache"),
         "--out", str(out)],
        cwd=ROOT, check=True, timeout=120,
    )  # fmt: skip

    results = json.loads(out.with_suffix(".json").read_text())
    table = results["table"]
    assert {(row["size"], row["format"]) for row in table} == {("10k", "csv"), ("10k", "parquet")}
    for row in table:
        for key in ("floor_s", "json_only_s", "floor_peak_rss_mb", "json_only_peak_rss_mb"):
            assert row[key] is not None and row[key] > 0, (row, key)
    for m in results["measurements"]:
        assert m["ok"] and m["runs"] and all(r["wall_s"] > 0 for r in m["runs"])
    assert results["meta"]["machine"]["cores"] >= 1
    assert "notebook" not in results and results["memory_limit_runs"] == []

    md = out.with_suffix(".md").read_text()
    assert "| 10k | csv |" in md and "| 10k | parquet |" in md
    assert "duckdb" in md and "cores" in md


@pytest.mark.slow
def test_the_report_is_measured_against_the_hand_written_sql(tmp_path: Path) -> None:
    out = tmp_path / "results"
    out.with_suffix(".md").write_text("# Benchmark results\n\n## Spark jobs per report\n\nkept\n")
    subprocess.run(
        [sys.executable, "-m", "bench.versus", "--cases", "10k/csv,20k/parquet", "--repeat", "2",
         "--cache", str(tmp_path / "cache"), "--out", str(out)],
        cwd=ROOT, check=True, timeout=300,
    )  # fmt: skip

    result = json.loads((tmp_path / "versus.json").read_text())
    for key in ("10k/csv", "20k/parquet"):
        case = result["cases"][key]
        # The analyst's script and the report agree on the eight objectives of this data.
        assert case["same_objectives"] is True, key
        for side in ("baseline", "report"):
            assert case[side]["ok"] and len(case[side]["walls_s"]) == 2, (key, side)
        assert case["ratio"] == round(
            case["report"]["median_wall_s"] / case["baseline"]["median_wall_s"], 2
        )
        # The report's own stage times, read from its --debug log.
        stages = case["report"]["stages_s"]
        assert {"reading the events", "cleaning", "insights", "analyses"} <= set(stages), stages
        assert 0 < sum(stages.values()) < case["report"]["median_wall_s"] * 1.5
        # ...and each insight's and analysis's, which add up to their stages.
        parts = case["report"]["parts_s"]
        assert {"funnel", "paths", "retention", "trends"} <= set(parts), parts
        assert sum(parts.values()) <= (stages["insights"] + stages["analyses"]) * 1.1 + 0.05
        assert case["repeat"] == 2
    assert 0 < result["startup_s"] < 60
    md = out.with_suffix(".md").read_text()
    assert "## Spark jobs per report\n\nkept" in md  # another script's section is kept
    assert "## Against hand-written SQL" in md and "| 10k/csv |" in md
    assert "startup: a 10-row file under 1.5 s" in md
    assert "(B)'s stages" in md and "| analyses |" in md
    assert "Each insight and analysis of (B)" in md and "| funnel |" in md
    assert "| same objectives | runs |" in md and "| True | 2 |" in md


def test_the_hand_written_sql_gives_the_reports_objectives_on_the_sample() -> None:
    from bench.baseline import objectives
    from helpers import build_report
    from helpers.params import ReportParams

    sample = ROOT / "data" / "sample_events.csv.gz"
    report = build_report(ReportParams(source=str(sample)))
    assert objectives(str(sample)) == json.loads(json.dumps(report.objectives))


def test_the_stage_times_are_the_reports_top_level_stages() -> None:
    from bench.bench import stage_times

    log = [
        "helpers.report: reading the events: 0.14 s",
        "helpers.report:   funnel: 0.45 s",  # an insight inside "insights": not counted twice
        "helpers.report: insights: 1.66 s",
        "helpers.report: the eight objectives, checked against the schema: 0.2 s",
        "error: something else: 3 s",
    ]
    assert stage_times(log) == {
        "reading the events": 0.14,
        "insights": 1.66,
        "the eight objectives, checked against the schema": 0.2,
    }
