"""An independent plain-Python reading of analyses.md sections 4-7 (funnels, retention, trends,
lifecycle), for the pipeline to match exactly.

It starts from the analysed events (one dict per event: ``user_id``, ``ts_us``, ``_seq`` and
the text columns), which tests/oracle.py already checks against the spec's cleaning, and
shares no code with helpers/: periods come from the standard library's calendar, a funnel's
level is found by trying every start event, and percentiles are computed by hand.
"""

from __future__ import annotations

import itertools
import math
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

Event = dict[str, Any]
NONE = "(none)"


# -- periods --------------------------------------------------------------------------------------


def day_of(ts_us: int) -> date:
    return (datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=ts_us)).date()


def period_start(period: str, ts_us: int) -> date:
    d = day_of(ts_us)
    if period == "day":
        return d
    if period == "week":
        return d - timedelta(days=d.weekday())
    return d.replace(day=1)


def next_period(period: str, start: date) -> date:
    if period == "day":
        return start + timedelta(days=1)
    if period == "week":
        return start + timedelta(days=7)
    return (start.replace(day=28) + timedelta(days=4)).replace(day=1)


def data_periods(period: str, events: list[Event]) -> list[date]:
    if not events:
        return []
    first = period_start(period, min(e["ts_us"] for e in events))
    last = period_start(period, max(e["ts_us"] for e in events))
    found = [first]
    while found[-1] < last:
        found.append(next_period(period, found[-1]))
    return found


# -- shared ---------------------------------------------------------------------------------------


def matches(event: Event, condition: dict[str, list[str]] | None) -> bool:
    return all(event.get(column) in values for column, values in (condition or {}).items())


def journeys(events: list[Event]) -> dict[str, list[Event]]:
    by_user: dict[str, list[Event]] = defaultdict(list)
    for e in sorted(events, key=lambda e: e["_seq"]):
        by_user[e["user_id"]].append(e)
    return dict(by_user)


def first_value(journey: list[Event], column: str) -> str:
    return next((e[column] for e in journey if e.get(column) is not None), NONE)


def rate(numerator: int, denominator: int, digits: int = 6) -> float | None:
    return None if not denominator else round(numerator / denominator, digits)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    position = (len(ordered) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


# -- 4. funnels -----------------------------------------------------------------------------------


def level_and_time(journey: list[Event], steps: list[dict], window_us: int | None):
    """Try every step-1 event as the start: from a fixed start, taking the earliest match of
    each next step is best (every later step has the most room)."""
    best, fastest = 0, None
    for i, start in enumerate(journey):
        if not matches(start, steps[0]):
            continue
        level, at = 1, i
        for step in steps[1:]:
            nxt = next((j for j in range(at + 1, len(journey)) if matches(journey[j], step)), None)
            if nxt is None:
                break
            if window_us is not None and journey[nxt]["ts_us"] - start["ts_us"] > window_us:
                break
            level, at = level + 1, nxt
        best = max(best, level)
        if level == len(steps):
            took = journey[at]["ts_us"] - start["ts_us"]
            fastest = took if fastest is None else min(fastest, took)
    return best, fastest


def funnel(events, name, steps, window_seconds=None, breakdown=None) -> dict[str, Any]:
    window_us = None if window_seconds is None else round(window_seconds * 1_000_000)
    people = journeys(events)
    levels = {u: level_and_time(j, steps, window_us) for u, j in people.items()}

    def counts(users: list[str]) -> list[int]:
        return [sum(1 for u in users if levels[u][0] >= k) for k in range(1, len(steps) + 1)]

    users = list(people)
    reached = counts(users)
    result_steps, previous = [], len(users)
    for k, (condition, n) in enumerate(zip(steps, reached, strict=True), 1):
        result_steps.append({
            "step": k, "condition": condition, "users": n,
            "conversion_from_first": rate(n, reached[0]),
            "conversion_from_previous": rate(n, previous), "drop_off": previous - n,
        })  # fmt: skip
        previous = n
    times = [t / 1_000_000 for level, t in levels.values() if level == len(steps)]
    ttc = {"median": None, "p90": None}
    if times:
        ttc = {"median": round(percentile(times, 0.5), 3), "p90": round(percentile(times, 0.9), 3)}
    out = None
    if breakdown is not None:
        groups: dict[str, list[str]] = defaultdict(list)
        for u, j in people.items():
            groups[first_value(j, breakdown)].append(u)
        values = [
            {"value": v, "users_total": len(us),
             "steps": [{"step": k, "users": n} for k, n in enumerate(counts(us), 1)]}
            for v, us in groups.items()
        ]  # fmt: skip
        values.sort(key=lambda v: (-v["users_total"], v["value"]))
        out = {"column": breakdown, "values": values}
    return {
        "name": name, "window_seconds": window_seconds, "users_total": len(users),
        "steps": result_steps, "completed_users": reached[-1],
        "time_to_convert_seconds": ttc, "breakdown": out,
    }  # fmt: skip


# -- 5. retention ---------------------------------------------------------------------------------


def retention(events, period="week", start=None, back=None, periods=8) -> dict[str, Any]:
    last = period_start(period, max(e["ts_us"] for e in events)) if events else None
    cohorts: dict[date, list[tuple[str, Event]]] = defaultdict(list)
    people = journeys(events)
    for u, j in people.items():
        s = next((e for e in j if matches(e, start)), None)
        if s is not None:
            cohorts[period_start(period, s["ts_us"])].append((u, s))
    rows, overall = [], [[0, 0] for _ in range(periods)]
    for cohort in sorted(cohorts):
        members = cohorts[cohort]
        offsets = []
        at = cohort
        for k in range(periods):
            if at > last:
                offsets.append(None)
            else:
                kept = sum(
                    1 for u, s in members
                    if any(e["_seq"] >= s["_seq"] and matches(e, back)
                           and period_start(period, e["ts_us"]) == at for e in people[u])
                )  # fmt: skip
                offsets.append(kept)
                overall[k][0] += kept
                overall[k][1] += len(members)
            at = next_period(period, at)
        rows.append({"cohort": cohort.isoformat(), "users": len(members), "retained": offsets})
    return {
        "period": period, "periods": periods, "cohorts": rows,
        "overall": [{"offset": k, "users": n, "cohort_users": d, "rate": rate(n, d)}
                    for k, (n, d) in enumerate(overall)],
    }  # fmt: skip


# -- 6. trends ------------------------------------------------------------------------------------


def _figures(events, everything, period, named, users) -> list[dict[str, Any]]:
    first_seen = {}
    for e in sorted(everything, key=lambda e: e["_seq"]):
        first_seen.setdefault(e["user_id"], period_start(period, e["ts_us"]))
    out = []
    for p in data_periods(period, everything):
        inside = [e for e in events if period_start(period, e["ts_us"]) == p]
        active = {e["user_id"] for e in inside}
        out.append({
            "period": p.isoformat(), "active_users": len(active),
            "new_users": sum(1 for u in users if first_seen[u] == p), "events": len(inside),
            "events_by_name": [
                {"name": name, "users": len(n := {e["user_id"] for e in inside
                                                  if matches(e, cond)}),
                 "rate": rate(len(n), len(active))}
                for name, cond in named
            ],
        })  # fmt: skip
    return out


def trends(events, period="day", named=(), breakdown=None) -> dict[str, Any]:
    people = journeys(events)
    result = {
        "period": period,
        "periods": _figures(events, events, period, named, set(people)),
        "breakdown": None,
    }
    if breakdown is not None:
        groups: dict[str, set[str]] = defaultdict(set)
        for u, j in people.items():
            groups[first_value(j, breakdown)].add(u)
        ranked = sorted(groups, key=lambda v: (-len(groups[v]), v))
        result["breakdown"] = {"column": breakdown, "values": [
            {"value": v, "users": len(groups[v]),
             "periods": _figures([e for e in events if e["user_id"] in groups[v]], events,
                                 period, named, groups[v])}
            for v in ranked
        ]}  # fmt: skip
    result["stickiness"] = stickiness(events)
    return result


def stickiness(events) -> list[dict[str, Any]]:
    if not events:
        return []
    first = day_of(min(e["ts_us"] for e in events))
    last = day_of(max(e["ts_us"] for e in events))
    out = []
    for month in data_periods("month", events):
        days, d = [], max(month, first)
        while d <= last and d.month == month.month:
            days.append(d)
            d += timedelta(days=1)
        daily = [len({e["user_id"] for e in events if day_of(e["ts_us"]) == d}) for d in days]
        mau = len({e["user_id"] for e in events if day_of(e["ts_us"]) in set(days)})
        mean = sum(daily) / len(days)
        out.append({"month": month.isoformat(), "mean_dau": round(mean, 6), "mau": mau,
                    "stickiness": round(mean / mau, 6) if mau else None})  # fmt: skip
    return out


# -- 7. lifecycle ---------------------------------------------------------------------------------


def lifecycle(events, period="week") -> dict[str, Any]:
    active: dict[date, set[str]] = defaultdict(set)
    for e in events:
        active[period_start(period, e["ts_us"])].add(e["user_id"])
    spans = data_periods(period, events)
    out, seen = [], set(active[spans[0]]) if spans else set()
    for before, p in itertools.pairwise(spans):
        now, prev = active[p], active[before]
        new = {u for u in now if u not in seen}
        out.append({
            "period": p.isoformat(), "new": len(new),
            "returning": len((now & prev) - new),
            "resurrecting": len({u for u in now - prev - new if u in seen}),
            "dormant": len(prev - now),
        })  # fmt: skip
        seen |= now
    return {"period": period, "periods": out}
