"""Google Sheets as a source of the whole report: the real gspread client against a local fake
of Google's APIs (tests/fake_sheets.py), compared with the same events read from CSV."""

from __future__ import annotations

import csv
import gzip
import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest
from fake_sheets import FakeGoogle

from helpers import build_report, gsheets
from helpers.outputs import write_outputs
from helpers.params import SAMPLE_SOURCE, ReportParams
from helpers.sources import read_events

KEY = "1SampleEventsSheetKey0123456789abcdefghijk"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def sample_rows() -> list[list[str]]:
    with gzip.open(SAMPLE_SOURCE, "rt", encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    return rows[:5001]  # header + 5,000 events: every exclusion reason occurs


@pytest.fixture
def google(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, sample_rows):
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setattr(gsheets._retry, "_WAIT_INITIAL", 0.01)
    with FakeGoogle() as fake:
        fake.add_spreadsheet(KEY, "Website events", {"Cover": [["notes"]], "Events": sample_rows})
        yield fake


def test_a_sheet_and_a_csv_of_the_same_events_give_the_same_report(
    google: FakeGoogle, tmp_path: Path, sample_rows, caplog: pytest.LogCaptureFixture
) -> None:
    key = google.write_service_account_key(tmp_path / "key.json")
    caplog.set_level(logging.DEBUG)
    url = f"https://docs.google.com/spreadsheets/d/{KEY}/edit#gid=1001"
    params = ReportParams(source=url, credentials=str(tmp_path / "key.json"), sheet_max_attempts=3)
    google.inject(rf"^/v4/spreadsheets/{KEY}/values", 429, times=2)  # quota, then success

    raw = read_events(url, **params.sheet_options(), session=google.session())
    from_sheet = build_report(params, raw=raw)

    csv_path = tmp_path / "events.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(sample_rows)
    from_csv = build_report(ReportParams(source=str(csv_path)))

    assert from_sheet.objectives == from_csv.objectives
    assert from_sheet.data_quality == from_csv.data_quality
    source = from_sheet.data["source"]
    assert (source["kind"], source["name"], source["key"], source["worksheet"]) == (
        "gsheet", "Website events", KEY, "Events",
    )

    # No part of the key file reaches an output or a log line.
    paths = write_outputs(from_sheet, tmp_path / "out")
    secrets = [key["private_key_id"], key["client_id"]] + [
        line for line in key["private_key"].splitlines() if len(line) > 20
    ]
    texts = [p.read_text() for p in paths.values()] + [caplog.text]
    assert not [s for s in secrets for text in texts if s in text]


@pytest.mark.slow
def test_a_full_run_with_credentials_leaks_no_secret(google: FakeGoogle, tmp_path: Path) -> None:
    # Papermill writes every parameter into the executed notebook: the key file's path may
    # appear there, its contents never.
    key = google.write_service_account_key(tmp_path / "key.json")
    out = tmp_path / "out"
    result = subprocess.run(
        [sys.executable, "-m", "helpers", "run", "--out", str(out),
         "--set", f"credentials={tmp_path / 'key.json'}"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )
    assert result.returncode == 0, result.stderr
    secrets = [key["private_key_id"], key["client_id"]] + [
        line for line in key["private_key"].splitlines() if len(line) > 20
    ]
    outputs = sorted(out.iterdir())
    assert {p.name for p in outputs} >= {"report.json", "report.ipynb", "report.html"}
    for text in [p.read_text() for p in outputs] + [result.stdout, result.stderr]:
        assert not [s for s in secrets if s in text]
    assert "credentials" not in json.loads((out / "report.json").read_text())["parameters"]
