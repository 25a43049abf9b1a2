"""Fixtures: hand-made event tables, written to real files and run through the real pipeline.

``events_of`` opens the events of a table (read, cleaned and summarised once, then every
objective and analysis reads them); ``objectives_of`` answers just the eight objectives;
``report_of`` runs the whole report, for tests of data quality, rejected rows or the contract.
"""

from __future__ import annotations

import csv
import json
import os
import random
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

from helpers import Events, Report, build_report, open_events
from helpers.params import ReportParams

# Property tests draw fewer examples in the inner loop (make test-fast) than in make test.
settings.register_profile("fast", max_examples=5)
FAST = os.environ.get("HYPOTHESIS_PROFILE") == "fast"
if FAST:
    settings.load_profile("fast")


def examples(n: int) -> int:
    """``n`` examples for a property test; at most 5 in the inner loop."""
    return min(n, 5) if FAST else n

COLUMNS = [
    "datetime", "session_id", "page_type", "event_type", "params",
    "om_source", "device_class", "env", "is_internal_ip", "visitor_id",
]
DEFAULTS = {
    "datetime": "2021-01-23 10:00:00.000 UTC",
    "session_id": "s1",
    "page_type": "search_page",
    "event_type": "page_view",
    "params": "{}",
    "om_source": "",
    "device_class": "desktop",
    "env": "production",
    "is_internal_ip": "FALSE",
    "visitor_id": "v1",
}


def event(**cells: Any) -> dict[str, str]:
    """One event row: the defaults above, overridden by ``cells`` (dict params become JSON)."""
    row = dict(DEFAULTS)
    for key, value in cells.items():
        row[key] = json.dumps(value) if isinstance(value, dict | list) else value
    return row


ROOT = Path(__file__).resolve().parent.parent


def run_cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 900
) -> subprocess.CompletedProcess[str]:
    """``python -m helpers ARGS`` in its own process from the repository root, as a user runs
    it: its exit code, stdout and stderr (warnings of the libraries silenced)."""
    return subprocess.run(
        [sys.executable, "-m", "helpers", *args], cwd=ROOT, capture_output=True, text=True,
        timeout=timeout, check=False,
        env={**os.environ, "PYTHONWARNINGS": "ignore", **(env or {})},
    )  # fmt: skip


def write_csv(path: Path, rows: list[dict[str, str]], columns: list[str] | None = None) -> Path:
    columns = columns or (list(rows[0]) if rows else COLUMNS)
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def report_of(tmp_path: Path) -> Callable[..., Report]:
    """The report of hand-made rows: ``report_of([event(...)], price_threshold=1500)``."""
    counter = iter(range(10_000))

    def run(rows: list[dict[str, str]], **params: Any) -> Report:
        path = write_csv(tmp_path / f"events_{next(counter)}.csv", rows)
        return build_report(ReportParams.build({"source": str(path), **params}))

    return run


@pytest.fixture
def events_of(tmp_path: Path) -> Callable[..., Events]:
    """The events of hand-made rows: ``events_of([event(...)], user_column="visitor_id")``."""
    counter = iter(range(10_000))

    def run(rows: list[dict[str, str]], header: list[str] | None = None, **params: Any):
        # Named apart from report_of's files: an Events reads its file when first used.
        path = write_csv(tmp_path / f"table_{next(counter)}.csv", rows, header)
        return open_events(str(path), **params)

    return run


@pytest.fixture
def objectives_of(events_of: Callable[..., Events]) -> Callable[..., dict[str, Any]]:
    """The eight objectives of hand-made rows, as report.json holds them."""

    def run(rows: list[dict[str, str]], **params: Any) -> dict[str, Any]:
        return events_of(rows, **params).objectives().model_dump(mode="json")

    return run


@pytest.fixture(scope="module")
def spark():
    """A local Spark session (2 cores, small shuffles) for the tests that compare engines;
    one per module, stopped after it, so that no module inherits another's cached tables."""
    pytest.importorskip("pyspark", reason="pip install -e '.[spark]'")
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]").config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2").getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


def write_typed_parquet_set(directory: Path, *, aware: bool = True) -> Path:
    """Two Parquet files of one set that type columns differently: timestamps (naive, and,
    with ``aware``, with a time zone), integers, booleans and nulls in ``1.parquet``, text in
    ``2.parquet``; ``2`` is written first, so only reading by name puts ``1`` first."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    moment = datetime(2021, 1, 23, 11, 57, 9, 286000)
    first = pa.table({
        "datetime": pa.array([moment, None], pa.timestamp("ms")),
        "Session ID": pa.array([123, None], pa.int64()),
        **{c: pa.array(["x", " y "]) for c in COLUMNS[2:8]},
        "is_internal_ip": pa.array([False, True]),
        "nothing": pa.array([None, None], pa.null()),
        **({"aware": pa.array([moment.replace(tzinfo=UTC)] * 2, pa.timestamp("us", tz="UTC"))}
           if aware else {}),
    })
    second = pa.table({
        "datetime": pa.array(["2021-01-24 09:00:00.000 UTC"]),
        "session_id": pa.array(["a'b"]),
        **{c: pa.array([""]) for c in COLUMNS[2:9]},
        "visitor_id": pa.array(["v1"]),
    })
    directory.mkdir(parents=True)
    pq.write_table(second, directory / "2.parquet")
    pq.write_table(first, directory / "1.parquet")
    return directory


#: Parameters that read :func:`write_activity_log`'s file.
ACTIVITY_PARAMS: dict[str, Any] = {
    "columns": {"datetime": "time", "event_type": "event"},
    "user_column": "distinct_id",
    "datetime_format": "epoch_ms",
    "funnels": [{"name": "signup to purchase", "window": "1 day", "breakdown": "platform",
                 "steps": [{"event_type": "signup"}, {"event_type": "view_item"},
                           {"event_type": "purchase"}]}],
    "trends": {"period": "day", "breakdown": "platform",
               "events": [{"name": "purchase", "condition": {"event_type": "purchase"}}]},
}


def write_activity_log(path: Path, *, users: int = 300, seed: int = 11) -> Path:
    """A Mixpanel-like log (``distinct_id, event, time`` in epoch milliseconds, ``platform``; no
    session_id, page_type, params, env): several days, gaps on both sides of the 30-minute
    session timeout (exactly 30 min included), ties in time, a few unreadable times."""
    rng = random.Random(seed)
    start = 1_704_067_200_000  # 2024-01-01 00:00 UTC, in ms
    gaps_ms = [0, 1_000, 60_000, 1_800_000, 1_800_001, 3_600_000, 86_400_000, 3 * 86_400_000]
    rows = []
    for u in range(users):
        at = start + rng.randrange(0, 14 * 86_400_000)
        platform = rng.choice(["ios", "android", "web", ""])
        for step in range(rng.randint(1, 12)):
            event = "signup" if step == 0 else rng.choice(["view_item", "view_item", "purchase"])
            time = str(at) if rng.random() > 0.02 else rng.choice(["", "yesterday", "1e12"])
            rows.append({"distinct_id": f"user{u}", "event": event, "time": time,
                         "platform": platform})  # fmt: skip
            at += rng.choice(gaps_ms)
    rng.shuffle(rows)
    return write_csv(path, rows, ["distinct_id", "event", "time", "platform"])
