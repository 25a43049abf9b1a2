"""A CSV too big to parse into memory is streamed into Parquet (helpers.csvs.csv_to_parquet,
helpers.sources.streamed_csv): the same rows, cells, lines and report as the CSV read into
memory, and the same errors."""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, event, write_csv
from edge_cases import union
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import build_report, open_events, write_outputs
from helpers.backend import connect
from helpers.csvs import parsed_size
from helpers.errors import SourceError
from helpers.params import ReportParams
from helpers.sources import FILE, LINE, read_events

STREAM = 0  # csv_memory: every CSV is too big to parse into memory


def _both(source: str | Path) -> tuple:
    """The source read into memory and streamed; each the same table of every engine."""
    kept, streamed = read_events(str(source)), read_events(str(source), csv_memory=STREAM)
    assert kept.arrow is not None and not kept.parquet
    return kept, streamed


def _text(path: Path, header: str, rows: list[str], end: str = "\n") -> Path:
    path.write_text(header + end + end.join(rows) + end, newline="", encoding="utf-8")
    return path


H = "datetime,session_id,page_type"


@pytest.mark.parametrize(
    ("name", "text", "lines"),
    [
        ("plain.csv", f"{H}\n2021-01-23 10:00:00,a,x\n2021-01-23 10:00:01,b,y\n", [2, 3]),
        ("crlf.csv", f"{H}\r\nt1,a,x\r\nt2,b,y\r\n", [2, 3]),
        ("cr.csv", f"{H}\rt1,a,x\rt2,b,y\r", [2, 3]),
        ("no last break.csv", f"{H}\nt1,a,x\nt2,b,y", [2, 3]),
        ("a value of two lines.csv", f'{H}\nt1,a,"two\nlines"\nt2,b,y\n', [2, 4]),
        # The row after a value of two lines, on the last line without a break: line 4 (it
        # was told as line 3 when the count of breaks equalled rows + 1 by chance).
        ("two lines, no last break.csv", f'{H}\n"t1\nUTC",a,x\nbad,b,y', [2, 4]),
        ("crlf inside a value.csv", f'{H}\r\nt1,a,"x\r\ny"\r\nt2,b,y\r\n', [2, 4]),
        ("blank lines before the header.csv", f"\n  \n{H}\nt1,a,x\nt2,b,y\n", [4, 5]),
        ("bom.csv", f"\ufeff{H}\nt1,a,x\n", [2]),
        ("semicolons.csv", "datetime;session_id;params\nt1;a;{\"k\": 1, \"j\": 2}\n", [2]),
        ("tabs.tsv", "datetime\tsession_id\nt1\ta b\n", [2]),
        ("header only.csv", f"{H}\n", []),
        ("quotes.csv", f'{H}\nt1,"a ""quoted"" id",", comma"\n', [2]),
    ],
)
def test_a_streamed_csv_has_the_rows_cells_and_lines_of_one_read_into_memory(
    tmp_path: Path, name: str, text: str, lines: list[int]
) -> None:
    path = tmp_path / name
    path.write_bytes(text.encode())
    kept, streamed = _both(path)
    assert streamed.parquet and streamed.arrow is None  # streamed, not read into memory
    assert streamed.table.equals(kept.table)
    assert streamed.table.column(LINE).to_pylist() == lines
    assert streamed.source == kept.source  # the CSV's own name and hash


def test_a_gzip_csv_is_streamed_as_it_is_read(tmp_path: Path) -> None:
    path = tmp_path / "e.csv.gz"
    path.write_bytes(gzip.compress(f'{H}\nt1,a,"x\ny"\nt2,b,y\n'.encode()))
    kept, streamed = _both(path)
    assert streamed.parquet and streamed.table.equals(kept.table)


def test_blank_lines_among_the_rows_are_read_into_memory(tmp_path: Path) -> None:
    # Their lines need the whole file counted again (by Python's csv reader): the streamed
    # file is given up, and the rows are read as before, with the lines an editor shows.
    path = _text(tmp_path / "e.csv", H, ["t1,a,x", "", "t2,b,y", "   ", "t3,c,z"])
    kept, streamed = _both(path)
    assert streamed.arrow is not None and not streamed.parquet
    assert streamed.table.equals(kept.table)
    assert streamed.table.column(LINE).to_pylist() == [2, 4, 6]


def test_a_row_longer_than_a_block_is_streamed_whole(tmp_path: Path) -> None:
    big = '{"note": "' + "x" * (5 << 20) + '"}'  # 5 MiB: more than pyarrow's 4 MiB blocks
    path = write_csv(tmp_path / "e.csv", [event(session_id="a"), event(params=big)])
    kept, streamed = _both(path)
    assert streamed.parquet and streamed.table.equals(kept.table)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        (f"{H}\nt1,a,x\nt2,b\n", "Expected 3 columns, got 2"),  # a ragged row
        # Not UTF-8 beyond the first 64 KiB (which are checked before parsing).
        ((H + "\n" + "t1,a,x\n" * 12_000).encode() + b"t2,\xff,y\n", "invalid UTF8"),
        (f"{H}\nt1,a,x\nt2,b\x00,y\n", "NUL byte on line 3"),
        ("\n\n", "is empty"),
    ],
)
def test_a_streamed_csv_is_refused_as_one_read_into_memory(
    tmp_path: Path, text: str | bytes, says: str
) -> None:
    path = tmp_path / "e.csv"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    errors = []
    for budget in (None, STREAM):
        with pytest.raises(SourceError, match=says) as error:
            read_events(str(path), csv_memory=budget)
        errors.append(str(error.value))
    assert errors[0] == errors[1]


_CELL = st.text(st.sampled_from(list('ab ,;"\n\r\t{}é:')), max_size=6)


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(st.tuples(_CELL, _CELL, _CELL), max_size=8),
    end=st.sampled_from(["\n", "\r\n"]),
    last_break=st.booleans(),
)
def test_any_csv_streams_as_it_reads_into_memory(
    tmp_path_factory: pytest.TempPathFactory, rows, end: str, last_break: bool
) -> None:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator=end).writerows([("a", "b", "c"), *rows])
    text = buffer.getvalue() if last_break else buffer.getvalue().removesuffix(end)
    path = tmp_path_factory.mktemp("any") / "e.csv"
    path.write_text(text, newline="", encoding="utf-8")
    try:
        kept = read_events(str(path))
    except SourceError as refused:  # a row of blanks only (pyarrow: one column, not three)
        with pytest.raises(SourceError) as again:
            read_events(str(path), csv_memory=STREAM)
        assert str(again.value) == str(refused)
        return
    assert read_events(str(path), csv_memory=STREAM).table.equals(kept.table)


def test_a_set_of_csv_files_streams_with_each_rows_file(tmp_path: Path) -> None:
    days = tmp_path / "days"
    days.mkdir()
    write_csv(days / "a.csv", [event(session_id="a1"), event(session_id="a2", env="x")])
    write_csv(days / "b.csv", [event(session_id="b1", datetime="bad")])
    kept, streamed = _both(days)
    assert len(streamed.parquet) == 2
    assert streamed.table.equals(kept.table)
    assert streamed.table.column(FILE).to_pylist() == ["a.csv", "a.csv", "b.csv"]
    # ...and DuckDB's scan of the streamed files gives the report and the rejected rows (with
    # each row's file and line) of the files read into memory.
    params = ReportParams(source=str(days))
    streamed_outputs = _outputs(tmp_path, "streamed", params, STREAM)
    assert streamed_outputs == _outputs(tmp_path, "kept", params, None)
    assert b"b.csv" in streamed_outputs[1]  # the bad datetime's row, named by its file
    # Files whose columns differ are stacked in memory, blank where a file lacks a column.
    write_csv(days / "c.csv", [event(session_id="c1")], columns=["datetime", "session_id"])
    kept, streamed = _both(days)
    assert streamed.arrow is not None and streamed.table.equals(kept.table)


def _outputs(tmp_path: Path, name: str, params: ReportParams, csv_memory: int | None):
    raw = read_events(params.source_path, csv_memory=csv_memory)
    out = tmp_path / name
    write_outputs(build_report(params, raw=raw), out)
    report = json.loads(next(out.rglob("report.json")).read_text())
    report.pop("generated_at")
    return report, next(out.rglob("rejected_rows.csv")).read_bytes()


@pytest.mark.parametrize("source", ["sample", "edge cases"])
def test_the_report_of_a_streamed_csv_is_the_report_of_it_read_into_memory(
    tmp_path: Path, source: str
) -> None:
    path = (
        ROOT / "data" / "sample_events.csv.gz" if source == "sample"
        else write_csv(tmp_path / "edge.csv", union())
    )  # fmt: skip
    params = ReportParams(source=str(path))
    kept = _outputs(tmp_path, "kept", params, None)
    streamed = _outputs(tmp_path, "streamed", params, STREAM)
    assert streamed == kept
    assert kept[0]["data_quality"]["rows_read"] > 0 and kept[1].count(b"\n") > 1


def test_duckdb_streams_a_csv_bigger_than_its_memory_limit(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "e.csv", [event(session_id=f"s{i}") for i in range(12_000)])
    assert 10**6 < parsed_size(path) < 10**9  # about 1 MB of text
    big = open_events(str(path), memory_limit="1MB")  # DuckDB may hold less than its parse
    small = open_events(str(path), memory_limit="1GB")
    assert big.raw.count().to_pyarrow().as_py() == small.raw.count().to_pyarrow().as_py()
    assert big._raw.parquet and small._raw.arrow is not None
    # DuckDB tells its limit to a tenth of a unit (1 GB is "953.6 MiB").
    assert connect("duckdb", memory_limit="1GB").csv_memory == pytest.approx(10**9, rel=1e-3)
    assert connect("duckdb", memory_limit="3GiB").csv_memory == 3 * 2**30


def test_the_streamed_files_are_removed_when_the_run_ends(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "e.csv", [event()])
    code = (
        "import sys; from helpers.sources import read_events; "
        "raw = read_events(sys.argv[1], csv_memory=0); print(raw.parquet[0].path.parent)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)], cwd=ROOT, capture_output=True, text=True,
        check=True, env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )  # fmt: skip
    directory = Path(done.stdout.strip())
    assert directory.name.startswith("customer-activity-csv-")
    assert not directory.exists()


def test_a_temporary_file_that_cannot_be_written_says_so(tmp_path: Path) -> None:
    from helpers.csvs import csv_to_parquet

    path = write_csv(tmp_path / "e.csv", [event()])
    with pytest.raises(SourceError, match=r"could not write .*Give TMPDIR a disk with room"):
        csv_to_parquet(path, tmp_path / "no such folder" / "e.parquet")
