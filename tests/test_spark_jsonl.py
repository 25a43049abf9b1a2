"""Spark reads JSON Lines itself and gives what DuckDB gives: the same columns, text, order,
line numbers and invalid lines; and line numbers and file names for CSV and Parquet sets."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import COLUMNS, event, write_csv
from edge_cases import union

from helpers import build_report
from helpers.params import ReportParams

pytest.importorskip("pyspark", reason="pip install -e '.[spark]'")
pytestmark = pytest.mark.slow


def _same_report(source: str | list[str]) -> None:
    duck = build_report(ReportParams(source=source))
    spark = build_report(ReportParams(source=source, backend="pyspark"))
    for block in ("parameters", "period", "data_quality", "objectives", "insights", "analyses"):
        assert spark.data[block] == duck.data[block], block
    assert spark.rejected.column_names == duck.rejected.column_names
    assert spark.rejected.to_pylist() == duck.rejected.to_pylist()
    assert spark.data["source"]["kind"] == duck.data["source"]["kind"]
    return duck


def _lines(rows: list[dict[str, str]]) -> list[str]:
    return [json.dumps(r) for r in rows]


def test_spark_reads_json_lines_as_duckdb_does(spark, tmp_path: Path) -> None:
    rows = union()
    lines = _lines(rows[:30])
    lines[3:3] = ["", "  \t", '{"broken": ', "[1, 2]", '{"a": NaN}']
    # Values of every kind, written as a tracker writes them: numbers as written, nested
    # objects with their own spacing, a repeated key, a key only some lines have.
    lines.append(
        '{"datetime": "2021-01-23 10:00:00 UTC", "session_id": "n1", "page_type": "x", '
        '"event_type": "y", "params": {"event_content": {"price": 1200.50, "currency": "EUR"},'
        '  "page": {"request_id": 7}}, "om_source": null, "device_class": 1.50, "env": '
        '"production", "is_internal_ip": false, "Extra Key": [1,  {"b": 2}], "env": "production"}'
    )
    lines += _lines(rows[30:])
    path = tmp_path / "events.jsonl.gz"
    with gzip.open(path, "wb") as fh:
        fh.write(b"\xef\xbb\xbf" + "\r\n".join(lines).encode() + b"\r\n")
    duck = _same_report(str(path))
    assert duck.data_quality["rows_excluded"]["invalid_json_line"] == 3
    assert duck.data_quality["rows_analysed"] > 0
    assert duck.rejected.column("source_row").to_pylist()[:3] == [6, 7, 8]


def test_spark_reads_a_set_of_json_lines_files_split_into_blocks(spark, tmp_path: Path) -> None:
    days = tmp_path / "days"
    (days / "b").mkdir(parents=True)
    rows = union()
    (days / "a.jsonl").write_text("\n".join(_lines(rows[:40])) + "\n\n")
    (days / "a2.jsonl").write_text("\n\n")  # a day without events: no rows, no columns
    (days / "a3.jsonl").write_text("not json\n")
    extra = [{**r, "note": "n"} for r in rows[40:]]
    (days / "b" / "c.ndjson").write_text("\n" + "\n".join(_lines(extra)))  # no final newline
    spark.conf.set("spark.sql.files.maxPartitionBytes", "2048")  # several blocks per file
    try:
        duck = _same_report(str(days))
    finally:
        spark.conf.unset("spark.sql.files.maxPartitionBytes")
    assert set(duck.rejected.column("source_file").to_pylist()) == {
        "a.jsonl", "a3.jsonl", "b/c.ndjson"
    }


def test_spark_gives_csv_and_parquet_sets_their_lines_and_files(spark, tmp_path: Path) -> None:
    csvs = tmp_path / "csv"
    csvs.mkdir()
    rows = union()
    rows[2] = {**rows[2], "params": '{"note": "two\nlines"}'}
    write_csv(csvs / "1.csv", rows[:20])
    write_csv(csvs / "2.csv", rows[20:])
    duck = _same_report(str(csvs))
    assert duck.rejected.column_names[:3] == ["source_row", "source_file", "reason"]
    parquet = tmp_path / "parquet"
    parquet.mkdir()
    pq.write_table(pa.Table.from_pylist(rows[:20]), parquet / "1.parquet")
    pq.write_table(pa.Table.from_pylist(rows[20:], schema=pa.schema(
        [(c, pa.string()) for c in COLUMNS])), parquet / "2.parquet")
    _same_report([str(parquet / "2.parquet"), str(parquet / "1.parquet")])


def test_spark_refuses_workbooks_in_a_set_and_reads_one_through_arrow(spark, tmp_path) -> None:
    openpyxl = pytest.importorskip("openpyxl")
    from helpers.errors import SourceError

    book = openpyxl.Workbook()
    book.active.append(COLUMNS)
    book.active.append([event()[c] for c in COLUMNS])
    (tmp_path / "x").mkdir()
    book.save(tmp_path / "x" / "e.xlsx")
    _same_report(str(tmp_path / "x" / "e.xlsx"))
    with pytest.raises(SourceError, match="not Excel workbooks"):
        build_report(ReportParams(source=str(tmp_path / "x"), backend="pyspark"))


def test_spark_reads_the_last_value_of_a_json_key_given_twice(spark) -> None:
    from test_faults import LAST_GROUPS, LAST_VALUES, json_readings

    values, groups = json_readings("pyspark")
    assert values == LAST_VALUES
    assert groups == LAST_GROUPS


def test_spark_reads_each_file_of_a_symlinked_tree_once(spark, tmp_path: Path) -> None:
    from test_faults import _parquet

    from helpers.spark_files import read_files

    _parquet(tmp_path / "src" / "day1.parquet")
    _parquet(tmp_path / "archive" / "day2" / "p.parquet")
    (tmp_path / "src" / "day2").symlink_to("../archive/day2")
    (tmp_path / "src" / "up").symlink_to("..")  # a loop: src/up/src/...
    frame, block = read_files(spark, str(tmp_path / "src"))
    assert frame.count() == 6
    assert block["name"].endswith("(2 files)")
