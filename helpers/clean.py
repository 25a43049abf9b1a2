"""Clean: the spec's cleaning rules, as Ibis expressions over the raw all-text events.

In order: trim every cell (blank -> null); parse ``datetime`` to UTC; give every row the
first exclusion reason that applies (spec order, :data:`EXCLUSION_REASONS`); and pull out of
``params`` the few values the objectives read. Nothing is dropped silently: every row is
either analysed or listed in :attr:`Cleaned.rejected` with its reason.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from decimal import Decimal

import ibis
import ibis.expr.datatypes as dt
import ibis.expr.types as ir

from helpers.activity import CANONICAL_COLUMNS, DERIVED_COLUMNS, canonical, require
from helpers.backend import (
    JsonField,
    computed_once,
    row_hash,
    strip,
    try_cast,
    with_json_fields,
)
from helpers.datetimes import utc_microseconds
from helpers.jsonl import INVALID
from helpers.params import ReportParams
from helpers.privacy import FORGOTTEN, forgotten, read_forget
from helpers.sources import ROW, order_column_name

#: Exclusion reasons, in the order the spec applies them (first that applies wins).
EXCLUSION_REASONS = (
    # First of all: a forgotten person's row must never be written, and every other reason
    # writes its row to the rejected rows (an unreadable datetime or line included).
    FORGOTTEN,
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

# A plain decimal number: what "a string that parses as a finite number" accepts.
_NUMBER = r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$"

# _seq = time in µs * 10^12 + row: rows below 10^12, times within ±10^26 µs: 38 digits hold it.
_ROWS_PER_MICROSECOND = 10**12
_MICROS_PER_SECOND = 1_000_000
_SEQ = dt.Decimal(38, 0)
# The text columns the objectives and analyses read, when the log has them.
_TEXT_COLUMNS = ("session_id", "page_type", "event_type", "om_source", "device_class")


@dataclass(frozen=True)
class Cleaned:
    """The two halves of the input: every row lands in exactly one of them."""

    events: ir.Table  # analysed rows, typed; one row per event, ordered by ``_seq`` in journeys
    rejected: ir.Table  # excluded rows: ``_row`` and ``reason`` (never a forgotten user's)
    absent: frozenset[str] = frozenset()  # canonical columns the source does not have
    forgotten: ir.IntegerScalar | None = None  # how many rows are a forgotten user's
    forget: tuple[str, ...] = field(default=(), repr=False)  # the ids: never shown


def clean_events(raw: ir.Table, params: ReportParams) -> Cleaned:
    """Split raw events into analysed events and rejected rows, following the spec's cleaning.

    Columns are first given their canonical names (the ``columns`` parameter); a log needs
    only ``datetime`` and the user column. Without ``env`` no row is non-production, without
    ``is_internal_ip`` none is internal, and without ``session_id`` sessions are derived
    (:func:`derived_sessions`).
    """
    named = canonical(raw, params.columns, origin="the events")
    require([c for c in named.columns if c != ROW], params.user_column, origin="the events")
    engine = raw.get_backend().name
    # Extra columns take part in the duplicate check under names of their own, so that one
    # called "reason" or "_copy" cannot meet a column cleaning adds; those not named like
    # one are kept for conditions and breakdowns. A table's order column is input order, as
    # _row is, not data: an event ingested twice has two ids and is still one event twice.
    known = [c for c in named.columns if c in CANONICAL_COLUMNS or c == params.user_column]
    order = order_column_name(params.order_column)
    extras = [c for c in named.columns if c not in (*known, ROW, order, INVALID)]
    cells = computed_once(
        named.select(
            *[strip(engine, named[c]).nullif("").name(c) for c in known],
            *[
                strip(engine, named[c]).nullif("").name(f"_extra_{i}")
                for i, c in enumerate(extras)
            ],
            *[named[c] for c in (INVALID,) if c in named.columns],  # as the reader marked it
            named[ROW],
        )
    )
    cells = _with_copy_number(
        cells.mutate(_ts_us=utc_microseconds(cells.datetime, params.datetime_format))
    )
    forget = read_forget(params.forget) if params.forget is not None else []
    classified = cells.mutate(reason=_exclusion_reason(cells, params, forget))
    # One pass over the input, materialised once: both halves are filters of it. Every row
    # is typed (JSON read) in the same pass; only the columns read downstream are kept, and
    # the raw rows are rejoined by _row when the rejected ones are written out.
    nameable = {
        f"_extra_{i}": c
        for i, c in enumerate(extras)
        if not c.startswith("_") and c not in DERIVED_COLUMNS
    }
    rows = _typed_events(classified, params, nameable).cache()
    analysed = rows.filter(rows.reason.isnull())
    user = params.user_column if params.user_column in CANONICAL_COLUMNS else "_user"
    # user_id is a name for session_id or visitor_id, not a copy of it in memory.
    events = analysed.select(
        analysed[ROW],
        analysed.ts_us,
        analysed[user].name("user_id"),
        *[analysed[c] for c in rows.columns if c not in (ROW, "ts_us", "reason", "_user")],
    )
    absent = frozenset(c for c in CANONICAL_COLUMNS if c not in named.columns)
    if "session_id" in absent:
        events = derived_sessions(events, params.session_timeout_minutes).cache()
    # A forgotten user's rows are counted, and go no further: not even into the rejected rows.
    rejected = rows.filter(rows.reason.notnull() & (rows.reason != FORGOTTEN)).select(ROW, "reason")
    count = rows.filter(rows.reason == FORGOTTEN).count() if forget else None
    return Cleaned(
        events=events, rejected=rejected, absent=absent - {"session_id"}, forgotten=count,
        forget=tuple(forget),
    )


def event_columns(named: list[str], params: ReportParams) -> list[str]:
    """The text columns of the cleaned events (what a condition or a breakdown may name), from
    the raw columns under their canonical names, as :func:`clean_events` keeps them."""
    kept = [c for c in _TEXT_COLUMNS if c in named or c == "session_id"]
    extras = [
        c for c in named
        if c not in CANONICAL_COLUMNS and c not in (ROW, params.user_column)
        and not c.startswith("_") and c not in DERIVED_COLUMNS
        and c != order_column_name(params.order_column)
    ]  # fmt: skip
    return ["user_id", *kept, "visitor_id", "test_groups", *extras]


def derived_sessions(events: ir.Table, timeout_minutes: float) -> ir.Table:
    """``events`` with ``session_id`` derived by inactivity: a user's events in journey order
    form one session until the gap between two consecutive events is more than
    ``timeout_minutes`` (exactly the timeout is the same session; a microsecond more starts
    a new one). The id is the user's id, ``#`` and the session's number from 1 in the
    user's journey: ``u1#1``, ``u1#2``."""
    timeout_us = round(timeout_minutes * 60 * _MICROS_PER_SECOND)
    journey = ibis.window(group_by=events.user_id, order_by=events._seq)
    gap = events.ts_us - events.ts_us.lag().over(journey)
    starts = events.mutate(_starts=ibis.ifelse(gap.isnull() | (gap > timeout_us), 1, 0))
    so_far = ibis.window(group_by=starts.user_id, order_by=starts._seq, rows=(None, 0))
    number = starts._starts.sum().over(so_far)
    return starts.mutate(
        session_id=starts.user_id.concat("#", number.cast("string"))
    ).drop("_starts")


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


def _with_copy_number(cells: ir.Table) -> ir.Table:
    """``cells`` with ``_copy``: 0 for the first row with its exact cells, 1 for the next...

    Identical rows share every earlier reason (each depends only on the row's own cells), so
    numbering copies over all rows marks exactly the later copies of analysable rows. Only
    rows whose hash of all cells repeats can be copies; numbering just those, by their cells,
    keeps the exact comparison but spares sorting every row by every column.

    Each row's hash is computed once, into a narrow table kept by the engine (``_row`` and
    the hash: 16 bytes a row): engines inline a subquery into every place that reads it, and
    the hashes are read twice (to count them and to pick the candidates). The candidates'
    copy numbers are a small table joined back by ``_row``.
    """
    columns = [c for c in cells.columns if c not in (ROW, "_ts_us")]
    engine = cells.get_backend().name
    hashes = cells.select(ROW, _hash=row_hash(engine, {c: cells[c] for c in columns})).cache()
    repeated = hashes.group_by("_hash").aggregate(n=hashes.count()).filter(lambda t: t.n > 1)
    candidates = hashes.semi_join(repeated, "_hash").select(ROW)
    may_repeat = cells.semi_join(candidates, ROW)
    copies = may_repeat.select(
        may_repeat[ROW].name("_copy_row"),
        _copy=ibis.row_number().over(group_by=columns, order_by=may_repeat[ROW]),
    )
    joined = cells.left_join(copies, cells[ROW] == copies._copy_row)
    return joined.mutate(_copy=joined._copy.fill_null(0)).drop("_copy_row")


def _exclusion_reason(t: ir.Table, params: ReportParams, forget: list[str]) -> ir.StringValue:
    # A rule whose column the log lacks never applies (analyses.md section 1).
    rules = []
    if (match := forgotten(t, forget, params.user_column)) is not None:
        # A broken JSON line has no cells: its text is searched with the rejected rows.
        rules.append((match, FORGOTTEN))
    if INVALID in t.columns:
        rules.append((t[INVALID].notnull(), "invalid_json_line"))
    rules.append((t._ts_us.isnull(), "invalid_datetime"))
    if "session_id" in t.columns:
        rules.append((t.session_id.isnull(), "missing_session_id"))
    if params.user_column != "session_id":
        rules.append((t[params.user_column].isnull(), "missing_user_id"))
    if "env" in t.columns:
        env = t.env.lower()
        allowed = [e.lower() for e in params.environments]
        rules.append((env.isnull() | ~env.isin(allowed), "non_production_env"))
    if params.exclude_internal_traffic and "is_internal_ip" in t.columns:
        rules.append((t.is_internal_ip.lower().isin(_TRUTHY).fill_null(False), "internal_ip"))
    rules.append((t._copy > 0, "duplicate_event"))
    return ibis.cases(*rules, else_=ibis.null("string"))


def _typed_events(
    analysed: ir.Table, params: ReportParams, extras: dict[str, str]
) -> ir.Table:
    """Classified rows with exactly the columns the objectives read, ``reason``, the user
    column (as ``_user`` when it is not a canonical one) and the ``extras`` (positional name
    -> their own name) that conditions and breakdowns may name."""
    engine = analysed.get_backend().name
    analysed, from_params = _params_fields(analysed, params, engine)
    present = set(analysed.columns)
    # visitor_id and test_groups were optional before the activity model: null when absent.
    columns = {
        c: analysed[c] for c in _TEXT_COLUMNS if c in present
    } | {c: _optional(analysed, c) for c in ("visitor_id", "test_groups")}
    if params.user_column not in CANONICAL_COLUMNS:
        columns["_user"] = analysed[params.user_column]
    events = analysed.select(
        ROW,
        "reason",
        ts_us=analysed._ts_us,
        **columns,
        **from_params,
        **{name: analysed[positional] for positional, name in extras.items()},
    )
    # One global order for every journey: by time, ties by input order, as one exact number
    # (the time in microseconds, then the row, in decimal digits) so that no sort of every
    # event is needed: comparing, min/max and argmin/argmax on it follow that order.
    return events.mutate(
        _seq=events.ts_us.cast(_SEQ) * ibis.literal(Decimal(_ROWS_PER_MICROSECOND), _SEQ)
        + events[ROW]
    )


def _params_fields(
    t: ir.Table, params: ReportParams, engine: str
) -> tuple[ir.Table, dict[str, ir.Value]]:
    """What the objectives read of ``params``: whether it is an object, the price, whether
    the currency matches, whether there is a request id; and the table they refer to (see
    :func:`~helpers.backend.with_json_fields`). Without a params column, every event has
    none of them and none is invalid."""
    if "params" not in t.columns:
        return t, {
            "params_invalid": ibis.literal(False),
            "price": ibis.null("float64"),
            "price_invalid": ibis.literal(False),
            "currency_matches": ibis.literal(False),
            "has_request_id": ibis.literal(False),
        }
    t, (root, price_node, currency, request_id) = with_json_fields(
        t, "params", ["$", "$.event_content.price", "$.event_content.currency", "$.page.request_id"]
    )
    price = finite_price(price_node, engine)
    return t, {
        # Not a JSON object (invalid, null, a list, blank): treated as {} and counted.
        "params_invalid": (root.kind == "object").fill_null(False) == False,  # noqa: E712
        "price": price,
        # Present (JSON null included) but not a price.
        "price_invalid": price_node.kind.notnull() & price.isnull(),
        "currency_matches": (
            (currency.kind == "string")
            & (strip(engine, currency.text).upper() == params.price_currency.upper())
        ).fill_null(False),
        "has_request_id": (
            ((request_id.kind == "string") & (strip(engine, request_id.text).length() > 0))
            | (request_id.kind == "number")
        ).fill_null(False),
    }
