"""Sessions: how long they last, and how many end after a single page view."""

from __future__ import annotations

import itertools

import ibis
import ibis.expr.types as ir
from pydantic import Field

from helpers import fmt
from helpers.analyses._base import Analysis, Count, Model, Rate, Result, Seconds
from helpers.analyses._execute import rate, rounded, row
from helpers.grains import Grains

#: Upper bounds (seconds, inclusive) of the multi-event duration buckets, a roughly
#: logarithmic scale; the last bucket is everything above the last bound.
DURATION_BUCKET_SECONDS: tuple[int, ...] = (0, 1, 5, 30, 60, 300, 1800)
ONE_EVENT_BUCKET = "one event"

_SECOND_US = 1_000_000


class DurationBucket(Model):
    """Sessions whose duration falls in (lower, upper] seconds; no upper bound for the last."""

    bucket: str
    lower_seconds: int = Field(ge=0)
    upper_seconds: int | None = Field(ge=0)
    sessions: Count


class Sessions(Result):
    """Session durations and bounces."""

    sessions_total: Count
    one_event_sessions: Count
    multi_event_sessions: Count
    short_session_seconds: int | float = Field(ge=0)
    multi_event_short_sessions: Count
    duration_histogram: list[DurationBucket] = Field(
        description="One-event sessions first, then multi-event sessions by duration; sums to "
        "sessions_total."
    )
    median_seconds: Seconds
    p90_seconds: Seconds
    multi_event_median_seconds: Seconds
    multi_event_p90_seconds: Seconds
    bounces: Count
    bounce_rate: Rate

    def describe(self) -> str:
        total = self.sessions_total
        if total == 0:
            return "There are no sessions."
        return (
            f"Of {fmt.count(total)} sessions, {fmt.count(self.one_event_sessions)} "
            f"({fmt.percent(rate(self.one_event_sessions, total))}) have a single event and "
            f"{fmt.count(self.multi_event_short_sessions)} more last at most "
            f"{fmt.number(self.short_session_seconds)} s. "
            f"The median session lasts {fmt.seconds(self.median_seconds)} "
            f"({fmt.seconds(self.multi_event_median_seconds)} for sessions with several events) "
            f"and 90% last at most {fmt.seconds(self.p90_seconds)}. "
            f"The bounce rate (sessions that are one page view and nothing else) is "
            f"{fmt.percent(self.bounce_rate)}."
        )


def session_durations(grains: Grains) -> Sessions:
    """Session durations and bounces.

    - ``duration_histogram``: one-event sessions in their own bucket (``one event``, 0 s by
      definition), then multi-event sessions by duration in seconds: ``0`` (all events at the
      same time), ``(0, 1]``, ``(1, 5]``, ``(5, 30]``, ``(30, 60]``, ``(60, 300]``,
      ``(300, 1800]`` and ``> 1800`` (lower bound exclusive, upper inclusive). The buckets
      sum to ``sessions_total``.
    - ``multi_event_short_sessions``: multi-event sessions lasting at most
      ``short_session_seconds`` (with the one-event sessions they make up the objectives'
      short sessions).
    - ``median_seconds`` / ``p90_seconds``: the 50th / 90th percentile of all sessions'
      durations (one-event sessions count as 0 s), linearly interpolated between the two
      nearest durations; ``multi_event_*`` the same over multi-event sessions only.
    - A **bounce** is a session with exactly one event, and that event a ``page_view``: a
      session with one page view and a click is not a bounce, nor is a session whose only
      event is a click. ``bounce_rate`` = bounces / all sessions.
    """
    short_session_seconds = grains.params.short_session_seconds
    s = grains.sessions
    seconds = s.duration_us.cast("float64") / _SECOND_US
    one = s.events == 1
    short_us = ibis.literal(round(short_session_seconds * _SECOND_US), type="int64")
    bucket = _duration_bucket(s.duration_us)
    bounds = _bucket_bounds()
    # One pass over the sessions: the histogram's buckets are measures of the same aggregate.
    summary = row(
        s.aggregate(
            sessions_total=s.count(),
            one_event=s.count(where=one),
            multi_short=s.count(where=~one & (s.duration_us <= short_us)),
            bounces=s.count(where=one & (s.page_views == 1)),
            median=seconds.quantile(0.5),
            p90=seconds.quantile(0.9),
            multi_median=seconds.quantile(0.5, where=~one),
            multi_p90=seconds.quantile(0.9, where=~one),
            **{f"bucket_{i}": s.count(where=~one & (bucket == i)) for i in range(len(bounds))},
        )
    )
    total = int(summary["sessions_total"])
    one_event = int(summary["one_event"] or 0)
    histogram = [
        DurationBucket(bucket=ONE_EVENT_BUCKET, lower_seconds=0, upper_seconds=0,
                       sessions=one_event),
        *(
            DurationBucket(bucket=label, lower_seconds=lower, upper_seconds=upper,
                           sessions=int(summary[f"bucket_{i}"] or 0))
            for i, (lower, upper, label) in enumerate(bounds)
        ),
    ]  # fmt: skip
    bounces = int(summary["bounces"] or 0)
    return Sessions(
        sessions_total=total,
        one_event_sessions=one_event,
        multi_event_sessions=total - one_event,
        short_session_seconds=short_session_seconds,
        multi_event_short_sessions=int(summary["multi_short"] or 0),
        duration_histogram=histogram,
        median_seconds=rounded(summary["median"]),
        p90_seconds=rounded(summary["p90"]),
        multi_event_median_seconds=rounded(summary["multi_median"]),
        multi_event_p90_seconds=rounded(summary["multi_p90"]),
        bounces=bounces,
        bounce_rate=rate(bounces, total),
    )


def _bucket_bounds() -> list[tuple[int, int | None, str]]:
    """(lower, upper, label) of the multi-event duration buckets: lower exclusive and upper
    inclusive, except bucket ``0`` (exactly 0 s); the last bucket has no upper bound."""
    bounds: list[tuple[int, int | None, str]] = [(0, 0, "0")]
    edges = DURATION_BUCKET_SECONDS
    bounds += [(lo, hi, f"({lo}, {hi}]") for lo, hi in itertools.pairwise(edges)]
    bounds.append((edges[-1], None, f"> {edges[-1]}"))
    return bounds


def _duration_bucket(duration_us: ir.IntegerValue) -> ir.IntegerValue:
    """Index into :func:`_bucket_bounds` of a duration (exact microsecond comparisons)."""
    cases = [
        (duration_us <= ibis.literal(upper * _SECOND_US, type="int64"), index)
        for index, (_, upper, _) in enumerate(_bucket_bounds())
        if upper is not None
    ]
    return ibis.cases(*cases, else_=len(DURATION_BUCKET_SECONDS))


ANALYSIS = Analysis(
    key="sessions",
    title="How long do sessions last?",
    compute=session_durations,
    result=Sessions,
    order=30,
    parameters=("short_session_seconds",),
    needs=("event_type",),
)
