"""Paths: the most common ways through the site, as the first page types of a journey."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir
from pydantic import Field

from helpers import fmt
from helpers.analyses._base import Analysis, Count, Model, Rate, Result
from helpers.analyses._execute import rate, row, rows
from helpers.grains import Grains

TOP_PATHS = 10
PATH_LENGTH = 4
PATH_SEPARATOR = " > "


class JourneyPath(Model):
    """One path and the users who follow it."""

    path: str
    users: Count
    share: Rate


class Paths(Result):
    """The most common journey paths (first page types, consecutive repeats collapsed)."""

    length: int = Field(ge=1)
    users_with_page_type: Count
    users_without_page_type: Count
    distinct_paths: Count
    top: list[JourneyPath]

    def describe(self) -> str:
        top = self.top
        if not top:
            return "No journey has a page type, so there are no paths."
        text = (
            f"{fmt.count(self.users_with_page_type)} users follow "
            f"{fmt.count(self.distinct_paths)} different paths over their first {self.length} "
            f'page types. The most common is "{top[0].path}" ({fmt.count(top[0].users)} users, '
            f"{fmt.percent(top[0].share)})"
        )
        if len(top) > 1:
            text += f', then "{top[1].path}" ({fmt.percent(top[1].share)})'
        covered = sum(p.users for p in top)
        return text + (
            f". The top {len(top)} cover "
            f"{fmt.percent(rate(covered, self.users_with_page_type))} of users."
        )


def paths(grains: Grains) -> Paths:
    """The 10 most common journey paths with the users following each, most users first, ties
    alphabetically. A user's path is the first 4 page types of their journey, events without a
    page_type skipped and consecutive repeats collapsed (search, search, view, search ->
    search > view > search). ``share`` is of ``users_with_page_type``; users whose events all
    lack a page_type have no path and are counted in ``users_without_page_type``.
    """
    p = journey_paths(grains.events, length=PATH_LENGTH)
    # Read twice (summary and ranking) and small (a row per distinct path): computing the
    # paths is the costly part, so do it once.
    counts = p.group_by("path").aggregate(users=p.count()).cache()
    ranked = counts.order_by([ibis.desc("users"), "path"]).limit(TOP_PATHS)
    summary = row(counts.aggregate(users=counts.users.sum(), distinct=counts.count()))
    with_path = int(summary["users"] or 0)
    return Paths(
        length=PATH_LENGTH,
        users_with_page_type=with_path,
        users_without_page_type=grains.users_total - with_path,
        distinct_paths=int(summary["distinct"] or 0),
        top=[
            JourneyPath(path=r["path"], users=int(r["users"]), share=rate(r["users"], with_path))
            for r in rows(ranked)
        ],
    )


def journey_page_steps(events: ir.Table, *, length: int = PATH_LENGTH) -> ir.Table:
    """The first ``length`` page types of each user's journey: one row per (user, position),
    position 1..length, in journey order, events without a page_type skipped and consecutive
    repeats collapsed."""
    e = events.filter(events.page_type.notnull())
    e = e.mutate(previous=e.page_type.lag().over(group_by=e.user_id, order_by=e._seq))
    changes = e.filter(e.previous.isnull() | (e.page_type != e.previous))
    # ibis.row_number() is 0-based.
    changes = changes.mutate(
        position=ibis.row_number().over(group_by=changes.user_id, order_by=changes._seq) + 1
    )
    return changes.filter(changes.position <= length).select("user_id", "position", "page_type")


def journey_paths(events: ir.Table, *, length: int = PATH_LENGTH) -> ir.Table:
    """One row per user with a page type: ``path``, their first ``length`` page types (see
    :func:`journey_page_steps`) joined by `` > ``, e.g. ``search_page > apartment_view``."""
    steps = journey_page_steps(events, length=length)
    pivot = steps.group_by("user_id").aggregate(
        **{f"p{i}": steps.page_type.max(where=steps.position == i) for i in range(1, length + 1)}
    )
    path = pivot.p1
    for i in range(2, length + 1):
        page = pivot[f"p{i}"]
        path = path.concat(ibis.ifelse(page.notnull(), PATH_SEPARATOR + page, ""))
    return pivot.select("user_id", path=path)


ANALYSIS = Analysis(
    key="paths",
    title="Which ways through the site are most common?",
    compute=paths,
    result=Paths,
    order=40,
    needs=("page_type",),
)
