"""User definitions: how much the answer depends on counting users as sessions or visitors."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from helpers import fmt
from helpers.analyses._base import Analysis, Count, Model, Result
from helpers.analyses._execute import rows
from helpers.grains import BOOK_NOW, Grains

_DEFINITIONS = ("session_id", "visitor_id")


class UserCounts(Model):
    """Users counted one way."""

    users_total: Count
    users_clicked_book_now: Count
    users_with_request_id: Count


class UserDefinitions(Result):
    """Users counted as distinct session_id and as distinct visitor_id."""

    rows_total: Count
    rows_without_visitor_id: Count
    session_id: UserCounts
    visitor_id: UserCounts | None

    def describe(self) -> str:
        s, v = self.session_id, self.visitor_id
        text = f"Counting users as sessions (session_id) gives {fmt.count(s.users_total)} users"
        if v is None:
            return text + "; the data has no visitor_id, so visitors cannot be counted."
        text += f", counting them as visitors (visitor_id) {fmt.count(v.users_total)}"
        if v.users_total:
            text += f" ({s.users_total / v.users_total:.2f} sessions per visitor)"
        text += (
            f". Book-now clickers: {fmt.count(s.users_clicked_book_now)} sessions vs "
            f"{fmt.count(v.users_clicked_book_now)} visitors; users with a request id: "
            f"{fmt.count(s.users_with_request_id)} vs {fmt.count(v.users_with_request_id)}."
        )
        if self.rows_without_visitor_id:
            text += (
                f" {fmt.count(self.rows_without_visitor_id)} events without a visitor_id are "
                f"left out of the visitor counts."
            )
        return text


def user_definitions(grains: Grains) -> UserDefinitions:
    """Users counted two ways, straight from the analysed events: as distinct ``session_id``
    and as distinct ``visitor_id``. Under each: ``users_total``, ``users_clicked_book_now``
    (with an event of event_type click_book-now) and ``users_with_request_id`` (with an event
    carrying a request id). Rows without a visitor_id are left out of the visitor counts and
    counted in ``rows_without_visitor_id``; ``visitor_id`` is null when no row has one.
    """
    r = {row["definition"]: row for row in rows(definition_counts(grains.events))}

    def counts(column: str) -> UserCounts:
        return UserCounts(
            users_total=int(r[column]["users"] or 0),
            users_clicked_book_now=int(r[column]["clicked_book_now"] or 0),
            users_with_request_id=int(r[column]["with_request_id"] or 0),
        )

    has_visitors = int(r["visitor_id"]["users"] or 0) > 0
    return UserDefinitions(
        rows_total=int(r["visitor_id"]["rows"] or 0),
        rows_without_visitor_id=int(r["visitor_id"]["rows_without_id"] or 0),
        session_id=counts("session_id"),
        visitor_id=counts("visitor_id") if has_visitors else None,
    )


def definition_counts(events: ir.Table) -> ir.Table:
    """One row per way of counting users, ``definition`` ``session_id`` or ``visitor_id``:
    ``users`` (distinct non-null ids), ``clicked_book_now`` (ids with an event of event_type
    click_book-now), ``with_request_id`` (ids with an event carrying a request id), ``rows``
    (all events) and ``rows_without_id`` (events whose id is null)."""
    e = events
    definitions = []
    for column in _DEFINITIONS:
        # A group-by per id, then counts of ids: much cheaper than three distinct counts.
        ids = e.group_by(id=e[column]).aggregate(
            rows=e.count(),
            book_now=(e.event_type == BOOK_NOW).any(),
            request_id=e.has_request_id.any(),
        )
        known = ids.id.notnull()
        counts = ids.aggregate(
            users=ids.count(where=known),
            clicked_book_now=ids.count(where=known & ids.book_now),
            with_request_id=ids.count(where=known & ids.request_id),
            rows=ids.rows.sum(),
            rows_without_id=ids.rows.sum(where=~known),
        )
        definitions.append(counts.mutate(definition=ibis.literal(column)))
    return ibis.union(*definitions, distinct=False)


ANALYSIS = Analysis(
    key="user_definitions",
    title="How much does the definition of a user matter?",
    compute=user_definitions,
    result=UserDefinitions,
    order=70,
    needs=("event_type", "params"),
)
