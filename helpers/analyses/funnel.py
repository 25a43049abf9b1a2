"""Funnel: how far users get, from a search to a request draft, in journey order."""

from __future__ import annotations

from typing import Annotated, Literal

import ibis.expr.types as ir
from pydantic import Field

from helpers import fmt
from helpers.analyses._base import Analysis, Count, Model, Rate, Result
from helpers.analyses._execute import rate, rows
from helpers.analyses.funnels import levels_of
from helpers.grains import APARTMENT_VIEW, BOOK_NOW, REQUEST_DRAFT, SEARCH_PAGE, Grains

#: The steps: (name, column, value).
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
            f" The largest drop-off is before {biggest.step}: {fmt.count(biggest.drop_off)} users."
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


def marketplace_funnel(grains: Grains) -> Funnel:
    """Users reaching each step in order: a search page, then an apartment view, then a
    book-now click, then a request draft, overall and by the user's device class and
    first-touch channel (from the users table, so the breakdowns sum to the totals).

    A user reaches step k when their journey holds events e1, ..., ek, each strictly later
    than the one before in journey order (datetime, then input order), ei matching step i: a
    step done out of order does not count, and one event never counts for two steps. (This
    is the analyses' funnel ``search to request draft``, computed by the same code.)

    Per step: ``users``; ``conversion_from_first`` = users / users at step 1;
    ``conversion_from_previous`` = users / users at the previous step (for step 1: / all
    users); ``drop_off`` = users at the previous step (step 1: all users) who did not reach
    this one.
    """
    # One small query (a row per level and group); the totals and both breakdowns are sums
    # of its counts.
    counts = rows(funnel_users(grains))
    users_total = sum(int(r["users"]) for r in counts)
    breakdowns = {}
    for key, column in (("by_device_class", "device_class"),
                        ("by_first_om_source", "first_om_source")):  # fmt: skip
        by_value: dict[str, list[dict]] = {}
        for r in counts:
            by_value.setdefault(r[column], []).append(r)
        groups = {value: _group(group) for value, group in by_value.items()}
        ranked = sorted(groups.items(), key=lambda kv: (-kv[1].users_total, kv[0]))
        breakdowns[key] = dict(ranked)
    return Funnel(users_total=users_total, steps=_reached(counts, users_total), **breakdowns)


def funnel_users(grains: Grains) -> ir.Table:
    """Users per (``level``, ``device_class``, ``first_om_source``): the level is the last
    step the user reached in order (0: none), as the analyses' funnels compute it (the same
    table as the funnel of these steps: :func:`~helpers.analyses.funnels.levels_of`)."""
    steps = [{column: [value]} for _, column, value in STEPS]
    levels = levels_of(grains, steps, None, where="the marketplace funnel")
    users = grains.users
    u = users.select("user_id", "device_class", "first_om_source").left_join(levels, "user_id")
    u = u.select("device_class", "first_om_source", level=u.level.fill_null(0))
    return u.group_by("level", "device_class", "first_om_source").aggregate(users=u.count())


def _group(counts: list[dict]) -> FunnelGroup:
    total = sum(int(r["users"]) for r in counts)
    return FunnelGroup(users_total=total, steps=_reached(counts, total))


def _reached(counts: list[dict], users_total: int) -> list[FunnelStep]:
    by_step = {
        k: sum(int(r["users"]) for r in counts if r["level"] >= k) for k in range(1, len(STEPS) + 1)
    }
    return _steps(users_total, by_step)


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
    compute=marketplace_funnel,
    result=Funnel,
    order=10,
    needs=("page_type", "event_type"),
)
