"""The analyst's own questions as parameters: funnels, retention, trends and lifecycle.

Each is a typed model, part of :class:`helpers.params.ReportParams`, so a params YAML file,
``--set`` and papermill's ``-p`` define them alike and a mistake is refused before anything
runs, with a message naming the funnel and the field.

A **condition** selects events: ``{column: value}`` or ``{column: [values]}``; an event
matches when every column's cleaned value equals the value (or one of the list) exactly as
written. ``{}`` matches every event. Whether each column exists is checked against the events
(``helpers.analyses._conditions``).
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from helpers.periods import Period

Condition = dict[str, list[str]]

_UNITS = {"second": 1, "minute": 60, "hour": 3_600, "day": 86_400, "week": 604_800}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]+?)s?\s*$")


def condition(value: Any, *, where: str) -> Condition:
    """A condition checked and written one way: every value a list of strings."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{where} must be a mapping of column: value, not {value!r}")
    checked: Condition = {}
    for column, wanted in value.items():
        values = wanted if isinstance(wanted, list) else [wanted]
        if not values:
            raise ValueError(f"{where}: {column} lists no value")
        for v in values:
            if not isinstance(v, str):
                raise ValueError(
                    f"{where}: the value {v!r} of {column} is not text; YAML reads 404, true "
                    f"or 2021-01-23 as other types, so quote it ('{v}')"
                )
        checked[str(column)] = list(values)
    return checked


def duration_seconds(value: Any, *, where: str) -> float | int | None:
    """``"30 minutes"``, ``"1 day"``, ``"7 days"`` or a number of seconds; None: no window."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValueError(f"{where} must be a duration such as '1 day', not {value!r}")
    if isinstance(value, int | float):
        seconds = value
    else:
        match = _DURATION.match(str(value).lower())
        if not match or match.group(2) not in _UNITS:
            raise ValueError(
                f"{where} {value!r} is not a duration: write a number and one of "
                f"{', '.join(_UNITS)} (e.g. '30 minutes', '7 days'), or seconds as a number"
            )
        amount = float(match.group(1))
        seconds = amount * _UNITS[match.group(2)]
        seconds = int(seconds) if float(seconds).is_integer() else seconds
    if not seconds > 0:
        raise ValueError(f"{where} must be longer than 0 seconds, not {value!r}")
    return seconds


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FunnelSpec(_Spec):
    """A funnel: two or more steps in order, within a window from the first step (or the
    whole journey), optionally per value of a breakdown column."""

    name: str = Field(min_length=1)
    steps: list[Condition]
    window: float | int | None = None  # seconds
    breakdown: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _checked(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            raise ValueError(f"a funnel is a mapping with name and steps, not {value!r}")
        name = value.get("name")
        where = f"funnel {name!r}"
        steps = value.get("steps")
        if not isinstance(steps, list) or len(steps) < 2:
            raise ValueError(f"{where}: steps must list two or more conditions, got {steps!r}")
        return {
            **value,
            "steps": [condition(s, where=f"{where} step {i}") for i, s in enumerate(steps, 1)],
            "window": duration_seconds(value.get("window"), where=f"{where}: window"),
        }


#: The marketplace funnel, run when ``funnels`` is not given.
DEFAULT_FUNNEL = FunnelSpec(
    name="search to request draft",
    steps=[
        {"page_type": ["search_page"]},
        {"page_type": ["apartment_view"]},
        {"event_type": ["click_book-now"]},
        {"event_type": ["request_draft-created"]},
    ],
)


class RetentionSpec(_Spec):
    """Cohorts by the period of each user's start event, retained at each later period."""

    # "return" is a Python keyword: the field is return_, written "return" everywhere else.
    model_config = ConfigDict(populate_by_name=True, serialize_by_alias=True)

    period: Period = "week"
    start: Condition | None = None
    return_: Condition | None = Field(default=None, alias="return")
    periods: int = Field(default=8, ge=1, le=520)

    @field_validator("start", "return_", mode="before")
    @classmethod
    def _condition(cls, value: Any, info: Any) -> Any:
        name = "return" if info.field_name == "return_" else info.field_name
        return None if value is None else condition(value, where=f"retention {name}")


class TrendEvent(_Spec):
    """An event counted in the trends: its name and the condition it matches."""

    name: str = Field(min_length=1)
    condition: Condition

    @field_validator("condition", mode="before")
    @classmethod
    def _condition(cls, value: Any, info: Any) -> Any:
        return condition(value, where="trends event condition")


class TrendsSpec(_Spec):
    """Active users, new users, events and each listed event per period."""

    period: Period = "day"
    events: list[TrendEvent] = Field(default_factory=list)
    breakdown: str | None = None


class LifecycleSpec(_Spec):
    """New, returning, resurrecting and dormant users per period."""

    period: Period = "week"


def named_columns(
    funnels: list[FunnelSpec] | None, retention: RetentionSpec, trends: TrendsSpec
) -> list[tuple[str, str]]:
    """Every column the analyses' definitions name, with where: ``("funnel 'x' step 2",
    "page_type")``. The marketplace funnel (``funnels`` None) is left out: it runs only when
    its columns exist."""
    named = []
    for funnel in funnels or []:
        where = f"funnel {funnel.name!r}"
        for i, step in enumerate(funnel.steps, 1):
            named += [(f"{where} step {i}", column) for column in step]
        if funnel.breakdown is not None:
            named.append((f"{where} breakdown", funnel.breakdown))
    for name, cond in (("start", retention.start), ("return", retention.return_)):
        named += [(f"retention {name}", column) for column in cond or {}]
    for event in trends.events:
        named += [(f"trends event {event.name!r}", column) for column in event.condition]
    if trends.breakdown is not None:
        named.append(("trends breakdown", trends.breakdown))
    return named
