"""Formatting: every number a person reads, written one way.

Narratives (in report.json), the notebook and the HTML all format through these functions, so
a rate or a duration reads the same wherever it appears.

>>> count(8991), percent(0.123456), points(-0.0123), seconds(70.8), p_value(0.0004)
('8,991', '12.3%', '-1.2 pp', '1.2 min', 'p < 0.001')
>>> seconds(5400), seconds(86400), seconds(7 * 86400)
('1.5 h', '1 day', '7 days')
"""

from __future__ import annotations

from datetime import datetime


def count(value: int | None) -> str:
    """A count with thousands separators: ``8,991``."""
    return "n/a" if value is None else f"{value:,}"


def change(value: int | None) -> str:
    """A change of a count, signed: ``+1,204``, ``-37``, ``0``."""
    return "n/a" if value is None else ("0" if value == 0 else f"{value:+,}")


def relative(value: float | None) -> str:
    """A relative change, signed, one decimal: ``0.0523`` -> ``+5.2%``."""
    return "n/a" if value is None else f"{value:+.1%}"


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
    """A p-value as a phrase, to three decimals: ``p = 0.042``; below 0.001 ``p < 0.001``."""
    return "p < 0.001" if value < 0.001 else f"p = {value:.3f}"


def seconds(value: float | None) -> str:
    """A duration in the unit a person would say: seconds below a minute (``12.5 s``),
    minutes below an hour (``1.2 min``), hours below a day (``1.5 h``), else days; a whole
    number of days or hours (a funnel's window) without decimals (``1 day``, ``2 h``)."""
    if value is None:
        return "n/a"
    if value < 60:
        return f"{value:.1f} s"
    if value < 3600:
        return f"{value / 60:.1f} min"
    if value < 86400:
        hours = value / 3600
        return f"{hours:.0f} h" if hours.is_integer() else f"{hours:.1f} h"
    days = value / 86400
    if days.is_integer():
        return f"{days:.0f} day" + ("" if days == 1 else "s")
    return f"{days:.1f} days"


def moment(iso: str) -> str:
    """A UTC time from report.json in words: ``Sat 23 Jan 2021, 00:00 UTC``."""
    at = _parse(iso)
    return f"{at:%a} {at.day} {at:%b %Y, %H:%M} UTC"


def period(first: str | None, last: str | None) -> str:
    """The span of the analysed events in words: ``Sat 23 Jan 2021, 00:00-23:59 UTC`` within
    a day, else ``Mon 4 Jan 2021, 00:00 to Sun 31 Jan 2021, 23:59 UTC``.

    >>> period("2021-01-23T00:00:03.763Z", "2021-01-23T23:59:58.120Z")
    'Sat 23 Jan 2021, 00:00-23:59 UTC'
    """
    if first is None or last is None:
        return "no events analysed"
    start, end = _parse(first), _parse(last)
    if start.date() == end.date():
        return f"{start:%a} {start.day} {start:%b %Y, %H:%M}-{end:%H:%M} UTC"
    return f"{moment(first)[:-4]} to {moment(last)}"


def _parse(iso: str) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00"))
