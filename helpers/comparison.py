"""Period over period: a report's headline figures beside those of an earlier report.

:func:`load_previous` reads and checks the earlier report.json (a file that is missing, not a
report, or counts users by another column is refused in one paragraph); :func:`compare` puts
each KPI's previous value beside the current one with the change, and for a rate (a share of
users, a conversion rate) a two-proportion z-test saying whether the change is more than
noise. The result is report.json's ``comparison`` block; the HTML shows the same numbers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import Field

from helpers.analyses._base import Count, Model
from helpers.analyses._stats import ALPHA, Comparison, compare_proportions
from helpers.errors import ReportError

if TYPE_CHECKING:
    from helpers.report import Report

#: The KPIs compared, in the order shown: name -> (path of the count in report.json, unit,
#: path of the rate's denominator or None for a count without a rate).
KPIS: dict[str, tuple[tuple[str, ...], str, tuple[str, ...] | None]] = {
    "users_total": (("objectives", "users_total"), "users", None),
    "short_sessions.sessions": (("objectives", "short_sessions", "sessions"), "sessions", None),
    "short_sessions.users": (
        ("objectives", "short_sessions", "users"), "users", ("objectives", "users_total"),
    ),
    "users_search_then_apartment_view": (
        ("objectives", "users_search_then_apartment_view"), "users", ("objectives", "users_total"),
    ),
    "users_clicked_book_now": (
        ("objectives", "users_clicked_book_now"), "users", ("objectives", "users_total"),
    ),
    "users_search_start_request_draft": (
        ("objectives", "users_search_start_request_draft"), "users", ("objectives", "users_total"),
    ),
    "users_with_request_id": (
        ("objectives", "users_with_request_id"), "users", ("objectives", "users_total"),
    ),
    "price_filter.users_above": (
        ("objectives", "price_filter", "users_above"), "users", ("objectives", "users_total"),
    ),
    # The marketplace funnel's conversion: searchers (step 1) who created a request draft.
    "funnel_conversion": (
        ("insights", "funnel", "steps", 3, "users"), "users",
        ("insights", "funnel", "steps", 0, "users"),
    ),
}  # fmt: skip


class RateChange(Model):
    """A rate (count / its base) now and before, and the two-proportion z-test of the change:
    the 95% confidence interval of the difference from the unpooled standard error, the
    two-sided p-value from the pooled one; ``significant`` when p < 0.05, i.e. the change is
    more than noise. The two periods are taken as independent samples."""

    base: Count = Field(description="The rate's denominator now (users, or step-1 users).")
    previous_base: Count = Field(description="The rate's denominator in the previous report.")
    rate: float | None = Field(ge=0, le=1, description="count / base now; null when base is 0.")
    previous_rate: float | None = Field(ge=0, le=1, description="The previous count / base.")
    test: Comparison = Field(
        description="rate - previous_rate, its 95% CI, z, p-value and whether p < 0.05."
    )


class KpiChange(Model):
    """One KPI now and in the previous report."""

    pointer: str = Field(description="The KPI's JSON Pointer in report.json.")
    unit: str = Field(description="What the KPI counts: users or sessions.")
    current: Count = Field(description="The KPI in this report.")
    previous: Count = Field(description="The KPI in the previous report.")
    change: int = Field(description="current - previous.")
    relative_change: float | None = Field(
        description="change / previous; null when previous is 0."
    )
    rate: RateChange | None = Field(
        description="For a share of users or a conversion rate: the rates and their test."
    )


class PreviousReport(Model):
    """Which report the figures are compared with."""

    path: str = Field(description="The previous report.json as given (--compare-to).")
    source: dict[str, Any] = Field(description="The previous report's source block.")
    first_event: str | None = Field(description="The previous report's first analysed event.")
    last_event: str | None = Field(description="The previous report's last analysed event.")
    generated_at: str = Field(description="When the previous report was computed.")


class PeriodComparison(Model):
    """This report's KPIs beside an earlier report's (``--compare-to``, or the previous run of
    a batch ordered by period), with the change; rates with a two-proportion z-test."""

    previous: PreviousReport
    alpha: float = Field(description="The test's level: a change is significant when p < it.")
    kpis: dict[str, KpiChange] = Field(
        description="KPI name -> its change; a KPI null in either report is left out."
    )


def load_previous(path: str | Path, *, user_column: str | None = None) -> dict[str, Any]:
    """The earlier report.json at ``path``, checked: it exists, is a report.json of this
    contract, and (given ``user_column``) counts users by the same column. Anything else is a
    :class:`ReportError` saying what to give instead."""
    from helpers.report import validate  # the schema check lives with the report

    file = Path(path).expanduser()
    advice = "Give --compare-to the report.json of an earlier run of this report."
    if file.is_dir():
        file = file / "report.json"
    if not file.is_file():
        raise ReportError(f"--compare-to: {path} does not exist. {advice}")
    try:
        data = json.loads(file.read_text(encoding="utf-8"))
        validate(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ReportError(f"--compare-to: {path} is not JSON ({exc}). {advice}") from None
    except Exception as exc:  # jsonschema's ValidationError, imported lazily by report.py
        if type(exc).__name__ != "ValidationError":
            raise
        raise ReportError(
            f"--compare-to: {path} is not a report.json of this report ({_first_line(exc)}). "
            f"{advice}"
        ) from None
    if user_column is not None and data["parameters"]["user_column"] != user_column:
        raise ReportError(
            f"--compare-to: {path} counts users by {data['parameters']['user_column']!r}, this "
            f"report by {user_column!r}: their users are not the same thing, so the figures "
            f"cannot be compared. Compare with a report run with the same user_column."
        )
    return data


def precedes(previous: dict[str, Any], current: dict[str, Any]) -> bool:
    """Whether ``previous`` covers an earlier period than ``current`` (its last analysed event
    before ``current``'s first) and counts the same users: how a batch decides that a run is
    the next period of the one before it."""
    last, first = previous["period"]["last_event"], current["period"]["first_event"]
    same_users = previous["parameters"]["user_column"] == current["parameters"]["user_column"]
    return bool(last and first and same_users and last < first)


def compare(current: dict[str, Any], previous: dict[str, Any], path: str) -> PeriodComparison:
    """Every KPI of :data:`KPIS` present in both reports, now and before, with the change."""
    kpis = {}
    for name, (where, unit, base_at) in KPIS.items():
        now, before = value_at(current, where), value_at(previous, where)
        if now is None or before is None:
            continue
        rate = None
        if base_at is not None:
            bases = value_at(current, base_at) or 0, value_at(previous, base_at) or 0
            rate = _rate(now, before, *bases)
        kpis[name] = KpiChange(
            pointer="/" + "/".join(map(str, where)),
            unit=unit,
            current=now,
            previous=before,
            change=now - before,
            relative_change=(now - before) / before if before else None,
            rate=rate,
        )
    return PeriodComparison(
        previous=PreviousReport(
            path=str(path),
            source=previous["source"],
            first_event=previous["period"]["first_event"],
            last_event=previous["period"]["last_event"],
            generated_at=previous["generated_at"],
        ),
        alpha=ALPHA,
        kpis=kpis,
    )


def attach(report: Report, previous: dict[str, Any], path: str | Path) -> Report:
    """``report`` with its ``comparison`` block against ``previous``, checked by the schema."""
    from helpers.report import Report, validate

    document = report.document.model_copy(
        update={"comparison": compare(report.data, previous, str(path))}
    )
    compared = Report(document=document, rejected=report.rejected)
    validate(compared.data)
    return compared


def _rate(now: int, before: int, base: int, previous_base: int) -> RateChange:
    return RateChange(
        base=base,
        previous_base=previous_base,
        rate=now / base if base else None,
        previous_rate=before / previous_base if previous_base else None,
        test=compare_proportions(now, base, before, previous_base),
    )


def value_at(data: Any, path: tuple[Any, ...]) -> Any:
    """The value at ``path`` in report.json's ``data``; None where a block on the way is null."""
    for part in path:
        if data is None:
            return None
        data = data[part] if isinstance(part, int) else data.get(part)
    return data


def _first_line(exc: Exception) -> str:
    return str(getattr(exc, "message", exc)).splitlines()[0][:160]

