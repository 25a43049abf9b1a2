"""Executing analysis queries and rounding what they return, the same way for every analysis.

Rates and shares are fractions between 0 and 1, rounded to 6 decimals, and ``None`` when
their denominator is 0; statistics (differences, confidence bounds, z, p-values) are not
rounded.
"""

from __future__ import annotations

import math
from typing import Any

import ibis.expr.types as ir


def rows(expr: ir.Table) -> list[dict[str, Any]]:
    """Every row of a (small) result table, as dicts."""
    return expr.to_pyarrow().to_pylist()


def row(expr: ir.Table) -> dict[str, Any]:
    """The one row of an aggregate."""
    return rows(expr)[0]


def integer(expr: ir.Scalar) -> int:
    """A count; 0 for null (a sum over no rows)."""
    value = expr.to_pyarrow().as_py()
    return int(value) if value is not None else 0


def rounded(value: Any) -> float | None:
    """A float rounded to 6 decimals (a microsecond, for seconds); None for null or NaN."""
    return None if value is None or math.isnan(value) else round(float(value), 6)


def rate(numerator: int | None, denominator: int | None) -> float | None:
    """``numerator / denominator`` rounded to 6 decimals; None when the denominator is 0."""
    if not denominator:
        return None
    return round((numerator or 0) / denominator, 6)
