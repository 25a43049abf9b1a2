"""The report's parameters: one typed definition for the notebook, `params/*.yaml` and the CLI.

The notebook's ``parameters`` cell holds one variable per field below (a test keeps the two in
step); the YAML files and ``--set KEY=VALUE`` overrides are validated by the same model, so an
unknown key or a bad value is refused with the same message wherever it comes from.

Credentials are never parameter values: only paths (``credentials``) appear here, and papermill
writes these parameters into the executed notebook.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from helpers.activity import check_mapping, normalise_header
from helpers.analysis_params import FunnelSpec, LifecycleSpec, RetentionSpec, TrendsSpec
from helpers.errors import ParameterError

#: The bundled sample, used when no ``source`` is given.
SAMPLE_SOURCE = Path(__file__).resolve().parent.parent / "data" / "sample_events.csv.gz"

#: The parameters written into report.json's ``parameters`` block (the spec's contract).
REPORTED_PARAMETERS = (
    "user_column",
    "environments",
    "exclude_internal_traffic",
    "short_session_seconds",
    "price_threshold",
    "price_currency",
    "columns",
    "session_timeout_minutes",
    "datetime_format",
    "keep_columns",
    "pseudonymise",
    "min_group_users",
)

#: The outputs whose ids ``pseudonymise`` may replace (html and notebook go together: the
#: HTML is the executed notebook's export).
PSEUDONYMISED_OUTPUTS = ("html", "notebook", "rejected_rows", "report_json")


_KEY_CHARS = r"[A-Za-z0-9_-]+"
SHEET_URL_RE = re.compile(
    r"^https://(?i:docs\.google\.com)/(?:a/[^/?#]+/)?spreadsheets/(?:u/\d+/)?d/"
    r"(?P<key>" + _KEY_CHARS + r")(?P<rest>[/?#].*)?$",
    re.DOTALL,
)
SHEET_SCHEME_RE = re.compile(r"^gsheet:(?P<key>" + _KEY_CHARS + r")$")


def is_google_sheet(source: str) -> bool:
    """True for https://docs.google.com/spreadsheets/d/KEY/... URLs and for 'gsheet:KEY'."""
    if not isinstance(source, str):
        return False
    text = source.strip()
    return bool(SHEET_URL_RE.match(text) or SHEET_SCHEME_RE.match(text))


class ReportParams(BaseModel):
    """Everything a report run can be told. Defaults reproduce the spec's defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str | list[str] | None = Field(
        default=None,
        description="Events to analyse: a CSV, JSON Lines, Parquet or Excel file, a directory or"
        " glob of them, a list of those (read as one data set, in order), or a Google Sheet"
        " (URL or gsheet:KEY); None: the bundled sample.",
    )
    worksheet: str | int | None = Field(
        default=None,
        description="Google Sheet tab by title or 0-based index; None: the URL's gid or tab 1.",
    )
    credentials: str | None = Field(
        default=None,
        description="Path of a service-account key file for Google Sheets (never the key itself);"
        " None: $GOOGLE_APPLICATION_CREDENTIALS, gspread's default, else the public CSV export.",
    )
    sheet_max_attempts: int = Field(
        default=6, ge=1, description="Attempts per Google Sheets request (408, 429, 5xx retried)."
    )
    sheet_deadline_seconds: float = Field(
        default=120, gt=0, description="Time limit per Google Sheets request, retries included."
    )
    control_groups: dict[str, str] = Field(
        default_factory=dict,
        description="A/B tests: the control group of each test ({test: group}); a test not"
        " named here uses its first group alphabetically.",
    )
    backend: str = Field(
        default="duckdb",
        description="Engine: duckdb (embedded), pyspark, or an Ibis connection URL without a"
        " password (bigquery://project/dataset, postgres://user@host/db, ...).",
    )
    memory_limit: str | None = Field(
        default=None,
        description="DuckDB memory limit such as '8GB' or '50%' (of the machine's memory);"
        " beyond it DuckDB spills to disk. None: a tenth of the machine's memory, at least 1GB.",
    )
    spark_master: str | None = Field(
        default=None,
        description="Spark master URL for backend=pyspark; None: the active session, else local.",
    )
    table: str | None = Field(
        default=None,
        description="Events table in the backend (instead of source), e.g. analytics.events.",
    )
    order_column: str | None = Field(
        default=None,
        description="Column of the table that gives input order (an ingestion id, a row number):"
        " events with the same datetime keep its order. It is not compared as data (two"
        " ingestions of one event are duplicates) but is kept in rejected_rows.csv. None: ties"
        " break by all the row's values.",
    )
    columns: dict[str, str] = Field(
        default_factory=dict,
        description="Canonical column -> the source's header, e.g. {datetime: timestamp,"
        " event_type: event}; headers matched trimmed, lower-cased, spaces as _.",
    )
    user_column: str = Field(
        default="session_id",
        min_length=1,
        description="The column that identifies a user: session_id (the cookie), visitor_id,"
        " or any column of the events (after columns is applied).",
    )
    session_timeout_minutes: int | float = Field(
        default=30,
        gt=0,
        le=10**7,
        description="Without a session_id column, a gap of more than this many minutes between"
        " two of a user's events starts a new session.",
    )
    datetime_format: str | None = Field(
        default=None,
        description="How datetime cells are written: epoch_s, epoch_ms, epoch_us, or a strftime"
        " pattern such as '%m/%d/%Y %H:%M:%S'; None: ISO 8601 forms and Sheets serials.",
    )
    environments: list[str] = Field(
        default=["production"],
        min_length=1,
        description="Values of env (compared case-insensitively) whose rows are analysed.",
    )
    exclude_internal_traffic: bool = Field(
        default=True, description="Exclude rows whose is_internal_ip is true."
    )
    # At most about 31 years: durations are compared in microseconds, as 64-bit integers.
    short_session_seconds: int | float = Field(
        default=5, ge=0, le=10**9,
        description="A session lasting at most this many seconds is short.",
    )
    # int | float keeps numbers "as given" in report.json: 1200 stays 1200, not 1200.0.
    price_threshold: int | float = Field(
        default=1200, description="Price-filter events are compared with this price."
    )
    price_currency: str = Field(
        default="EUR",
        min_length=1,
        description="Sessions with a price-filter event in another currency are ignored.",
    )

    funnels: list[FunnelSpec] | None = Field(
        default=None,
        description="Funnels: [{name, steps: [condition, ...], window, breakdown}]; None: the"
        " marketplace funnel (search page, apartment view, book now, request draft).",
    )
    retention: RetentionSpec = Field(
        default_factory=RetentionSpec,
        description="Retention cohorts: {period: day|week|month, start, return, periods}.",
    )
    trends: TrendsSpec = Field(
        default_factory=TrendsSpec,
        description="Trends: {period: day|week|month, events: [{name, condition}], breakdown}.",
    )
    lifecycle: LifecycleSpec = Field(
        default_factory=LifecycleSpec,
        description="Lifecycle of users: {period: day|week|month}.",
    )

    forget: str | None = Field(
        default=None,
        description="Path of a file of user or visitor ids whose events are never analysed nor"
        " written (deletion requests): one id per line, or a .csv with an 'id' column. Their"
        " rows count as forgotten_user; the file's contents reach no output.",
    )
    keep_columns: list[str] = Field(
        default_factory=list,
        description="Columns or params fields (params.user.email) named like personal data"
        " (ip, email, phone, ...) to keep in the outputs; by default they are dropped.",
    )
    pseudonymise: list[str] = Field(
        default=["html", "notebook"],
        description="Outputs whose ids are replaced by keyed pseudonyms (HMAC-SHA-256): html and"
        " notebook (together), rejected_rows, report_json; [] for none.",
    )
    pseudonym_env: str | None = Field(
        default=None,
        description="Name of the environment variable holding the pseudonyms' key (never the key"
        " itself); None: a random key per run, so pseudonyms cannot be linked across runs.",
    )
    min_group_users: int = Field(
        default=5,
        ge=0,
        description="In the HTML and the notebook, a breakdown value, path, A/B group or cohort"
        " with fewer users is folded into 'other (small groups)'; 0 shows every group."
        " report.json keeps exact numbers.",
    )

    @field_validator("pseudonymise")
    @classmethod
    def _outputs(cls, value: list[str]) -> list[str]:
        unknown = [v for v in value if v not in PSEUDONYMISED_OUTPUTS]
        if unknown:
            raise ValueError(
                f"unknown output(s) {', '.join(map(repr, unknown))}; choose among "
                f"{', '.join(PSEUDONYMISED_OUTPUTS)}"
            )
        if ("html" in value) != ("notebook" in value):
            raise ValueError(
                "html and notebook go together (the HTML is the executed notebook's export)"
            )
        return [v for v in PSEUDONYMISED_OUTPUTS if v in value]

    @field_validator("pseudonym_env")
    @classmethod
    def _a_name(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
            raise ValueError(
                "must be the name of an environment variable (letters, digits, _), not its value"
            )
        return value

    @field_validator("forget")
    @classmethod
    def _a_file(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("is empty: give the path of the forget file, or leave it out")
        return value

    @field_validator("min_group_users", mode="before")
    @classmethod
    def _count_not_bool(cls, value: Any) -> Any:
        if isinstance(value, bool):
            raise ValueError("must be a number, not a boolean")
        return value

    @field_validator("columns", mode="before")
    @classmethod
    def _mapping(cls, value: Any) -> Any:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise ValueError("must be a mapping of canonical column: source header")
        return check_mapping(value)

    @field_validator("user_column")
    @classmethod
    def _user_column(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must name a column")
        return normalise_header(value)

    @field_validator("datetime_format")
    @classmethod
    def _datetime_format(cls, value: str | None) -> str | None:
        if value is not None:
            # Here, not at the top: datetimes builds on the engines, which read parameters.
            from helpers.datetimes import check_datetime_format

            check_datetime_format(value)
        return value

    @field_validator("short_session_seconds", "price_threshold", "session_timeout_minutes",
                     mode="before")
    @classmethod
    def _not_bool(cls, value: Any) -> Any:
        # YAML reads `yes` as True; pydantic would then quietly take it as 1.
        if isinstance(value, bool):
            raise ValueError("must be a number, not a boolean")
        return value

    @field_validator("short_session_seconds", "price_threshold", "session_timeout_minutes")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError("must be a finite number")
        return value

    @field_validator("environments")
    @classmethod
    def _non_blank(cls, value: list[str]) -> list[str]:
        cleaned = [v.strip() for v in value]
        if any(not v for v in cleaned):
            raise ValueError("environment names must not be blank")
        return cleaned

    @field_validator("source")
    @classmethod
    def _a_source(cls, value: str | list[str] | None) -> str | list[str] | None:
        # An unset shell variable gives "": it must not mean "every file below here".
        if isinstance(value, str) and not value.strip():
            raise ValueError(
                "is empty: name an events file, directory, glob or Google Sheet, or leave "
                "source out to analyse the bundled sample"
            )
        if isinstance(value, list):
            if not value:
                raise ValueError("an empty list names no events: give at least one file")
            if any(not v.strip() or is_google_sheet(v) for v in value):
                raise ValueError(
                    "a list names events files, directories or globs (no blank entry, no "
                    "Google Sheet: a sheet is read on its own)"
                )
            return value[0] if len(value) == 1 else value
        return value

    @field_validator("credentials")
    @classmethod
    def _a_path(cls, value: str | None) -> str | None:
        if value is not None and (value.lstrip().startswith("{") or "PRIVATE KEY" in value):
            raise ValueError(
                "looks like a key itself; give the path of the key file instead (papermill "
                "writes parameters into the executed notebook)"
            )
        return value

    @field_validator("backend")
    @classmethod
    def _no_password(cls, value: str) -> str:
        query = {k.lower() for k in parse_qs(urlsplit(value).query)} if "://" in value else set()
        if "://" in value and (urlsplit(value).password or query & _PASSWORD_KEYS):
            raise ValueError(
                "holds a password; papermill writes parameters into the executed notebook, so "
                "give it through the driver's environment (e.g. PGPASSWORD) instead"
            )
        return value

    @field_validator("order_column")
    @classmethod
    def _column_of_a_table(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return value
        if not value.strip():
            raise ValueError("must name a column")
        if info.data.get("table") is None:  # table is declared, so validated, before
            raise ValueError(
                "orders the rows of a table: set table too (a file's rows are in input "
                "order already)"
            )
        return value

    @field_validator("price_currency")
    @classmethod
    def _currency(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value.strip()

    # -- building -----------------------------------------------------------------------------

    @classmethod
    def build(cls, values: Mapping[str, Any], *, origin: str = "parameters") -> ReportParams:
        """Validate ``values``; any problem becomes one ParameterError naming every bad key."""
        unknown = sorted(set(values) - set(cls.model_fields))
        if unknown:
            raise ParameterError(
                f"{origin}: unknown parameter(s) {', '.join(map(repr, unknown))}. "
                f"Known parameters: {', '.join(cls.model_fields)}."
            )
        try:
            return cls(**values)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or 'value'}: {err['msg']}"
                # A value that may hold a secret is never repeated: the key and the problem are.
                + ("" if err["loc"][:1] and err["loc"][0] in _SECRET_FIELDS
                   else f" (got {_without_password(err['input'])!r})")
                for err in exc.errors()
            )  # fmt: skip
            raise ParameterError(f"{origin}: {problems}.") from None

    @classmethod
    def from_namespace(cls, namespace: Mapping[str, Any]) -> ReportParams:
        """Pick this model's fields out of a namespace, such as the notebook's ``globals()``."""
        return cls.build(
            {k: namespace[k] for k in cls.model_fields if k in namespace},
            origin="notebook parameters",
        )

    def reported(self) -> dict[str, Any]:
        """The parameters as report.json shows them (no source, never a credential)."""
        dumped = self.model_dump(mode="json")
        return {k: dumped[k] for k in REPORTED_PARAMETERS}

    @property
    def source_path(self) -> str | list[str]:
        """The source to read: ``source``, or the bundled sample."""
        return self.source if self.source is not None else str(SAMPLE_SOURCE)

    def sheet_options(self) -> dict[str, Any]:
        """How to read a Google Sheet source (ignored for files)."""
        return {
            "worksheet": self.worksheet,
            "credentials": self.credentials,
            "max_attempts": self.sheet_max_attempts,
            "deadline_seconds": self.sheet_deadline_seconds,
        }


#: Parameters whose values may hold a secret by mistake: messages never repeat them.
_SECRET_FIELDS = ("credentials", "backend", "pseudonym_env")
_PASSWORD_KEYS = {"password", "pwd", "pass", "passwd"}
_PASSWORD_IN_URL = re.compile(r"(://[^/:@\s]*):[^@/\s]*@")


def _without_password(value: Any) -> Any:
    """``value`` as an error message may show it: a URL's password (refused, see
    ``_no_password``) replaced by ``***``, since messages are printed and logged."""
    if isinstance(value, str):
        return _PASSWORD_IN_URL.sub(r"\1:***@", value)
    if isinstance(value, dict):
        return {k: _without_password(v) for k, v in value.items()}
    return value


def load_params(
    files: list[str | Path] | None = None, overrides: list[str] | None = None
) -> ReportParams:
    """Merge YAML parameter files (later wins) and ``KEY=VALUE`` overrides (VALUE read as YAML)."""
    values: dict[str, Any] = {}
    origins: list[str] = []
    for file in files or []:
        values.update(_read_yaml(Path(file)))
        origins.append(str(file))
    for item in overrides or []:
        key, value = parse_override(item)
        values[key] = value
        shown = f"{key}=…" if key in _SECRET_FIELDS else _without_password(item)
        origins.append(f"--set {shown}")
    return ReportParams.build(values, origin=" + ".join(origins) or "parameters")


def parse_override(item: str) -> tuple[str, Any]:
    """``'price_threshold=1500'`` -> ``('price_threshold', 1500)``; the value is read as YAML.

    A value YAML cannot read that is no list or mapping is taken as text, so that
    ``datetime_format=%d.%m.%Y`` (YAML would read ``%`` as a directive) needs no quotes."""
    key, sep, raw = item.partition("=")
    if not sep or not key.strip():
        raise ParameterError(
            "--set needs KEY=VALUE, for example --set price_threshold=1500 (this one has no "
            "'=' before its value)."
        )
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.YAMLError as exc:
        if not raw.strip().startswith(("[", "{", "!")):
            return key.strip(), raw.strip()
        raise ParameterError(
            f"--set {key.strip()}: the value is not valid YAML ({_yaml_problem(exc)})."
        ) from None
    return key.strip(), value


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ParameterError(
            f"parameter file {path} does not exist (look in params/ for examples)."
        )
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise ParameterError(
            f"parameter file {path} is not UTF-8 text (saved as Latin-1 or Windows-1252?): "
            f"save it as UTF-8."
        ) from None
    except yaml.YAMLError as exc:
        raise ParameterError(
            f"parameter file {path} is not valid YAML: {_yaml_problem(exc)}."
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ParameterError(
            f"parameter file {path} must hold a mapping of KEY: VALUE, not {type(data).__name__}."
        )
    return data


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """A YAML error in one line, without the text it quotes (which may be a secret)."""
    if isinstance(exc, yaml.MarkedYAMLError):
        where = exc.problem_mark
        at = f" at line {where.line + 1}, column {where.column + 1}" if where else ""
        return f"{exc.problem or exc.context or 'cannot be read'}{at}"
    return " ".join(str(exc).split())
