"""Spark with a small driver on data larger than it could hold: Spark reads the files itself.

Each case runs the CLI in its own process with a 512 MB driver (``PYSPARK_SUBMIT_ARGS``: the
heap is fixed when the JVM starts), and its report.json must equal DuckDB's on the same files.
Before Spark read files itself, every row went through the driver and a 100k-row CSV already
ran out of its heap. The big cases run once, here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from helpers import build_report
from helpers.params import ReportParams
from helpers.synthetic import synthetic_events, write_synthetic_events

pytest.importorskip("pyspark", reason="pip install -e '.[spark]'")
pytestmark = pytest.mark.slow

# Both cases on 512 MB. The 1M-row case once ran out of that heap broadcasting a task whose
# plan held the datetime parser copied some 300 times (Whole-stage codegen gave up on it); the
# parser now reads each part of a cell once (helpers/datetimes.py).
_SMALL_DRIVER = "512m"


def _spark_report(source: Path, out: Path) -> dict:
    env = {**os.environ, "PYSPARK_SUBMIT_ARGS": f"--driver-memory {_SMALL_DRIVER} pyspark-shell"}
    done = subprocess.run(
        [sys.executable, "-m", "helpers", "run", "--source", str(source), "--set",
         "backend=pyspark", "--json-only", "--out", str(out)],
        env=env, capture_output=True, text=True, timeout=1200,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    (report,) = out.rglob("report.json")
    return json.loads(report.read_text())


def _assert_same(spark: dict, source: Path) -> None:
    duck = build_report(ReportParams(source=str(source))).data
    for block in ("objectives", "data_quality", "period", "insights", "analyses"):
        assert spark[block] == duck[block], block
    assert spark["data_quality"]["rows_read"] == duck["data_quality"]["rows_read"]
    # The rows were never hashed by the driver: the source is identified by its files.
    assert "sha256" not in spark["source"]
    assert len(spark["source"]["fingerprint"]) == 64


@pytest.fixture(scope="module")
def million_row_parquet_directory(tmp_path_factory) -> Path:
    """1M events over two weeks, one Parquet file per generated chunk (as daily exports are)."""
    directory = tmp_path_factory.mktemp("parquet") / "events"
    directory.mkdir()
    for i, chunk in enumerate(synthetic_events(1_000_000, seed=3, days=14)):
        pq.write_table(chunk, directory / f"part-{i:04d}.parquet")
    (directory / "_SUCCESS").write_text("")  # what Spark and Hadoop jobs leave beside data
    return directory


def test_a_million_row_parquet_directory_on_a_small_driver(
    million_row_parquet_directory: Path, tmp_path: Path
) -> None:
    spark = _spark_report(million_row_parquet_directory, tmp_path / "out")
    assert spark["data_quality"]["rows_read"] == 1_000_000
    assert spark["source"]["kind"] == "parquet"
    _assert_same(spark, million_row_parquet_directory)


def test_a_300k_row_csv_on_a_small_driver(tmp_path: Path) -> None:
    source = write_synthetic_events(tmp_path / "events.csv", 300_000, seed=4, days=7)
    spark = _spark_report(source, tmp_path / "out")
    assert spark["data_quality"]["rows_read"] == 300_000
    assert spark["source"] == {
        "kind": "csv", "name": "events.csv", "fingerprint": spark["source"]["fingerprint"]
    }
    _assert_same(spark, source)
