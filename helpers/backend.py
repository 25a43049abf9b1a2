"""Backend: the one place that knows which engine runs the Ibis expressions.

The objectives and the cleaning are plain Ibis. What differs between engines lives here and
nowhere else:

- connecting (embedded DuckDB, a local or remote Spark session, any Ibis connection URL) and
  loading the raw events into it without losing types or copying them: DuckDB scans Parquet
  files where they are and Arrow tables in place; Spark reads files itself, on its executors
  (:mod:`helpers.spark_files`), and takes only a sheet's rows from Arrow (PySpark's memtable
  goes through pandas and turns nullable columns into NaN);
- reading a value out of a JSON text together with its JSON *kind* (string, number, boolean,
  null, object, array), which the spec needs (a boolean ``request_id`` is not an id, a JSON
  ``null`` price is an invalid price) and which each engine spells differently;
- the session time zone, forced to UTC.

Journey order, first/last-by-time and null handling need no special casing: they are built on
the unique ``_seq`` column with ``argmin``/``argmax``, which every backend supports.
"""

from __future__ import annotations

import atexit
import importlib.util
import shutil
import tempfile
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from helpers.errors import ReportError
from helpers.sources import CAST, NAIVE_TIMESTAMP, NO_VALUES, ROW, ParquetFile, RawEvents

DUCKDB, PYSPARK = "duckdb", "pyspark"


@dataclass(frozen=True)
class JsonField:
    """A value inside a JSON text: its kind (null when absent) and its text."""

    kind: ir.StringValue  # 'string' | 'number' | 'boolean' | 'null' | 'object' | 'array'
    text: ir.StringValue  # a string's value unquoted; a number or boolean as written


@dataclass(frozen=True)
class Engine:
    """An Ibis connection and how to put raw events into it."""

    name: str
    con: Any

    def load(self, raw: RawEvents, name: str = "raw_events") -> ir.Table:
        """The raw events (all text, plus ``_row``) as a table of this engine."""
        if self.name == DUCKDB:
            if raw.parquet:
                self.con.raw_sql(f"CREATE OR REPLACE TEMP VIEW {name} AS {_scan(raw.parquet)}")
            else:
                # Registered, not copied: DuckDB reads the Arrow buffers where they are.
                self.con.con.register(name, raw.table)
            return self.con.table(name)
        if self.name == PYSPARK:
            # A sheet or a small table parsed here: Spark takes the Arrow rows as they are.
            session = self.con._session
            session.createDataFrame(raw.table).createOrReplaceTempView(name)
            return self.con.table(name)
        return self.con.create_table(name, raw.table, overwrite=True)

    @property
    def reads_files(self) -> bool:
        """Whether this engine reads events files itself (Spark), rather than from us."""
        return self.name == PYSPARK

    def read_files(self, source: str, name: str = "raw_events") -> tuple[ir.Table, dict[str, Any]]:
        """The events files at ``source`` read by the engine itself (see
        :mod:`helpers.spark_files`), and the report's source block."""
        from helpers.spark_files import read_files

        frame, block = read_files(self.con._session, source)
        frame.createOrReplaceTempView(name)
        return self.con.table(name), block


def _scan(files: tuple[ParquetFile, ...]) -> str:
    """DuckDB SQL reading Parquet files as all-text events with ``_row``: each file's columns
    renamed as the spec normalises them, typed ones rendered as text as
    :mod:`helpers.sources` renders them for Arrow, and the files stacked by column name."""
    selects = []
    for file in files:
        columns = [
            f"{_text(_quoted(original), kind)} AS {_quoted(name)}"
            for original, name, kind in zip(file.header, file.names, file.kinds, strict=True)
        ]
        path = "'" + str(file.path).replace("'", "''") + "'"
        selects.append(
            f"SELECT {', '.join(columns)}, file_row_number + {file.first_row} AS {ROW} "
            f"FROM read_parquet({path}, file_row_number = true)"
        )
    return " UNION ALL BY NAME ".join(selects)


def _text(column: str, kind: str) -> str:
    if kind == CAST:
        return f"CAST({column} AS VARCHAR)"
    if kind == NAIVE_TIMESTAMP:
        return f"CAST({column} AS VARCHAR) || ' UTC'"
    if kind == NO_VALUES:
        return "CAST(NULL AS VARCHAR)"
    return column


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def connect(
    backend: str = DUCKDB, *, spark_master: str | None = None, memory_limit: str | None = None
) -> Engine:
    """Connect to ``duckdb`` (embedded; ``memory_limit`` makes it spill to disk beyond that),
    ``pyspark`` (the active Spark session, else a local one, else ``spark_master``) or any
    Ibis connection URL (``postgres://...``)."""
    if backend == DUCKDB:
        # Every query orders what it returns (ORDER BY, or by _row/_seq), so DuckDB need not
        # keep rows in input order between operators: less buffering, parallel table writes.
        config: dict[str, Any] = {
            "preserve_insertion_order": False,
            "temp_directory": _spill_directory(),
        }
        if memory_limit:
            config["memory_limit"] = memory_limit
        try:
            return Engine(DUCKDB, ibis.duckdb.connect(**config))
        except Exception as exc:  # duckdb.InvalidInputException for a bad limit
            raise ReportError(f"memory_limit {memory_limit!r} was refused: {exc}") from None
    if backend == PYSPARK:
        return Engine(PYSPARK, ibis.pyspark.connect(_spark_session(spark_master)))
    if "://" in backend:
        scheme = backend.split("://", 1)[0]
        try:
            return Engine(scheme, ibis.connect(backend))
        except ImportError as exc:
            raise ReportError(
                f"the {scheme} backend needs its driver ({exc}): run "
                f"`pip install 'ibis-framework[{scheme}]'`."
            ) from None
        except Exception as exc:  # the drivers raise their own error types
            raise ReportError(
                f"could not connect to {scheme} ({type(exc).__name__}: {exc}). Check the "
                f"backend URL and that the server is reachable."
            ) from None
    raise ReportError(
        f"unknown backend {backend!r}: use duckdb, pyspark, or an Ibis connection URL such "
        f"as postgres://user@host/db or bigquery://project/dataset."
    )


def _spill_directory() -> str:
    """A fresh directory for DuckDB's spill files, under the system's temporary directory
    (``TMPDIR`` chooses the disk), removed when the process ends. DuckDB's own default,
    ``.tmp/`` in the working directory, would litter (or fail in) wherever a run starts."""
    path = tempfile.mkdtemp(prefix="customer-activity-spill-")
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def json_fields(engine_name: str, doc: ir.StringValue, paths: list[str]) -> list[JsonField]:
    """The values at ``paths`` (``$`` or ``$.a.b``) of the JSON text ``doc``; kind and text are
    null when the text is not JSON or the path is absent."""
    if engine_name == PYSPARK:
        variant = _try_parse_json(doc)
        return [
            JsonField(
                kind=_kind(_schema_of_variant(_try_variant_get(variant, path, "variant"))),
                text=_try_variant_get_string(variant, path, "string"),
            )
            for path in paths
        ]
    # One parse and one walk of the document for all paths; each value found is then small.
    nodes = _json_extract_paths(doc.try_cast("json"), paths)
    return [
        JsonField(kind=_kind(_json_type(nodes[i], "$")), text=_json_extract_string(nodes[i], "$"))
        for i in range(len(paths))
    ]


# ASCII whitespace, as Python's str.strip() would see it in an export.
_BLANKS = r"[ \t\n\r\x0b\x0c]+"


def strip(engine_name: str, text: ir.StringValue) -> ir.StringValue:
    """``text`` without leading and trailing ASCII whitespace.

    Ibis compiles strip() for Spark as TRIM(' \\t\\n\\r\\v\\f' FROM x), and Spark SQL reads
    ``\\v`` and ``\\f`` as the letters v and f, so "facebook" would lose its f. Spark gets an
    explicit regular expression instead.
    """
    if engine_name == PYSPARK:
        stripped = text.re_replace(f"^{_BLANKS}|{_BLANKS}$", "")
    else:
        stripped = text.strip()
    # Trimming is the dearest step of cleaning (a quarter of it at 1M rows) and most cells
    # need none: only a cell whose first or last character is at most U+0020 can change.
    may_change = (text.left(1) <= " ") | (text.right(1) <= " ")
    return ibis.ifelse(may_change, stripped, text)


def object_entries(table: ir.Table, column: str, keep: list[str]) -> ir.Table:
    """One row per key of the JSON object in ``column``: the ``keep`` columns, ``key`` and
    ``value`` (a string value as written, any other value as JSON text). Cells that are not a
    JSON object give no rows."""
    engine_name = table.get_backend().name
    if engine_name == PYSPARK:
        entries = table.select(*keep, entries=_from_json(table[column], "map<string,string>"))
        entries = entries.filter(entries.entries.notnull())
        entries = entries.mutate(key=entries.entries.keys().unnest())
        return entries.select(*keep, "key", value=entries.entries[entries.key])
    entries = table.select(*keep, entries=table[column].try_cast("json").map)
    entries = entries.filter(entries.entries.notnull())
    entries = entries.mutate(key=entries.entries.keys().unnest())
    node = entries.entries[entries.key]
    return entries.select(*keep, "key", value=ibis.coalesce(node.str, node.cast("string")))


def _kind(engine_type: ir.StringValue) -> ir.StringValue:
    # DuckDB's json_type and Spark's schema_of_variant, mapped onto JSON's own kinds.
    upper = engine_type.upper()
    return ibis.cases(
        (upper.startswith("OBJECT"), "object"),
        (upper.startswith("ARRAY"), "array"),
        (upper.isin(["VARCHAR", "STRING"]), "string"),
        (upper == "BOOLEAN", "boolean"),
        (upper.isin(["NULL", "VOID"]), "null"),
        (upper.notnull(), "number"),
        else_=ibis.null("string"),
    )


# -- engine functions, called by name -------------------------------------------------------------


@ibis.udf.scalar.builtin(name="json_type")
def _json_type(doc: dt.JSON, path: str) -> str: ...


@ibis.udf.scalar.builtin(name="json_extract")
def _json_extract_paths(doc: dt.JSON, paths: dt.Array(dt.string)) -> dt.Array(dt.JSON): ...


@ibis.udf.scalar.builtin(name="json_extract_string")
def _json_extract_string(doc: dt.JSON, path: str) -> str: ...


@ibis.udf.scalar.builtin(name="try_parse_json")
def _try_parse_json(doc: str) -> dt.Binary: ...


@ibis.udf.scalar.builtin(name="try_variant_get")
def _try_variant_get(variant: dt.Binary, path: str, kind: str) -> dt.Binary: ...


@ibis.udf.scalar.builtin(name="try_variant_get")
def _try_variant_get_string(variant: dt.Binary, path: str, kind: str) -> str: ...


@ibis.udf.scalar.builtin(name="from_json")
def _from_json(doc: str, schema: str) -> dt.Map(dt.string, dt.string): ...


@ibis.udf.scalar.builtin(name="schema_of_variant")
def _schema_of_variant(variant: dt.Binary) -> str: ...


# -- sessions and requirements --------------------------------------------------------------------


def _spark_session(master: str | None) -> Any:
    _require("pyspark", "pyspark", what="the pyspark backend", extra="spark")
    if shutil.which("java") is None:
        raise ReportError(
            "the pyspark backend needs Java 17 or newer, and no `java` was found on PATH. "
            "Install a JDK (for example `apt-get install openjdk-17-jre-headless`) or set "
            "JAVA_HOME, or use --set backend=duckdb."
        )
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None and master is None:
        session = active  # a notebook attached to a cluster already holds one
    else:
        session = (
            SparkSession.builder.master(master or "local[*]")
            .appName("customer-activity-report")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")  # stderr is for our messages
            .config("spark.sql.shuffle.partitions", "8")
            .getOrCreate()
        )
    session.conf.set("spark.sql.session.timeZone", "UTC")
    return session


def _require(module: str, package: str, *, what: str, extra: str | None = None) -> None:
    if importlib.util.find_spec(module) is None:
        hint = f"pip install -e '.[{extra}]'" if extra else f"pip install '{package}'"
        raise ReportError(f"{what} needs the Python package {package}: run `{hint}`.")
