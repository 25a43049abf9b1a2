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
- the session time zone, forced to UTC;
- what PostgreSQL compiles differently or not at all (see "PostgreSQL" below): a try-cast
  (Ibis's is a plain cast there, which fails the query on one bad cell), a hash of a row,
  JSON kinds, byte-order text, a table named with its schema.

The functions below are the backend's whole surface; each asks which engine it runs on and
takes that engine's way from its module: ``_duckdb`` (Parquet scans, spill directory, JSON
functions), ``_spark`` (the session, variant functions), ``_postgres`` (try-casts, JSON,
caching in code-point order, connect timeout); ``_common`` holds what they share.

Journey order, first/last-by-time and null handling need no special casing: they are built on
the unique ``_seq`` column with ``argmin``/``argmax``, which every backend supports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir
from ibis.common.exceptions import TableNotFound

from helpers.backend._common import JsonField, _kind, _quoted
from helpers.backend._duckdb import (
    _create_json_macros,
    _json_extract_string,
    _json_last_columns,
    _json_object,
    _json_type,
    _scan,
    _scannable,
    _spill_directory,
    default_memory_limit,
    memory_limit_bytes,
)
from helpers.backend._postgres import (
    _PG_TRY_CASTS,
    _cache_in_code_point_order,
    _create_postgres_functions,
    _pg_json_fields,
    _pg_json_keys,
    _pg_json_text,
    _pg_json_typeof,
    _pg_try_json,
    _with_connect_timeout,
)
from helpers.backend._spark import (
    _schema_of_variant,
    _spark_session,
    _try_parse_json,
    _try_variant_get,
    _try_variant_get_map,
    _try_variant_get_string,
)
from helpers.errors import ReportError, SourceError
from helpers.sources import RawEvents

DUCKDB, PYSPARK, POSTGRES = "duckdb", "pyspark", "postgres"


@dataclass(frozen=True)
class Engine:
    """An Ibis connection and how to put raw events into it."""

    name: str
    con: Any

    def load(self, raw: RawEvents, name: str = "raw_events") -> ir.Table:
        """The raw events (all text, plus ``_row``) as a table of this engine."""
        if self.name == DUCKDB:
            if raw.parquet and _scannable(raw.parquet):
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
        # A temporary table on PostgreSQL: a run leaves nothing behind in the database.
        temp = {"temp": True} if self.con.name == POSTGRES else {}
        return code_point_order(self.con.create_table(name, raw.table, overwrite=True, **temp))

    @property
    def csv_memory(self) -> int | None:
        """The memory a CSV parsed into Arrow may take (bytes), for :func:`read_events`:
        DuckDB's memory limit, so that a file bigger than what DuckDB may hold is streamed into
        Parquet for DuckDB to scan, spilling as it needs; None (parse in memory) for the
        engines that take the parsed rows themselves."""
        return memory_limit_bytes(self.con.con) if self.name == DUCKDB else None

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

    def table(self, name: str) -> ir.Table:
        """The table ``name`` of this engine (``schema.table`` allowed), as it is stored."""
        attempts: list[tuple[str, Any]] = [(name, None)]
        if "." in name:  # Ibis takes the schema (and catalog) apart from the name
            where, _, bare = name.rpartition(".")
            attempts.append((bare, tuple(where.split(".")) if "." in where else where))
        problem: Exception | None = None
        for bare, database in attempts:
            try:
                # In code-point order already here: the tie-break by values sorts this text.
                return code_point_order(self.con.table(bare, database=database))
            except Exception as exc:  # each backend raises its own "no such table"
                problem = exc
        detail = "" if isinstance(problem, TableNotFound) else f" ({_one_line(problem)})"
        raise SourceError(
            f"the {self.name} backend has no table {name!r}{detail}. {self._tables_hint()}"
            f"Check the table parameter (with its schema, e.g. analytics.events)."
        )

    def _tables_hint(self) -> str:
        try:
            tables = sorted(self.con.list_tables())
        except Exception:  # listing is a courtesy: a backend may not allow it
            return ""
        if not tables:
            return "The connection's default schema holds no tables. "
        shown = ", ".join(tables[:_TABLES_SHOWN])
        more = f" and {len(tables) - _TABLES_SHOWN} more" if len(tables) > _TABLES_SHOWN else ""
        return f"Tables in the connection's default schema: {shown}{more}. "


_TABLES_SHOWN = 20


def connect(
    backend: str = DUCKDB, *, spark_master: str | None = None, memory_limit: str | None = None
) -> Engine:
    """Connect to ``duckdb`` (embedded; it spills to disk beyond ``memory_limit``, by default
    :func:`default_memory_limit`), ``pyspark`` (the active Spark session, else a local one,
    else ``spark_master``) or any Ibis connection URL (``postgres://...``)."""
    if backend == DUCKDB:
        # Every query orders what it returns (ORDER BY, or by _row/_seq), so DuckDB need not
        # keep rows in input order between operators: less buffering, parallel table writes.
        config: dict[str, Any] = {
            "preserve_insertion_order": False,
            "temp_directory": _spill_directory(),
            "memory_limit": memory_limit or default_memory_limit(),
        }
        try:
            return Engine(DUCKDB, ibis.duckdb.connect(**config))
        except Exception as exc:  # duckdb.InvalidInputException for a bad limit
            raise ReportError(f"memory_limit {memory_limit!r} was refused: {exc}") from None
    if backend == PYSPARK:
        # The session first: naming ibis.pyspark imports pyspark, which may be missing.
        session = _spark_session(spark_master)
        return Engine(PYSPARK, ibis.pyspark.connect(session))
    if "://" in backend:
        scheme = backend.split("://", 1)[0]
        extra = _EXTRAS.get(scheme, scheme)
        try:
            con = ibis.connect(_with_connect_timeout(backend))
        except ImportError as exc:
            raise ReportError(
                f"the {scheme} backend needs its driver ({exc}): run "
                f"`pip install 'ibis-framework[{extra}]'` (in this project: "
                f"`pip install -e '.[{extra}]'`)."
            ) from None
        except Exception as exc:  # the drivers raise their own error types
            raise ReportError(
                f"could not connect to {scheme} ({type(exc).__name__}: {_one_line(exc)}). "
                f"Check the backend URL, that the server is running and reachable from here, "
                f"and the driver's environment (e.g. PGPASSWORD, PGSSLMODE)."
            ) from None
        if con.name == POSTGRES:
            _create_postgres_functions(con)
            _cache_in_code_point_order(con)
        return Engine(scheme, con)
    raise ReportError(
        f"unknown backend {backend!r}: use duckdb, pyspark, or an Ibis connection URL such "
        f"as postgres://user@host/db or bigquery://project/dataset."
    )


#: Ibis's extra for a URL scheme, where the two differ.
_EXTRAS = {"postgresql": "postgres"}


def _one_line(exc: BaseException | None) -> str:
    # Drivers write several lines (libpq adds a tab-indented hint); a message is one paragraph.
    return " ".join(str(exc).split())


def with_json_fields(
    table: ir.Table, column: str, paths: list[str]
) -> tuple[ir.Table, list[JsonField]]:
    """The values at ``paths`` (``$`` or ``$.a.b``) of the JSON text in ``column``, read once
    per row; kind and text are null when the text is not JSON or the path is absent. Returns
    ``table`` with a kind and a text column per path (``_json_kind_N``, ``_json_text_N``) on
    DuckDB and PostgreSQL, the same ``table`` on Spark, and the fields, which refer to it. A
    key given twice: the last value, on every engine (see _duckdb's macros).

    The fields' expressions are large (a key given twice is read the slow way on DuckDB) and
    every reader of a field would get its own copy: as columns behind a barrier (a LIMIT no
    table reaches, see :func:`computed_once`) they are computed once, and the query stays
    small (on DuckDB 335 kB -> 44 kB of SQL, and 2 s less planning in every run)."""
    engine_name = table.get_backend().name
    if engine_name == PYSPARK:  # Spark shares the work of copies itself
        variant = _try_parse_json(table[column])
        return table, [
            JsonField(
                kind=_kind(_schema_of_variant(_try_variant_get(variant, path, "variant"))),
                text=_try_variant_get_string(variant, path, "string"),
            )
            for path in paths
        ]
    if engine_name == DUCKDB:
        nodes, names = _json_last_columns(table, column, paths)
        fields = [
            JsonField(kind=_kind(_json_type(node, "$")), text=_json_extract_string(node, "$"))
            for node in (nodes[n] for n in names)
        ]
        return _as_columns(nodes, fields, drop=tuple(names))
    # The text is parsed once into a column, and each value read out of it once, into columns.
    # Written as one expression, PostgreSQL would parse it for every use.
    parsed = computed_once(table.mutate(_json=_pg_try_json(table[column])))
    return _as_columns(parsed, _pg_json_fields(parsed._json, paths), drop=("_json",))


def _as_columns(
    table: ir.Table, fields: list[JsonField], drop: tuple[str, ...] = ()
) -> tuple[ir.Table, list[JsonField]]:
    """``table`` with each field's kind and text as columns, behind a barrier that keeps Ibis
    and the engine from copying their expressions into the queries that read them."""
    values = {}
    for i, field in enumerate(fields):
        values[f"_json_kind_{i}"], values[f"_json_text_{i}"] = field.kind, field.text
    read = table.mutate(**values).drop(*drop).limit(_NO_LIMIT)
    return read, [
        JsonField(kind=read[f"_json_kind_{i}"], text=read[f"_json_text_{i}"])
        for i in range(len(fields))
    ]


def code_point_order(table: ir.Table) -> ir.Table:
    """``table`` with its text compared by code point, as DuckDB and Spark compare text.

    PostgreSQL compares text by a collation, the database's unless a column says otherwise,
    and a language's collation (en_US, ICU en-US) puts "_bot" before "1" and "phone" before
    "Phone": which of two equally common paths is listed first, or which row comes first in
    a tie-break by values, would differ from DuckDB's. The "C" collation compares bytes,
    which in UTF-8 is code-point order, and everything computed from the text keeps it.
    """
    con = table.get_backend()
    if con.name != POSTGRES:
        return table
    columns = ", ".join(
        f'{_quoted(c)} COLLATE "C" AS {_quoted(c)}' if kind.is_string() else _quoted(c)
        for c, kind in table.schema().items()
    )
    return con.sql(f"SELECT {columns} FROM ({con.compile(table)}) AS t")


def computed_once(table: ir.Table) -> ir.Table:
    """``table``, each column computed once per row however often later expressions read it.

    DuckDB and Spark compute an expression written many times once. PostgreSQL computes it as
    often as it is written, and Ibis (merging selects) and PostgreSQL (merging subqueries)
    both copy a column's expression into every place that reads it: a trimmed datetime is read
    some twenty times in parsing it, a parsed params cell some hundred times. A LIMIT stops
    both: Ibis keeps the select apart, and PostgreSQL never merges a subquery with a LIMIT
    into the query above (the OFFSET 0 idiom; Ibis drops an OFFSET 0).
    """
    if table.get_backend().name != POSTGRES:
        return table
    return table.limit(_NO_LIMIT)


_NO_LIMIT = 2**63 - 1


def try_cast(engine_name: str, text: ir.StringValue, to: str) -> ir.Value:
    """``text`` as a ``to`` (``timestamp`` or ``float64``), null where it is not one.

    Ibis compiles try_cast() for PostgreSQL as a plain cast, so one bad cell would fail the
    whole query; PostgreSQL gets functions that catch the error instead (see below)."""
    if engine_name == POSTGRES:
        return _PG_TRY_CASTS[to](text)
    return text.try_cast(to)


def row_hash(engine_name: str, cells: dict[str, ir.StringValue]) -> ir.IntegerValue:
    """A 64-bit hash of a row's text cells: equal rows hash alike, different ones almost never
    (callers use it only to find candidates, then compare the cells themselves)."""
    if engine_name in (DUCKDB, PYSPARK):
        return ibis.struct(cells).hash()
    # PostgreSQL hashes no struct, so it hashes one text spelling every cell, each with its
    # length first ("3:abc"; "~" for null): no two different rows spell the same text, as
    # ("a,b", "c") and ("a", "b,c") would with a plain separator.
    spelled = [
        ibis.ifelse(c.isnull(), "~", c.length().cast("string").concat(":", c))
        for c in cells.values()
    ]
    return spelled[0].concat(*spelled[1:]).hash()


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
    if engine_name == POSTGRES:
        # By code point: PostgreSQL compares text by its collation, where a language's
        # (en_US, ICU) may order a tab after a space.
        may_change = (text.ascii_str() <= 32) | (text.right(1).ascii_str() <= 32)
    elif engine_name == DUCKDB:
        # DuckDB's right() counts characters from the start of the text (a params cell: 0.22 s
        # per million); comparing the text with "!" and testing six suffixes read two bytes.
        may_change = (text < "!") | ibis.or_(*[text.endswith(c) for c in _BLANK_CHARACTERS])
    else:
        may_change = (text.left(1) <= " ") | (text.right(1) <= " ")
    return ibis.ifelse(may_change, stripped, text)


#: What strip() removes: ASCII whitespace (each at most U+0020, so "text < '!'" holds for a
#: text that starts with one).
_BLANK_CHARACTERS = (" ", "\t", "\n", "\r", "\x0b", "\x0c")


def object_entries(table: ir.Table, column: str, keep: list[str]) -> ir.Table:
    """One row per key of the JSON object in ``column``: the ``keep`` columns, ``key`` and
    ``value`` (a string value as written, any other value as JSON text). Cells that are not a
    JSON object give no rows."""
    engine_name = table.get_backend().name
    if engine_name == POSTGRES:
        # PostgreSQL has JSON objects but no maps of them: the keys, then each key's value.
        parsed = computed_once(table.select(*keep, _json=_pg_try_json(table[column])))
        objects = parsed.filter(_pg_json_typeof(parsed._json) == "object")
        entries = objects.mutate(key=_pg_json_keys(objects._json).unnest())
        node = entries._json[entries.key]
        is_string = _pg_json_typeof(node) == "string"
        return entries.select(
            *keep, "key", value=ibis.ifelse(is_string, _pg_json_text(node), node.cast("string"))
        )
    if engine_name == PYSPARK:
        # Through a variant, not from_json(): a map from JSON keeps a key given twice twice;
        # the variant keeps its last value, as the other engines read it.
        variant = _try_parse_json(table[column])
        entries = table.select(
            *keep, entries=_try_variant_get_map(variant, "$", "map<string,string>")
        )
        # No filter of the null maps (see below): exploding null keys gives no row.
        entries = entries.mutate(key=entries.entries.keys().unnest())
        return entries.select(*keep, "key", value=entries.entries[entries.key])
    _create_json_macros(table.get_backend())
    entries = table.select(*keep, entries=_json_object(table[column].try_cast("json")))
    # A cell that is no object is a null map, and unnesting its null keys gives no row. No
    # filter: DuckDB would push one below a DISTINCT beneath ``table`` and read every row's
    # JSON there, not just each distinct cell's.
    entries = entries.mutate(key=entries.entries.keys().unnest())
    node = entries.entries[entries.key]
    return entries.select(*keep, "key", value=ibis.coalesce(node.str, node.cast("string")))
