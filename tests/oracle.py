"""An independent reference implementation of the spec, in plain Python, for tests only.

Written straight from ``shared/spec/objectives.md`` with the standard library (csv, json,
datetime, loops over rows), sharing no code with ``helpers``. Where the pipeline and this
oracle agree on the bundled sample and on random tables, both read the spec the same way.
"""

from __future__ import annotations

import csv
import gzip
import json
import math
import re
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

_WS = " \t\n\r\v\f"
_DT = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?(?:[.,](\d+))?)?"
    r" *(Z|UTC|[+-]\d{2}(?::?\d{2})?)?$"
)
_NUM = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
# invalid_json_line first: a CSV, which the oracle reads, never has one.
_REASONS = ["forgotten_user", "invalid_json_line", "invalid_datetime", "missing_session_id",
            "missing_user_id", "non_production_env", "internal_ip", "duplicate_event"]


def _micros(text: str | None) -> int | None:
    if text is None:
        return None
    m = _DT.match(text.upper())
    if not m:
        return None
    y, mo, d, h, mi, s, frac, zone = m.groups()
    try:
        moment = datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(s or 0),
                          tzinfo=UTC)
    except ValueError:
        return None
    micros = int((frac or "").ljust(6, "0")[:6])
    offset = 0
    if zone and zone[0] in "+-":
        digits = zone[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:4] or 0)
        if hours > 23 or minutes > 59:  # no ISO 8601 offset
            return None
        offset = (hours * 60 + minutes) * (-1 if zone[0] == "-" else 1)
    try:
        moment = moment - timedelta(minutes=offset)
    except OverflowError:  # beyond the years 1-9999 in UTC: what no report can write
        return None
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return (moment - epoch) // timedelta(seconds=1) * 1_000_000 + micros


def _obj(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def _price(content: dict) -> tuple[bool, float | None]:
    """(present, valid price or None)."""
    if "price" not in content:
        return False, None
    value = content["price"]
    if isinstance(value, bool) or value is None:
        return True, None
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str) and _NUM.match(value.strip(_WS)):
        number = float(value.strip(_WS))
    else:
        return True, None
    return True, (number if math.isfinite(number) else None)


def _read(path: Path) -> list[dict[str, str]]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        header = ["_".join(h.strip().lower().split(" ")) for h in next(reader)]
        return [dict(zip(header, row, strict=True)) for row in reader]


def reference_report(path: Path, *, user_column: str = "session_id",
                     environments: tuple[str, ...] = ("production",),
                     exclude_internal_traffic: bool = True, short_session_seconds: float = 5,
                     price_threshold: float = 1200, price_currency: str = "EUR") -> dict:
    raw = _read(path)
    excluded = dict.fromkeys(_REASONS, 0)
    seen: set[tuple] = set()
    events = []
    for index, row in enumerate(raw):
        cells = {k: (v.strip(_WS) or None) for k, v in row.items()}
        ts = _micros(cells["datetime"])
        env = (cells["env"] or "").lower() or None
        identity = tuple(sorted(cells.items(), key=lambda kv: kv[0]))
        if ts is None:
            reason = "invalid_datetime"
        elif cells["session_id"] is None:
            reason = "missing_session_id"
        elif user_column != "session_id" and cells[user_column] is None:
            reason = "missing_user_id"
        elif env is None or env not in {e.lower() for e in environments}:
            reason = "non_production_env"
        elif exclude_internal_traffic and (cells["is_internal_ip"] or "").lower() in {
            "true", "1", "yes", "t"
        }:
            reason = "internal_ip"
        elif identity in seen:
            reason = "duplicate_event"
        else:
            reason = None
        seen.add(identity)
        if reason:
            excluded[reason] += 1
        else:
            events.append((ts, index, cells))
    events.sort(key=lambda e: (e[0], e[1]))

    params_invalid = price_invalid = 0
    by_user: dict[str, list] = defaultdict(list)
    by_session: dict[str, list] = defaultdict(list)
    priced = []  # (user, session, price, currency ok)
    request_users = set()
    for ts, _, cells in events:
        try:
            doc = json.loads(cells["params"]) if cells["params"] is not None else None
        except ValueError:
            doc = None
        if not isinstance(doc, dict):
            params_invalid += 1
            doc = {}
        content, page = _obj(doc.get("event_content")), _obj(doc.get("page"))
        present, value = _price(content)
        if present and value is None:
            price_invalid += 1
        user = cells[user_column]
        if value is not None:
            currency = content.get("currency")
            ok = isinstance(currency, str) and currency.strip(_WS).upper() == price_currency.upper()
            priced.append((user, cells["session_id"], value, ok))
        rid = page.get("request_id")
        if (isinstance(rid, str) and rid.strip(_WS)) or (
            isinstance(rid, int | float) and not isinstance(rid, bool)
        ):
            request_users.add(user)
        by_user[user].append(cells)
        by_session[cells["session_id"]].append((ts, cells))

    def first(rows, column):
        return next((r[column] for r in rows if r[column] is not None), None)

    def last(rows, column):
        return first(list(reversed(rows)), column)

    device, source = defaultdict(int), defaultdict(int)
    search_apartment = book_now = search_draft = 0
    for rows in by_user.values():
        device[first(rows, "device_class") or "unknown"] += 1
        source[first(rows, "om_source") or "no_om_source"] += 1
        starts_search = first(rows, "page_type") == "search_page"
        search_apartment += starts_search and any(r["page_type"] == "apartment_view" for r in rows)
        book_now += any(r["event_type"] == "click_book-now" for r in rows)
        search_draft += starts_search and any(
            r["event_type"] == "request_draft-created" for r in rows
        )

    short = {s: rows for s, rows in by_session.items()
             if rows[-1][0] - rows[0][0] <= short_session_seconds * 1_000_000}
    short_users = {c[user_column] for rows in short.values() for _, c in rows}
    ignored = {s for _, s, _, ok in priced if not ok}
    kept = [(u, p) for u, s, p, _ in priced if s not in ignored]
    return {
        "data_quality": {
            "rows_read": len(raw),
            "rows_analysed": len(events),
            "rows_excluded": excluded,
            "params_invalid": params_invalid,
            "price_invalid": price_invalid,
        },
        "objectives": {
            "users_total": len(by_user),
            "users_by_device_class": dict(device),
            "users_by_first_om_source": dict(source),
            "short_sessions": {
                "max_duration_seconds": short_session_seconds,
                "users": len(short_users),
                "sessions": len(short),
                "started_on_search_page": sum(
                    first([c for _, c in rows], "page_type") == "search_page"
                    for rows in short.values()
                ),
                "ended_on_apartment_view": sum(
                    last([c for _, c in rows], "page_type") == "apartment_view"
                    for rows in short.values()
                ),
            },
            "users_search_then_apartment_view": search_apartment,
            "users_clicked_book_now": book_now,
            "users_search_start_request_draft": search_draft,
            "price_filter": {
                "threshold": price_threshold,
                "currency": price_currency,
                "users_above": len({u for u, p in kept if p > price_threshold}),
                "users_below": len({u for u, p in kept if p < price_threshold}),
                "users_at_threshold": len({u for u, p in kept if p == price_threshold}),
                "sessions_ignored_other_currency": len(ignored),
            },
            "users_with_request_id": len(request_users),
        },
    }
