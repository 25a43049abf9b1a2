"""Activity: when users are active, by hour of the day and by day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import ibis
import ibis.expr.types as ir
from pydantic import Field

from helpers import fmt
from helpers.analyses._base import Analysis, Count, Model, Result
from helpers.analyses._execute import rows
from helpers.grains import Grains

_HOUR_US = 3_600 * 1_000_000
_DAY_US = 24 * _HOUR_US
_EPOCH_DAY = datetime(1970, 1, 1, tzinfo=UTC).date()


class Hour(Model):
    """Events and active users in one hour of the day (UTC), all days together."""

    hour: int = Field(ge=0, le=23)
    events: Count
    active_users: Count


class Day(Model):
    """Events and active users on one UTC day."""

    date: str = Field(pattern=r"^\d{4}-\d{2}-\d{2}$")
    events: Count
    active_users: Count


class Activity(Result):
    """Events and active users by hour of the day and by day (UTC)."""

    events_total: Count
    active_users_total: Count
    days: Count
    busiest_hour: int | None = Field(ge=0, le=23)
    by_hour: list[Hour] = Field(min_length=24, max_length=24)
    by_day: list[Day]

    def describe(self) -> str:
        if self.events_total == 0 or self.busiest_hour is None:
            return "There are no events."
        busiest = self.by_hour[self.busiest_hour]
        quietest = min((h for h in self.by_hour if h.events > 0), key=lambda h: (h.events, h.hour))
        span = f"over {self.days} days" if self.days > 1 else "on one day"
        return (
            f"{fmt.count(self.events_total)} events from {fmt.count(self.active_users_total)} "
            f"users {span}. The busiest hour is {busiest.hour:02d}:00-{busiest.hour:02d}:59 UTC "
            f"with {fmt.count(busiest.events)} events from {fmt.count(busiest.active_users)} "
            f"users; the quietest is {quietest.hour:02d}:00 UTC with "
            f"{fmt.count(quietest.events)} events."
        )


def activity(grains: Grains) -> Activity:
    """Events and active users (distinct users with an event) per hour of the day, all 24 UTC
    hours (0 where nothing happened), and per UTC day (``YYYY-MM-DD``) with events, listed only
    when the events span several days (else the one day's figures are the totals).
    ``busiest_hour`` is the hour with most events, the earliest on a tie.
    """
    # Both in one query: a row per hour (``per`` "hour") and per day.
    both = ibis.union(
        *(
            t.select(per=ibis.literal(per), number=t[per].cast("int64"), events=t.events,
                     active_users=t.active_users)
            for per, t in (("hour", activity_by_hour(grains.events)),
                           ("day", activity_by_day(grains.events)))
        ),
        distinct=False,
    )  # fmt: skip
    counted = rows(both)
    hour_rows = [r for r in counted if r["per"] == "hour"]
    hours = {r["number"]: r for r in hour_rows}
    days = sorted((r for r in counted if r["per"] == "day"), key=lambda r: r["number"])
    by_hour = [
        Hour(
            hour=hour,
            events=int(hours[hour]["events"]) if hour in hours else 0,
            active_users=int(hours[hour]["active_users"]) if hour in hours else 0,
        )
        for hour in range(24)
    ]
    busiest = max(by_hour, key=lambda h: (h.events, -h.hour)) if hours else None
    return Activity(
        events_total=sum(int(r["events"]) for r in hour_rows),
        active_users_total=grains.users_total,
        days=len(days),
        busiest_hour=busiest.hour if busiest else None,
        by_hour=by_hour,
        by_day=[
            Day(
                date=(_EPOCH_DAY + timedelta(days=int(r["number"]))).isoformat(),
                events=int(r["events"]),
                active_users=int(r["active_users"]),
            )
            for r in days
        ]
        if len(days) > 1
        else [],
    )


def activity_by_hour(events: ir.Table) -> ir.Table:
    """Events and active users per hour of the day, 0-23 UTC, all days together;
    hour = (ts_us // 3,600,000,000) % 24."""
    e = events.mutate(hour=(events.ts_us // _HOUR_US) % 24)
    return e.group_by("hour").aggregate(events=e.count(), active_users=e.user_id.nunique())


def activity_by_day(events: ir.Table) -> ir.Table:
    """Events and active users per UTC day; ``day`` = days since 1970-01-01."""
    e = events.mutate(day=events.ts_us // _DAY_US)
    return e.group_by("day").aggregate(events=e.count(), active_users=e.user_id.nunique())


ANALYSIS = Analysis(
    key="activity",
    title="When are users active?",
    compute=activity,
    result=Activity,
    order=50,
)
