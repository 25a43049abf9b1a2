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
