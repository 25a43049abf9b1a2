"""Contract: report.json as typed models, and the JSON Schema generated from them.

Each block of report.json is one model below, its fields in the order they are written; the
analyses' results are the models of ``helpers.analyses``. The shipped schema files
(``helpers/report.schema.json``, ``helpers/insights.schema.json``) are generated from these
models by ``python -m helpers schemas``, and a test fails when the committed files differ
from what the models generate. Keys may be added, none renamed or removed without a new major
``schema_version``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field

from helpers.analyses import section_model
from helpers.analyses._base import Count, Model, since
from helpers.comparison import PeriodComparison

# 1.1: period, insights; 1.2: analyses, insights.events_per_session; 1.3: the activity model
# (objectives null when their columns are absent, objectives_unavailable, new parameters),
# JSON Lines and Excel sources, several files (source.kind), rows_excluded.invalid_json_line;
# 1.4: privacy (rows_excluded.forgotten_user, personal_columns_dropped, pseudonyms, small cells);
# 1.5: comparison (period over period).
SCHEMA_VERSION = "1.5.0"
_ID = "https://example.invalid/customer-activity-report/"
_HERE = Path(__file__).resolve().parent

UtcTime = Annotated[str | None, Field(pattern="Z$")]
Insights = section_model("insights")
Analyses = section_model("analyses")


def _sha256_property(schema: dict[str, Any]) -> None:
    schema["properties"]["sha256"] = {
        "type": "string", "pattern": "^[0-9a-f]{64}$",
        "description": "One file: SHA-256 of its bytes. Several files (a directory, a glob, a "
        "list): SHA-256 of their SHA-256s (64 lower-case hex digits each, concatenated without "
        "separators) in reading order: the list's entries as given, each one's files in name "
        "order.",
    }
    schema["properties"]["fingerprint"] = {
        "type": "string", "pattern": "^[0-9a-f]{64}$",
        "description": "When Spark read the files itself and their bytes never reached the "
        "report: SHA-256 of one line per file, 'URI<TAB>size<TAB>modification time in ms'.",
    }


class Source(BaseModel):
    """Where the events came from: kind and name, and what identifies the data (a file's
    sha256, or its fingerprint when Spark read it; a sheet's key, tab and revision time).
    Never a secret."""

    model_config = ConfigDict(extra="allow", frozen=True, json_schema_extra=_sha256_property)

    kind: str = Field(
        json_schema_extra={"enum": ["csv", "jsonl", "parquet", "xlsx", "gsheet", "table"]},
        description="What was read: a file's kind, a Google Sheet, or a backend's table.",
    )
    name: str = Field(description="The file's name (of a set: its name and file count), the "
                      "sheet's title or the table's name.")  # fmt: skip


class Parameters(Model):
    """The parameters the figures depend on, as given."""

    user_column: str = Field(
        min_length=1,
        description="session_id, visitor_id, or (since 1.3.0) any column of the events.",
    )
    environments: list[str] = Field(
        min_length=1, description="Values of env analysed (compared case-insensitively)."
    )
    exclude_internal_traffic: bool = Field(
        description="Whether rows whose is_internal_ip is true are excluded."
    )
    short_session_seconds: int | float = Field(
        ge=0, description="A session lasting at most this many seconds is short."
    )
    price_threshold: int | float = Field(
        description="The price the price-filter events are compared with."
    )
    price_currency: str = Field(
        description="Sessions filtering a price in another currency are ignored."
    )
    columns: dict[str, str] = since(
        "1.3.0", description="Canonical column -> the source's header, as mapped."
    )
    session_timeout_minutes: int | float = since(
        "1.3.0", gt=0, description="The inactivity gap that ends a derived session."
    )
    datetime_format: str | None = since(
        "1.3.0", description="How datetime cells were read; null: ISO 8601 and Sheets serials."
    )
    keep_columns: list[str] = since(
        "1.4.0", description="Columns and params fields named like personal data that are kept."
    )
    pseudonymise: list[str] = since(
        "1.4.0", description="Outputs whose ids are keyed pseudonyms (html, notebook, "
        "rejected_rows, report_json)."
    )
    min_group_users: int = since(
        "1.4.0", ge=0, description="Groups with fewer users are folded in the HTML and the "
        "notebook (0: none); report.json keeps exact numbers."
    )


class Period(Model):
    """UTC time of the first and last analysed event (null when none)."""

    first_event: UtcTime = Field(description="The first analysed event's time, UTC, ISO 8601.")
    last_event: UtcTime = Field(description="The last analysed event's time, UTC, ISO 8601.")


class RowsExcluded(Model):
    """Rows excluded, counted under the first reason that applies, in this order."""

    forgotten_user: Count = since(
        "1.4.0", description="Rows of a user or visitor listed in the forget file: counted, "
        "never written (checked first, before any reason that writes its row)."
    )
    invalid_json_line: Count = since(
        "1.3.0", description="JSON Lines: lines that are not a JSON object (0 for other sources)."
    )
    invalid_datetime: Count = Field(description="datetime blank or not a readable time.")
    missing_session_id: Count = Field(description="session_id blank (never, when derived).")
    missing_user_id: Count = Field(description="The user column blank (not session_id).")
    non_production_env: Count = Field(description="env not one of the environments analysed.")
    internal_ip: Count = Field(description="is_internal_ip true, internal traffic excluded.")
    duplicate_event: Count = Field(description="A later copy of an earlier row, cell for cell.")


class DataQuality(Model):
    """What the figures rest on: rows_read = rows_analysed + the sum of rows_excluded."""

    rows_read: Count = Field(description="Rows in the source (a header and blank lines aside).")
    rows_analysed: Count = Field(description="Rows no exclusion reason applies to.")
    rows_excluded: RowsExcluded
    params_invalid: Count = Field(
        description="Analysed rows whose params is not a JSON object (read as {})."
    )
    price_invalid: Count = Field(
        description="Analysed rows with a params.event_content.price that is not a price."
    )
    datetime_before_2000: Count = since(
        "1.1.0", description="Analysed events dated before 2000 (analysed as dated)."
    )
    datetime_in_the_future: Count = since(
        "1.1.0", description="Analysed events dated more than a day after the run."
    )
    objectives_unavailable: dict[str, list[str]] = since(
        "1.3.0",
        description="Objectives that are null because the events lack columns they need: "
        "{objective: [missing canonical columns]}.",
    )
    analyses_unavailable: dict[str, list[str]] = since(
        "1.3.0",
        description="Insights and analyses that are null for the same reason: "
        "{key: [missing canonical columns]}.",
    )
    personal_columns_dropped: list[str] = since(
        "1.4.0", description="Columns, and params fields (params.user.email), named like "
        "personal data (ip, email, phone...) that no output carries (keep_columns keeps one)."
    )
    notes: list[str] = since("1.1.0", description="What the numbers rest on, in plain words.")


class ShortSessions(Model):
    """Sessions lasting at most max_duration_seconds, and their users."""

    max_duration_seconds: int | float = Field(ge=0, description="short_session_seconds.")
    users: Count = Field(description="Users with at least one short session.")
    sessions: Count = Field(description="Short sessions.")
    started_on_search_page: Count = Field(description="Short sessions starting on search_page.")
    ended_on_apartment_view: Count = Field(
        description="Short sessions ending on apartment_view."
    )


class PriceFilter(Model):
    """Users filtering above, below and at the price threshold."""

    threshold: int | float = Field(description="price_threshold.")
    currency: str = Field(description="price_currency.")
    users_above: Count = Field(description="Users with a price above the threshold.")
    users_below: Count = Field(description="Users with a price below the threshold.")
    users_at_threshold: Count = Field(description="Users with a price equal to the threshold.")
    sessions_ignored_other_currency: Count = Field(
        description="Sessions ignored for a price filter in another currency."
    )


CountsBy = Annotated[
    dict[str, Count], Field(description="Users per value; the values sum to users_total.")
]


class Objectives(Model):
    """The eight objectives of the specification. Since 1.3.0 an objective whose columns the
    events lack is null (listed in data_quality.objectives_unavailable); users_total never is."""

    users_total: Count = Field(description="Distinct users among the analysed events.")
    users_by_device_class: CountsBy | None = Field(
        description="Users by the device_class of their first event that has one ('unknown')."
    )
    users_by_first_om_source: CountsBy | None = Field(
        description="Users by the om_source of their first event that has one ('no_om_source')."
    )
    short_sessions: ShortSessions | None
    users_search_then_apartment_view: Count | None = Field(
        description="Users starting on search_page who later view an apartment_view."
    )
    users_clicked_book_now: Count | None = Field(
        description="Users with an event of event_type click_book-now."
    )
    users_search_start_request_draft: Count | None = Field(
        description="Users starting on search_page with a request_draft-created event."
    )
    price_filter: PriceFilter | None
    users_with_request_id: Count | None = Field(
        description="Users with an event carrying a params.page.request_id."
    )


class Document(Model):
    """report.json, contract version 1.x: keys may be added, none renamed or removed without a
    new major schema_version. Counts are integers."""

    schema_version: str = Field(
        pattern=r"^1\.\d+\.\d+$", description="The contract version this report follows."
    )
    generated_at: str = Field(
        pattern=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$",
        description="When the report was computed, UTC.",
    )
    source: Source
    parameters: Parameters
    period: Period = since("1.1.0")
    data_quality: DataQuality
    objectives: Objectives
    insights: Insights = since(  # type: ignore[valid-type]
        "1.1.0", description="Behavioural analytics beyond the eight objectives."
    )
    analyses: Analyses = since(  # type: ignore[valid-type]
        "1.2.0", description="The analyst's own questions, defined in the parameters."
    )
    comparison: PeriodComparison | None = since(
        "1.5.0",
        default=None,
        description="The KPIs beside an earlier report's (--compare-to, or the previous run of "
        "a batch ordered by period); null when not compared.",
    )


def schemas() -> dict[str, dict[str, Any]]:
    """The shipped schema files, by file name, as the models generate them."""
    return {
        "report.schema.json": _schema(Document, "report.schema.json", "Customer activity report"),
        "insights.schema.json": _schema(Insights, "insights.schema.json", "Behavioural insights"),
        "analyses.schema.json": _schema(Analyses, "analyses.schema.json", "The analyst's analyses"),
    }


def write_schemas(directory: Path = _HERE) -> list[Path]:
    """Write :func:`schemas` into ``directory`` (the package, by default); return the paths."""
    written = []
    for name, schema in schemas().items():
        path = directory / name
        path.write_text(json.dumps(schema, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(path)
    return written


def _schema(model: type[BaseModel], name: str, title: str) -> dict[str, Any]:
    # Serialization mode: what report.json holds, computed fields (narratives) included.
    generated = model.model_json_schema(mode="serialization")
    generated["title"] = title
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": _ID + name,
            **generated}  # fmt: skip
