"""Grains: the cleaned events summarised once per user and once per session.

Every objective and analysis reads these three tables instead of rescanning the raw input:
:func:`users` and :func:`sessions` are unexecuted Ibis expressions over the cleaned events
(``helpers.clean.Cleaned.events``), and :class:`Grains` holds all three with the parameters
they were built with.

Journey order is the cleaned events' ``_seq``: by datetime, ties by input order.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Any

import ibis
import ibis.expr.types as ir

from helpers.params import ReportParams

#: The marketplace's page and event types that the objectives ask about.
SEARCH_PAGE = "search_page"
APARTMENT_VIEW = "apartment_view"
BOOK_NOW = "click_book-now"
REQUEST_DRAFT = "request_draft-created"
PAGE_VIEW = "page_view"
#: What a user without a device class or without a marketing channel is counted under.
UNKNOWN_DEVICE = "unknown"
NO_OM_SOURCE = "no_om_source"
# The optional text columns the users and sessions tables summarise.
_SUMMARISED = ("page_type", "event_type", "om_source", "device_class")
_YEAR_2000_US = 946_684_800_000_000


@dataclass(frozen=True)
class Grains:
    """The cleaned events, one row per user and one row per session, and their parameters."""

    events: ir.Table
    users: ir.Table
    sessions: ir.Table
    params: ReportParams
    absent: frozenset[str] = frozenset()  # canonical columns the log does not have
    _kept: dict[Hashable, ir.Table] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @classmethod
    def of(
        cls, events: ir.Table, params: ReportParams, absent: frozenset[str] = frozenset()
    ) -> Grains:
        """Summarise cleaned ``events`` (already materialised by cleaning) into cached users and
        sessions tables: every objective and analysis reads them again. A column the log lacks
        is null for the summaries; whatever needs it is not reported (see helpers.activity)."""
        complete = events.mutate(
            **{c: ibis.null("string") for c in _SUMMARISED if c not in events.columns}
        )
        if params.user_column != "session_id":
            return cls(events, users(complete).cache(), sessions(complete).cache(), params, absent)
        # A user is a session (the default): both tables are one aggregate of the events,
        # grouped once (a pass over every event fewer: 100M events spill it to disk).
        per_user, per_session = _user_values(complete), _session_values(complete)
        both = complete.group_by(user_id=complete.user_id).aggregate(**(per_user | per_session))
        both = both.cache()
        return cls(
            events,
            both.select("user_id", *per_user),
            both.select(both.user_id.name("session_id"), *per_session),
            params,
            absent,
        )

    def kept(self, key: Hashable, build: Callable[[], ir.Table]) -> ir.Table:
        """``build()`` cached on the engine the first time ``key`` is asked for, and that table
        every time after: what several analyses read (a funnel's levels) is computed once."""
        if key not in self._kept:
            self._kept[key] = build().cache()
        return self._kept[key]

    @cached_property
    def facts(self) -> dict[str, Any]:
        """The analysed events' counts and time span, in one scan (see :func:`event_facts`):
        the report's period and data quality, and the periods the analyses list."""
        return event_facts(self.events)

    @cached_property
    def users_total(self) -> int:
        """Distinct users among the analysed events (the users table has one row each)."""
        return int(self.users.count().to_pyarrow().as_py() or 0)


def event_facts(events: ir.Table) -> dict[str, Any]:
    """Counts and the time span of the analysed events, in one scan: ``rows``, flagged cells
    (``params_invalid``, ``price_invalid``), implausible times (``before_2000``,
    ``in_the_future``: more than a day after now) and ``first`` / ``last`` (``ts_us``, null
    without events)."""
    # Implausible times are kept (the spec analyses them) but counted, so they are seen.
    now_us = int(datetime.now(UTC).timestamp() * 1_000_000) + 86_400_000_000
    return events.aggregate(
        rows=events.count(),
        params_invalid=events.params_invalid.sum(),
        price_invalid=events.price_invalid.sum(),
        before_2000=events.count(where=events.ts_us < _YEAR_2000_US),
        in_the_future=events.count(where=events.ts_us > now_us),
        first=events.ts_us.min(),
        last=events.ts_us.max(),
    ).to_pyarrow().to_pylist()[0]


def first(column: ir.Column, order: ir.Column) -> ir.Scalar:
    """The value of the first event (in journey order) where ``column`` is not null."""
    return column.argmin(order, where=column.notnull())


def last(column: ir.Column, order: ir.Column) -> ir.Scalar:
    """The value of the last event (in journey order) where ``column`` is not null."""
    return column.argmax(order, where=column.notnull())


def users(events: ir.Table) -> ir.Table:
    """One row per user: first-touch attributes, where the journey starts, and what they did."""
    return events.group_by(user_id=events.user_id).aggregate(**_user_values(events))


def sessions(events: ir.Table) -> ir.Table:
    """One row per session: its duration (last event's time minus first's, in microseconds; 0
    for one event), the page types it starts and ends on, its events and page views."""
    return events.group_by(session_id=events.session_id).aggregate(**_session_values(events))


def _user_values(e: ir.Table) -> dict[str, ir.Scalar]:
    return {
        "device_class": first(e.device_class, e._seq).fill_null(UNKNOWN_DEVICE),
        "first_om_source": first(e.om_source, e._seq).fill_null(NO_OM_SOURCE),
        "starts_on": first(e.page_type, e._seq),
        "viewed_apartment": (e.page_type == APARTMENT_VIEW).any().fill_null(False),
        "clicked_book_now": (e.event_type == BOOK_NOW).any().fill_null(False),
        "created_request_draft": (e.event_type == REQUEST_DRAFT).any().fill_null(False),
        "has_request_id": e.has_request_id.any().fill_null(False),
    }


def _session_values(e: ir.Table) -> dict[str, ir.Scalar]:
    # starts_on is the users' own (the same definition): one column serves both tables.
    return {
        "duration_us": e.ts_us.max() - e.ts_us.min(),
        "starts_on": first(e.page_type, e._seq),
        "ends_on": last(e.page_type, e._seq),
        "events": e.count(),
        "page_views": e.count(where=e.event_type == PAGE_VIEW),
    }
