"""Events per session: how much happens in a visit."""

from __future__ import annotations

import ibis.expr.types as ir

from helpers import fmt
from helpers.analyses._base import Analysis, Count, Model, Rate, Result
from helpers.analyses._execute import rate, rounded, row
from helpers.grains import Grains

#: Upper bounds (inclusive) of the buckets of events per session; the last is open.
BUCKET_EVENTS: tuple[int, ...] = (1, 2, 5, 10, 20)


class EventsBucket(Model):
    """Sessions holding between ``lower`` and ``upper`` events (no upper bound for the last)."""

    bucket: str
    lower: int
    upper: int | None
    sessions: Count
    share: Rate


class EventsPerSession(Result):
    """How many events the sessions hold: mean, median, 90th percentile, most, and a
    histogram."""

    sessions_total: Count
    events_total: Count
    mean: float | None
    median: float | None
    p90: float | None
    most: Count
    histogram: list[EventsBucket]

    def describe(self) -> str:
        if self.sessions_total == 0:
            return "There are no sessions."
        single = self.histogram[0]
        return (
            f"{fmt.count(self.sessions_total)} sessions hold {fmt.count(self.events_total)} "
            f"events, {self.mean:.1f} on average; half of them hold at most "
            f"{fmt.number(self.median or 0)} and 90% at most {fmt.number(self.p90 or 0)}. "
            f"{fmt.percent(single.share)} are a single event; the busiest session holds "
            f"{fmt.count(self.most)}."
        )


def events_per_session(grains: Grains) -> EventsPerSession:
    """The analysed events of each session (a session is a session_id), summarised over the
    sessions: ``mean`` (events / sessions, 6 decimals), ``median`` and ``p90`` (the 50th and
    90th percentile of the sessions' event counts, linearly interpolated between the two
    nearest counts), ``most`` (the largest count), and a ``histogram`` of sessions with 1, 2,
    3-5, 6-10, 11-20 and more than 20 events, each with its ``share`` of all sessions.
    """
    s = grains.sessions
    counts = s.events.cast("float64")
    bounds = _bounds()
    summary = row(
        s.aggregate(
            sessions=s.count(),
            events=s.events.sum(),
            median=counts.quantile(0.5),
            p90=counts.quantile(0.9),
            most=s.events.max(),
            **{
                f"bucket_{i}": s.count(where=_holds(s.events, lower, upper))
                for i, (lower, upper, _) in enumerate(bounds)
            },
        )
    )
    sessions = int(summary["sessions"])
    events = int(summary["events"] or 0)
    return EventsPerSession(
        sessions_total=sessions,
        events_total=events,
        mean=round(events / sessions, 6) if sessions else None,
        median=rounded(summary["median"]),
        p90=rounded(summary["p90"]),
        most=int(summary["most"] or 0),
        histogram=[
            EventsBucket(
                bucket=label, lower=lower, upper=upper, sessions=int(summary[f"bucket_{i}"]),
                share=rate(int(summary[f"bucket_{i}"]), sessions),
            )
            for i, (lower, upper, label) in enumerate(bounds)
        ],
    )  # fmt: skip


def _holds(events: ir.IntegerColumn, lower: int, upper: int | None) -> ir.BooleanColumn:
    at_least = events >= lower
    return at_least if upper is None else at_least & (events <= upper)


def _bounds() -> list[tuple[int, int | None, str]]:
    """(lower, upper, label) of the buckets, both bounds inclusive."""
    bounds, lower = [], 1
    for upper in BUCKET_EVENTS:
        bounds.append((lower, upper, str(upper) if lower == upper else f"{lower}-{upper}"))
        lower = upper + 1
    bounds.append((lower, None, f"more than {BUCKET_EVENTS[-1]}"))
    return bounds


ANALYSIS = Analysis(
    key="events_per_session",
    title="How much happens in a session?",
    compute=events_per_session,
    result=EventsPerSession,
    order=35,
    since="1.2.0",
)
