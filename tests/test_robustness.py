"""Bad input and faults: a clear message or a quarantined row, never a silent loss, and a
failed or interrupted run never replaces the last good report."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from conftest import event, examples, write_csv
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from helpers import build_report
from helpers.params import ReportParams
from helpers.run import NOTEBOOK

ROOT = Path(__file__).resolve().parent.parent


def cli(*args: str, **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "helpers", *args], cwd=ROOT, capture_output=True, text=True,
        timeout=600, **kwargs,
    )


# -- cells ----------------------------------------------------------------------------------------


def test_hostile_and_unusual_cells_are_kept_as_written(report_of) -> None:
    rows = [
        event(session_id="null", om_source="NA", device_class="None"),  # text, not blanks
        event(session_id="\u200bzero-width", om_source="📱 insta", page_type="عربى"),
        event(session_id="zero-width", om_source="📱 insta"),
        event(session_id="deep", params='{"a":' * 2000 + "1" + "}" * 2000),
        event(session_id="big", params='{"page": {"request_id": "R-1", "blob": "'
              + "x" * 1_000_000 + '"}}'),
        event(session_id="nan", params='{"event_content": {"price": NaN}}'),
        event(session_id="double-encoded", params='"{\\"page\\": {\\"request_id\\": \\"R\\"}}"'),
    ]
    report = report_of(rows)
    o, q = report.objectives, report.data_quality
    assert o["users_total"] == 7  # the zero-width space makes a different id
    assert o["users_by_first_om_source"]["NA"] == 1
    assert o["users_by_first_om_source"]["📱 insta"] == 2
    assert o["users_by_device_class"]["None"] == 1
    assert o["users_with_request_id"] == 1  # the 1 MB value; not the double-encoded one
    assert (q["params_invalid"], q["price_invalid"]) == (1, 1)


_cell = st.one_of(
    # NUL makes a binary file; lone surrogates cannot be written as UTF-8 at all.
    st.text(st.characters(exclude_characters="\x00", exclude_categories=("Cs",)), max_size=30),
    st.sampled_from([
        "", " ", "null", "NaN", "{}", "[]", "{bad", '{"event_content": {"price": "1,2"}}',
        "2021-01-23T25:61:61Z", "2021-01-23 11:57:09.286 UTC", "44219.5", "-0", "1e309",
        '{"page": {"request_id": [1]}}', "=cmd|' /C calc'!A0", "\u202e\u200b", "😀",
    ]),
)


@settings(
    max_examples=examples(15),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(cells=st.lists(st.tuples(_cell, _cell, _cell, _cell), min_size=1, max_size=12))
def test_parsers_never_crash_and_every_row_ends_clean_or_rejected(tmp_path: Path, cells) -> None:
    rows = [
        event(datetime=dt, params=params, is_internal_ip=flag, om_source=source,
              session_id=f"s{i % 3}")
        for i, (dt, params, flag, source) in enumerate(cells)
    ]
    # As many readable times: a file with mostly unreadable ones is refused as a whole
    # (test_activity), and this test is about every row of a report that is made.
    rows += [event(session_id=f"s{i % 3}") for i in range(len(rows))]
    path = write_csv(tmp_path / "fuzz.csv", rows)
    report = build_report(ReportParams(source=str(path)))
    q = report.data_quality
    assert q["rows_read"] == len(rows)
    assert q["rows_read"] == q["rows_analysed"] + sum(q["rows_excluded"].values())
    assert report.rejected.num_rows == sum(q["rows_excluded"].values())


# -- runs -----------------------------------------------------------------------------------------


@pytest.fixture
def good_report(tmp_path: Path) -> Path:
    out = tmp_path / "out"
    source = write_csv(tmp_path / "e.csv", [event()])
    result = cli("run", "--out", str(out), "--source", str(source))
    assert result.returncode == 0, result.stderr
    return out


def _snapshot(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in directory.iterdir() if p.is_file()}


@pytest.mark.slow
def test_a_failing_cell_is_named_and_the_last_report_stays(good_report: Path, tmp_path: Path):
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell("raise RuntimeError('chart server down')"))
    broken = tmp_path / "broken.ipynb"
    nbformat.write(notebook, broken)
    before = _snapshot(good_report)

    result = cli("run", "--out", str(good_report), "--notebook", str(broken))
    assert result.returncode == 1
    assert "RuntimeError: chart server down" in result.stderr
    assert "notebook cell" in result.stderr and "report.failed.ipynb" in result.stderr
    assert "Traceback" not in result.stderr
    assert (good_report / "report.failed.ipynb").exists()
    after = _snapshot(good_report)
    del after["report.failed.ipynb"]
    assert after == before


@pytest.mark.slow
def test_an_interrupt_leaves_no_half_written_outputs(good_report: Path) -> None:
    before = _snapshot(good_report)
    process = subprocess.Popen(
        [sys.executable, "-m", "helpers", "run", "--out", str(good_report)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 120
    while not list(good_report.glob(".staging-*")) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert list(good_report.glob(".staging-*")), "the run never started writing"
    time.sleep(1.0)  # well inside the notebook's execution
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "interrupted" in stderr
    assert not list(good_report.glob(".staging-*"))
    assert _snapshot(good_report) == before


def test_an_output_directory_that_cannot_be_written(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    result = cli("run", "--json-only", "--out", str(blocker / "out"))
    assert result.returncode == 2
    assert "cannot write to the output directory" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_a_failed_json_only_run_keeps_the_last_report(good_report: Path) -> None:
    before = _snapshot(good_report)
    result = cli("run", "--json-only", "--out", str(good_report), "--set", "price_threshold=x")
    assert result.returncode == 2
    assert _snapshot(good_report) == before
    assert json.loads((good_report / "report.json").read_text())["objectives"]["users_total"] == 1


def test_a_damaged_parquet_file_is_named_not_reported_as_a_bug(tmp_path: Path) -> None:
    """Parquet pages are read by the engine mid-run, after the file's footer was checked."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from helpers.errors import SourceError

    path = tmp_path / "events.parquet"
    rows = [event(session_id=f"s{i}") for i in range(2000)]
    pq.write_table(pa.Table.from_pylist(rows), path, compression="snappy")
    damaged = bytearray(path.read_bytes())
    damaged[200:2000] = b"Z" * 1800  # the first data pages; the footer stays intact
    path.write_bytes(bytes(damaged))

    with pytest.raises(SourceError, match=r"events\.parquet could not be read .* damaged"):
        build_report(ReportParams(source=str(path)))
