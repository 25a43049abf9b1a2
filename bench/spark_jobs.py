"""How many Spark jobs one report runs, and how long it takes, on one machine.

    python -m bench.spark_jobs [SOURCE] [--driver-memory 512m]

Runs ``build_report`` with ``backend=pyspark`` on SOURCE (default: the bundled sample) in a
local session, counts the jobs Spark's status tracker saw for the run, and appends the figures
to ``bench/spark_jobs.md``. Each figure the report executes separately is at least one job, so
the count is the measure of how far the report is from "compute each grain once".
"""

from __future__ import annotations

import argparse
import os
import subprocess
import time
from datetime import UTC, datetime
from pathlib import Path

_RESULTS = Path(__file__).with_name("spark_jobs.md")


def count_jobs(source: str | None, driver_memory: str) -> dict[str, object]:
    """Run one report on a fresh local Spark session; its jobs, wall time and rows."""
    os.environ["PYSPARK_SUBMIT_ARGS"] = f"--driver-memory {driver_memory} pyspark-shell"
    from pyspark.sql import SparkSession

    from helpers import build_report
    from helpers.params import ReportParams

    session = (
        SparkSession.builder.master("local[*]").config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "8").getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    session.sparkContext.setJobGroup("report", "one report")
    params = {"backend": "pyspark", **({"source": source} if source else {})}
    started = time.perf_counter()
    report = build_report(ReportParams(**params))
    wall = time.perf_counter() - started
    jobs = len(session.sparkContext.statusTracker().getJobIdsForGroup("report"))
    session.stop()
    return {
        "source": source or "bundled sample", "rows": report.data_quality["rows_read"],
        "jobs": jobs, "wall_s": round(wall, 1), "driver_memory": driver_memory,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.spark_jobs", description=__doc__)
    parser.add_argument("source", nargs="?", help="events file or directory (default: sample)")
    parser.add_argument("--driver-memory", default="512m")
    args = parser.parse_args(argv)
    figures = count_jobs(args.source, args.driver_memory)
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    if not _RESULTS.exists():
        _RESULTS.write_text(
            "# Spark jobs per report\n\n`python -m bench.spark_jobs`: local[*], 2 cores.\n\n"
            "| date | commit | source | rows | driver memory | jobs | wall s |\n"
            "|---|---|---|---:|---|---:|---:|\n"
        )
    with _RESULTS.open("a") as fh:
        fh.write(
            f"| {datetime.now(UTC):%Y-%m-%d %H:%M} | {commit} | {figures['source']} | "
            f"{figures['rows']:,} | {figures['driver_memory']} | {figures['jobs']} | "
            f"{figures['wall_s']} |\n"
        )
    print(figures)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
