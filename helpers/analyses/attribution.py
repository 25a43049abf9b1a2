"""Attribution: which marketing channels bring the users who book, by first and last touch."""

from __future__ import annotations

import ibis.expr.types as ir

from helpers import fmt
from helpers.analyses._base import Analysis, Count, Model, Rate, Result
from helpers.analyses._execute import rate, rows
from helpers.grains import NO_OM_SOURCE, Grains, last

_MEASURES = ("users", "clicked_book_now", "created_request_draft")
_TOUCHES = ("first", "last")


class Touch(Model):
    """Users attributed to a channel by one touch, and what they did."""

    users: Count
    clicked_book_now: Count
    created_request_draft: Count
    book_now_rate: Rate


class Channel(Model):
    """One channel (om_source as written), by first and by last touch."""

    channel: str
    first_touch: Touch
    last_touch: Touch


class Attribution(Result):
    """Users per channel by first and by last touch (each sums to users_total)."""

    users_total: Count
    users_first_touch_differs: Count
    channels: list[Channel]

    def describe(self) -> str:
        if not self.channels:
            return "There are no users to attribute."
        paid = [c for c in self.channels if c.channel != NO_OM_SOURCE]
        organic = next((c for c in self.channels if c.channel == NO_OM_SOURCE), None)
        parts = []
        if organic is not None:
            parts.append(
                f"{fmt.percent(rate(organic.first_touch.users, self.users_total))} of "
                f"{fmt.count(self.users_total)} users have no marketing channel (no_om_source)."
            )
        if paid:
            top = paid[0].first_touch
            parts.append(
                f"The largest channel by first touch is {paid[0].channel} with "
                f"{fmt.count(top.users)} users, of whom {fmt.count(top.clicked_book_now)} "
                f"clicked book-now and {fmt.count(top.created_request_draft)} created a request "
                f"draft."
            )
        differs = self.users_first_touch_differs
        parts.append(
            f"First and last touch differ for {fmt.count(differs)} users "
            f"({fmt.percent(rate(differs, self.users_total))})."
            if differs
            else "First and last touch are the same channel for every user."
        )
        return " ".join(parts)


def attribution(grains: Grains) -> Attribution:
    """Per channel (om_source as written, ``no_om_source`` for users without one): the users
    whose first touch is the channel and how many of them clicked book-now or created a request
    draft, and the same for users whose last touch is the channel.

    A user's first touch is the om_source of their first event that has one, in journey order;
    their last touch that of their last such event. Each attribution sums to ``users_total``;
    ``users_first_touch_differs`` counts users whose first and last touch differ.
    """
    # One small query (a row per channel pair); both attributions are sums of its counts.
    pairs = rows(touch_pairs(grains.events, grains.users))
    channels: dict[str, dict[str, dict[str, int]]] = {}
    for r in pairs:
        for touch in _TOUCHES:
            channel = channels.setdefault(
                r[f"{touch}_touch"], {t: dict.fromkeys(_MEASURES, 0) for t in _TOUCHES}
            )
            for measure in _MEASURES:
                channel[touch][measure] += int(r[measure])
    ranked = sorted(
        channels.items(), key=lambda kv: (-kv[1]["first"]["users"], -kv[1]["last"]["users"], kv[0])
    )
    return Attribution(
        users_total=sum(int(r["users"]) for r in pairs),
        users_first_touch_differs=sum(
            int(r["users"]) for r in pairs if r["first_touch"] != r["last_touch"]
        ),
        channels=[
            Channel(channel=name, **{f"{t}_touch": _touch(counts[t]) for t in _TOUCHES})
            for name, counts in ranked
        ],
    )


def _touch(counts: dict[str, int]) -> Touch:
    return Touch(**counts, book_now_rate=rate(counts["clicked_book_now"], counts["users"]))


def user_touches(events: ir.Table, users: ir.Table) -> ir.Table:
    """One row per user: ``first_touch`` and ``last_touch`` (``no_om_source`` if none), and
    whether they clicked book-now / created a request draft."""
    e = events
    last_touch = e.group_by("user_id").aggregate(
        last_touch=last(e.om_source, e._seq).fill_null(NO_OM_SOURCE)
    )
    return users.join(last_touch, "user_id").select(
        "user_id",
        "last_touch",
        "clicked_book_now",
        "created_request_draft",
        first_touch=users.first_om_source,
    )


def touch_pairs(events: ir.Table, users: ir.Table) -> ir.Table:
    """Users per (``first_touch``, ``last_touch``) pair, and how many of them clicked book-now
    / created a request draft."""
    t = user_touches(events, users)
    return t.group_by("first_touch", "last_touch").aggregate(
        users=t.count(),
        clicked_book_now=t.count(where=t.clicked_book_now),
        created_request_draft=t.count(where=t.created_request_draft),
    )


ANALYSIS = Analysis(
    key="attribution",
    title="Which channels bring users who book?",
    compute=attribution,
    result=Attribution,
    order=20,
    needs=("om_source", "event_type"),
)
