"""The report on a real PostgreSQL 15 server, started for this module: every figure must equal
DuckDB's on the same events, and each mistake a user can make is named in one paragraph.

The server runs from /usr/lib/postgresql/15/bin (Debian's postgresql-15) in a temporary
directory, on a free port, with trust authentication. initdb refuses to run as root, so as
root it runs as the ``postgres`` (else ``nobody``) system user through runuser. The events
database uses ICU's en-US collation, as production databases use a language's collation: text
must still compare by code point, as DuckDB compares it.

Tables hold every cell as text plus ``_ingest_id bigint``, the input row number, and their rows
are stored shuffled: only ``order_column`` gives the input order back.
"""

from __future__ import annotations

import os
import pwd
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import ibis
import pyarrow as pa
import pytest
from conftest import event, write_csv
from edge_cases import VARIANTS, union

from helpers import build_report
from helpers.backend import code_point_order, connect, with_json_fields
from helpers.clean import finite_price, utc_microseconds
from helpers.cli import main
from helpers.params import ReportParams
from helpers.report import Report
from helpers.sources import HIDDEN, LINE, ROW, read_events

pytestmark = pytest.mark.slow

PG_BIN = Path("/usr/lib/postgresql/15/bin")
ORDER = "_ingest_id"
ROOT = Path(__file__).resolve().parent.parent


# -- the server -------------------------------------------------------------------------------


def _as_server_user() -> list[str]:
    """The command prefix that runs the server's programs: none, or runuser as root."""
    if os.geteuid() != 0:
        return []
    runuser = shutil.which("runuser")
    users = [u for u in ("postgres", "nobody") if _user_exists(u)]
    if runuser is None or not users:
        pytest.skip("initdb refuses to run as root, and there is no runuser or no postgres or "
                    "nobody user to run it as")
    return [runuser, "-u", users[0], "--"]


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def server() -> Iterator[str]:
    """A PostgreSQL 15 server for the session: its URL, without a database."""
    if not (PG_BIN / "initdb").is_file():
        pytest.skip(f"no PostgreSQL 15 server in {PG_BIN} (apt-get install postgresql-15)")
    pytest.importorskip("psycopg", reason="pip install -e '.[postgres]'")
    prefix = _as_server_user()
    root = Path(tempfile.mkdtemp(prefix="report-postgres-"))  # not pytest's: root-only
    if prefix:
        user = pwd.getpwnam(prefix[2])
        os.chown(root, user.pw_uid, user.pw_gid)
    data, port = root / "data", _free_port()
    subprocess.run(
        [*prefix, PG_BIN / "initdb", "-D", data, "--auth=trust", "-U", "postgres", "-E", "UTF8",
         "--locale=C.UTF-8"],
        check=True, capture_output=True,
    )  # fmt: skip
    # fsync off: a test server's data need not survive a crash, and it is written faster.
    options = f"-k {root} -h 127.0.0.1 -p {port} -c fsync=off -c full_page_writes=off"
    subprocess.run(
        [*prefix, PG_BIN / "pg_ctl", "-D", data, "-l", root / "log", "-o", options, "start", "-w"],
        check=True, capture_output=True,
    )  # fmt: skip
    try:
        yield f"postgres://postgres@127.0.0.1:{port}"
    finally:
        subprocess.run(
            [*prefix, PG_BIN / "pg_ctl", "-D", data, "stop", "-m", "fast"], capture_output=True
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def url(server: str) -> str:
    """A database in ICU's en-US collation (C.UTF-8 where the server has no ICU)."""
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True) as con:
        try:
            con.execute("CREATE DATABASE warehouse TEMPLATE template0 LOCALE_PROVIDER icu "
                        "ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'")
        except psycopg.errors.FeatureNotSupported:
            con.execute("CREATE DATABASE warehouse")
    return f"{server}/warehouse"


def _load(url: str, name: str, csv_path: Path, *, order: bool = True, seed: int = 0) -> None:
    """The events of a CSV as a text table ``name``, with ``_ingest_id`` (the row number) unless
    ``order`` is false, its rows stored in a shuffled order."""
    import psycopg

    table = read_events(str(csv_path)).table  # the cells exactly as the report reads the file
    columns = [c for c in table.column_names if c not in HIDDEN]  # data only
    cells = [table.column(c).to_pylist() for c in columns]
    rows = list(range(table.num_rows))
    random.Random(seed).shuffle(rows)
    definition = ", ".join(
        [*([f"{ORDER} bigint"] if order else []), *[f'"{c}" text' for c in columns]]
    )
    with psycopg.connect(url) as con:
        con.execute(f"DROP TABLE IF EXISTS {name}")
        con.execute(f"CREATE TABLE {name} ({definition})")
        with con.cursor().copy(f"COPY {name} FROM STDIN") as copy:
            for i in rows:
                copy.write_row([*([i] if order else []), *[column[i] for column in cells]])


def _same(duck: Report, other: Report, *, order_column: str | None = None) -> None:
    assert other.data_quality == duck.data_quality
    assert other.objectives == duck.objectives
    assert other.data["period"] == duck.data["period"]
    assert other.data["insights"] == duck.data["insights"]
    assert other.data["analyses"] == duck.data["analyses"]
    rejected = other.rejected
    if order_column is not None:  # kept beside the data, to find the row in the table
        assert order_column in rejected.column_names
        rejected = rejected.drop_columns([order_column])
    assert rejected.to_pylist() == duck.rejected.to_pylist()


@pytest.fixture(scope="module")
def edge_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_csv(tmp_path_factory.mktemp("edge") / "edge_cases.csv", union())


@pytest.fixture(scope="module")
def tables(url: str, edge_csv: Path) -> str:
    _load(url, "events", ROOT / "data" / "sample_events.csv.gz")
    _load(url, "edge_cases", edge_csv)
    _load(url, "edge_cases_unordered", edge_csv, order=False)
    return url


# -- every figure equals DuckDB's ---------------------------------------------------------------


def test_the_sample_matches_duckdb(tables: str) -> None:
    postgres = build_report(ReportParams(backend=tables, table="events", order_column=ORDER))
    assert postgres.data["source"] == {"kind": "table", "name": "events"}
    _same(build_report(ReportParams()), postgres, order_column=ORDER)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_every_edge_case_matches_duckdb(tables: str, edge_csv: Path, variant: str) -> None:
    duck = build_report(ReportParams(source=str(edge_csv), **VARIANTS[variant]))
    assert duck.data_quality["rows_excluded"]["duplicate_event"] > 0  # the order column is no data
    postgres = build_report(
        ReportParams(backend=tables, table="public.edge_cases", order_column=ORDER,
                     **VARIANTS[variant])
    )  # fmt: skip
    _same(duck, postgres, order_column=ORDER)


def test_without_an_order_column_ties_break_by_values_as_in_duckdb(
    tables: str, edge_csv: Path, tmp_path: Path
) -> None:
    import duckdb

    database = tmp_path / "warehouse.duckdb"
    cells = read_events(str(edge_csv)).table.drop_columns([ROW, LINE])  # noqa: F841  # by name
    with duckdb.connect(str(database)) as con:  # the same cells, stored in another order
        con.execute("CREATE TABLE edge_cases AS FROM cells ORDER BY hash(columns(*))")
    duck = build_report(ReportParams(backend=f"duckdb://{database}", table="edge_cases"))
    _same(duck, build_report(ReportParams(backend=tables, table="edge_cases_unordered")))


def test_text_compares_by_code_point_not_by_the_databases_collation(
    url: str, tmp_path: Path
) -> None:
    # en-US puts "_bot" before "1" and "phone" before "Phone"; DuckDB compares code points.
    values = ["Phone", "phone", "_bot", "Tablet", "tablet", "a b", "ab", "a-c", "ä", "Z", "1", "9"]
    rows = [
        event(session_id=f"s{i}", visitor_id=f"v{i}", device_class=v, om_source=v, page_type=v,
              test_groups=f'{{"t": "{v}"}}')
        for i, v in enumerate(values)
    ]  # fmt: skip
    csv_path = write_csv(tmp_path / "labels.csv", rows)
    _load(url, "labels", csv_path)
    analyses = {
        "funnels": [{"name": "f", "steps": [{"event_type": "page_view"}, {"page_type": "Phone"}],
                     "breakdown": "device_class"}],
        "trends": {"events": [{"name": "x", "condition": {"page_type": "phone"}}],
                   "breakdown": "om_source"},
    }  # fmt: skip
    duck = build_report(ReportParams(source=str(csv_path), **analyses))
    postgres = build_report(
        ReportParams(backend=url, table="labels", order_column=ORDER, **analyses)
    )
    _same(duck, postgres, order_column=ORDER)


DATETIMES = [
    "2021-01-23 11:57:09.286 UTC", "2021-02-30 10:00:00.000 UTC", "2021-01-23 24:00:00",
    "2021-01-23 23:59:60", "2021-01-23 11:57:60.500 UTC", "2021-01-23 24:00:00.500 UTC",
    "0000-03-01T10:00Z", "9999-12-31 23:59:59.999 UTC", "2020-02-29 00:00:00.000 UTC",
    "1900-02-29", "2021-13-01", "2021-1-2", "yesterday", "epoch", "J2459238", "44219.5",
    "2021-01-23T10:00:00+0530", "2021-01-23t10:00:00.123456789z", "2021-01-23 10:00 -01", "",
    # The shapes the engine's own cast reads (helpers.datetimes' fast path), valid or not.
    "2021-01-23T11:57:09Z", "2021-01-23T11:57:09.5Z", "2021-01-23 11:57:09.28 UTC",
    "2021-01-23 11:57:09.123456 UTC", "2021-01-23 11:57:09 UTC", "0000-01-01 00:00:00.000 UTC",
    "2021-01-23T23:59:60Z", "2021-01-23T24:00:00Z", "2021-02-29T10:00:00.000Z",
]
PARAMS = [
    '{"event_content": {"price": 1200, "currency": " eur "}, "page": {"request_id": "x"}}',
    "{bad", "null", "[]", '"{}"', "", '{"event_content": "x"}', '{"page": {"request_id": 0}}',
    '{"event_content": {"price": 1e400}}', '{"event_content": {"price": "1e400"}}',
    '{"event_content": {"price": "-1e400"}}', '{"event_content": {"price": 1e-400}}',
    '{"event_content": {"price": "1e-400"}}', '{"event_content": {"price": 1.50}}',
    # DuckDB's reader takes a trailing comma and nan/inf/infinity; [,] and {,} it refuses.
    '{"event_content": {"price": NaN}}', '{"event_content": {"price": -Infinity},}',
    '{"event_content": {"price": 5,}}', '{"event_content": {"price": inf}}', "{,}", "[,]",
    '{"a":,}', '{"x": "nan,]"}', '{"event_content": {"price": 7}} x',
    # PostgreSQL's JSON functions fail on \u0000 (an escaped backslash before u0000 is text).
    '{"page": {"request_id": "\\u0000"}}', '{"page": {"request_id": "\\\\u0000"}}',
    '{"page": {"request_id": true}}', '{"page": {"request_id": "  "}}',
]


def test_datetimes_and_json_values_read_as_duckdb_reads_them(url: str) -> None:
    size = max(len(DATETIMES), len(PARAMS))
    cells = pa.table({
        "i": list(range(size)),
        "d": DATETIMES + [None] * (size - len(DATETIMES)),
        "p": PARAMS + [None] * (size - len(PARAMS)),
    })  # fmt: skip
    readings = []
    for backend in ("duckdb", url):
        con = connect(backend).con
        table = code_point_order(con.create_table("cells", cells, temp=True, overwrite=True))
        table, (root, price, currency, request_id) = with_json_fields(
            table.mutate(us=utc_microseconds(table.d)), "p",
            ["$", "$.event_content.price", "$.event_content.currency", "$.page.request_id"],
        )  # fmt: skip
        strings = {
            f"{name}_string": ibis.ifelse(field.kind == "string", field.text, ibis.null("string"))
            for name, field in (("currency", currency), ("request_id", request_id))
        }
        readings.append(
            table.select(
                "i", "us", root=root.kind, price_kind=price.kind, currency=currency.kind,
                request_id=request_id.kind, price=finite_price(price, table.get_backend().name),
                **strings,
            ).order_by("i").to_pyarrow().to_pylist()
        )  # fmt: skip
    duck, postgres = readings
    for row in (*duck, *postgres):  # a NUL (DuckDB) is U+FFFD (PostgreSQL): text cannot hold NUL
        if row["request_id_string"] is not None:
            row["request_id_string"] = row["request_id_string"].replace("\x00", "\ufffd")
    assert postgres == duck
    assert sum(r["us"] is not None for r in duck) >= 8  # the cases hold valid values too
    assert sum(r["price"] is not None for r in duck) >= 4


def test_a_file_analysed_on_postgres_leaves_no_table_behind(url: str, edge_csv: Path) -> None:
    before = set(ibis.connect(url).list_tables())
    postgres = build_report(ReportParams(source=str(edge_csv), backend=url))
    _same(build_report(ReportParams(source=str(edge_csv))), postgres)
    assert set(ibis.connect(url).list_tables()) == before


# -- mistakes, named ----------------------------------------------------------------------------


def _cli(*settings: str, out: Path) -> subprocess.CompletedProcess[str]:
    overrides = [a for s in settings for a in ("--set", s)]
    return subprocess.run(
        [sys.executable, "-m", "helpers", "run", "--json-only", "--out", str(out), *overrides],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )  # fmt: skip


def _one_paragraph(stderr: str) -> str:
    assert stderr.startswith("error: "), stderr
    assert stderr.count("\n") == 1, stderr
    assert "bug" not in stderr, stderr
    return stderr


@pytest.mark.parametrize(
    ("settings", "says"),
    [
        (["table=evnts"], r"no table 'evnts'\. Tables in the connection's default schema: .*"
                          r"events"),
        (["table=events", "order_column=ingested_at"],
         r"order_column is 'ingested_at' but the table events has no such column \(columns: "
         r"_ingest_id, datetime"),
        (["table=events", "backend=postgres://postgres@127.0.0.1:{port}/x"],
         r"could not connect to postgres \(OperationalError: .*refused.*\)\. Check the "
         r"backend URL"),
        (["table=events", "backend=postgres://analyst:hunter2@127.0.0.1/warehouse"],
         r"holds a password; .*PGPASSWORD"),
    ],
    ids=["missing table", "missing order column", "unreachable server", "password in the URL"],
)  # fmt: skip
def test_mistakes_exit_2_with_one_paragraph(
    tables: str, tmp_path: Path, settings: list[str], says: str
) -> None:
    closed = _free_port()  # nothing listens there
    settings = [s.format(port=closed) for s in settings]
    if not any(s.startswith("backend=") for s in settings):
        settings.append(f"backend={tables}")
    done = _cli(*settings, out=tmp_path)
    assert done.returncode == 2, done.stderr
    stderr = _one_paragraph(done.stderr)
    assert re.search(says, stderr), stderr
    assert "hunter2" not in stderr


def test_a_missing_driver_says_what_to_install(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # import psycopg: ImportError
    status = main(["run", "--json-only", "--out", str(tmp_path), "--set", f"backend={url}",
                   "--set", "table=events"])  # fmt: skip
    stderr = _one_paragraph(capsys.readouterr().err)
    assert status == 2
    assert "pip install 'ibis-framework[postgres]'" in stderr
    assert "pip install -e '.[postgres]'" in stderr


def test_a_log_without_sessions_matches_duckdb(url: str, tmp_path: Path) -> None:
    from conftest import ACTIVITY_PARAMS, write_activity_log

    log = write_activity_log(tmp_path / "log.csv")
    _load(url, "activity_log", log)
    duck = build_report(ReportParams.build({"source": str(log), **ACTIVITY_PARAMS}))
    postgres = build_report(ReportParams.build(
        {"backend": url, "table": "activity_log", "order_column": ORDER, **ACTIVITY_PARAMS}
    ))  # fmt: skip
    _same(duck, postgres, order_column=ORDER)


def test_every_datetime_format_reads_as_on_duckdb(url: str) -> None:
    from test_datetimes import FORMAT_CASES

    from helpers.datetimes import utc_microseconds as read

    con = connect(url).con
    for datetime_format in dict.fromkeys(f for f, _, _ in FORMAT_CASES):
        cases = [(text, expected) for f, text, expected in FORMAT_CASES if f == datetime_format]
        cells = pa.table({"i": list(range(len(cases) + 1)), "d": [c for c, _ in cases] + [None]})
        table = code_point_order(con.create_table("cells", cells, temp=True, overwrite=True))
        got = table.select("i", us=read(table.d, datetime_format)).order_by("i").to_pyarrow()
        assert got.column("us").to_pylist() == [e for _, e in cases] + [None], datetime_format


def test_forgotten_users_are_matched_on_postgres_as_in_duckdb(url: str, tmp_path: Path) -> None:
    rows = [event(session_id=f"s{i}") for i in range(3)]
    rows += [event(session_id="forget-me", env="development"), event(session_id="forget-me")]
    source = write_csv(tmp_path / "events.csv", rows)
    (tmp_path / "forget.txt").write_text("forget-me\n", encoding="utf-8")
    params = {"source": str(source), "forget": str(tmp_path / "forget.txt")}
    postgres = build_report(ReportParams(**params, backend=url))
    assert postgres.data_quality["rows_excluded"]["forgotten_user"] == 2
    _same(build_report(ReportParams(**params)), postgres)


def test_a_key_given_twice_in_json_reads_its_last_value_as_on_duckdb(url: str) -> None:
    from test_faults import LAST_GROUPS, LAST_VALUES, json_readings

    values, groups = json_readings(url)
    assert values == LAST_VALUES
    assert groups == LAST_GROUPS
