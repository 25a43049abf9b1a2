"""Lifecycle: in each period, who is new, who stayed, who came back and who left."""

from __future__ import annotations

import ibis

from helpers import fmt, periods
from helpers.analyses._base import Analysis, Count, Model, Result
from helpers.analyses._execute import rows
from helpers.grains import Grains
from helpers.periods import Period


class Stage(Model):
    """The users of one period by where they are in their life as users."""

    period: str
    new: Count
    returning: Count
    resurrecting: Count
    dormant: Count


class Lifecycle(Result):
    """New, returning, resurrecting and dormant users in each period after the first."""

    period: Period
    periods: list[Stage]

    def describe(self) -> str:
        if not self.periods:
            return (
                f"The data covers at most one {self.period}: the lifecycle needs more than "
                f"one period."
            )
        last = self.periods[-1]
        active = last.new + last.returning + last.resurrecting
        return (
            f"In the {self.period} of {last.period}, {fmt.count(active)} users were active: "
            f"{fmt.count(last.new)} new, {fmt.count(last.returning)} returning from the "
            f"{self.period} before and {fmt.count(last.resurrecting)} back after a break; "
            f"{fmt.count(last.dormant)} active the {self.period} before did not come back."
        )


def lifecycle(grains: Grains) -> Lifecycle:
    """For each of the data's periods p after the first: ``new`` = users whose first analysed
    event is in p; ``returning`` = users active in p and in p-1, not new; ``resurrecting`` =
    users active in p, not in p-1, and active in some period before p-1; ``dormant`` = users
    active in p-1 and not in p. Always: active users of p = new + returning + resurrecting.
    """
    period = grains.params.lifecycle.period
    e = grains.events
    active = e.select("user_id", p=periods.index(period, e.ts_us)).distinct()
    journey = ibis.window(group_by=active.user_id, order_by=active.p)
    active = active.mutate(before=active.p.lag().over(journey), after=active.p.lead().over(journey))
    kind = ibis.cases(
        (active.before.isnull(), "new"),
        (active.before == active.p - 1, "returning"),
        else_="resurrecting",
    )
    counted = active.group_by("p", kind=kind).aggregate(users=active.count())
    # A user leaves after a period when their next active period is not the next one.
    gone = active.filter(active.after.isnull() | (active.after > active.p + 1))
    dormant = gone.group_by(p=gone.p + 1).aggregate(users=gone.count())
    dormant = dormant.mutate(kind=ibis.literal("dormant"))
    # Both in one query: users per (period, kind), dormant being one more kind.
    both = ibis.union(
        *(t.select(p=t.p.cast("int64"), kind=t.kind, users=t.users) for t in (counted, dormant)),
        distinct=False,
    )
    span = grains.facts
    if span["first"] is None:
        return Lifecycle(period=period, periods=[])
    first = periods.index_of_day(period, span["first"] // periods.DAY_US)
    last = periods.index_of_day(period, span["last"] // periods.DAY_US)
    figures = {(r["p"], r["kind"]): int(r["users"]) for r in rows(both)}
    return Lifecycle(
        period=period,
        periods=[
            Stage(
                period=periods.label(period, p), new=figures.get((p, "new"), 0),
                returning=figures.get((p, "returning"), 0),
                resurrecting=figures.get((p, "resurrecting"), 0),
                dormant=figures.get((p, "dormant"), 0),
            )
            for p in range(first + 1, last + 1)
        ],
    )  # fmt: skip


ANALYSIS = Analysis(
    key="lifecycle",
    title="Who is new, who stays, who comes back, who leaves?",
    compute=lifecycle,
    result=Lifecycle,
    order=140,
    section="analyses",
    spec="lifecycle",
)
