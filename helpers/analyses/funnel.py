"""Funnel: how far users get, from a search to a request draft, in journey order."""

from __future__ import annotations

from typing import Annotated, Literal

import ibis
import ibis.expr.types as ir
from pydantic import Field

from helpers import fmt
from helpers.analyses._base import Analysis, Count, Model, Rate, Result
from helpers.analyses._execute import rate, rows
from helpers.grains import APARTMENT_VIEW, BOOK_NOW, REQUEST_DRAFT, SEARCH_PAGE, Grains

#: The steps: (name, column, value). A step is reached by the earliest event with
#: ``column == value`` that comes after the event that reached the previous step.
STEPS: tuple[tuple[str, str, str], ...] = (
    (SEARCH_PAGE, "page_type", SEARCH_PAGE),
    (APARTMENT_VIEW, "page_type", APARTMENT_VIEW),
    (BOOK_NOW, "event_type", BOOK_NOW),
    (REQUEST_DRAFT, "event_type", REQUEST_DRAFT),
)
#: A breakdown's rate is told in the narrative only for groups with this many searchers.
_NARRATED_GROUP_SEARCHERS = 100

StepName = Literal["search_page", "apartment_view", "click_book-now", "request_draft-created"]


class FunnelStep(Model):
    """Users who reached one step, and how they compare with the steps before it."""

    step: StepName
    users: Count
    conversion_from_first: Rate
    conversion_from_previous: Rate
    drop_off: Count


Steps = Annotated[list[FunnelStep], Field(min_length=len(STEPS), max_length=len(STEPS))]


class FunnelGroup(Model):
    """The funnel of the users of one breakdown value."""

    users_total: Count
    steps: Steps


class Funnel(Result):
    """Users reaching search_page -> apartment_view -> click_book-now ->
    request_draft-created in journey order; breakdowns sum to the totals."""

    users_total: Count
    steps: Steps
    by_device_class: dict[str, FunnelGroup]
    by_first_om_source: dict[str, FunnelGroup]

    def describe(self) -> str:
        steps = self.steps
        if steps[0].users == 0:
            return f"None of the {fmt.count(self.users_total)} users reached the search page."
        text = (
            f"Of {fmt.count(self.users_total)} users, {fmt.count(steps[0].users)} reached the "
            f"search page; {fmt.percent(steps[1].conversion_from_previous)} of them then viewed "
            f"an apartment, {fmt.percent(steps[2].conversion_from_previous)} of those clicked "
            f"book-now and {fmt.percent(steps[3].conversion_from_previous)} of those created a "
            f"request draft ({fmt.count(steps[3].users)} users, "
            f"{fmt.percent(steps[3].conversion_from_first)} of searchers)."
        )
        biggest = max(steps[1:], key=lambda s: s.drop_off)
        text += (
            f" The largest drop-off is before {biggest.step}: "
            f"{fmt.count(biggest.drop_off)} users."
        )
        devices = [
            (name, group.steps[3].conversion_from_first)
            for name, group in self.by_device_class.items()
            if group.steps[0].users >= _NARRATED_GROUP_SEARCHERS
        ]
        if len(devices) >= 2:
            best = max(devices, key=lambda d: d[1])
            worst = min(devices, key=lambda d: d[1])
            text += (
                f" Searchers on {best[0]} convert to a request draft most often "
                f"({fmt.percent(best[1])}), on {worst[0]} least often ({fmt.percent(worst[1])})."
            )
        return text


def funnel(grains: Grains) -> Funnel:
    """Users reaching each step in order: a search page, then an apartment view, then a
    book-now click, then a request draft, overall and by the user's device class and
    first-touch channel (from the users table, so the breakdowns sum to the totals).

    A step is reached by the user's earliest matching event strictly after the event that
    reached the previous step, in journey order: a step done out of order does not count, and
    one event never counts for two steps.

    Per step: ``users``; ``conversion_from_first`` = users / users at step 1;
    ``conversion_from_previous`` = users / users at the previous step (for step 1: / all
    users); ``drop_off`` = users at the previous step (step 1: all users) who did not reach
    this one.
    """
    # One small query (a few rows per step and group); the totals and both breakdowns are
    # sums of its counts.
    counts = rows(funnel_users(grains.events, grains.users))
    totals: dict[int, int] = {}
    for r in counts:
        totals[r["step"]] = totals.get(r["step"], 0) + int(r["users"])
    users_total = totals.pop(0, 0)
    breakdowns = {}
    for key, column in (("by_device_class", "device_class"),
                        ("by_first_om_source", "first_om_source")):  # fmt: skip
        by_value: dict[str, dict[int, int]] = {}
        for r in counts:
            steps = by_value.setdefault(r[column], {})
            steps[r["step"]] = steps.get(r["step"], 0) + int(r["users"])
        ranked = sorted(by_value.items(), key=lambda kv: (-kv[1].get(0, 0), kv[0]))
        breakdowns[key] = {
            value: FunnelGroup(users_total=steps.get(0, 0), steps=_steps(steps.get(0, 0), steps))
            for value, steps in ranked
        }
    return Funnel(users_total=users_total, steps=_steps(users_total, totals), **breakdowns)


def steps_reached(events: ir.Table) -> ir.Table:
    """One row per (user, step) the user reached, ``step`` numbered 1-4 as in :data:`STEPS`.

    Step 1 is reached by the user's first event with page_type ``search_page``; step 2 by
    their earliest event with page_type ``apartment_view`` strictly after that event (by
    ``_seq``); step 3 by their earliest event_type ``click_book-now`` strictly after the
    step-2 event; step 4 by their earliest event_type ``request_draft-created`` strictly after
    the step-3 event. A user who reached a step reached all steps before it.
    """
    e = events
    reached = []
    previous: ir.Table | None = None
    for number, (_, column, value) in enumerate(STEPS, start=1):
        candidates = e.filter(e[column] == value).select("user_id", "_seq")
        if previous is not None:
            candidates = candidates.join(previous, "user_id").filter(lambda t: t._seq > t.after)
        step = candidates.group_by("user_id").aggregate(after=candidates._seq.min())
        reached.append(step.select("user_id", step=ibis.literal(number, type="int64")))
        previous = step
    return ibis.union(*reached, distinct=False)


def funnel_users(events: ir.Table, users: ir.Table) -> ir.Table:
    """Users per (``step``, ``device_class``, ``first_om_source``): step 0 counts every user,
    steps 1-4 the users who reached that step (see :func:`steps_reached`)."""
    u = users.select("user_id", "device_class", "first_om_source")
    reached = steps_reached(events).join(u, "user_id")
    everyone = u.select("device_class", "first_om_source", step=ibis.literal(0, type="int64"))
    both = ibis.union(
        everyone, reached.select("device_class", "first_om_source", "step"), distinct=False
    )
    return both.group_by("step", "device_class", "first_om_source").aggregate(users=both.count())


def _steps(users_total: int, by_step: dict[int, int]) -> list[FunnelStep]:
    steps = []
    first = int(by_step.get(1, 0))
    previous = users_total
    for number, (name, _, _) in enumerate(STEPS, start=1):
        users = int(by_step.get(number, 0))
        steps.append(
            FunnelStep(
                step=name,
                users=users,
                conversion_from_first=rate(users, first),
                conversion_from_previous=rate(users, previous),
                drop_off=previous - users,
            )
        )
        previous = users
    return steps


ANALYSIS = Analysis(
    key="funnel",
    title="How far do users get, from search to a request draft?",
    compute=funnel,
    result=Funnel,
    order=10,
)
