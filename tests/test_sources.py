"""Sources: headers as the spec matches them, text kept as written, clear errors otherwise."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from conftest import COLUMNS, event, write_csv, write_typed_parquet_set

from helpers import open_events
from helpers.errors import SourceError
from helpers.sources import LINE, ROW, read_events


def test_headers_are_trimmed_lower_cased_and_underscored(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    header = [" Datetime ", "Session ID", "PAGE_TYPE", "Event Type", "params", "OM Source",
              "device class", "Env", "is internal ip", "Note"]
    path.write_text("\ufeff" + ",".join(header) + "\n" + ",".join(["x"] * 10) + "\n")
    table = read_events(str(path)).table
    assert table.column_names == [*COLUMNS[:-1], "note", ROW, LINE]


def test_cells_stay_text_as_written(tmp_path: Path) -> None:
    rows = [event(session_id="00123", om_source="1,5", params='{"page": {"request_id": 7}}')]
    table = read_events(str(write_csv(tmp_path / "e.csv", rows))).table
    assert table.column("session_id").to_pylist() == ["00123"]
    assert table.column("om_source").to_pylist() == ["1,5"]
    assert table.column(ROW).to_pylist() == [0]


def test_only_datetime_and_the_user_column_are_required(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text("when,Session ID,params\n2021-01-23,1,{}\n")
    assert read_events(str(path)).table.column_names[:4] == ["when", "session_id", "params", ROW]
    with pytest.raises(SourceError) as caught:
        open_events(str(path)).report()
    message = str(caught.value)
    assert "no datetime column" in message
    assert "when, session_id, params" in message  # the headers found
    assert "columns={datetime: timestamp}" in message
    report = open_events(str(path), columns={"datetime": "when"}).report()
    assert report.objectives["users_total"] == 1


def test_blank_header_cells_name_extra_columns(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text(",".join([*COLUMNS, "", " "]) + "\n" + ",".join(["x"] * 12) + "\n")
    table = read_events(str(path)).table
    assert table.column_names[-4:] == ["unnamed_11", "unnamed_12", ROW, LINE]


def test_duplicate_headers_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    path.write_text(",".join([*COLUMNS, "Session ID"]) + "\n")
    with pytest.raises(SourceError, match="'session_id' and 'Session ID'"):
        read_events(str(path))


def test_gzip_semicolon_and_header_only_files(tmp_path: Path) -> None:
    gz = tmp_path / "events.csv.gz"
    with gzip.open(gz, "wt") as fh:
        fh.write(";".join(COLUMNS) + "\n" + ";".join(event().values()).replace("{}", "{}") + "\n")
    assert read_events(str(gz)).table.num_rows == 1
    header_only = tmp_path / "header.csv"
    header_only.write_text(",".join(COLUMNS) + "\n")
    assert read_events(str(header_only)).table.num_rows == 0


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.csv", None, "does not exist"),
        ("events.xls", b"PK", "Cannot tell what kind of file"),
        ("events.xlsx", b"PK", "could not be read as an Excel workbook"),
        ("events.jsonl", b"\x00\x01{}", "binary"),
        ("empty.csv", b"", "empty"),
        ("binary.csv", b"\x00\x01\x02\x03datetime", "binary"),
        ("latin1.csv", "datetime,session_id,caf\xe9\n".encode("latin-1"), "not UTF-8"),
        ("broken.parquet", b"not parquet at all", "could not be read as Parquet"),
    ],
)
def test_unreadable_sources_say_what_to_do(
    tmp_path: Path, name: str, content: bytes | None, message: str
) -> None:
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(SourceError, match=message):
        read_events(str(path))



def test_typed_parquet_columns_are_read_as_text(tmp_path: Path) -> None:
    moment = datetime(2021, 1, 23, 11, 57, 9, 286000)
    table = pa.table({
        "datetime": pa.array([moment], pa.timestamp("ms")),
        "session_id": pa.array([123], pa.int64()),
        **{c: pa.array(["x"]) for c in COLUMNS[2:8]},
        "is_internal_ip": pa.array([False]),
        "aware": pa.array([moment.replace(tzinfo=UTC)], pa.timestamp("us", tz="UTC")),
    })
    pq.write_table(table, tmp_path / "e.parquet")
    raw = read_events(str(tmp_path / "e.parquet"))
    row = raw.table.to_pylist()[0]
    assert row["datetime"] == "2021-01-23 11:57:09.286 UTC"
    assert row["session_id"] == "123"
    assert row["is_internal_ip"] == "false"
    assert raw.source["kind"] == "parquet"


def test_unsupported_parquet_types_are_named(tmp_path: Path) -> None:
    table = pa.table({
        **{c: pa.array(["x"]) for c in COLUMNS[:-1]},
        "tags": pa.array([["a", "b"]]),
    })
    pq.write_table(table, tmp_path / "e.parquet")
    with pytest.raises(SourceError, match="'tags'"):
        read_events(str(tmp_path / "e.parquet"))


def test_source_block_names_the_file_and_its_hash(tmp_path: Path) -> None:
    import hashlib

    path = write_csv(tmp_path / "events.csv", [event()])
    source = read_events(str(path)).source
    assert source == {
        "kind": "csv",
        "name": "events.csv",
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
    }


def test_a_directory_or_glob_of_parquet_files_is_one_source(tmp_path: Path) -> None:
    days = tmp_path / "events"
    (days / "2021-01-24").mkdir(parents=True)
    first = [event(session_id="a"), event(session_id="b")]
    second = [event(session_id="c", datetime="2021-01-24 09:00:00 UTC")]
    for path, rows in ((days / "2021-01-23.parquet", first),
                       (days / "2021-01-24" / "part-0.parquet", second)):
        pq.write_table(pa.Table.from_pylist(rows), path)
    (days / "notes.txt").write_text("not events")

    from_dir = read_events(str(days))
    assert from_dir.table.column("session_id").to_pylist() == ["a", "b", "c"]
    assert from_dir.table.column(ROW).to_pylist() == [0, 1, 2]
    assert from_dir.source["kind"] == "parquet" and "2 files" in from_dir.source["name"]
    from_glob = read_events(str(days / "*.parquet"))
    assert from_glob.table.column("session_id").to_pylist() == ["a", "b"]

    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match="holds no events files"):
        read_events(str(tmp_path / "empty"))


def test_duckdb_scans_parquet_as_the_arrow_reader_reads_it(tmp_path: Path) -> None:
    """DuckDB reads Parquet files where they are; every other engine gets Arrow. Both give the
    same rows, `_row` and text, whatever the files' headers and types."""
    from helpers.backend import connect
    from helpers.clean import utc_microseconds

    moment = datetime(2021, 1, 23, 11, 57, 9, 286000)  # as write_typed_parquet_set writes it
    write_typed_parquet_set(tmp_path / "set")
    raw = read_events(str(tmp_path / "set"))

    scanned = connect("duckdb").load(raw)
    as_duckdb = sorted(scanned.to_pyarrow().to_pylist(), key=lambda r: r[ROW])
    as_arrow = raw.table.to_pylist()
    assert [r[ROW] for r in as_duckdb] == [0, 1, 2]
    assert sorted(scanned.columns) == sorted(raw.table.column_names)
    for duck, arrow in zip(as_duckdb, as_arrow, strict=True):
        # Time zones are written differently (+00 / Z) but mean the same instant.
        assert {k: v for k, v in duck.items() if k != "aware"} == {
            k: v for k, v in arrow.items() if k != "aware"
        }
    instants = scanned.select(ROW, us=utc_microseconds(scanned.aware)).order_by(ROW)
    expected = int(moment.replace(tzinfo=UTC).timestamp() * 1_000_000)
    assert instants.us.to_pyarrow().to_pylist() == [expected, expected, None]
    assert raw.table.num_rows == 3


def test_duckdb_reads_files_alike_as_one_scan(tmp_path: Path) -> None:
    """A set of files with the same columns and types is one read_parquet (its files told
    apart by DuckDB's file_index); files that differ get their own. Either way each row keeps
    its place: ``_row`` over the whole set, ``_line`` in its file, ``_file``, and the columns
    its folders name, exactly as the Arrow reader gives them."""
    from helpers.backend import connect
    from helpers.backend._duckdb import _scan

    root = tmp_path / "events"
    for i, folder in enumerate(["env=development", "env=production", "env=production"]):
        path = root / folder / f"part-{i}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        rows = [event(session_id=f"s{i}-{j}") for j in range(i + 2)]
        pq.write_table(pa.Table.from_pylist(rows).drop_columns(["env"]), path)
    (root / "env=staging").mkdir()
    typed = pa.table({"datetime": ["2021-01-23 10:00:00.000 UTC"], "session_id": [7]})
    pq.write_table(typed, root / "env=staging" / "odd.parquet")
    raw = read_events(str(root))
    assert _scan(raw.parquet).count("read_parquet(") == 2  # the three alike, then the odd one

    scanned = connect("duckdb").load(raw).to_pyarrow().to_pylist()
    assert sorted(scanned, key=lambda r: r[ROW]) == raw.table.to_pylist()
    by_row = {r[ROW]: r for r in scanned}
    assert [by_row[r]["env"] for r in range(10)] == ["development"] * 2 + ["production"] * 7 + [
        "staging"
    ]
    assert [by_row[r][LINE] for r in range(10)] == [2, 3, 2, 3, 4, 2, 3, 4, 5, 2]
    assert by_row[9]["session_id"] == "7"


def test_a_parquet_file_whose_name_holds_glob_characters_is_that_file(tmp_path: Path) -> None:
    """DuckDB expands ``[1]``, ``*`` and ``?`` in the paths it reads; the report's files are
    read as named (``events[1].parquet`` is not ``events1.parquet``), one or several."""
    from helpers.backend import connect

    named = tmp_path / "in" / "events[1].parquet"
    named.parent.mkdir()
    pq.write_table(pa.Table.from_pylist([event(), event(session_id="s2")]), named)
    odd = tmp_path / "in" / "a*b?.parquet"
    pq.write_table(pa.Table.from_pylist([event(session_id="s3")]), odd)
    decoy = tmp_path / "in" / "events1.parquet"
    pq.write_table(pa.Table.from_pylist([event(session_id="decoy")]), decoy)
    for source, expected in ((str(named), ["s1", "s2"]),
                             ([str(named), str(odd)], ["s1", "s2", "s3"])):  # fmt: skip
        table = connect("duckdb").load(read_events(source)).to_pyarrow()
        assert sorted(table.column("session_id").to_pylist()) == expected
