"""Several files as one data set, line numbers as the file shows them, Excel workbooks, and one
set of events written as CSV, Parquet, JSON Lines and Excel giving one report."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import COLUMNS, event, write_csv
from edge_cases import union

from helpers import build_report, open_events
from helpers.cli import main
from helpers.errors import ParameterError, SourceError
from helpers.params import ReportParams, load_params
from helpers.sources import FILE, LINE, read_events


def _jsonl(path: Path, rows: list[dict[str, str]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_csv_lines_count_line_breaks_in_values_and_blank_lines(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "e.csv", [
        event(session_id="a"), event(session_id="b", params='{"note": "two\nlines"}'),
        event(session_id="c"),
    ])  # fmt: skip
    assert read_events(str(path)).table.column(LINE).to_pylist() == [2, 3, 5]
    # Issue 17: a blank line is not a row, but it is a line an editor shows.
    blank = tmp_path / "blank.csv"
    blank.write_text(path.read_text().replace("\n2021", "\n\n2021", 1), newline="")
    assert read_events(str(blank)).table.column(LINE).to_pylist() == [3, 4, 6]
    report = build_report(ReportParams(source=str(blank), environments=["nowhere"]))
    assert report.rejected.column("source_row").to_pylist() == [3, 4, 6]


def test_a_directory_of_csv_files_with_different_headers(tmp_path: Path) -> None:
    days = tmp_path / "days"
    (days / "b").mkdir(parents=True)
    write_csv(days / "a.csv", [event(session_id="a1", env="x"), event(session_id="a2")])
    write_csv(days / "b" / "c.csv", [{**event(session_id="c1", env="x"), "extra": "e"}],
              columns=[*COLUMNS[:-1], "extra"])  # no visitor_id, an extra column
    (days / "_SUCCESS").write_text("")
    (days / "README.txt").write_text("not events")

    raw = read_events(str(days))
    table = raw.table
    assert table.column("session_id").to_pylist() == ["a1", "a2", "c1"]
    assert table.column("visitor_id").to_pylist() == ["v1", "v1", ""]  # blank where absent
    assert table.column("extra").to_pylist() == ["", "", "e"]
    assert table.column(LINE).to_pylist() == [2, 3, 2]
    assert table.column(FILE).to_pylist() == ["a.csv", "a.csv", "b/c.csv"]
    digests = "".join(hashlib.sha256(p.read_bytes()).hexdigest()
                      for p in (days / "a.csv", days / "b" / "c.csv"))
    assert raw.source == {"kind": "csv", "name": f"{days} (2 files)",
                          "sha256": hashlib.sha256(digests.encode()).hexdigest()}

    report = build_report(ReportParams(source=str(days)))
    assert report.rejected.column_names[:3] == ["source_row", "source_file", "reason"]
    assert [(r["source_row"], r["source_file"], r["reason"])
            for r in report.rejected.to_pylist()] == [
        (2, "a.csv", "non_production_env"), (2, "b/c.csv", "non_production_env"),
    ]  # fmt: skip
    assert report.data_quality["rows_excluded"]["non_production_env"] == 2


def test_an_empty_json_lines_file_of_a_set_adds_no_rows(tmp_path: Path) -> None:
    _jsonl(tmp_path / "1.jsonl", [event(session_id="a")])
    (tmp_path / "2.jsonl").write_text("\n")  # a day without events
    (tmp_path / "3.jsonl").write_text("not json\n")
    report = build_report(ReportParams(source=str(tmp_path)))
    assert report.data_quality["rows_read"] == 2
    assert [(r["source_file"], r["source_row"], r["line"]) for r in report.rejected.to_pylist()
            ] == [("3.jsonl", 1, "not json")]  # fmt: skip


def test_a_list_of_sources_in_the_order_given(tmp_path: Path) -> None:
    second = _jsonl(tmp_path / "a.jsonl", [event(session_id="later")])
    first = _jsonl(tmp_path / "z.jsonl", [event(session_id="first")])
    raw = read_events([str(first), str(second)])
    assert raw.table.column("session_id").to_pylist() == ["first", "later"]
    assert raw.table.column(FILE).to_pylist() == ["z.jsonl", "a.jsonl"]
    assert raw.source["name"] == f"{first}, {second} (2 files)"
    params = load_params(overrides=[f"source=[{first}, {second}]"])
    assert params.source == [str(first), str(second)]
    assert ReportParams(source=[str(first)]).source == str(first)  # a list of one is one


def test_sources_that_name_nothing_or_mix_kinds_say_what_to_do(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("x")
    with pytest.raises(SourceError, match="holds no events files"):
        read_events(str(tmp_path / "empty"))
    with pytest.raises(SourceError, match="matches no file"):
        read_events(str(tmp_path / "nothing-*.jsonl"))
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    write_csv(mixed / "a.csv", [event()])
    _jsonl(mixed / "b.jsonl", [event()])
    with pytest.raises(SourceError, match=r"mixes kinds of files \(CSV, JSON Lines\)"):
        read_events(str(mixed))
    with pytest.raises(SourceError, match="named twice"):
        read_events([str(mixed / "a.csv"), str(mixed / "*.csv")])
    with pytest.raises(ParameterError, match="empty list"):
        ReportParams.build({"source": []})


def test_the_cli_reads_repeated_sources_as_one_data_set(tmp_path: Path, capsys) -> None:
    a = write_csv(tmp_path / "a.csv", [event(session_id="a")])
    b = write_csv(tmp_path / "2021-01-24.csv", [event(session_id="b")])
    out = tmp_path / "out"
    assert main(["run", "--source", str(a), "--source", str(b), "--json-only",
                 "--out", str(out)]) == 0  # fmt: skip
    report = json.loads((out / "report.json").read_text())
    assert report["data_quality"]["rows_read"] == 2
    assert report["source"]["name"].endswith("(2 files)")
    assert main(["run", "--source", str(tmp_path / "none-*.csv"), "--json-only",
                 "--out", str(out)]) == 2  # fmt: skip
    error = capsys.readouterr().err
    assert "matches no file" in error and "Traceback" not in error


def test_an_excel_workbook_is_read_as_the_sheet_shows_it(tmp_path: Path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    from datetime import datetime

    book = openpyxl.Workbook()
    book.active.title = "Notes"
    book.active.append(["not events"])
    sheet = book.create_sheet("Raw events")
    sheet.append([*COLUMNS, "amount"])
    first = event(session_id="00123")
    sheet.append([*[first[c] for c in COLUMNS], 0.1 + 0.2])
    sheet.append([None] * 11)  # an empty row: not an event, but a row of the sheet
    second = [*[event(session_id="b")[c] for c in COLUMNS], 12]
    second[0] = datetime(2021, 1, 23, 11, 57, 9, 286000)
    second[8] = False
    sheet.append(second)
    path = tmp_path / "events.xlsx"
    book.save(path)

    with pytest.raises(SourceError, match="no datetime column"):
        open_events(str(path)).report()  # the first sheet holds no events
    rows = read_events(str(path), worksheet="Raw events").table.to_pylist()
    assert [(r["session_id"], r["amount"], r[LINE]) for r in rows] == [
        ("00123", "0.3", 2), ("b", "12", 4)
    ]
    assert rows[1]["datetime"] == "2021-01-23 11:57:09.286"
    assert rows[1]["is_internal_ip"] == "FALSE"
    with pytest.raises(SourceError, match="no sheet 'Nope'"):
        read_events(str(path), worksheet="Nope")
    report = build_report(ReportParams(source=str(path), worksheet=1))
    assert report.data["source"]["kind"] == "xlsx"
    assert report.data_quality["rows_analysed"] == 2


def _without_source(report) -> dict:
    data = dict(report.data)
    del data["source"], data["generated_at"]
    return data


def test_one_set_of_events_in_every_format_gives_one_report(tmp_path: Path) -> None:
    """The same events as CSV, Parquet, JSON Lines and Excel: identical report.json apart
    from ``source``, rejected rows included."""
    openpyxl = pytest.importorskip("openpyxl")
    rows = union()
    write_csv(tmp_path / "e.csv", rows)
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "e.parquet")
    _jsonl(tmp_path / "e.jsonl", rows)
    book = openpyxl.Workbook()
    book.active.append(list(rows[0]))
    for row in rows:
        # Excel has no empty text: an empty cell is what a blank becomes.
        book.active.append([v if v != "" else None for v in row.values()])
    book.save(tmp_path / "e.xlsx")

    reports = {s: build_report(ReportParams(source=str(tmp_path / s)))
               for s in ("e.csv", "e.parquet", "e.jsonl", "e.xlsx")}  # fmt: skip
    expected = _without_source(reports["e.csv"])
    assert expected["data_quality"]["rows_analysed"] > 0
    for name, report in reports.items():
        assert _without_source(report) == expected, name
        assert report.rejected.column("source_row").to_pylist() == (
            reports["e.csv"].rejected.column("source_row").to_pylist()
            if name != "e.jsonl"
            else [n - 1 for n in reports["e.csv"].rejected.column("source_row").to_pylist()]
        )
