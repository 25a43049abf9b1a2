"""Clean: the spec's cleaning rules, as Ibis expressions over the raw all-text events.

In order: trim every cell (blank -> null); parse ``datetime`` to UTC; give every row the
first exclusion reason that applies (spec order, :data:`EXCLUSION_REASONS`); and pull out of
``params`` the few values the objectives read. Nothing is dropped silently: every row is
either analysed or listed in :attr:`Cleaned.rejected` with its reason.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from decimal import Decimal

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from helpers.backend import (
    JsonField,
    computed_once,
    row_hash,
    strip,
    try_cast,
    with_json_fields,
)
from helpers.errors import SourceError
from helpers.jsonl import INVALID
from helpers.params import ReportParams
from helpers.sources import OPTIONAL_COLUMNS, REQUIRED_COLUMNS, ROW, order_column_name

#: Exclusion reasons, in the order the spec applies them (first that applies wins).
EXCLUSION_REASONS = (
    "invalid_json_line",  # a JSON Lines line that is not a JSON object: it has no cells
    "invalid_datetime",
    "missing_session_id",
    "missing_user_id",
    "non_production_env",
    "internal_ip",
    "duplicate_event",
)

#: is_internal_ip values that mean "internal" (compared trimmed, case-insensitively).
_TRUTHY = ("true", "1", "yes", "t")

# A date, optionally a time (minutes, seconds and any fraction optional), optionally a zone.
# Matched against the upper-cased cell, so "t", "z" and "utc" are accepted too.
_DATETIME = (
    r"^(\d{4}-\d{2}-\d{2})"
    r"(?:[T ](\d{2}:\d{2}(?::\d{2})?)(?:[.,](\d+))?)?"
    r" *(Z|UTC|[+-]\d{2}(?::?\d{2})?)?$"
)
# What exports write: 2021-01-23 11:57:09.286 UTC.
_USUAL_DATETIME = r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3} UTC$"
# A Google Sheets date-time serial: days since 1899-12-30 (a cell formatted as a number).
_SERIAL = r"^\d{1,7}(\.\d+)?$"
_SERIAL_EPOCH_DAYS = 25569  # 1970-01-01 as a serial
_SERIAL_MAX = 2958465  # 9999-12-31
# A plain decimal number: what "a string that parses as a finite number" accepts.
_NUMBER = r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$"

_MICROS = 1_000_000
# _seq = time in µs * 10^12 + row: rows below 10^12, times within ±10^26 µs: 38 digits hold it.
_ROWS_PER_MICROSECOND = 10**12
_SEQ = dt.Decimal(38, 0)
_DOWNSTREAM = (
    "session_id", "page_type", "event_type", "params", "om_source", "device_class",
    "visitor_id", "test_groups",
)
_EPOCH = ibis.timestamp("1970-01-01 00:00:00")


@dataclass(frozen=True)
class Cleaned:
    """The two halves of the input: every row lands in exactly one of them."""

    events: ir.Table  # analysed rows, typed; one row per event, ordered by ``_seq`` in journeys
    rejected: ir.Table  # excluded rows: ``_row`` and ``reason``


def clean_events(raw: ir.Table, params: ReportParams) -> Cleaned:
    """Split raw events into analysed events and rejected rows, following the spec's cleaning."""
    _require_user_column(raw, params)
    engine = raw.get_backend().name
    # Extra columns take part in the duplicate check only, under names of their own, so that
    # one called "reason" or "_copy" cannot meet a column cleaning adds. A table's order
    # column is input order, as _row is, not data: an event ingested twice has two ids and
    # is still one event twice.
    known = [c for c in raw.columns if c in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS)]
    order = order_column_name(params.order_column)
    extras = [c for c in raw.columns if c not in (*known, ROW, order, INVALID)]
    cells = computed_once(
        raw.select(
            *[strip(engine, raw[c]).nullif("").name(c) for c in known],
            *[strip(engine, raw[c]).nullif("").name(f"_extra_{i}") for i, c in enumerate(extras)],
            *[raw[c] for c in (INVALID,) if c in raw.columns],  # kept as the reader marked it
            raw[ROW],
        )
    )
    cells = _with_copy_number(cells.mutate(_ts_us=utc_microseconds(cells.datetime)))
    classified = cells.mutate(reason=_exclusion_reason(cells, params))
    # One pass over the input, materialised once: both halves are filters of it. Every row
    # is typed (JSON read) in the same pass; only the columns read downstream are kept, and
    # the raw rows are rejoined by _row when the rejected ones are written out.
    rows = _typed_events(classified, params).cache()
    analysed = rows.filter(rows.reason.isnull())
    # user_id is a name for session_id or visitor_id, not a copy of it in memory.
    events = analysed.select(
        analysed[ROW],
        analysed.ts_us,
        analysed[params.user_column].name("user_id"),
        *[analysed[c] for c in rows.columns if c not in (ROW, "ts_us", "reason")],
    )
    rejected = rows.filter(rows.reason.notnull()).select(ROW, "reason")
    return Cleaned(events=events, rejected=rejected)


def utc_microseconds(text: ir.StringValue) -> ir.IntegerValue:
    """Microseconds since 1970-01-01 UTC for a datetime cell, or null when it cannot be parsed.

    Accepts ``2021-01-23 11:57:09.286 UTC`` (any fraction length, or none), ISO 8601 with
    ``T``, ``Z`` or a ``±HH:MM`` offset (also ``±HHMM``, ``±HH``), and naive times, taken as
    UTC. A date alone is midnight UTC. Fractions beyond microseconds are truncated.
    Integer arithmetic keeps durations exact: 5.001 s is never rounded to 5 s.

    A plain number is a Google Sheets date-time serial (days since 1899-12-30, what a sheet
    exports when a date cell is formatted as a number), rounded to the millisecond.
    """
    # Nearly every cell of an export has one shape, which the engine's cast reads directly, at
    # a third of the cost of the general parser below. Only the other cells reach that one:
    # the engines evaluate the common parts of an expression once for all rows, so the
    # other cells are passed as their own column, null where the shape matched.
    engine = text.get_backend().name
    usual = text.re_search(_USUAL_DATETIME)
    at_usual = try_cast(engine, text.substr(0, 23), "timestamp").delta(_EPOCH, unit="microsecond")
    return ibis.ifelse(
        usual, at_usual, _parse_datetime(ibis.ifelse(usual, ibis.null("string"), text), engine)
    )


def _parse_datetime(text: ir.StringValue, engine: str) -> ir.IntegerValue:
    """:func:`utc_microseconds` for any cell: every accepted form, validated."""
    upper = text.upper()
    # One full regular expression validates; once it matches, the date and the clock sit at
    # fixed positions, and only the short tail needs matching again (a third of the cost of
    # extracting every group with the full expression).
    date = upper.substr(0, 10)
    has_clock = upper.length() >= 16
    has_seconds = has_clock & (upper.substr(16, 1) == ":")
    clock = ibis.cases(
        (has_seconds, upper.substr(11, 8)),
        (has_clock, upper.substr(11, 5).concat(":00")),
        else_="00:00:00",
    )
    tail = ibis.cases(
        (has_seconds, upper.substr(19)), (has_clock, upper.substr(16)), else_=upper.substr(10)
    )
    fraction = tail.re_extract(r"^[.,](\d+)", 1).nullif("")
    zone = tail.re_extract(r"(Z|UTC|[+-]\d{2}(?::?\d{2})?)$", 1).nullif("")

    # try_cast validates the calendar too: 2021-02-30 or 25:00 becomes null.
    whole = try_cast(engine, date.concat(" ", clock), "timestamp")
    micros = fraction.concat("000000").substr(0, 6).cast("int64").fill_null(0)

    zone_digits = zone.replace(":", "")
    sign = ibis.ifelse(zone_digits.startswith("-"), -1, 1)
    offset_minutes = ibis.ifelse(
        zone_digits.re_search(r"^[+-]\d"),
        sign
        * (
            zone_digits.substr(1, 2).cast("int64") * 60
            + zone_digits.substr(3, 2).nullif("").cast("int64").fill_null(0)
        ),
        0,
    )
    valid = upper.re_search(_DATETIME) & whole.notnull()
    # delta() is exact integer arithmetic on every backend (epoch_seconds() is not).
    since_epoch = whole.delta(_EPOCH, unit="microsecond")
    serial = ibis.ifelse(
        text.re_search(_SERIAL), try_cast(engine, text, "float64"), ibis.null("float64")
    )
    serial_ms = ((serial - _SERIAL_EPOCH_DAYS) * 86_400_000).round().cast("int64")
    return ibis.cases(
        (valid, since_epoch + micros - offset_minutes * 60 * _MICROS),
        ((serial >= 1) & (serial <= _SERIAL_MAX), serial_ms * 1000),
        else_=ibis.null("int64"),
    )


def finite_price(price: JsonField, engine: str) -> ir.FloatingValue:
    """The price of a ``params.event_content.price`` JSON value, or null when it is not a price.

    A JSON number, or a string that parses as a finite number after trimming ("1200",
    " 1200.5 "). Booleans, null, lists, objects, other strings and non-finite numbers are not.
    """
    text = strip(engine, price.text)
    number = ibis.cases(
        (price.kind == "number", try_cast(engine, price.text, "float64")),
        ((price.kind == "string") & text.re_search(_NUMBER), try_cast(engine, text, "float64")),
        else_=ibis.null("float64"),
    )
    # Not isnan()/isinf(): on Spark, Ibis's isinf() lets infinity through. Both engines order
    # NaN above every number, so this one comparison rejects NaN and both infinities.
    finite = number.abs() <= sys.float_info.max
    return ibis.ifelse(finite, number, ibis.null("float64"))


def _optional(t: ir.Table, column: str) -> ir.StringValue:
    """An optional input column, or null text when the export does not have it."""
    return t[column] if column in t.columns else ibis.null("string")


def _require_user_column(raw: ir.Table, params: ReportParams) -> None:
    if params.user_column not in raw.columns:
        raise SourceError(
            f"user_column is {params.user_column!r} but the events have no such column "
            f"(columns: {', '.join(c for c in raw.columns if c != ROW)}). "
            f"Use --set user_column=session_id, or export the {params.user_column} column."
        )


def _with_copy_number(cells: ir.Table) -> ir.Table:
    """``cells`` with ``_copy``: 0 for the first row with its exact cells, 1 for the next...

    Identical rows share every earlier reason (each depends only on the row's own cells), so
    numbering copies over all rows marks exactly the later copies of analysable rows. Only
    rows whose hash of all cells repeats can be copies; numbering just those, by their cells,
    keeps the exact comparison but spares sorting every row by every column.
    """
    columns = [c for c in cells.columns if c not in (ROW, "_ts_us")]
    engine = cells.get_backend().name
    hashed = cells.mutate(_hash=row_hash(engine, {c: cells[c] for c in columns}))
    repeated = (
        hashed.group_by("_hash").aggregate(n=hashed.count()).filter(lambda t: t.n > 1)["_hash",]
    )
    may_repeat = hashed.semi_join(repeated, "_hash")
    copies = may_repeat.mutate(
        _copy=ibis.row_number().over(group_by=columns, order_by=may_repeat[ROW])
    )
    unique = hashed.anti_join(repeated, "_hash").mutate(_copy=ibis.literal(0, "int64"))
    return ibis.union(unique, copies, distinct=False).drop("_hash")


def _exclusion_reason(t: ir.Table, params: ReportParams) -> ir.StringValue:
    env = t.env.lower()
    internal = t.is_internal_ip.lower().isin(_TRUTHY).fill_null(False)
    rules = [(t[INVALID].notnull(), "invalid_json_line")] if INVALID in t.columns else []
    rules += [
        (t._ts_us.isnull(), "invalid_datetime"),
        (t.session_id.isnull(), "missing_session_id"),
    ]
    if params.user_column != "session_id":
        rules.append((t[params.user_column].isnull(), "missing_user_id"))
    rules.append(
        (env.isnull() | ~env.isin([e.lower() for e in params.environments]), "non_production_env")
    )
    if params.exclude_internal_traffic:
        rules.append((internal, "internal_ip"))
    rules.append((t._copy > 0, "duplicate_event"))
    return ibis.cases(*rules, else_=ibis.null("string"))


def _typed_events(analysed: ir.Table, params: ReportParams) -> ir.Table:
    """Classified rows with exactly the columns the objectives read, plus ``reason``."""
    engine = analysed.get_backend().name

    analysed, (root, price_node, currency, request_id) = with_json_fields(
        analysed,
        "params",
        ["$", "$.event_content.price", "$.event_content.currency", "$.page.request_id"],
    )
    price = finite_price(price_node, engine)
    events = analysed.select(
        ROW,
        "reason",
        ts_us=analysed._ts_us,
        session_id=analysed.session_id,
        visitor_id=_optional(analysed, "visitor_id"),
        test_groups=_optional(analysed, "test_groups"),
        page_type=analysed.page_type,
        event_type=analysed.event_type,
        om_source=analysed.om_source,
        device_class=analysed.device_class,
        # Not a JSON object (invalid, null, a list, blank): treated as {} and counted.
        params_invalid=(root.kind == "object").fill_null(False) == False,  # noqa: E712
        price=price,
        # Present (JSON null included) but not a price.
        price_invalid=price_node.kind.notnull() & price.isnull(),
        currency_matches=(
            (currency.kind == "string")
            & (strip(engine, currency.text).upper() == params.price_currency.upper())
        ).fill_null(False),
        has_request_id=(
            ((request_id.kind == "string") & (strip(engine, request_id.text).length() > 0))
            | (request_id.kind == "number")
        ).fill_null(False),
    )
    # One global order for every journey: by time, ties by input order, as one exact number
    # (the time in microseconds, then the row, in decimal digits) so that no sort of every
    # event is needed: comparing, min/max and argmin/argmax on it follow that order.
    return events.mutate(
        _seq=events.ts_us.cast(_SEQ) * ibis.literal(Decimal(_ROWS_PER_MICROSECOND), _SEQ)
        + events[ROW]
    )
