"""Formatting: every number a person reads, written one way.

Narratives (in report.json), the notebook and the HTML all format through these functions, so
a rate or a duration reads the same wherever it appears.

>>> count(8991), percent(0.123456), points(-0.0123), seconds(70.8), p_value(0.0004)
('8,991', '12.3%', '-1.2 pp', '1.2 min', '< 0.001')
"""

from __future__ import annotations


def count(value: int | None) -> str:
    """A count with thousands separators: ``8,991``."""
    return "n/a" if value is None else f"{value:,}"


def number(value: float) -> str:
    """A parameter as written, without trailing zeros: ``5``, ``2.5``."""
    return f"{value:g}"


def percent(value: float | None) -> str:
    """A fraction as a percentage with one decimal: ``0.1234`` -> ``12.3%``."""
    return "n/a" if value is None else f"{value:.1%}"


def points(value: float) -> str:
    """A difference of two fractions in percentage points, signed: ``+1.2 pp``."""
    return f"{value * 100:+.1f} pp"


def p_value(value: float) -> str:
    """A p-value to three decimals; below 0.001 as ``< 0.001``."""
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def seconds(value: float | None) -> str:
    """A duration: seconds below a minute (``12.5 s``), else minutes (``1.2 min``)."""
    if value is None:
        return "n/a"
    return f"{value:.1f} s" if value < 60 else f"{value / 60:.1f} min"
