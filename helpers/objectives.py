"""Objectives: the spec's eight questions as Ibis expressions over the cleaned events.

Read like a dataflow: each objective below is named after its key in report.json, with the
spec's definition as its docstring, and reads the grains of ``helpers.grains`` (the cleaned
events, one row per user, one row per session). Every function returns an unexecuted Ibis
expression, so the same code runs on DuckDB or any other Ibis backend; ``helpers.report``
executes them, the counts of one table (users, short sessions, ...) together in one query.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from helpers.grains import APARTMENT_VIEW, SEARCH_PAGE
from helpers.params import ReportParams

# -- the objectives -------------------------------------------------------------------------------


def users_total(users: ir.Table) -> ir.IntegerScalar:
    """Distinct users among the analysed events."""
    return users.count()


def users_by_device_class(users: ir.Table) -> ir.Table:
    """Users counted by the device_class of their first event with a non-null device_class;
    a user with none is counted under ``unknown``. The counts sum to ``users_total``."""
    return users.group_by("device_class").aggregate(users=users.count())


def users_by_first_om_source(users: ir.Table) -> ir.Table:
    """Users counted by the om_source of their first event with a non-null om_source; a user
    whose journey has none is counted under ``no_om_source``. Values are kept as written
    (case included). The counts sum to ``users_total``."""
    return users.group_by(om_source=users.first_om_source).aggregate(users=users.count())


def short_sessions(
    events: ir.Table, sessions: ir.Table, params: ReportParams
) -> dict[str, ir.IntegerScalar]:
    """A session's duration is its last event's datetime minus its first's, in seconds; a
    one-event session lasts 0 s. Short means duration <= ``short_session_seconds``.

    - ``users``: users with at least one short session.
    - ``sessions``: short sessions.
    - ``started_on_search_page``: short sessions that start on ``search_page``.
    - ``ended_on_apartment_view``: short sessions that end on ``apartment_view``.
    """
    # Microseconds, compared exactly: 5.001 s is not short at the default 5 s.
    short = sessions.filter(
        sessions.duration_us <= ibis.literal(params.short_session_seconds * 1_000_000)
    )
    return {
        "users": events.semi_join(short, "session_id").user_id.nunique(),
        "sessions": short.count(),
        "started_on_search_page": short.count(where=short.starts_on == SEARCH_PAGE),
        "ended_on_apartment_view": short.count(where=short.ends_on == APARTMENT_VIEW),
    }


def users_search_then_apartment_view(users: ir.Table) -> ir.IntegerScalar:
    """Users whose journey starts on ``search_page`` and who have, later in it, at least one
    event on ``apartment_view``.

    Any apartment_view event is later than the start: the start is the first event with a
    page_type, and an earlier apartment_view would itself have been the start.
    """
    return users.count(where=(users.starts_on == SEARCH_PAGE) & users.viewed_apartment)


def users_clicked_book_now(users: ir.Table) -> ir.IntegerScalar:
    """Users with at least one event of event_type ``click_book-now``."""
    return users.count(where=users.clicked_book_now)


def users_search_start_request_draft(users: ir.Table) -> ir.IntegerScalar:
    """Users whose journey starts on ``search_page`` and who have at least one event of
    event_type ``request_draft-created``."""
    return users.count(where=(users.starts_on == SEARCH_PAGE) & users.created_request_draft)


def price_filter(events: ir.Table, params: ReportParams) -> dict[str, ir.IntegerScalar]:
    """A price-filter event is one whose ``params.event_content.price`` is a number, or a string
    that parses as a finite number after trimming. If any price-filter event of a session has
    a ``params.event_content.currency`` that is not the price currency (EUR by default;
    compared trimmed and case-insensitively; missing or non-string is not EUR), the whole
    session is ignored.

    - ``users_above``: users with a price-filter event, in a session not ignored, whose price
      is > ``price_threshold``; ``users_below``: price < threshold; ``users_at_threshold``:
      price == threshold.
    - ``sessions_ignored_other_currency``: sessions ignored.
    """
    priced = events.filter(events.price.notnull())
    ignored = priced.filter(~priced.currency_matches).select("session_id").distinct()
    kept = priced.anti_join(ignored, "session_id")
    threshold = ibis.literal(params.price_threshold, type="float64")
    return {
        "users_above": kept.user_id.nunique(where=kept.price > threshold),
        "users_below": kept.user_id.nunique(where=kept.price < threshold),
        "users_at_threshold": kept.user_id.nunique(where=kept.price == threshold),
        "sessions_ignored_other_currency": ignored.count(),
    }


def users_with_request_id(users: ir.Table) -> ir.IntegerScalar:
    """Users with at least one event whose ``params.page.request_id`` is a non-blank string or
    a number (not a boolean). A user is counted once however many request ids they have."""
    return users.count(where=users.has_request_id)
