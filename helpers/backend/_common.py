"""What every engine module of the backend shares: a JSON value's kind and text, and SQL
quoting."""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.types as ir


@dataclass(frozen=True)
class JsonField:
    """A value inside a JSON text: its kind (null when absent) and its text."""

    kind: ir.StringValue  # 'string' | 'number' | 'boolean' | 'null' | 'object' | 'array'
    text: ir.StringValue  # a string's value unquoted; a number or boolean as written


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _quoted(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


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
