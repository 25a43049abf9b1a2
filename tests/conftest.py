"""Fixtures: hand-made event tables, written to real files and run through the real pipeline."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from helpers import Report, build_report
from helpers.params import ReportParams

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
