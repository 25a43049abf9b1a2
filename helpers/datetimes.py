"""Datetimes: every way a datetime cell may be written, read to microseconds since 1970 UTC.

By default (``datetime_format`` null) a cell is an ISO 8601 form or a Google Sheets serial
number (:func:`utc_microseconds`). ``datetime_format`` names another way, as trackers write
times: ``epoch_s``, ``epoch_ms`` or ``epoch_us`` (Mixpanel's ``time``, GA4's
``event_timestamp``), or a strftime pattern such as ``%m/%d/%Y %H:%M:%S``. Everything is
Ibis string and integer arithmetic, so every backend reads a cell the same way, exactly.

>>> check_datetime_format("%m/%d/%Y %H:%M")
>>> check_datetime_format("%Q")
Traceback (most recent call last):
...
ValueError: %Q is not supported; use %Y %y %m %d %H %I %p %M %S %f %z %b %B %%
"""

from __future__ import annotations

import re

import ibis
import ibis.expr.types as ir

from helpers.backend import try_cast

#: The epoch formats and the microseconds in one of their units.
EPOCH_UNITS = {"epoch_s": 1_000_000, "epoch_ms": 1_000, "epoch_us": 1}

_MICROS = 1_000_000
_EPOCH = ibis.timestamp("1970-01-01 00:00:00")

# An offset as ISO 8601 allows it: hours 00-23, minutes 00-59 (+25:00 or -00:60 is no offset).
_OFFSET = r"[+-](?:[01]\d|2[0-3])(?::?[0-5]\d)?"
# A date, optionally a time (minutes, seconds and any fraction optional), optionally a zone.
# Matched against the upper-cased cell, so "t", "z" and "utc" are accepted too. Groups: date,
# hours:minutes, seconds, fraction, the offset's sign, hours and minutes.
_DATETIME = (
    r"^(\d{4}-\d{2}-\d{2})"
    r"(?:[T ](\d{2}:\d{2})(?::(\d{2}))?(?:[.,](\d+))?)?"
    r" *(?:Z|UTC|([+-])([01]\d|2[0-3])(?::?([0-5]\d))?)?$"
)
# What exports write: 2021-01-23 11:57:09.286 UTC, with a fraction of up to six digits or
# none, or with ISO's T and Z (2021-01-23T11:57:09.286Z): what the engines' casts read exactly.
_USUAL_DATETIME = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d{1,6})?( UTC|Z)$"
# A Google Sheets date-time serial: days since 1899-12-30 (a cell formatted as a number).
_SERIAL = r"^\d{1,7}(\.\d+)?$"
_SERIAL_EPOCH_DAYS = 25569  # 1970-01-01 as a serial
_SERIAL_MAX = 2958465  # 9999-12-31
# An epoch number: an integer or a decimal, no exponent.
_EPOCH_NUMBER = r"^[+-]?\d+(\.\d+)?$"
# 0001-01-01 and 9999-12-31 23:59:59.999999: what the ISO forms can write.
_FIRST_US, _LAST_US = -62_135_596_800_000_000, 253_402_300_799_999_999

_MONTHS = ("JANUARY", "FEBRUARY", "MARCH", "APRIL", "MAY", "JUNE", "JULY", "AUGUST",
           "SEPTEMBER", "OCTOBER", "NOVEMBER", "DECEMBER")  # fmt: skip
# strftime directives: the field each fills and the text it matches (as Python's strptime
# does: one or two digits for a month, a day or an hour), on the upper-cased cell.
_DIRECTIVES = {
    "Y": ("year", r"\d{4}"),
    "y": ("year2", r"\d{2}"),
    "m": ("month", r"1[0-2]|0[1-9]|[1-9]"),
    "d": ("day", r"3[01]|[12]\d|0[1-9]|[1-9]"),
    "H": ("hour", r"2[0-3]|[01]\d|\d"),
    "I": ("hour12", r"1[0-2]|0[1-9]|[1-9]"),
    "p": ("ampm", r"AM|PM"),
    "M": ("minute", r"[0-5]\d|\d"),
    "S": ("second", r"[0-5]\d|\d"),
    "f": ("fraction", r"\d{1,6}"),
    "z": ("zone", r"Z|" + _OFFSET),
    "b": ("month_name", "|".join(m[:3] for m in _MONTHS)),
    "B": ("month_name", "|".join(_MONTHS)),
}
# Directives that fill the same part of a date: a pattern may give each part once.
_SLOTS = {"year2": "year", "month_name": "month", "hour12": "hour"}


def check_datetime_format(value: str) -> None:
    """Refuse a ``datetime_format`` that cannot be read, saying what can."""
    if value not in EPOCH_UNITS:
        _compile(value)


def utc_microseconds(text: ir.StringValue, datetime_format: str | None = None) -> ir.IntegerValue:
    """Microseconds since 1970-01-01 UTC for a datetime cell, or null when it cannot be parsed.

    Accepts ``2021-01-23 11:57:09.286 UTC`` (any fraction length, or none), ISO 8601 with
    ``T``, ``Z`` or a ``±HH:MM`` offset (also ``±HHMM``, ``±HH``; hours up to 23, minutes up
    to 59), and naive times, taken as UTC. A date alone is midnight UTC, or midnight at its
    offset (``2021-01-23+05:30`` is 2021-01-22 18:30 UTC). Fractions beyond microseconds are
    truncated. Integer arithmetic keeps durations exact: 5.001 s is never rounded to 5 s.

    A plain number is a Google Sheets date-time serial (days since 1899-12-30, what a sheet
    exports when a date cell is formatted as a number), rounded to the millisecond.

    With ``datetime_format``, only that form is read (see :func:`epoch_microseconds` and
    :func:`pattern_microseconds`).
    """
    if datetime_format in EPOCH_UNITS:
        return epoch_microseconds(text, datetime_format)
    if datetime_format is not None:
        return pattern_microseconds(text, datetime_format)
    # Nearly every cell of an export has a shape the engine's cast reads directly; a CASE
    # evaluates the general parser below (its groups read from the cell 14 times) only for
    # the other cells. The year 0 casts (1 BC) but is no datetime the report writes: the
    # general parser refuses it.
    engine = text.get_backend().name
    usual = text.re_search(_USUAL_DATETIME) & ~text.startswith("0000")
    zone = ibis.ifelse(text.endswith("Z"), 1, 4)  # " UTC" or "Z"
    at_usual = try_cast(engine, text.substr(0, text.length() - zone), "timestamp")
    return ibis.ifelse(
        usual, at_usual.delta(_EPOCH, unit="microsecond"), _parse_datetime(text, engine)
    )


def epoch_microseconds(text: ir.StringValue, datetime_format: str) -> ir.IntegerValue:
    """An ``epoch_s`` / ``epoch_ms`` / ``epoch_us`` cell: an integer or decimal number (no
    exponent) of seconds, milliseconds or microseconds since 1970-01-01 UTC, read exactly;
    digits below a microsecond are truncated. Beyond the years 1-9999 it is not a datetime."""
    unit = EPOCH_UNITS[datetime_format]
    digits = len(str(unit)) - 1  # of a fraction that still counts
    number = ibis.ifelse(text.re_search(_EPOCH_NUMBER), text, ibis.null("string"))
    negative = number.startswith("-")
    unsigned = number.re_replace(r"^[+-]", "")
    whole = unsigned.re_extract(r"^(\d+)", 1).re_replace(r"^0+", "")
    fraction = unsigned.re_extract(r"\.(\d+)$", 1).concat("0" * digits).substr(0, digits)
    # Only digits reach the casts, at most 18 of them (int64 holds them): a plain cast cannot
    # fail on any engine. Past 18 - digits digits no value is a datetime anyway.
    whole_us = ibis.ifelse(
        whole.length() <= 18 - digits,
        whole.nullif("").fill_null("0").substr(0, 18).cast("int64") * unit,
        ibis.null("int64"),
    )
    fraction_us = fraction.cast("int64").fill_null(0) if digits else ibis.literal(0, "int64")
    magnitude = whole_us + fraction_us
    micros = ibis.ifelse(negative, -magnitude, magnitude)
    return ibis.ifelse(micros.between(_FIRST_US, _LAST_US), micros, ibis.null("int64"))


def pattern_microseconds(text: ir.StringValue, datetime_format: str) -> ir.IntegerValue:
    """A cell written as the strftime ``datetime_format`` says, matched whole (case
    insensitive for month names and AM/PM). Fields it lacks are those of 1900-01-01
    00:00:00; without ``%z`` the time is UTC. ``%y`` is 1969-2068, as Python reads it. The
    calendar is validated as every cell's is (2021-02-30 is not a date)."""
    regex, fields = _compile(datetime_format)
    upper = text.upper()
    engine = text.get_backend().name

    # Each field is read once, and each read is used once or twice: Spark and PostgreSQL
    # repeat an expression wherever it is used, so a nested one would grow the query
    # multiplicatively. No field is cast unless it holds digits only: a cell that does not
    # match gives empty fields, which lpad turns into zeros.
    def field(name: str, default: str, width: int) -> ir.StringValue:
        if name not in fields:
            return ibis.literal(default)
        return upper.re_extract(regex, fields[name]).lpad(width, "0")

    if "year2" in fields:
        two = field("year2", "00", 2)
        year = ibis.ifelse(two >= "69", "19", "20").concat(two)
    else:
        year = field("year", "1900", 4)
    if "month_name" in fields:
        name = upper.re_extract(regex, fields["month_name"]).substr(0, 3)
        month = name.cases(*[(m[:3], f"{i:02d}") for i, m in enumerate(_MONTHS, 1)], else_="")
    else:
        month = field("month", "01", 2)
    if "hour12" in fields:
        twelve = field("hour12", "12", 2).cases(("12", "00"), else_=None)
        twelve = twelve.fill_null(field("hour12", "12", 2))
        pm = upper.re_extract(regex, fields["ampm"]) == "PM"
        hour = ibis.ifelse(pm, (twelve.cast("int64") + 12).cast("string"), twelve)
    else:
        hour = field("hour", "00", 2)
    stamp = try_cast(
        engine,
        year.concat("-", month, "-", field("day", "01", 2), " ", hour, ":",
                    field("minute", "00", 2), ":", field("second", "00", 2)),
        "timestamp",
    )  # fmt: skip
    micros = field("fraction", "0", 1).rpad(6, "0").substr(0, 6).cast("int64")
    utc = stamp.delta(_EPOCH, unit="microsecond") + micros
    if "zone" in fields:
        zone = upper.re_extract(regex, fields["zone"]).replace(":", "")
        sign = ibis.ifelse(zone.startswith("-"), -1, 1)
        offset = ibis.ifelse(
            zone.length() >= 3,
            sign * (zone.substr(1, 2).cast("int64") * 60
                    + zone.substr(3, 2).lpad(2, "0").cast("int64")),
            0,
        )  # fmt: skip
        utc = utc - offset * 60 * _MICROS
    valid = upper.re_search(regex) & utc.between(_FIRST_US, _LAST_US)
    return ibis.ifelse(valid, utc, ibis.null("int64"))


def _compile(pattern: str) -> tuple[str, dict[str, int]]:
    """A strftime pattern as a whole-cell regular expression and the group of each field."""
    parts, fields = [], {}
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char != "%":
            parts.append(re.escape(char.upper()))
            i += 1
            continue
        directive = pattern[i + 1 : i + 2]
        if directive == "%":
            parts.append("%")
        elif directive in _DIRECTIVES:
            name, matches = _DIRECTIVES[directive]
            if _SLOTS.get(name, name) in {_SLOTS.get(f, f) for f in fields}:
                raise ValueError(f"{pattern!r} gives the {_SLOTS.get(name, name)} twice")
            fields[name] = len(fields) + 1
            parts.append(f"({matches})")
        else:
            supported = " ".join(f"%{d}" for d in _DIRECTIVES)
            raise ValueError(f"%{directive} is not supported; use {supported} %%")
        i += 2
    if ("ampm" in fields) != ("hour12" in fields):
        raise ValueError(f"{pattern!r}: %I (12-hour clock) needs %p (AM/PM), and %p needs %I")
    return "^" + "".join(parts) + "$", fields


def _parse_datetime(text: ir.StringValue, engine: str) -> ir.IntegerValue:
    """:func:`utc_microseconds` for any cell: every accepted form, validated."""
    upper = text.upper()
    # Each part is one group of the full expression, read from the cell once, and combined
    # by concatenation and arithmetic rather than by CASE: Ibis copies an expression into every
    # place that reads it, and neither DuckDB nor PostgreSQL shares the work of copies under
    # a CASE (on Spark the copies once made a plan too large to compile and to ship). A cell
    # that does not match has every group empty, so its date, and the result, is null.
    date, hours_minutes, seconds, fraction, sign, zone_hours, zone_minutes = (
        upper.re_extract(_DATETIME, group).fill_null("") for group in range(1, 8)
    )
    clock = (
        ibis.literal("00:00").concat(hours_minutes).right(5)
        .concat(":", ibis.literal("00").concat(seconds).right(2))
    )  # fmt: skip
    # try_cast validates the calendar too: 2021-02-30 or 25:00 becomes null.
    whole = try_cast(engine, date.nullif("").concat(" ", clock), "timestamp")
    micros = fraction.concat("000000").substr(0, 6).cast("int64")
    direction = ibis.ifelse(sign == "-", -1, 1)
    # "0" + digits: a zone without hours or minutes reads as 0 without a CASE.
    offset_minutes = direction * (
        ibis.literal("0").concat(zone_hours).cast("int64") * 60
        + ibis.literal("0").concat(zone_minutes).cast("int64")
    )
    # delta() is exact integer arithmetic on every backend (epoch_seconds() is not).
    since_epoch = whole.delta(_EPOCH, unit="microsecond")
    serial = ibis.ifelse(
        text.re_search(_SERIAL), try_cast(engine, text, "float64"), ibis.null("float64")
    )
    serial_ms = ((serial - _SERIAL_EPOCH_DAYS) * 86_400_000).round().cast("int64")
    utc = since_epoch + micros - offset_minutes * 60 * _MICROS
    return ibis.cases(
        # 9999-12-31T23:59:59-01:00 is in the year 10000 in UTC: no date the report can write.
        (utc.between(_FIRST_US, _LAST_US), utc),
        ((serial >= 1) & (serial <= _SERIAL_MAX), serial_ms * 1000),
        else_=ibis.null("int64"),
    )


def suggested_format(examples: list[str]) -> str | None:
    """A ``datetime_format`` that reads cells like ``examples``, when their shape says one.

    >>> suggested_format(["1611360044", "1611360050"])
    'epoch_s'
    >>> suggested_format(["01/23/2021 00:00:44"])
    '%m/%d/%Y %H:%M:%S'
    """
    cells = [e.strip() for e in examples if e and e.strip()]
    if not cells:
        return None
    if all(re.fullmatch(r"-?\d+(\.\d+)?", c) for c in cells):
        digits = max(len(c.lstrip("-").split(".")[0]) for c in cells)
        return {10: "epoch_s", 13: "epoch_ms", 16: "epoch_us"}.get(digits)
    shape = r"(\d{1,2})([/.-])(\d{1,2})\2(\d{4})(?:[ T](\d{1,2}:\d{2}(:\d{2})?))?"
    shapes = [re.fullmatch(shape, c) for c in cells]
    if not all(shapes):
        return None
    day_first = any(int(m.group(1)) > 12 for m in shapes if m)
    sep = shapes[0].group(2) if shapes[0] else "/"
    date = sep.join(["%d", "%m", "%Y"] if day_first else ["%m", "%d", "%Y"])
    first = shapes[0]
    if first and first.group(5):
        return date + (" %H:%M:%S" if first.group(6) else " %H:%M")
    return date
