"""The same Ibis expressions on other engines: real Spark in local mode, and a warehouse table
reached through an Ibis connection URL. Every figure must equal DuckDB's."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from conftest import write_csv, write_typed_parquet_set
from edge_cases import VARIANTS, union

from helpers import build_report
from helpers.backend import connect
from helpers.errors import ParameterError, ReportError
from helpers.params import ReportParams

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "sample_events.csv.gz"

def _same(duck, spark) -> None:
    assert spark.data_quality == duck.data_quality
    assert spark.objectives == duck.objectives
    assert spark.data["period"] == duck.data["period"]
    assert spark.data["insights"] == duck.data["insights"]
    assert spark.data["analyses"] == duck.data["analyses"]
    assert spark.rejected.to_pylist() == duck.rejected.to_pylist()


def test_spark_matches_duckdb_on_the_sample(spark) -> None:
    _same(build_report(ReportParams()), build_report(ReportParams(backend="pyspark")))


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_spark_matches_duckdb_on_every_edge_case(spark, tmp_path: Path, variant: str) -> None:
    source = str(write_csv(tmp_path / "edge_cases.csv", union()))
    params = {"source": source, **VARIANTS[variant]}
    duck = build_report(ReportParams(**params))
    assert duck.data_quality["rows_analysed"] > 0
    _same(duck, build_report(ReportParams(**params, backend="pyspark")))


def test_a_warehouse_table_through_a_connection_url(tmp_path: Path) -> None:
    # A typed table, as a warehouse holds it: timestamps and booleans, not text.
    csv_path = write_csv(tmp_path / "events.csv", union())
    database = tmp_path / "warehouse.duckdb"
    with duckdb.connect(str(database)) as con:
        con.execute(
            f"""CREATE TABLE events AS SELECT * REPLACE (
                  TRY_CAST(datetime AS TIMESTAMP) AS datetime,
                  is_internal_ip = 'TRUE' AS is_internal_ip)
                FROM read_csv('{csv_path}', all_varchar = true)
                WHERE TRY_CAST(datetime AS TIMESTAMP) IS NOT NULL"""
        )
    from_table = build_report(ReportParams(backend=f"duckdb://{database}", table="events"))
    assert from_table.data["source"] == {"kind": "table", "name": "events"}
    assert from_table.data_quality["rows_analysed"] > 0
    # The same rows read from a file give the same answers. A table has no input order, so ties
    # in time break by the row's values: the file is written in that order.
    with duckdb.connect(str(database)) as con:
        con.execute(f"COPY (FROM events ORDER BY ALL) TO '{tmp_path / 'same.csv'}' (HEADER)")
    from_file = build_report(ReportParams(source=str(tmp_path / "same.csv")))
    assert from_table.objectives == from_file.objectives


def test_missing_table_and_driver_and_java_say_what_to_do(tmp_path: Path, monkeypatch) -> None:
    with pytest.raises(ReportError, match="no table 'nope'"):
        build_report(ReportParams(backend=f"duckdb://{tmp_path / 'w.duckdb'}", table="nope"))
    with pytest.raises(ReportError, match=r"pip install 'ibis-framework\[snowflake\]'"):
        connect("snowflake://user@account/db/schema")
    with pytest.raises(ReportError, match="unknown backend"):
        connect("spark")
    monkeypatch.setenv("PATH", str(tmp_path))  # no java anywhere on PATH
    with pytest.raises(ReportError, match="needs Java"):
        connect("pyspark", spark_master="local[1]")


# Python with every package but pyspark: the import system is the boundary, so the child
# process hides pyspark from it, as a machine without the package would.
_WITHOUT_PYSPARK = """
import sys
class _Hidden:
    def __init__(self, finder):
        self.finder = finder
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] == "pyspark":
            return None
        return self.finder.find_spec(name, path, target)
    def __getattr__(self, attribute):
        return getattr(self.finder, attribute)
sys.meta_path[:] = [_Hidden(f) for f in sys.meta_path]
from helpers.cli import main
sys.exit(main(sys.argv[1:]))
"""


def test_a_missing_pyspark_package_says_what_to_install(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _WITHOUT_PYSPARK, "run", "--source", str(SAMPLE),
         "--set", "backend=pyspark", "--json-only", "--out", str(tmp_path / "out")],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )
    assert done.returncode == 2, done.stderr
    assert "the pyspark backend needs the Python package pyspark" in done.stderr
    assert "pip install -e '.[spark]'" in done.stderr
    assert "Traceback" not in done.stderr and "bug" not in done.stderr
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("report.json"))


def test_passwords_never_go_into_parameters() -> None:
    with pytest.raises(ParameterError, match="PGPASSWORD"):
        ReportParams.build({"backend": "postgres://analyst:hunter2@db/events"})


def test_a_memory_limit_spills_instead_of_changing_numbers() -> None:
    default = build_report(ReportParams())
    limited = build_report(ReportParams(memory_limit="64MB"))
    assert limited.objectives == default.objectives
    assert limited.data_quality == default.data_quality
    with pytest.raises(ReportError, match="memory_limit 'lots' was refused"):
        build_report(ReportParams(memory_limit="lots"))


def _bytes(setting: str) -> float:
    number, unit = setting.split()
    return float(number) * 1024 ** ["bytes", "KiB", "MiB", "GiB", "TiB"].index(unit)


def test_duckdb_holds_a_tenth_of_the_machines_memory_unless_told_otherwise() -> None:
    def limit(sql) -> float:
        return _bytes(sql("SELECT current_setting('memory_limit')").fetchone()[0])

    # DuckDB's own default is 80% of the memory it sees (a container's limit counts), so the
    # machine's memory as DuckDB sees it is that over 0.8.
    machine = limit(duckdb.connect().execute) / 0.8
    ours = limit(connect("duckdb").con.raw_sql)
    # current_setting rounds to a tenth of a GiB
    assert ours == pytest.approx(max(machine / 10, 1e9), rel=0.03)
    half = limit(connect("duckdb", memory_limit="50%").con.raw_sql)
    assert half == pytest.approx(machine / 2, rel=0.05)
    assert limit(connect("duckdb", memory_limit="3GiB").con.raw_sql) == 3 * 2**30


def test_duckdb_spills_under_the_system_temp_directory_not_the_working_one() -> None:
    import tempfile

    engine = connect("duckdb", memory_limit="64MB")
    spill = engine.con.raw_sql("SELECT current_setting('temp_directory')").fetchone()[0]
    assert Path(spill).is_dir()
    assert Path(spill).parent == Path(tempfile.gettempdir())
    assert Path(spill).name.startswith("customer-activity-spill-")


def test_spark_reads_typed_parquet_sets_as_duckdb_scans_them(spark, tmp_path: Path) -> None:
    """Files of one set that type columns differently (timestamps, integers, booleans, nulls
    in one; text in another) give Spark the same text, ``_row`` and order as DuckDB."""
    from helpers.clean import utc_microseconds
    from helpers.sources import ROW, read_events

    source = str(write_typed_parquet_set(tmp_path / "set"))
    duck_table = connect("duckdb").load(read_events(source))
    spark_table, block = connect("pyspark").read_files(source)

    def rows(table):
        # A zoned timestamp is written differently (+00 / none) but must be the same instant.
        read = table.mutate(aware=utc_microseconds(table.aware)).order_by(ROW)
        return read.to_pyarrow().to_pylist()

    got = rows(spark_table)
    assert got == rows(duck_table)
    assert [r[ROW] for r in got] == [0, 1, 2]
    assert block["kind"] == "parquet" and block["name"] == f"{source} (2 files)"
    # A timestamp without a time zone is UTC by the spec, and its text says so.
    assert got[0]["datetime"] == "2021-01-23 11:57:09.286 UTC"


def test_spark_fingerprints_the_files_it_reads(spark, tmp_path: Path) -> None:
    """The driver never reads the bytes, so the source is identified by each file's URI, size
    and modification time: stable while the files stay, different when one changes."""
    import os

    source = write_csv(tmp_path / "events.csv", union())
    engine = connect("pyspark")
    first = engine.read_files(str(source))[1]
    assert engine.read_files(str(source))[1] == first
    assert set(first) == {"kind", "name", "fingerprint"} and len(first["fingerprint"]) == 64
    stat = source.stat()
    os.utime(source, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert engine.read_files(str(source))[1]["fingerprint"] != first["fingerprint"]


def test_spark_says_what_is_wrong_with_a_source(spark, tmp_path: Path) -> None:
    from helpers.errors import SourceError

    with pytest.raises(SourceError, match="does not exist or holds no files"):
        build_report(ReportParams(source=str(tmp_path / "nope.csv"), backend="pyspark"))
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(SourceError, match="empty: it has no header row"):
        build_report(ReportParams(source=str(tmp_path / "empty.csv"), backend="pyspark"))
    (tmp_path / "mixed").mkdir()
    write_csv(tmp_path / "mixed" / "a.csv", union())
    (tmp_path / "mixed" / "b.txt").write_text("x")
    with pytest.raises(SourceError, match="Cannot tell what kind of file"):
        build_report(ReportParams(source=str(tmp_path / "mixed"), backend="pyspark"))
    write_csv(tmp_path / "short.csv", [{"datetime": "2021-01-01"}])
    with pytest.raises(SourceError, match="user_column is 'session_id' but the events have no"):
        build_report(ReportParams(source=str(tmp_path / "short.csv"), backend="pyspark"))


def test_spark_matches_duckdb_on_a_log_without_sessions(spark, tmp_path: Path) -> None:
    from conftest import ACTIVITY_PARAMS, write_activity_log

    params = {"source": str(write_activity_log(tmp_path / "log.csv")), **ACTIVITY_PARAMS}
    duck = build_report(ReportParams.build(params))
    assert duck.data_quality["rows_excluded"]["invalid_datetime"] > 0
    assert duck.data_quality["objectives_unavailable"]
    spark_report = build_report(ReportParams.build({**params, "backend": "pyspark"}))
    _same(duck, spark_report)
    assert spark_report.data["analyses"] == duck.data["analyses"]


def test_spark_reads_every_datetime_format_as_duckdb(spark) -> None:
    import pyarrow as pa
    from test_datetimes import FORMAT_CASES

    from helpers.datetimes import utc_microseconds

    con = connect("pyspark").con
    cells = pa.table({
        "i": list(range(len(FORMAT_CASES))),
        "f": [f for f, _, _ in FORMAT_CASES],
        "d": [text for _, text, _ in FORMAT_CASES],
    })  # fmt: skip
    # A view, not a table: nothing is written to spark-warehouse/.
    spark.createDataFrame(cells.to_pandas()).createOrReplaceTempView("format_cases")
    table = con.table("format_cases")
    got = {}
    for datetime_format in dict.fromkeys(cells.column("f").to_pylist()):
        mine = table.filter(table.f == datetime_format)
        rows = mine.select("i", us=utc_microseconds(mine.d, datetime_format)).to_pyarrow()
        got.update(zip(rows.column("i").to_pylist(), rows.column("us").to_pylist(), strict=True))
    assert [got[i] for i in range(len(FORMAT_CASES))] == [e for _, _, e in FORMAT_CASES]


def test_spark_reads_a_numeric_is_internal_ip_by_its_value(spark, tmp_path: Path) -> None:
    from test_faults import write_numeric_flags

    source = str(write_numeric_flags(tmp_path / "e.parquet"))
    duck = build_report(ReportParams(source=source))
    assert duck.data_quality["rows_excluded"]["internal_ip"] == 1
    _same(duck, build_report(ReportParams(source=source, backend="pyspark")))
