"""Funnels: the analyst's own steps, in order, within a conversion window.

The plan (no Python loop over users, no join of every event with every later one): for each
step k, every event matching step k gets the *latest start* of a chain e1 < ... < ek ending
on it, the running maximum over the user's earlier events that end a chain of step k-1 (one
window function per step, over the events matching steps k-1 and k only). A chain can be
extended only while it is within the window, and the latest start gives both whether step k
is reached within the window and the shortest time to convert.
"""

from __future__ import annotations

import json
from typing import Any

import ibis
import ibis.expr.types as ir
from pydantic import RootModel

from helpers import fmt
from helpers.analyses._base import Analysis, Count, Model, Rate, Result, Shown
from helpers.analyses._conditions import check_column, predicate
from helpers.analyses._execute import rate, rounded, rows
from helpers.analysis_params import DEFAULT_FUNNEL, Condition, FunnelSpec
from helpers.grains import Grains, first

NO_VALUE = "(none)"
_MICROS = 1_000_000


class Step(Model):
    """Users who reached one step, and how they compare with the steps before it."""

    step: int
    condition: Condition
    users: Count
    conversion_from_first: Rate
    conversion_from_previous: Rate
    drop_off: Count


class TimeToConvert(Model):
    """Over the users who complete the funnel, the least time from the first step to the last
    (seconds, 3 decimals): median and 90th percentile, linearly interpolated."""

    median: float | None
    p90: float | None


class ValueStep(Model):
    """Users of one breakdown value who reached one step."""

    step: int
    users: Count


class BreakdownValue(Model):
    """The funnel of the users of one breakdown value."""

    value: str
    users_total: Count
    steps: list[ValueStep]


class Breakdown(Model):
    """The funnel per value of a column (each user under their first non-null value)."""

    column: str
    values: list[BreakdownValue]


class FunnelResult(Result):
    """One funnel: users reaching each step in order within the window."""

    name: str
    window_seconds: float | int | None
    users_total: Count
    steps: list[Step]
    completed_users: Count
    time_to_convert_seconds: TimeToConvert
    breakdown: Breakdown | None

    def describe(self) -> str:
        if not self.users_total:
            return f"Funnel {self.name}: there are no users."
        window = f" within {fmt.seconds(self.window_seconds)}" if self.window_seconds else ""
        text = (
            f"Funnel {self.name}: of {fmt.count(self.users_total)} users, "
            f"{fmt.count(self.steps[0].users)} reached step 1 and "
            f"{fmt.count(self.completed_users)} completed all {len(self.steps)} steps{window} "
            f"({fmt.percent(self.steps[-1].conversion_from_first)} of those who started)."
        )
        if self.steps[0].users:
            worst = max(self.steps[1:], key=lambda s: s.drop_off)
            text += (
                f" The largest drop-off is before step {worst.step}: "
                f"{fmt.count(worst.drop_off)} users."
            )
        if self.time_to_convert_seconds.median is not None:
            text += (
                f" Half of those who complete it take at most "
                f"{fmt.seconds(self.time_to_convert_seconds.median)}."
            )
        return text

    def _repr_html_(self) -> str:
        # One funnel of events.funnel() is shown as the report shows a list of one.
        return Funnels([self])._repr_html_()


class Funnels(Shown, RootModel[list[FunnelResult]]):
    """Every funnel of the parameters, in their order."""

    def _repr_html_(self) -> str:
        return ANALYSIS.html(self)

    @property
    def narrative(self) -> str:
        """One sentence over all funnels (each funnel has its own narrative below it); not in
        report.json, whose ``funnels`` is the list itself."""
        done = [
            f"{f.name}: {fmt.percent(f.steps[-1].conversion_from_first)}" for f in self.root
        ]
        return f"Of those who start each funnel, the share who complete it: {'; '.join(done)}."


def funnels(grains: Grains) -> Funnels:
    """Per funnel: a user's **level** is the largest k such that their journey holds events
    e1, ..., ek, each strictly later than the one before in journey order (datetime, then
    input order), ei matching step i, and, when a window is set, datetime(ek) - datetime(e1)
    at most the window. One event counts for one step only.

    ``users`` of step i: users whose level is at least i. ``conversion_from_first`` = users_i /
    users_1; ``conversion_from_previous`` = users_i / users_(i-1), for step 1 users_1 /
    users_total; ``drop_off`` = users_(i-1) - users_i, for step 1 users_total - users_1; rates
    null when the denominator is 0, else 6 decimals. **Time to convert**, for users who reach
    the last step: the least datetime(en) - datetime(e1) over the chains that complete the
    funnel within the window, in seconds; its median and 90th percentile (linear
    interpolation between closest ranks), 3 decimals. A **breakdown** puts each user under
    the value of the column on their first event where it is not null, or ``(none)``; values
    are ordered by their users, most first, then by value.
    """
    specs = grains.params.funnels
    if specs is None:  # the marketplace funnel, when the log has its columns
        specs = [] if grains.absent & {"page_type", "event_type"} else [DEFAULT_FUNNEL]
    return Funnels([funnel_of(grains, spec) for spec in specs])


def funnel_of(grains: Grains, spec: FunnelSpec) -> FunnelResult:
    """One funnel's result (see :func:`funnels`)."""
    events, where = grains.events, f"funnel {spec.name!r}"
    levels = levels_of(grains, spec.steps, spec.window, where=where)
    people = grains.users.select("user_id").left_join(levels, "user_id")
    people = people.select("user_id", level=people.level.fill_null(0))
    if spec.breakdown is None:
        people = people.mutate(value=ibis.literal(NO_VALUE))
    else:
        column = check_column(events, spec.breakdown, where=f"{where} breakdown")
        people = people.left_join(first_values(events, column), "user_id")
        people = people.select("level", value=people.value.fill_null(NO_VALUE))
    counts = rows(people.group_by("value", "level").aggregate(users=people.count()))
    n = len(spec.steps)
    total, reached = _reached(counts, n)
    convert = rows(
        levels.filter(levels.level == n).aggregate(
            median=(levels.convert_us.cast("float64") / _MICROS).quantile(0.5),
            p90=(levels.convert_us.cast("float64") / _MICROS).quantile(0.9),
        )
    )[0]
    return FunnelResult(
        name=spec.name,
        window_seconds=spec.window,
        users_total=total,
        steps=_steps(spec.steps, total, reached),
        completed_users=reached[-1],
        time_to_convert_seconds=TimeToConvert(
            median=_seconds(convert["median"]), p90=_seconds(convert["p90"])
        ),
        breakdown=None if spec.breakdown is None else _breakdown(spec.breakdown, counts, n),
    )


def levels_of(
    grains: Grains, steps: list[Condition], window_seconds: float | None, *, where: str
) -> ir.Table:
    """:func:`user_levels` of the grains' events, computed once for the same steps and window
    and kept: the marketplace funnel and a funnel of the same steps read one table, and each
    funnel reads it twice (the users per level, the time to convert)."""
    key = ("funnel levels", json.dumps(steps, sort_keys=True), window_seconds)
    return grains.kept(
        key, lambda: user_levels(grains.events, steps, window_seconds, where=where)
    )


def user_levels(
    events: ir.Table, steps: list[Condition], window_seconds: float | None, *, where: str
) -> ir.Table:
    """One row per user who reached step 1: ``level`` (the largest step reached in order
    within the window) and ``convert_us`` (for users reaching the last step: the least time
    from the first step to the last, in microseconds)."""
    window_us = None if window_seconds is None else round(window_seconds * _MICROS)
    matches = [predicate(events, s, where=f"{where} step {i}") for i, s in enumerate(steps, 1)]
    stage = events.filter(matches[0]).select("user_id", "_seq", "ts_us", start=events.ts_us)
    stages = [stage.cache()]
    for match in matches[1:]:
        stages.append(_next_stage(events, stages[-1], match, window_us).cache())
    reached = []
    for number, s in enumerate(stages, start=1):
        ok = s if window_us is None else s.filter(s.ts_us - s.start <= window_us)
        reached.append(
            ok.group_by("user_id").aggregate(
                level=ibis.literal(number, "int64"), convert_us=(ok.ts_us - ok.start).min()
            )
        )
    both = ibis.union(*reached, distinct=False)
    last = len(stages)
    return both.group_by("user_id").aggregate(
        level=both.level.max(), convert_us=both.convert_us.min(where=both.level == last)
    )


def _next_stage(
    events: ir.Table, previous: ir.Table, match: ir.BooleanValue, window_us: int | None
) -> ir.Table:
    """The events matching the next step, each with the latest start of a chain ending on it."""
    if window_us is not None:  # a chain already longer than the window cannot be extended
        previous = previous.filter(previous.ts_us - previous.start <= window_us)
    ends = previous.select("user_id", "_seq", "ts_us", "start", candidate=ibis.literal(1))
    candidates = events.filter(match).select(
        "user_id", "_seq", "ts_us", start=ibis.null("int64"), candidate=ibis.literal(0)
    )
    both = ibis.union(ends, candidates, distinct=False)
    # Ordered by _seq, a candidate before a chain end of the same event: one event never counts
    # for two steps, and the frame (every earlier row) holds only strictly earlier events.
    earlier = ibis.window(
        group_by=both.user_id, order_by=[both._seq, both.candidate], rows=(None, -1)
    )
    found = both.mutate(best=both.start.max().over(earlier))
    found = found.filter((found.candidate == 0) & found.best.notnull())
    return found.select("user_id", "_seq", "ts_us", start=found.best)


def first_values(events: ir.Table, column: str) -> ir.Table:
    """One row per user: ``value``, the column's value on their first event (journey order)
    where it is not null, else ``(none)``."""
    e = events
    return e.group_by("user_id").aggregate(value=first(e[column], e._seq).fill_null(NO_VALUE))


def _reached(counts: list[dict[str, Any]], n: int) -> tuple[int, list[int]]:
    total = sum(int(r["users"]) for r in counts)
    reached = [sum(int(r["users"]) for r in counts if r["level"] >= i) for i in range(1, n + 1)]
    return total, reached


def _steps(conditions: list[Condition], total: int, reached: list[int]) -> list[Step]:
    steps = []
    previous = total
    for number, (condition, users) in enumerate(zip(conditions, reached, strict=True), 1):
        steps.append(
            Step(
                step=number, condition=condition, users=users,
                conversion_from_first=rate(users, reached[0]),
                conversion_from_previous=rate(users, previous), drop_off=previous - users,
            )
        )  # fmt: skip
        previous = users
    return steps


def _breakdown(column: str, counts: list[dict[str, Any]], n: int) -> Breakdown:
    by_value: dict[str, list[dict[str, Any]]] = {}
    for r in counts:
        by_value.setdefault(r["value"], []).append(r)
    values = []
    for value, group in by_value.items():
        total, reached = _reached(group, n)
        values.append(
            BreakdownValue(
                value=value, users_total=total,
                steps=[ValueStep(step=i, users=u) for i, u in enumerate(reached, 1)],
            )
        )  # fmt: skip
    values.sort(key=lambda v: (-v.users_total, v.value))
    return Breakdown(column=column, values=values)


def _seconds(value: float | None) -> float | None:
    exact = rounded(value)
    return None if exact is None else round(exact, 3)


ANALYSIS = Analysis(
    key="funnels",
    title="How far do users get through each funnel?",
    compute=funnels,
    result=Funnels,
    order=110,
    section="analyses",
    parameters=("funnels",),
)
