"""Insights: behavioural analytics beyond the eight objectives, as Ibis expressions.

Read like a dataflow (Hamilton style): every function is named after what it returns and its
docstring is that metric's definition in plain words. Functions returning ``ir.Table`` are
unexecuted Ibis expressions over the cleaned events (``helpers.clean.Cleaned.events``) and the
per-user / per-session tables of :mod:`helpers.objectives`; the analysis functions execute them
and return plain JSON-able dicts (ints, floats, strings, lists, None), and
:func:`insights` assembles all seven analyses, each with a ``narrative`` written from its own
numbers by the matching ``narrative_<analysis>`` function.

Conventions shared by every analysis:

- A user is the events' ``user_id`` (the report's ``user_column``); journey order is ``_seq``
  (by datetime, ties by input order), never the timestamp alone.
- Rates and shares are fractions between 0 and 1, rounded to 6 decimals, and ``None`` when
  their denominator is 0. Statistics (differences, confidence bounds, z, p-values) are not
  rounded.
- Portability: no ordered ``first``/``last``/``collect`` (``argmin``/``argmax`` on ``_seq``
  instead), no timestamp construction from columns, and JSON is read in exactly one place,
  :func:`_test_assignments`, so a backend shim can replace it.
"""

from __future__ import annotations

import itertools
import math
from datetime import UTC, datetime, timedelta
from typing import Any

import ibis
import ibis.expr.types as ir

from helpers.backend import object_entries, strip
from helpers.objectives import APARTMENT_VIEW, BOOK_NOW, NO_OM_SOURCE, REQUEST_DRAFT, SEARCH_PAGE

PAGE_VIEW = "page_view"

#: The funnel: (step name, column, value). A step is reached by the earliest event with
#: ``column == value`` that comes after the event that reached the previous step.
FUNNEL_STEPS: tuple[tuple[str, str, str], ...] = (
    (SEARCH_PAGE, "page_type", SEARCH_PAGE),
    (APARTMENT_VIEW, "page_type", APARTMENT_VIEW),
    (BOOK_NOW, "event_type", BOOK_NOW),
    (REQUEST_DRAFT, "event_type", REQUEST_DRAFT),
)

#: Upper bounds (seconds, inclusive) of the multi-event session-duration buckets; a roughly
#: logarithmic scale. The last bucket is everything above the last bound.
DURATION_BUCKET_SECONDS: tuple[int, ...] = (0, 1, 5, 30, 60, 300, 1800)
ONE_EVENT_BUCKET = "one event"

TOP_PATHS = 10
PATH_LENGTH = 4
PATH_SEPARATOR = " > "

#: A two-sided test at this level; the confidence intervals are 1 - ALPHA.
ALPHA = 0.05
#: A sample-ratio mismatch is flagged below this chi-square p-value.
SRM_ALPHA = 0.001

NO_TEST_GROUPS_NOTE = "no test_groups in the data: there is no A/B test to analyse"

_SECOND_US = 1_000_000
_HOUR_US = 3_600 * _SECOND_US
_DAY_US = 24 * _HOUR_US
_EPOCH_DAY = datetime(1970, 1, 1, tzinfo=UTC).date()


# -- the entry point ---------------------------------------------------------------------------


def insights(
    events: ir.Table,
    users: ir.Table,
    sessions: ir.Table,
    *,
    control_groups: dict[str, str] | None = None,
    short_session_seconds: float = 5,
) -> dict[str, Any]:
    """All seven analyses, each a dict of numbers plus its ``narrative``.

    ``events`` are the cleaned events; ``users`` and ``sessions`` are
    :func:`helpers.objectives.users` / :func:`helpers.objectives.sessions` of them (cache all
    three first: every analysis reads them again). ``control_groups`` maps a test to its
    control group (default: each test's first group alphabetically).
    """
    # users has one row per user_id (never null in the cleaned events), so its count is the
    # events' distinct users, which paths and activity would otherwise count again.
    users_total = _int(users.count())
    analyses = {
        "funnel": (funnel(events, users), narrative_funnel),
        "attribution": (attribution(events, users), narrative_attribution),
        "sessions": (
            session_insights(events, sessions, short_session_seconds=short_session_seconds),
            narrative_sessions,
        ),
        "paths": (paths(events, users_total=users_total), narrative_paths),
        "activity": (activity(events, users_total=users_total), narrative_activity),
        "ab_tests": (ab_tests(events, users, control_groups=control_groups), narrative_ab_tests),
        "user_definitions": (user_definitions(events), narrative_user_definitions),
    }
    return {
        name: {**result, "narrative": write(result)} for name, (result, write) in analyses.items()
    }


# -- 1. funnel ----------------------------------------------------------------------------------


def funnel_steps_reached(events: ir.Table) -> ir.Table:
    """One row per (user, step) the user reached, ``step`` numbered 1-4 as in FUNNEL_STEPS.

    Step 1 is reached by the user's first event with page_type ``search_page``; step 2 by
    their earliest event with page_type ``apartment_view`` strictly after that event (by
    ``_seq``); step 3 by their earliest event_type ``click_book-now`` strictly after the
    step-2 event; step 4 by their earliest event_type ``request_draft-created`` strictly after
    the step-3 event. A step done out of order (e.g. a book-now click before any apartment
    view that follows a search) does not count, one event never counts for two steps (a
    book-now click on an apartment_view page that is the step-2 event is not also step 3),
    and a user who reached a step reached all steps before it.
    """
    e = events
    reached = []
    previous: ir.Table | None = None
    for number, (_, column, value) in enumerate(FUNNEL_STEPS, start=1):
        candidates = e.filter(e[column] == value).select("user_id", "_seq")
        if previous is not None:
            candidates = candidates.join(previous, "user_id").filter(lambda t: t._seq > t.after)
        step = candidates.group_by("user_id").aggregate(after=candidates._seq.min())
        reached.append(step.select("user_id", step=ibis.literal(number, type="int64")))
        previous = step
    return ibis.union(*reached, distinct=False)


def funnel_users(events: ir.Table, users: ir.Table) -> ir.Table:
    """Users per (``step``, ``device_class``, ``first_om_source``): step 0 counts every user,
    steps 1-4 the users who reached that step (see :func:`funnel_steps_reached`); the device
    class and first-touch source are the user's, from the users table."""
    u = users.select("user_id", "device_class", "first_om_source")
    reached = funnel_steps_reached(events).join(u, "user_id")
    everyone = u.select("device_class", "first_om_source", step=ibis.literal(0, type="int64"))
    rows = ibis.union(
        everyone, reached.select("device_class", "first_om_source", "step"), distinct=False
    )
    return rows.group_by("step", "device_class", "first_om_source").aggregate(users=rows.count())


def funnel(events: ir.Table, users: ir.Table) -> dict[str, Any]:
    """Users reaching each funnel step in order (see :func:`funnel_steps_reached`), overall and
    broken down by the user's ``device_class`` and first-touch ``first_om_source`` (from the
    users table, so the breakdowns sum to the totals).

    Per step: ``users``; ``conversion_from_first`` = users / users at step 1;
    ``conversion_from_previous`` = users / users at the previous step (for step 1: / all
    users, ``users_total``); ``drop_off`` = users at the previous step (step 1: all users) who
    did not reach this one.
    """
    # One small query (a few rows per step and group); the totals and both breakdowns are
    # sums of its counts.
    counts = _rows(funnel_users(events, users))
    totals: dict[int, int] = {}
    for r in counts:
        totals[r["step"]] = totals.get(r["step"], 0) + int(r["users"])
    users_total = totals.pop(0, 0)
    result: dict[str, Any] = {
        "users_total": users_total,
        "steps": _funnel_steps(users_total, totals),
        "by_device_class": {},
        "by_first_om_source": {},
    }
    breakdowns = (("by_device_class", "device_class"), ("by_first_om_source", "first_om_source"))
    for key, column in breakdowns:
        by_value: dict[str, dict[int, int]] = {}
        for r in counts:
            steps = by_value.setdefault(r[column], {})
            steps[r["step"]] = steps.get(r["step"], 0) + int(r["users"])
        for value, steps in sorted(by_value.items(), key=lambda kv: (-kv[1].get(0, 0), kv[0])):
            group_total = steps.pop(0, 0)
            result[key][value] = {
                "users_total": group_total,
                "steps": _funnel_steps(group_total, steps),
            }
    return result


def _funnel_steps(users_total: int, by_step: dict[int, int]) -> list[dict[str, Any]]:
    steps = []
    first = int(by_step.get(1, 0))
    previous = users_total
    for number, (name, _, _) in enumerate(FUNNEL_STEPS, start=1):
        users = int(by_step.get(number, 0))
        steps.append(
            {
                "step": name,
                "users": users,
                "conversion_from_first": _rate(users, first),
                "conversion_from_previous": _rate(users, previous),
                "drop_off": previous - users,
            }
        )
        previous = users
    return steps


def narrative_funnel(result: dict[str, Any]) -> str:
    """The funnel in two or three sentences."""
    steps = result["steps"]
    if not steps or steps[0]["users"] == 0:
        return f"None of the {_n(result['users_total'])} users reached the search page."
    search, draft = steps[0]["users"], steps[3]["users"]
    text = (
        f"Of {_n(result['users_total'])} users, {_n(search)} reached the search page; "
        f"{_pct(steps[1]['conversion_from_previous'])} of them then viewed an apartment, "
        f"{_pct(steps[2]['conversion_from_previous'])} of those clicked book-now and "
        f"{_pct(steps[3]['conversion_from_previous'])} of those created a request draft "
        f"({_n(draft)} users, {_pct(steps[3]['conversion_from_first'])} of searchers)."
    )
    biggest = max(steps[1:], key=lambda s: s["drop_off"])
    text += f" The largest drop-off is before {biggest['step']}: {_n(biggest['drop_off'])} users."
    # Devices with enough searchers for a rate to mean something.
    devices = [
        (name, group["steps"][3]["conversion_from_first"])
        for name, group in result["by_device_class"].items()
        if group["steps"][0]["users"] >= 100
    ]
    if len(devices) >= 2:
        best = max(devices, key=lambda d: d[1])
        worst = min(devices, key=lambda d: d[1])
        text += (
            f" Searchers on {best[0]} convert to a request draft most often ({_pct(best[1])}), "
            f"on {worst[0]} least often ({_pct(worst[1])})."
        )
    return text


# -- 2. attribution -----------------------------------------------------------------------------


def user_touches(events: ir.Table, users: ir.Table) -> ir.Table:
    """One row per user: ``first_touch`` (om_source of the first event with one, in journey
    order; ``no_om_source`` if none), ``last_touch`` (om_source of the last event with one;
    ``no_om_source`` if none), and whether they clicked book-now / created a request draft."""
    e = events
    last = e.group_by("user_id").aggregate(
        last_touch=e.om_source.argmax(e._seq, where=e.om_source.notnull()).fill_null(NO_OM_SOURCE)
    )
    return users.join(last, "user_id").select(
        "user_id",
        "last_touch",
        "clicked_book_now",
        "created_request_draft",
        first_touch=users.first_om_source,
    )


def touch_pairs(events: ir.Table, users: ir.Table) -> ir.Table:
    """Users per (``first_touch``, ``last_touch``) pair (see :func:`user_touches`), and how
    many of them clicked book-now / created a request draft."""
    t = user_touches(events, users)
    return t.group_by("first_touch", "last_touch").aggregate(
        users=t.count(),
        clicked_book_now=t.count(where=t.clicked_book_now),
        created_request_draft=t.count(where=t.created_request_draft),
    )


def attribution(events: ir.Table, users: ir.Table) -> dict[str, Any]:
    """Per channel (om_source as written, ``no_om_source`` for users without one): users whose
    first touch is the channel and how many of them clicked book-now / created a request
    draft, and the same for users whose last touch is the channel. Each of the two
    attributions sums to ``users_total``; ``users_first_touch_differs`` counts users whose
    first and last touch differ."""
    # One small query (a row per channel pair); both attributions are sums of its counts.
    pairs = _rows(touch_pairs(events, users))
    measures = ("users", "clicked_book_now", "created_request_draft")
    channels: dict[str, dict[str, dict[str, int]]] = {}
    for r in pairs:
        for touch in ("first", "last"):
            channel = channels.setdefault(
                r[f"{touch}_touch"], {t: dict.fromkeys(measures, 0) for t in ("first", "last")}
            )
            for measure in measures:
                channel[touch][measure] += int(r[measure])
    ranked = sorted(
        channels.items(), key=lambda kv: (-kv[1]["first"]["users"], -kv[1]["last"]["users"], kv[0])
    )
    return {
        "users_total": sum(int(r["users"]) for r in pairs),
        "users_first_touch_differs": sum(
            int(r["users"]) for r in pairs if r["first_touch"] != r["last_touch"]
        ),
        "channels": [
            {
                "channel": name,
                **{
                    f"{touch}_touch": {
                        **counts[touch],
                        "book_now_rate": _rate(
                            counts[touch]["clicked_book_now"], counts[touch]["users"]
                        ),
                    }
                    for touch in ("first", "last")
                },
            }
            for name, counts in ranked
        ],
    }


def narrative_attribution(result: dict[str, Any]) -> str:
    """Attribution in two or three sentences."""
    channels = result["channels"]
    if not channels:
        return "There are no users to attribute."
    paid = [c for c in channels if c["channel"] != NO_OM_SOURCE]
    organic = next((c for c in channels if c["channel"] == NO_OM_SOURCE), None)
    parts = []
    if organic is not None:
        parts.append(
            f"{_pct(_rate(organic['first_touch']['users'], result['users_total']))} of "
            f"{_n(result['users_total'])} users have no marketing channel (no_om_source)."
        )
    if paid:
        top = paid[0]
        parts.append(
            f"The largest channel by first touch is {top['channel']} with "
            f"{_n(top['first_touch']['users'])} users, of whom "
            f"{_n(top['first_touch']['clicked_book_now'])} clicked book-now and "
            f"{_n(top['first_touch']['created_request_draft'])} created a request draft."
        )
    differs = result["users_first_touch_differs"]
    parts.append(
        f"First and last touch differ for {_n(differs)} users "
        f"({_pct(_rate(differs, result['users_total']))})."
        if differs
        else "First and last touch are the same channel for every user."
    )
    return " ".join(parts)


# -- 3. sessions --------------------------------------------------------------------------------


def session_facts(events: ir.Table, sessions: ir.Table) -> ir.Table:
    """One row per session: ``duration_us`` (last event's time minus first's; 0 for one
    event), ``events`` and ``page_views`` (events with event_type ``page_view``)."""
    e = events
    counts = e.group_by("session_id").aggregate(
        events=e.count(), page_views=e.count(where=e.event_type == PAGE_VIEW)
    )
    return sessions.select("session_id", "duration_us").join(counts, "session_id")


def session_insights(
    events: ir.Table, sessions: ir.Table, *, short_session_seconds: float = 5
) -> dict[str, Any]:
    """Session durations and bounces.

    - ``duration_histogram``: one-event sessions in their own bucket (``one event``, 0 s by
      definition), then multi-event sessions by duration in seconds: ``0`` (all events at the
      same time), ``(0, 1]``, ``(1, 5]``, ``(5, 30]``, ``(30, 60]``, ``(60, 300]``,
      ``(300, 1800]`` and ``> 1800`` (lower bound exclusive, upper inclusive). The buckets
      sum to ``sessions_total``.
    - ``multi_event_short_sessions``: multi-event sessions lasting <= ``short_session_seconds``
      (with ``one_event_sessions`` they make up the objectives' short sessions).
    - ``median_seconds`` / ``p90_seconds``: the 50th / 90th percentile of all sessions'
      durations (one-event sessions count as 0 s), linearly interpolated between the two
      nearest durations; ``multi_event_*`` the same over multi-event sessions only.
    - A **bounce** is a session with exactly one event, and that event a ``page_view``: a
      session with one page view and a click is not a bounce, nor is a session whose only
      event is a click. ``bounce_rate`` = bounces / all sessions.
    """
    s = session_facts(events, sessions)
    seconds = s.duration_us.cast("float64") / _SECOND_US
    one = s.events == 1
    short_us = ibis.literal(round(short_session_seconds * _SECOND_US), type="int64")
    bucket = _duration_bucket(s.duration_us)
    # One pass over the sessions: the histogram's buckets are measures of the same aggregate.
    summary = _row(
        s.aggregate(
            sessions_total=s.count(),
            one_event=s.count(where=one),
            multi_short=s.count(where=~one & (s.duration_us <= short_us)),
            bounces=s.count(where=one & (s.page_views == 1)),
            median=seconds.quantile(0.5),
            p90=seconds.quantile(0.9),
            multi_median=seconds.quantile(0.5, where=~one),
            multi_p90=seconds.quantile(0.9, where=~one),
            **{
                f"bucket_{index}": s.count(where=~one & (bucket == index))
                for index in range(len(_bucket_bounds()))
            },
        )
    )
    total = int(summary["sessions_total"])
    histogram = [
        {
            "bucket": ONE_EVENT_BUCKET,
            "lower_seconds": 0,
            "upper_seconds": 0,
            "sessions": int(summary["one_event"] or 0),
        }
    ]
    for index, (lower, upper, label) in enumerate(_bucket_bounds()):
        histogram.append(
            {
                "bucket": label,
                "lower_seconds": lower,
                "upper_seconds": upper,
                "sessions": int(summary[f"bucket_{index}"] or 0),
            }
        )
    bounces = int(summary["bounces"] or 0)
    return {
        "sessions_total": total,
        "one_event_sessions": int(summary["one_event"] or 0),
        "multi_event_sessions": total - int(summary["one_event"] or 0),
        "short_session_seconds": short_session_seconds,
        "multi_event_short_sessions": int(summary["multi_short"] or 0),
        "duration_histogram": histogram,
        "median_seconds": _float(summary["median"]),
        "p90_seconds": _float(summary["p90"]),
        "multi_event_median_seconds": _float(summary["multi_median"]),
        "multi_event_p90_seconds": _float(summary["multi_p90"]),
        "bounces": bounces,
        "bounce_rate": _rate(bounces, total),
    }


def _bucket_bounds() -> list[tuple[int | None, int | None, str]]:
    """(lower, upper, label) of the multi-event duration buckets: lower exclusive and upper
    inclusive, except bucket ``0`` (exactly 0 s); the last bucket has no upper bound."""
    bounds: list[tuple[int | None, int | None, str]] = [(0, 0, "0")]
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


def narrative_sessions(result: dict[str, Any]) -> str:
    """Sessions in two or three sentences."""
    total = result["sessions_total"]
    if total == 0:
        return "There are no sessions."
    return (
        f"Of {_n(total)} sessions, {_n(result['one_event_sessions'])} "
        f"({_pct(_rate(result['one_event_sessions'], total))}) have a single event and "
        f"{_n(result['multi_event_short_sessions'])} more last at most "
        f"{_num(result['short_session_seconds'])} s. "
        f"The median session lasts {_secs(result['median_seconds'])} "
        f"({_secs(result['multi_event_median_seconds'])} for sessions with several events) "
        f"and 90% last at most {_secs(result['p90_seconds'])}. "
        f"The bounce rate (sessions that are one page view and nothing else) is "
        f"{_pct(result['bounce_rate'])}."
    )


# -- 4. paths -----------------------------------------------------------------------------------


def journey_page_steps(events: ir.Table, *, length: int = PATH_LENGTH) -> ir.Table:
    """The first ``length`` page types of each user's journey: one row per (user, position),
    position 1..length, in journey order, events without a page_type skipped and consecutive
    repeats collapsed (search, search, view, search -> search, view, search)."""
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


def paths(
    events: ir.Table,
    *,
    top: int = TOP_PATHS,
    length: int = PATH_LENGTH,
    users_total: int | None = None,  # the events' distinct users, when the caller knows it
) -> dict[str, Any]:
    """The ``top`` most common journey paths (first ``length`` page types, consecutive repeats
    collapsed, null page types skipped) with the users following each, most users first,
    ties alphabetically. ``share`` is of ``users_with_page_type``; users whose events all lack
    a page_type have no path and are counted in ``users_without_page_type``."""
    p = journey_paths(events, length=length)
    # Read twice (summary and ranking) and small (a row per distinct path): computing the
    # paths is the costly part, so do it once.
    counts = p.group_by("path").aggregate(users=p.count()).cache()
    ranked = counts.order_by([ibis.desc("users"), "path"]).limit(top)
    summary = _row(counts.aggregate(users=counts.users.sum(), distinct=counts.count()))
    if users_total is None:
        users_total = _int(events.user_id.nunique())
    with_path = int(summary["users"] or 0)
    return {
        "length": length,
        "users_with_page_type": with_path,
        "users_without_page_type": users_total - with_path,
        "distinct_paths": int(summary["distinct"] or 0),
        "top": [
            {"path": r["path"], "users": int(r["users"]), "share": _rate(r["users"], with_path)}
            for r in _rows(ranked)
        ],
    }


def narrative_paths(result: dict[str, Any]) -> str:
    """Paths in two or three sentences."""
    top = result["top"]
    if not top:
        return "No journey has a page type, so there are no paths."
    text = (
        f"{_n(result['users_with_page_type'])} users follow {_n(result['distinct_paths'])} "
        f"different paths over their first {result['length']} page types. The most common is "
        f'"{top[0]["path"]}" ({_n(top[0]["users"])} users, {_pct(top[0]["share"])})'
    )
    if len(top) > 1:
        text += f', then "{top[1]["path"]}" ({_pct(top[1]["share"])})'
    covered = sum(r["users"] for r in top)
    return text + (
        f". The top {len(top)} cover "
        f"{_pct(_rate(covered, result['users_with_page_type']))} of users."
    )


# -- 5. activity --------------------------------------------------------------------------------


def activity_by_hour(events: ir.Table) -> ir.Table:
    """Events and active users (distinct users with an event) per hour of the day, 0-23 UTC,
    all days together; hour = (ts_us // 3,600,000,000) % 24."""
    e = events.mutate(hour=(events.ts_us // _HOUR_US) % 24)
    return e.group_by("hour").aggregate(events=e.count(), active_users=e.user_id.nunique())


def activity_by_day(events: ir.Table) -> ir.Table:
    """Events and active users per UTC day; ``day`` = days since 1970-01-01 (ts_us //
    86,400,000,000)."""
    e = events.mutate(day=events.ts_us // _DAY_US)
    return e.group_by("day").aggregate(events=e.count(), active_users=e.user_id.nunique())


def activity(
    events: ir.Table,
    *,
    users_total: int | None = None,  # the events' distinct users, when the caller knows it
) -> dict[str, Any]:
    """Activity over time: ``by_hour`` has all 24 UTC hours (0 where nothing happened);
    ``by_day`` lists each UTC date (``YYYY-MM-DD``) with events, only when the events span
    several days (else it is empty: the one day's figures are the totals). ``busiest_hour``
    is the hour with most events (the earliest on a tie; None without events)."""
    hour_rows = _rows(activity_by_hour(events))
    hours = {r["hour"]: r for r in hour_rows}
    days = sorted(_rows(activity_by_day(events)), key=lambda r: r["day"])
    if users_total is None:
        users_total = _int(events.user_id.nunique())
    by_hour = [
        {
            "hour": hour,
            "events": int(hours[hour]["events"]) if hour in hours else 0,
            "active_users": int(hours[hour]["active_users"]) if hour in hours else 0,
        }
        for hour in range(24)
    ]
    busiest = max(by_hour, key=lambda h: (h["events"], -h["hour"])) if hours else None
    return {
        "events_total": sum(int(r["events"]) for r in hour_rows),
        "active_users_total": users_total,
        "days": len(days),
        "busiest_hour": busiest["hour"] if busiest else None,
        "by_hour": by_hour,
        "by_day": [
            {
                "date": (_EPOCH_DAY + timedelta(days=int(r["day"]))).isoformat(),
                "events": int(r["events"]),
                "active_users": int(r["active_users"]),
            }
            for r in days
        ]
        if len(days) > 1
        else [],
    }


def narrative_activity(result: dict[str, Any]) -> str:
    """Activity in two or three sentences."""
    if result["events_total"] == 0:
        return "There are no events."
    busiest = result["by_hour"][result["busiest_hour"]]
    active = [h for h in result["by_hour"] if h["events"] > 0]
    quietest = min(active, key=lambda h: (h["events"], h["hour"]))
    span = f"over {result['days']} days" if result["days"] > 1 else "on one day"
    return (
        f"{_n(result['events_total'])} events from {_n(result['active_users_total'])} users "
        f"{span}. The busiest hour is {busiest['hour']:02d}:00-{busiest['hour']:02d}:59 UTC "
        f"with {_n(busiest['events'])} events from {_n(busiest['active_users'])} users; "
        f"the quietest is {quietest['hour']:02d}:00 UTC with {_n(quietest['events'])} events."
    )


# -- 6. A/B tests -------------------------------------------------------------------------------


def _test_assignments(events: ir.Table) -> ir.Table:
    """Distinct (user_id, test, group) rows from the ``test_groups`` JSON text.

    A ``test_groups`` cell that is not a JSON object is ignored; a string group is taken as
    written (trimmed), any other JSON value as its JSON text. Reading the JSON is the
    backend's business (:func:`helpers.backend.object_entries`).
    """
    entries = object_entries(
        events.filter(events.test_groups.notnull()), "test_groups", keep=["user_id"]
    )
    engine = events.get_backend().name
    rows = entries.select(
        "user_id",
        test=strip(engine, entries.key).nullif(""),
        group=strip(engine, entries.value).nullif(""),
    )
    return rows.filter(rows.test.notnull() & rows.group.notnull()).distinct()


def ab_membership(events: ir.Table) -> ir.Table:
    """One row per (user, test) the user was assigned in: ``group`` (the user's group when they
    have one) and ``groups`` (how many distinct groups of that test the user was seen in; more
    than one means the user is excluded from that test)."""
    a = _test_assignments(events)
    return a.group_by("user_id", "test").aggregate(group=a.group.min(), groups=a.group.nunique())


def ab_group_outcomes(events: ir.Table, users: ir.Table) -> ir.Table:
    """Per (test, group): users (seen in that group only), and how many clicked book-now / created
    a request draft (anywhere in their journey)."""
    return _group_outcomes(ab_membership(events), users)


def _group_outcomes(membership: ir.Table, users: ir.Table) -> ir.Table:
    """:func:`ab_group_outcomes` of an :func:`ab_membership` table."""
    m = membership
    members = m.filter(m.groups == 1).join(
        users.select("user_id", "clicked_book_now", "created_request_draft"), "user_id"
    )
    return members.group_by("test", "group").aggregate(
        users=members.count(),
        clicked_book_now=members.count(where=members.clicked_book_now),
        created_request_draft=members.count(where=members.created_request_draft),
    )


def ab_tests(
    events: ir.Table, users: ir.Table, *, control_groups: dict[str, str] | None = None
) -> dict[str, Any]:
    """Per A/B test in ``test_groups`` and per group: users, conversion to book-now and to a
    request draft, and each group's difference to the control group.

    - Control group: ``control_groups[test]``, else the test's first group alphabetically (also
      when the named group is not in the data; a note says so).
    - A user seen in two or more groups of a test is left out of that test and counted in
      ``users_in_several_groups``.
    - Difference = group rate - control rate; its 95% confidence interval uses the unpooled
      standard error sqrt(p1(1-p1)/n1 + p0(1-p0)/n0); the p-value is the two-sided
      two-proportion z-test with the pooled standard error sqrt(p(1-p)(1/n1 + 1/n0)), p the
      pooled rate. When the pooled standard error is 0 (both rates 0 or both 1) z is 0 and the
      p-value 1.
    - Sample-ratio mismatch: chi-square goodness of fit of the group sizes against an equal
      split; ``mismatch`` when p < 0.001 (only for tests with two or more groups).

    Without any test assignment, ``tests`` is empty and ``note`` says why.
    """
    control_groups = control_groups or {}
    # Read three times, and reading the JSON is the costly part: do it once.
    m = ab_membership(events).cache()
    per_test = _rows(
        m.group_by("test").aggregate(assigned=m.count(), in_several=m.count(where=m.groups > 1))
    )
    # Without any assignment there is nothing else to count.
    outcomes = _rows(_group_outcomes(m, users)) if per_test else []
    assigned_users = _int(m.user_id.nunique()) if per_test else 0
    tests = []
    for test in sorted(per_test, key=lambda r: r["test"]):
        groups = sorted(
            (r for r in outcomes if r["test"] == test["test"]), key=lambda r: r["group"]
        )
        tests.append(_ab_test(test["test"], groups, int(test["in_several"] or 0), control_groups))
    return {
        "users_with_assignment": assigned_users,
        "note": None if tests else NO_TEST_GROUPS_NOTE,
        "tests": tests,
    }


def _ab_test(
    test: str, groups: list[dict[str, Any]], in_several: int, control_groups: dict[str, str]
) -> dict[str, Any]:
    notes = []
    names = [g["group"] for g in groups]
    control = control_groups.get(test)
    if control is not None and control not in names:
        notes.append(f"control group {control!r} is not in the data; using the first group")
        control = None
    if control is None and names:
        control = names[0]
    base = next((g for g in groups if g["group"] == control), None)
    result_groups = []
    for g in groups:
        entry = {
            "group": g["group"],
            "users": int(g["users"]),
            "clicked_book_now": int(g["clicked_book_now"]),
            "book_now_rate": _rate(g["clicked_book_now"], g["users"]),
            "created_request_draft": int(g["created_request_draft"]),
            "request_draft_rate": _rate(g["created_request_draft"], g["users"]),
            "vs_control": None,
        }
        if base is not None and g["group"] != control:
            entry["vs_control"] = {
                "book_now": compare_proportions(
                    int(g["clicked_book_now"]), int(g["users"]),
                    int(base["clicked_book_now"]), int(base["users"]),
                ),
                "request_draft": compare_proportions(
                    int(g["created_request_draft"]), int(g["users"]),
                    int(base["created_request_draft"]), int(base["users"]),
                ),
            }  # fmt: skip
        result_groups.append(entry)
    if len(groups) < 2:
        notes.append("only one group: nothing to compare")
    return {
        "test": test,
        "control_group": control,
        "users": sum(int(g["users"]) for g in groups),
        "users_in_several_groups": in_several,
        "sample_ratio": sample_ratio_mismatch([int(g["users"]) for g in groups]),
        "groups": result_groups,
        "notes": notes,
    }


def compare_proportions(
    successes: int, n: int, control_successes: int, control_n: int, *, alpha: float = ALPHA
) -> dict[str, Any]:
    """A group's rate against the control's: ``difference`` (group - control),
    ``relative_difference`` (difference / control rate), the (1 - alpha) confidence interval
    of the difference from the unpooled standard error, and the two-sided two-proportion
    z-test (pooled standard error): ``z``, ``p_value``, ``significant`` (p < alpha). All
    None when either group is empty."""
    if n == 0 or control_n == 0:
        return {
            "difference": None, "relative_difference": None, "ci_low": None, "ci_high": None,
            "z": None, "p_value": None, "significant": None,
        }  # fmt: skip
    from scipy import stats  # here: a run without A/B tests never pays its import (0.4 s)

    p1, p0 = successes / n, control_successes / control_n
    difference = p1 - p0
    unpooled = math.sqrt(p1 * (1 - p1) / n + p0 * (1 - p0) / control_n)
    margin = float(stats.norm.ppf(1 - alpha / 2)) * unpooled
    pooled_rate = (successes + control_successes) / (n + control_n)
    pooled = math.sqrt(pooled_rate * (1 - pooled_rate) * (1 / n + 1 / control_n))
    z = difference / pooled if pooled > 0 else 0.0
    p_value = float(2 * stats.norm.sf(abs(z)))
    return {
        "difference": difference,
        "relative_difference": difference / p0 if p0 > 0 else None,
        "ci_low": difference - margin,
        "ci_high": difference + margin,
        "z": z,
        "p_value": p_value,
        "significant": p_value < alpha,
    }


def sample_ratio_mismatch(
    group_users: list[int], *, alpha: float = SRM_ALPHA
) -> dict[str, Any] | None:
    """Chi-square goodness of fit of the group sizes against an equal split: ``chi_square``,
    ``p_value`` and ``mismatch`` (p < alpha, 0.001 by default). None for fewer than two
    groups or no users."""
    if len(group_users) < 2 or sum(group_users) == 0:
        return None
    from scipy import stats  # here: a run without A/B tests never pays its import (0.4 s)

    statistic, p_value = stats.chisquare(group_users)
    return {
        "chi_square": float(statistic),
        "p_value": float(p_value),
        "mismatch": bool(p_value < alpha),
    }


def narrative_ab_tests(result: dict[str, Any]) -> str:
    """The A/B tests in two or three sentences per test."""
    if not result["tests"]:
        return "The data has no A/B test assignments (test_groups), so no test is analysed."
    texts = []
    for test in result["tests"]:
        sizes = ", ".join(f"{g['group']}: {_n(g['users'])}" for g in test["groups"])
        text = f"Test {test['test']} has {_n(test['users'])} users ({sizes})"
        if test["users_in_several_groups"]:
            text += f"; {_n(test['users_in_several_groups'])} seen in several groups are excluded"
        text += "."
        for g in test["groups"]:
            vs = g["vs_control"]
            if vs is None or vs["book_now"]["difference"] is None:
                continue
            b = vs["book_now"]
            verdict = "significant" if b["significant"] else "not significant"
            text += (
                f" Group {g['group']} clicks book-now {_pct(g['book_now_rate'])} of the time vs "
                f"{_pct(_control_rate(test))} in control {test['control_group']} "
                f"(difference {_pp(b['difference'])}, 95% CI {_pp(b['ci_low'])} to "
                f"{_pp(b['ci_high'])}, p = {_p(b['p_value'])}, {verdict})."
            )
        srm = test["sample_ratio"]
        if srm is not None and srm["mismatch"]:
            text += (
                f" Warning: the group sizes depart from an equal split (sample-ratio mismatch, "
                f"p = {_p(srm['p_value'])}); treat the comparison with caution."
            )
        texts.append(text)
    return " ".join(texts)


def _control_rate(test: dict[str, Any]) -> float | None:
    return next(
        (g["book_now_rate"] for g in test["groups"] if g["group"] == test["control_group"]), None
    )


# -- 7. user definitions ------------------------------------------------------------------------


def user_definition_counts(events: ir.Table) -> ir.Table:
    """One row per way of counting users, ``definition`` ``session_id`` or ``visitor_id``:
    ``users`` (distinct non-null ids), ``clicked_book_now`` (ids with an event of event_type
    click_book-now), ``with_request_id`` (ids with an event carrying a request id), ``rows``
    (all events) and ``rows_without_id`` (events whose id is null)."""
    e = events
    definitions = []
    for column in ("session_id", "visitor_id"):
        # A group-by per id, then counts of ids: much cheaper than three distinct counts.
        ids = e.group_by(id=e[column]).aggregate(
            rows=e.count(),
            book_now=(e.event_type == BOOK_NOW).any(),
            request_id=e.has_request_id.any(),
        )
        known = ids.id.notnull()
        counts = ids.aggregate(
            users=ids.count(where=known),
            clicked_book_now=ids.count(where=known & ids.book_now),
            with_request_id=ids.count(where=known & ids.request_id),
            rows=ids.rows.sum(),
            rows_without_id=ids.rows.sum(where=~known),
        )
        definitions.append(counts.mutate(definition=ibis.literal(column)))
    return ibis.union(*definitions, distinct=False)


def user_definitions(events: ir.Table) -> dict[str, Any]:
    """Users counted two ways, straight from the events: as distinct ``session_id`` and as
    distinct ``visitor_id``. Under each: ``users_total``, ``users_clicked_book_now`` (with an
    event of event_type click_book-now) and ``users_with_request_id`` (with an event carrying a
    request id). Rows without a visitor_id are left out of the visitor counts and counted in
    ``rows_without_visitor_id``; ``visitor_id`` is None when no row has one."""
    r = {row["definition"]: row for row in _rows(user_definition_counts(events))}

    def counts(column: str) -> dict[str, int]:
        return {
            "users_total": int(r[column]["users"] or 0),
            "users_clicked_book_now": int(r[column]["clicked_book_now"] or 0),
            "users_with_request_id": int(r[column]["with_request_id"] or 0),
        }

    has_visitors = int(r["visitor_id"]["users"] or 0) > 0
    return {
        "rows_total": int(r["visitor_id"]["rows"] or 0),
        "rows_without_visitor_id": int(r["visitor_id"]["rows_without_id"] or 0),
        "session_id": counts("session_id"),
        "visitor_id": counts("visitor_id") if has_visitors else None,
    }


def narrative_user_definitions(result: dict[str, Any]) -> str:
    """The two user definitions side by side in two or three sentences."""
    s = result["session_id"]
    v = result["visitor_id"]
    text = f"Counting users as sessions (session_id) gives {_n(s['users_total'])} users"
    if v is None:
        return text + "; the data has no visitor_id, so visitors cannot be counted."
    text += (
        f", counting them as visitors (visitor_id) {_n(v['users_total'])}"
        + (
            f" ({s['users_total'] / v['users_total']:.2f} sessions per visitor)"
            if v["users_total"]
            else ""
        )
        + f". Book-now clickers: {_n(s['users_clicked_book_now'])} sessions vs "
        f"{_n(v['users_clicked_book_now'])} visitors; users with a request id: "
        f"{_n(s['users_with_request_id'])} vs {_n(v['users_with_request_id'])}."
    )
    if result["rows_without_visitor_id"]:
        text += (
            f" {_n(result['rows_without_visitor_id'])} events without a visitor_id are left "
            f"out of the visitor counts."
        )
    return text


# -- executing and formatting -------------------------------------------------------------------


def _rows(expr: ir.Table) -> list[dict[str, Any]]:
    return expr.to_pyarrow().to_pylist()


def _row(expr: ir.Table) -> dict[str, Any]:
    return _rows(expr)[0]


def _int(expr: ir.Scalar) -> int:
    value = expr.to_pyarrow().as_py()
    return int(value) if value is not None else 0


def _float(value: Any) -> float | None:
    """A float rounded to 6 decimals (a microsecond, for seconds); None for null or NaN."""
    return None if value is None or math.isnan(value) else round(float(value), 6)


def _rate(numerator: int | None, denominator: int | None) -> float | None:
    if not denominator:
        return None
    return round((numerator or 0) / denominator, 6)


def _n(value: int) -> str:
    return f"{value:,}"


def _num(value: float) -> str:
    return f"{value:g}"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _pp(value: float) -> str:
    return f"{value * 100:+.1f} pp"


def _p(value: float) -> str:
    return "< 0.001" if value < 0.001 else f"{value:.3f}"


def _secs(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.1f} s" if value < 60 else f"{value / 60:.1f} min"
