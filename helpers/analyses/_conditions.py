"""Conditions compiled to Ibis predicates over the cleaned events, in one place."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from helpers.analysis_params import Condition
from helpers.errors import ParameterError


def columns(events: ir.Table) -> list[str]:
    """The columns a condition or a breakdown may name: the events' text columns."""
    schema = events.schema()
    return [c for c in events.columns if not c.startswith("_") and schema[c].is_string()]


def check_column(events: ir.Table, column: str, *, where: str) -> str:
    """``column``, or a ParameterError naming ``where`` and the columns there are."""
    known = columns(events)
    if column not in known:
        raise ParameterError(
            f"{where}: there is no column {column!r} in the events. Columns: {', '.join(known)}."
        )
    return column


def predicate(events: ir.Table, condition: Condition, *, where: str) -> ir.BooleanValue:
    """True for the events matching ``condition``: every column's value is one of its values,
    exactly as written. ``{}`` matches every event."""
    tests = [
        events[check_column(events, column, where=where)].isin(values)
        for column, values in condition.items()
    ]
    return ibis.and_(*tests).fill_null(False) if tests else ibis.literal(True)
