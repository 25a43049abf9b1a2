"""PostgreSQL: what it compiles differently or not at all, written so that it gives DuckDB's
answers (try-casts, JSON kinds, caching in code-point order, a connect timeout)."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.operations as ops
import ibis.expr.types as ir

from helpers.backend._common import JsonField, _kind, _quoted

#: Seconds to wait for a PostgreSQL server: libpq's default is to wait for ever.
_CONNECT_TIMEOUT = 15


def _with_connect_timeout(url: str) -> str:
    """A postgres URL with ``connect_timeout``, unless the URL or PGCONNECT_TIMEOUT sets one:
    an unreachable host then fails in seconds instead of hanging the run."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgres", "postgresql") or "PGCONNECT_TIMEOUT" in os.environ:
        return url
    query = parse_qsl(parts.query, keep_blank_values=True)
    if any(key == "connect_timeout" for key, _ in query):
        return url
    query.append(("connect_timeout", str(_CONNECT_TIMEOUT)))
    return urlunsplit(parts._replace(query=urlencode(query)))


def _pg_json_fields(doc: ir.JSONValue, paths: list[str]) -> list[JsonField]:
    fields = []
    for path in paths:
        node = doc
        for key in path.split(".")[1:]:  # "$.a.b": a, then b
            node = node[key]  # json -> 'key': null unless an object holds the key
        fields.append(JsonField(kind=_kind(_pg_json_typeof(node)), text=_pg_json_text(node)))
    return fields



# -- PostgreSQL -----------------------------------------------------------------------------------
#
# PostgreSQL 15 has no try-cast (pg_input_is_valid() is new in 16), and Ibis compiles one as a
# plain cast. These functions catch the cast's error in PL/pgSQL instead; connect() creates
# them in pg_temp, the connection's own schema, so a run needs no rights in the database
# beyond a temporary object (granted to everyone by default) and leaves nothing behind.
# They are PARALLEL UNSAFE because a PL/pgSQL exception block cannot run in a parallel worker.
#
# Each also gives DuckDB's answer where the two engines read a value differently:
# - try_timestamp: only the shapes helpers.datetimes builds or passes on, with a space or ISO's
#   T between date and time (PostgreSQL alone would also read
#   'yesterday', 'epoch' or 'J2459238'); a 60th second is refused (PostgreSQL rolls it into
#   the next minute) and year 0 is 1 BC (PostgreSQL refuses year 0);
# - try_float8: a number beyond a double's range is +-infinity, one below it zero (PostgreSQL
#   raises an error for both);
# - try_json: DuckDB's reader also takes a trailing comma ([1,]) and nan/inf/infinity in any
#   case, so text PostgreSQL refuses is read again with those spelled its way (1e999 stands for
#   a non-finite number: still a number, and not a finite one); and since PostgreSQL's JSON
#   functions fail on a \u0000 escape (its text cannot hold NUL), U+FFFD stands in for it;
# - json_keys: a key given twice is one key, in its first place (json keeps both pairs, and
#   json -> 'key' reads the last value, as DuckDB's macros and JSON.parse do).
_POSTGRES_FUNCTIONS = r"""
CREATE OR REPLACE FUNCTION pg_temp.try_timestamp(cell text) RETURNS timestamp
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL UNSAFE AS $fn$
BEGIN
  IF cell !~ '^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d+)?$' OR substr(cell, 18, 2) = '60' THEN
    RETURN NULL;
  END IF;
  IF left(cell, 4) = '0000' THEN
    RETURN ('0001' || substr(cell, 5) || ' BC')::timestamp;
  END IF;
  RETURN cell::timestamp;
EXCEPTION WHEN data_exception THEN
  RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION pg_temp.try_float8(cell text) RETURNS double precision
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL UNSAFE AS $fn$
DECLARE
  exact numeric;
BEGIN
  RETURN cell::double precision;
EXCEPTION
  WHEN numeric_value_out_of_range THEN
    BEGIN
      exact := cell::numeric;
    EXCEPTION WHEN data_exception THEN  -- beyond numeric too: the exponent's sign tells
      RETURN CASE WHEN cell ~* 'e-' THEN 0
                  WHEN ltrim(cell) LIKE '-%' THEN '-Infinity' ELSE 'Infinity' END;
    END;
    RETURN CASE WHEN abs(exact) < 1 THEN 0
                ELSE sign(exact)::double precision * 'Infinity'::double precision END;
  WHEN data_exception THEN
    RETURN NULL;
END
$fn$;

CREATE OR REPLACE FUNCTION pg_temp.try_json(doc text) RETURNS json
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL UNSAFE AS $fn$
DECLARE
  respelled text;
BEGIN
  IF strpos(doc, '\u0000') > 0 THEN  -- an escape, not one escaped backslash, then u0000
    LOOP
      respelled := regexp_replace(doc, '(^|[^\\])((\\\\)*)\\u0000', '\1\2\\ufffd', 'g');
      EXIT WHEN respelled = doc;
      doc := respelled;
    END LOOP;
  END IF;
  RETURN doc::json;
EXCEPTION WHEN data_exception THEN
  -- Outside strings only: the text cut into strings (m[1]) and what lies between (m[2]).
  SELECT string_agg(
           coalesce(m[1], regexp_replace(
             regexp_replace(m[2], '(^\s*|[^\s[{,]\s*),(\s*[]}])', '\1\2', 'g'),
             '\m(nan|inf|infinity)\M', '1e999', 'gi')),
           '' ORDER BY n)
    INTO respelled
    FROM regexp_matches(doc, '("(?:[^"\\]|\\.)*")|([^"]+|")', 'g') WITH ORDINALITY AS r(m, n);
  BEGIN
    RETURN respelled::json;
  EXCEPTION WHEN data_exception THEN
    RETURN NULL;
  END;
END
$fn$;

CREATE OR REPLACE FUNCTION pg_temp.json_text(node json) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $fn$
  SELECT node #>> '{}'
$fn$;

CREATE OR REPLACE FUNCTION pg_temp.json_keys(doc json) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $fn$
  SELECT CASE WHEN json_typeof(doc) = 'object' THEN ARRAY(
    SELECT k FROM json_object_keys(doc) WITH ORDINALITY AS e(k, n) GROUP BY k ORDER BY min(n))
  END
$fn$;
"""


def _create_postgres_functions(con: Any) -> None:
    con.raw_sql(_POSTGRES_FUNCTIONS).close()


def _cache_in_code_point_order(con: Any) -> None:
    """Ibis caches a table (``cache()``) by creating it from its columns' types, then
    inserting the rows: every text column of the copy would compare by the database's
    collation again. CREATE TABLE AS keeps the collation of the query's columns (see
    :func:`code_point_order`), so this connection caches that way."""

    def create_cached_table(name: str, expr: ir.Table) -> ir.Table:
        con._run_pre_execute_hooks(expr)  # in-memory tables the query reads, uploaded
        con.raw_sql(f"CREATE TEMPORARY TABLE {_quoted(name)} AS {con.compile(expr)}").close()
        return ops.DatabaseTable(
            name, schema=expr.schema(), source=con, namespace=ops.Namespace()
        ).to_expr()

    con._create_cached_table = create_cached_table


@ibis.udf.scalar.builtin(name="try_timestamp", database="pg_temp")
def _pg_try_timestamp(cell: str) -> dt.timestamp: ...


@ibis.udf.scalar.builtin(name="try_float8", database="pg_temp")
def _pg_try_float8(cell: str) -> dt.float64: ...


@ibis.udf.scalar.builtin(name="try_json", database="pg_temp")
def _pg_try_json(doc: str) -> dt.JSON: ...


@ibis.udf.scalar.builtin(name="json_text", database="pg_temp")
def _pg_json_text(value: dt.JSON) -> str: ...


@ibis.udf.scalar.builtin(name="json_typeof")
def _pg_json_typeof(value: dt.JSON) -> str: ...


@ibis.udf.scalar.builtin(name="json_keys", database="pg_temp")
def _pg_json_keys(value: dt.JSON) -> dt.Array(dt.string): ...


_PG_TRY_CASTS = {"timestamp": _pg_try_timestamp, "float64": _pg_try_float8}
