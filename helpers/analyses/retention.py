"""Retention: of the users who started in a period, how many come back in each later one."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from helpers import fmt, periods
from helpers.analyses._base import Analysis, Count, Model, Rate, Result
from helpers.analyses._conditions import predicate
from helpers.analyses._execute import rate, rows
from helpers.grains import Grains
from helpers.periods import Period


class Cohort(Model):
    """The users who started in one period, and how many were retained at each offset
    (null: the offset's period had not begun by the last analysed event)."""

    cohort: str
    users: Count
    retained: list[Count | None]


class Offset(Model):
    """One offset over the cohorts that observe it."""

    offset: int
    users: Count
    cohort_users: Count
    rate: Rate


class Retention(Result):
    """Cohorts by the period of each user's start event, retained at each later period."""

    period: Period
    periods: int
    cohorts: list[Cohort]
    overall: list[Offset]

    def describe(self) -> str:
        if not self.cohorts:
            return "No user has a start event, so there are no cohorts."
        users = sum(c.users for c in self.cohorts)
        text = f"{fmt.count(users)} users start in {len(self.cohorts)} {self.period}ly cohorts."
        if len(self.overall) < 2 or self.overall[1].rate is None:
            return text + (
                f" The data covers one {self.period}: retention needs more than one period."
            )
        text += (
            f" {fmt.percent(self.overall[1].rate)} come back in the {self.period} after they start"
        )
        observed = [o for o in self.overall if o.rate is not None]
        last = observed[-1]
        if last.offset > 1:
            text += f", {fmt.percent(last.rate)} {last.offset} {self.period}s after"
        return text + "."


def retention(grains: Grains) -> Retention:
    """A user's **start** is their first event (journey order) matching ``start`` (any event
    when not set); users without one are in no cohort. Their **cohort** is the period (UTC
    day, ISO week or calendar month) of the start event. A user is **retained at offset k**
    (k = 0 .. periods-1) when they have an event matching ``return`` (any event when not set),
    at or after the start event in journey order, in the cohort's period + k.

    An offset whose period begins after the last analysed event is not observed: null, never
    0. Cohorts are listed oldest first; a period where nobody starts has no cohort. ``overall``
    per offset: the users retained summed over the cohorts that observe it, divided by those
    cohorts' users (6 decimals); an offset no cohort observes has 0 users and a null rate.
    """
    spec = grains.params.retention
    e = grains.events
    where = "retention"
    starts = e.filter(predicate(e, spec.start or {}, where=f"{where} start"))
    starts = starts.group_by("user_id").aggregate(
        start=starts._seq.min(), ts=starts.ts_us.argmin(starts._seq)
    )
    starts = starts.mutate(cohort=periods.index(spec.period, starts.ts)).cache()
    back = e.filter(predicate(e, spec.return_ or {}, where=f"{where} return"))
    back = back.select("user_id", "_seq", "ts_us").join(starts, "user_id")
    back = back.filter(back._seq >= back.start)
    back = back.select(
        "user_id", "cohort", offset=periods.index(spec.period, back.ts_us) - back.cohort
    )
    back = back.filter((back.offset >= 0) & (back.offset < spec.periods)).distinct()
    retained_users = back.group_by("cohort", "offset").aggregate(users=back.count())
    cohort_users = starts.group_by("cohort").aggregate(users=starts.count())
    # Both in one query: a cohort's size is its row without an offset.
    both = ibis.union(
        _users(retained_users, retained_users.offset),
        _users(cohort_users, ibis.null("int64")),
        distinct=False,
    )
    retained: dict[tuple[int, int], int] = {}
    sizes: list[tuple[int, int]] = []
    for r in rows(both):
        if r["offset"] is None:
            sizes.append((r["cohort"], int(r["users"])))
        else:
            retained[r["cohort"], r["offset"]] = int(r["users"])
    sizes.sort()
    last = grains.facts["last"]
    last_period = -1 if last is None else periods.index_of_day(spec.period, last // periods.DAY_US)
    cohorts, overall = [], []
    for cohort, users in sizes:
        cohorts.append(
            Cohort(
                cohort=periods.label(spec.period, cohort),
                users=users,
                retained=[
                    retained.get((cohort, k), 0) if cohort + k <= last_period else None
                    for k in range(spec.periods)
                ],
            )
        )
    for k in range(spec.periods):
        observing = [(c, u) for c, u in sizes if c + k <= last_period]
        kept = sum(retained.get((c, k), 0) for c, _ in observing)
        base = sum(u for _, u in observing)
        overall.append(Offset(offset=k, users=kept, cohort_users=base, rate=rate(kept, base)))
    return Retention(period=spec.period, periods=spec.periods, cohorts=cohorts, overall=overall)


def _users(counts: ir.Table, offset: ir.IntegerValue) -> ir.Table:
    return counts.select(
        cohort=counts.cohort.cast("int64"), offset=offset.cast("int64"), users=counts.users
    )


ANALYSIS = Analysis(
    key="retention",
    title="Do users come back after their first visit?",
    compute=retention,
    result=Retention,
    order=120,
    section="analyses",
    spec="retention",
)
