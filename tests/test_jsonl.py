"""JSON Lines sources: every value as the line writes it, invalid lines rejected with their line
number and text, blank lines counted in line numbers but not as rows."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest
from conftest import event

from helpers import build_report, open_events
from helpers.errors import SourceError
from helpers.jsonl import BLANK, INVALID, parse_line
from helpers.params import ReportParams
from helpers.sources import LINE, ROW, read_events


def _line(**cells: str) -> str:
    return json.dumps(event(**cells))


def _write(path: Path, lines: list[str], *, bom: bool = False, ending: str = "\n") -> Path:
    text = ("\ufeff" if bom else "") + ending.join(lines) + ending
    if path.name.endswith(".gz"):
        with gzip.open(path, "wt", encoding="utf-8", newline="") as fh:
            fh.write(text)
    else:
        path.write_bytes(text.encode("utf-8"))
    return path


def test_values_are_text_as_written() -> None:
    line = (
        b'{"n": 1.50, "i": -0, "e": 1E+3, "t": true, "f": false, "z": null, '
        b'"o": {"b": [1,  2.0], "a":"\\u00e9"} , "l": [ ], "s": "caf\\u00e9"}'
    )
    pairs, invalid = parse_line(line)
    assert invalid is None
    assert pairs == {
        "n": "1.50", "i": "-0", "e": "1E+3", "t": "true", "f": "false", "z": "",
        # Nested values keep the line's own text: spacing, escapes, key order.
        "o": '{"b": [1,  2.0], "a":"\\u00e9"}', "l": "[ ]", "s": "café",
    }  # fmt: skip


def test_a_repeated_key_keeps_its_first_place_and_its_last_value() -> None:
    pairs, _ = parse_line(b'{"a": 1, "b": 2, "a": 3}')
    assert list(pairs.items()) == [("a", "3"), ("b", "2")]


@pytest.mark.parametrize(
    "line",
    [b"[1, 2]", b"42", b'"text"', b"null", b'{"a": 1', b'{"a": 1} {"b": 2}', b'{"a": NaN}',
     b'{"a": 1,}', b"{'a': 1}", b'{"a": "caf\xe9"}', b'{"a": 01}'],
)
def test_anything_but_one_json_object_is_an_invalid_line(line: bytes) -> None:
    pairs, invalid = parse_line(line)
    assert pairs == {} and invalid is not None


def test_blank_lines_and_the_byte_order_mark() -> None:
    assert parse_line(b"  \t\r") is BLANK
    assert parse_line(b"\xef\xbb\xbf{}", first=True) == ({}, None)
    assert parse_line(b"\xef\xbb\xbf{}")[1] is not None  # only at the start of the file


def test_columns_are_the_union_of_keys_in_order_of_first_appearance(tmp_path: Path) -> None:
    first = {k: v for k, v in event(session_id="a").items() if k != "visitor_id"}
    second = {"Note": "x", **event(session_id="b")}
    path = _write(tmp_path / "e.jsonl", [json.dumps(first), json.dumps(second)], bom=True)
    table = read_events(str(path)).table
    assert table.column_names == [*first, "note", "visitor_id", INVALID, ROW, LINE]
    rows = table.to_pylist()
    assert [(r["note"], r["visitor_id"]) for r in rows] == [("", ""), ("x", "v1")]
    assert [r[LINE] for r in rows] == [1, 2]


def test_invalid_and_blank_lines_in_the_report(tmp_path: Path) -> None:
    lines = [
        _line(session_id="a", params={"page": {"request_id": 7}}),
        "",
        "   ",
        '{"broken": ',
        _line(session_id="b", env="development"),
        "[1, 2]",
        _line(session_id="c"),
    ]
    path = _write(tmp_path / "events.ndjson.gz", lines, ending="\r\n")
    report = build_report(ReportParams(source=str(path)))
    quality = report.data_quality
    assert quality["rows_read"] == 5  # blank lines are not rows
    # First of the reasons that write their row (forgotten_user, before it, writes nothing).
    assert list(quality["rows_excluded"])[:2] == ["forgotten_user", "invalid_json_line"]
    assert quality["rows_excluded"]["invalid_json_line"] == 2
    assert quality["rows_excluded"]["non_production_env"] == 1
    assert report.objectives["users_total"] == 2
    assert report.objectives["users_with_request_id"] == 1
    rejected = report.rejected.to_pylist()
    assert [(r["source_row"], r["reason"], r["line"]) for r in rejected] == [
        (4, "invalid_json_line", '{"broken": '),
        (5, "non_production_env", None),
        (6, "invalid_json_line", "[1, 2]"),
    ]
    assert report.rejected.column_names[:3] == ["source_row", "reason", "line"]
    assert rejected[0]["session_id"] == ""
    assert report.data["source"]["kind"] == "jsonl"


def test_a_data_column_named_line_keeps_its_name_in_the_file(tmp_path: Path) -> None:
    path = _write(tmp_path / "e.jsonl", [json.dumps({**event(env="x"), "line": "L7"})])
    rejected = build_report(ReportParams(source=str(path))).rejected
    assert rejected.column_names[:3] == ["source_row", "reason", "line"]
    assert rejected.column(rejected.column_names.index("line", 3)).to_pylist() == ["L7"]


def test_duplicate_lines_are_duplicate_events(tmp_path: Path) -> None:
    path = _write(tmp_path / "e.jsonl", [_line(), _line(), _line(session_id="b")])
    report = build_report(ReportParams(source=str(path)))
    assert report.data_quality["rows_excluded"]["duplicate_event"] == 1
    assert report.rejected.column("source_row").to_pylist() == [2]


def test_keys_that_mean_one_column_and_binary_files_are_refused(tmp_path: Path) -> None:
    path = _write(tmp_path / "e.jsonl", [_line(), json.dumps({"Session ID": "x"})])
    with pytest.raises(SourceError, match="'session_id' and 'Session ID'"):
        read_events(str(path))
    (tmp_path / "b.jsonl").write_bytes(b"\x1f\x8b\x08\x00\x00binary")
    with pytest.raises(SourceError, match="binary"):
        read_events(str(tmp_path / "b.jsonl"))
    path = _write(tmp_path / "short.jsonl", ['{"datetime": "2021-01-23"}'])
    with pytest.raises(SourceError, match="user_column is 'session_id' but the events have no"):
        open_events(str(path)).report()


def test_batches_keep_the_columns_of_keys_first_seen_late(tmp_path: Path, monkeypatch) -> None:
    import helpers.jsonl

    monkeypatch.setattr(helpers.jsonl, "_BATCH_LINES", 2)
    lines = [_line(session_id=str(i)) for i in range(5)]
    lines.append(json.dumps({**event(session_id="late"), "late": "yes"}))
    table = read_events(str(_write(tmp_path / "e.jsonl", lines))).table
    assert table.column("late").to_pylist() == [""] * 5 + ["yes"]
    assert table.column(ROW).to_pylist() == list(range(6))
    assert table.column(LINE).to_pylist() == list(range(1, 7))
