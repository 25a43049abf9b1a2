"""Trends: active users, new users, events and chosen events per period; stickiness per month."""

from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.types as ir

from helpers import fmt, periods
from helpers.analyses._base import Analysis, Count, Model, Rate, Result
from helpers.analyses._conditions import check_column, predicate
from helpers.analyses._execute import rate, rows
from helpers.analyses.funnels import NO_VALUE, first_values
from helpers.grains import Grains
from helpers.periods import Period


class NamedEvent(Model):
    """Users with a matching event in the period, and their share of the active users."""

    name: str
    users: Count
    rate: Rate


class PeriodFigures(Model):
    """One period's figures."""

    period: str
    active_users: Count
    new_users: Count
    events: Count
    events_by_name: list[NamedEvent]


class ValueTrend(Model):
    """The same figures for the users of one breakdown value."""

    value: str
    users: Count
    periods: list[PeriodFigures]


class TrendBreakdown(Model):
    """The figures per value of a column (each user under their first non-null value)."""

    column: str
    values: list[ValueTrend]


class Stickiness(Model):
    """Daily against monthly active users, over the month's days the data covers."""

    month: str
    mean_dau: float
    mau: Count
    stickiness: float | None


class Trends(Result):
    """Active users, new users, events and each listed event per period, and stickiness."""

    period: Period
    periods: list[PeriodFigures]
    breakdown: TrendBreakdown | None
    stickiness: list[Stickiness]

    def describe(self) -> str:
        if not self.periods:
            return "There are no events, so there are no trends."
        busiest = max(self.periods, key=lambda p: (p.active_users, p.period))
        text = (
            f"Over {len(self.periods)} {self.period}s, active users range from "
            f"{fmt.count(min(p.active_users for p in self.periods))} to "
            f"{fmt.count(busiest.active_users)} (on the {self.period} of {busiest.period})."
        )
        if len(self.periods) < 2:
            text = (
                f"The data covers one {self.period} ({fmt.count(busiest.active_users)} active "
                f"users): trends need more than one period."
            )
        for name in (e.name for e in self.periods[0].events_by_name):
            rates = [(p.period, _rate_of(p, name)) for p in self.periods]
            known = [(at, r) for at, r in rates if r is not None]
            if len(known) >= 2:
                text += (
                    f" {name}: {fmt.percent(known[0][1])} of active users on {known[0][0]}, "
                    f"{fmt.percent(known[-1][1])} on {known[-1][0]}."
                )
        if self.stickiness and self.stickiness[-1].stickiness is not None:
            s = self.stickiness[-1]
            text += (
                f" Stickiness (daily / monthly active users) in {s.month[:7]}: "
                f"{fmt.percent(s.stickiness)}."
            )
        return text


def trends(grains: Grains) -> Trends:
    """For each of the data's periods (every period from the first analysed event's to the
    last's, none skipped): ``active_users`` (users with an analysed event in it),
    ``new_users`` (users whose first analysed event is in it), ``events`` (analysed events),
    and per listed event its ``users`` (with a matching event in the period) and ``rate`` =
    users / active_users (null for 0 active users; 6 decimals).

    With a **breakdown**, the same figures per value (each user under the value of the column
    on their first event where it is not null, or ``(none)``), over all of the data's periods
    (zeros where the value has none), values ordered by their users, most first, then by
    value; a value's ``new_users`` are its users whose first analysed event is in the period.

    **Stickiness**, always by day: for each calendar month the data touches, ``mean_dau`` =
    the mean of the daily active users over the month's days between the first and the last
    analysed day (inclusive; 6 decimals), ``mau`` = the users active on those days,
    ``stickiness`` = mean_dau / mau computed before rounding (6 decimals; null for mau 0).
    """
    spec = grains.params.trends
    e = grains.events
    named = [
        (t.name, predicate(e, t.condition, where=f"trends event {t.name!r}")) for t in spec.events
    ]
    tagged = e.mutate(p=periods.index(spec.period, e.ts_us))
    if spec.breakdown is None:
        tagged = tagged.mutate(value=ibis.literal(NO_VALUE))
    else:
        column = check_column(e, spec.breakdown, where="trends breakdown")
        tagged = tagged.join(first_values(e, column), "user_id")
    figures = tagged.group_by("value", "p").aggregate(
        active=tagged.user_id.nunique(),
        events=tagged.count(),
        **{f"n{i}": tagged.user_id.nunique(where=m) for i, (_, m) in enumerate(named)},
    )
    first = tagged.group_by("user_id", "value").aggregate(p=tagged.p.min())
    new = first.group_by("value", "p").aggregate(new=first.count())
    # One query: every (value, period) with events has its figures, and new users where some
    # start in it.
    joined = figures.left_join(new, ["value", "p"])
    figures = joined.select(*figures.columns, "new")
    span = grains.facts
    if span["first"] is None:
        return Trends(period=spec.period, periods=[], breakdown=None, stickiness=[])
    numbers = range(
        periods.index_of_day(spec.period, span["first"] // periods.DAY_US),
        periods.index_of_day(spec.period, span["last"] // periods.DAY_US) + 1,
    )
    by_value = _by_value(rows(figures))
    names = [name for name, _ in named]
    every = _series(spec.period, numbers, names, _summed(by_value))
    breakdown = None
    if spec.breakdown is not None:
        # Each user is new in exactly one period: a value's users are its new users summed.
        users = {v: sum(r["new"] for r in of_v.values()) for v, of_v in by_value.items()}
        ranked = sorted(users, key=lambda v: (-users[v], v))
        breakdown = TrendBreakdown(
            column=spec.breakdown,
            values=[
                ValueTrend(value=v, users=users[v],
                           periods=_series(spec.period, numbers, names, by_value.get(v, {})))
                for v in ranked
            ],
        )  # fmt: skip
    return Trends(
        period=spec.period, periods=every, breakdown=breakdown,
        stickiness=_stickiness(e, span["first"], span["last"]),
    )  # fmt: skip


def _by_value(figures: list[dict[str, Any]]) -> dict[str, Any]:
    by_value: dict[str, dict[int, dict[str, Any]]] = {}
    for r in figures:
        by_value.setdefault(r["value"], {})[r["p"]] = dict(r, new=int(r["new"] or 0))
    return by_value


def _summed(by_value: dict[str, dict[int, dict[str, Any]]]) -> dict[int, dict[str, Any]]:
    """The figures of all values together: users fall under one value each, so their
    distinct counts add up."""
    total: dict[int, dict[str, Any]] = {}
    for periods_of_value in by_value.values():
        for p, r in periods_of_value.items():
            into = total.setdefault(p, dict.fromkeys(r, 0))
            for key, count in r.items():
                if key not in ("value", "p"):
                    into[key] += int(count or 0)
    return total


def _series(
    period: Period, numbers: range, names: list[str], figures: dict[int, dict[str, Any]]
) -> list[PeriodFigures]:
    series = []
    for p in numbers:
        r = figures.get(p, {})
        active = int(r.get("active", 0))
        series.append(
            PeriodFigures(
                period=periods.label(period, p), active_users=active,
                new_users=int(r.get("new", 0)), events=int(r.get("events", 0)),
                events_by_name=[
                    NamedEvent(name=name, users=int(r.get(f"n{i}", 0) or 0),
                               rate=rate(int(r.get(f"n{i}", 0) or 0), active))
                    for i, name in enumerate(names)
                ],
            )
        )  # fmt: skip
    return series


def _stickiness(events: ir.Table, first_us: int, last_us: int) -> list[Stickiness]:
    first_day, last_day = first_us // periods.DAY_US, last_us // periods.DAY_US
    e = events.mutate(day=periods.day(events.ts_us))
    e = e.mutate(month=periods.index_of_day("month", e.day))
    # Both counts in one query: a row per day (``per`` "day") and per month.
    active = ibis.union(
        *(
            e.group_by(number=e[per].cast("int64"))
            .aggregate(users=e.user_id.nunique())
            .mutate(per=ibis.literal(per))
            for per in ("day", "month")
        ),
        distinct=False,
    )
    counts: dict[str, dict[int, int]] = {"day": {}, "month": {}}
    for r in rows(active):
        counts[r["per"]][r["number"]] = int(r["users"])
    daily, monthly = counts["day"], counts["month"]
    result = []
    for month in range(periods.index_of_day("month", first_day),
                       periods.index_of_day("month", last_day) + 1):  # fmt: skip
        days = [d for d in periods.days_in("month", month) if first_day <= d <= last_day]
        mean = sum(daily.get(d, 0) for d in days) / len(days)
        mau = monthly.get(month, 0)
        result.append(
            Stickiness(month=periods.label("month", month), mean_dau=round(mean, 6), mau=mau,
                       stickiness=round(mean / mau, 6) if mau else None)
        )  # fmt: skip
    return result


def _rate_of(figures: PeriodFigures, name: str) -> float | None:
    return next(n.rate for n in figures.events_by_name if n.name == name)


ANALYSIS = Analysis(
    key="trends",
    title="How does activity change over time?",
    compute=trends,
    result=Trends,
    order=130,
    section="analyses",
    spec="trends",
)
