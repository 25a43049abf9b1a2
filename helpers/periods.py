"""Periods: UTC days, ISO weeks and calendar months as consecutive integers.

A period is numbered so that the next one is the number plus one: a day by the days since
1970-01-01, a week (Monday 00:00 to the next Monday) by the weeks since the Monday
1970-01-05, a month by ``year * 12 + month - 1``. :func:`index` computes the number of an
event's time in the engine (integer arithmetic for days and weeks, the engine's calendar for
months: exact, and the same on every backend); :func:`label` names a period by its first
day, ``YYYY-MM-DD``.

>>> saturday = 18650  # Sat 23 Jan 2021, in days since 1970-01-01
>>> label("week", index_of_day("week", saturday)), label("month", index_of_day("month", saturday))
('2021-01-18', '2021-01-01')
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Literal

import ibis
import ibis.expr.types as ir

Period = Literal["day", "week", "month"]
PERIODS: tuple[Period, ...] = ("day", "week", "month")

DAY_US = 86_400 * 1_000_000
_EPOCH = date(1970, 1, 1)
_FIRST_MONDAY = 4  # 1970-01-05, in days since the epoch


def day(ts_us: ir.IntegerValue) -> ir.IntegerValue:
    """The UTC day of a time in microseconds since the epoch, as days since 1970-01-01."""
    return ts_us // DAY_US


def index(period: Period, ts_us: ir.IntegerValue) -> ir.IntegerValue:
    """The number of the ``period`` holding a time in microseconds since the epoch."""
    return index_of_day(period, day(ts_us))


def index_of_day(period: Period, days: ir.IntegerValue) -> ir.IntegerValue:
    """The number of the ``period`` holding a day (days since 1970-01-01); works on Ibis
    expressions and on Python ints alike."""
    if period == "day":
        return days
    if period == "week":
        return (days - _FIRST_MONDAY) // 7
    if isinstance(days, int):
        moment = _EPOCH + timedelta(days=days)
        return moment.year * 12 + moment.month - 1
    # The engine's calendar: integer arithmetic (days to a civil date) reads the day a dozen
    # times, and SQL repeats an expression wherever it is read: 18 kB of SQL for one month
    # number, and a quarter of a second of compiling every query that held one.
    moment = ibis.date(1970, 1, 1) + days.as_interval("D")
    return moment.year() * 12 + moment.month() - 1


def first_day(period: Period, number: int) -> date:
    """The first day of period ``number``."""
    if period == "day":
        return _EPOCH + timedelta(days=number)
    if period == "week":
        return _EPOCH + timedelta(days=_FIRST_MONDAY + 7 * number)
    return date(number // 12, number % 12 + 1, 1)


def label(period: Period, number: int) -> str:
    """A period's label: its first day, ``YYYY-MM-DD``."""
    return first_day(period, number).isoformat()


def days_in(period: Period, number: int) -> range:
    """The days (since 1970-01-01) of period ``number``."""
    start = (first_day(period, number) - _EPOCH).days
    end = (first_day(period, number + 1) - _EPOCH).days
    return range(start, end)
