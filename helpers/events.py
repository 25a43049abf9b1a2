"""Events: the one entry point, for a report run and for exploring in a notebook.

>>> from helpers import open_events
>>> events = open_events("data/sample_events.csv.gz")           # or a ReportParams
>>> events.users.to_pandas().head()                                # doctest: +SKIP
>>> events.funnel().steps[0].users                                 # doctest: +SKIP
>>> events.ab_tests(control_groups={"search_ranking": "B"})        # doctest: +SKIP
>>> report = events.report()                                       # doctest: +SKIP

Everything is computed on first use and kept: the raw events are read once, cleaned once,
and summarised once per user and per session; each analysis (one method per entry of
``helpers.analyses.ANALYSES``, named after its compute function) reads those grains.
:func:`build_report` is the report run: every number in report.json, the notebook and the
HTML comes from it.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import cached_property
from typing import Any

import ibis.expr.types as ir
import pyarrow as pa
from tqdm import tqdm

from helpers import analyses
from helpers import report as assembly
from helpers.activity import canonical, normalise_header
from helpers.analysis_params import named_columns
from helpers.backend import Engine, code_point_order, connect, default_memory_limit
from helpers.clean import Cleaned, clean_events, event_columns
from helpers.contract import Objectives
from helpers.errors import ParameterError, ReportError, SourceError
from helpers.grains import Grains
from helpers.params import ReportParams, is_google_sheet
from helpers.privacy import (
    ID_COLUMNS,
    Pseudonyms,
    forgotten_lines,
    is_personal,
    personal_columns,
    pseudonymised_rows,
    strip_personal,
)
from helpers.report import Report
from helpers.sources import FILE, HIDDEN, LINE, RawEvents, read_events, table_events

_log = logging.getLogger("helpers.report")


def open_events(
    source: str | ReportParams | Mapping[str, Any] | None = None, /, **overrides: Any
) -> Events:
    """The events of ``source`` (a file, directory, glob or Google Sheet; or report parameters),
    with parameter ``overrides`` (``user_column="visitor_id"``), ready to explore.

    Parameters are checked as the CLI checks them: an unknown name or a bad value is refused
    with a message naming it.
    """
    if isinstance(source, ReportParams):
        values = source.model_dump()
    elif isinstance(source, Mapping):
        values = dict(source)
    else:
        values = {} if source is None else {"source": source}
    return Events(ReportParams.build({**values, **overrides}, origin="open_events"))


def build_report(params: ReportParams, *, raw: RawEvents | None = None) -> Report:
    """Load, clean and answer every objective and analysis for ``params``; validate the result.

    Each stage is logged (``helpers.report``, DEBUG) with its time, and shown as a progress
    bar on stderr when that is a terminal.
    """
    return Events(params, raw=raw).report()


class Events:
    """The cleaned events of one source, their grains, rejected rows and analyses."""

    def __init__(self, params: ReportParams, *, raw: RawEvents | None = None) -> None:
        self.params = params
        self._raw = raw
        self._files: list[str] = []  # files the engine reads as it runs (to name a damaged one)
        self._source: dict[str, Any] | None = None  # when the engine read the files itself

    def __repr__(self) -> str:
        where = self.params.table or self.params.source_path
        return f"<Events of {where!r}, users by {self.params.user_column}>"

    # -- the tables ---------------------------------------------------------------------------

    @cached_property
    def engine(self) -> Engine:
        """The engine the expressions run on (DuckDB unless ``backend`` says otherwise)."""
        p = self.params
        return connect(p.backend, spark_master=p.spark_master, memory_limit=p.memory_limit)

    @cached_property
    def raw(self) -> ir.Table:
        """The events as the source holds them: all text, normalised headers, ``_row``."""
        p = self.params
        if p.table is not None and self._raw is None:
            table = self.engine.table(p.table)
            return code_point_order(
                table_events(table, origin=p.table, order_column=p.order_column)
            )
        if self._raw is None and self.engine.reads_files and _engine_reads(p.source_path):
            table, self._source = self.engine.read_files(p.source_path)
            if self._source["kind"] == "csv":
                # Read by each action that starts from the file (rows read, cleaning, the
                # rejected rows): parsed once and kept by Spark (in memory, on disk beyond).
                return table.cache()
            return table
        self._raw = self._raw or read_events(
            p.source_path, csv_memory=self.engine.csv_memory, **p.sheet_options()
        )
        if self._raw.source.get("kind") == "parquet":  # not a CSV's own temporary Parquet files
            self._files = [str(f.path) for f in self._raw.parquet]
        return self.engine.load(self._raw)

    @property
    def source(self) -> dict[str, Any]:
        """report.json's source block: kind, name and what identifies the data; no secret."""
        self.raw  # noqa: B018  # reading the source is what describes it
        if self._source is not None:
            return self._source
        if self._raw is None:
            return {"kind": "table", "name": self.params.table}
        return self._raw.source

    @cached_property
    def cleaned(self) -> Cleaned:
        """Both halves of the input: analysed events and the reasons of the rejected rows."""
        with self._engine_errors():
            return clean_events(self._data, self.params)

    @property
    def _data(self) -> ir.Table:
        """The raw events without where each row is in its files: that is not data (two
        copies of an event on two lines are duplicates); only the rejected rows show it."""
        return self.raw.drop(*[c for c in (LINE, FILE) if c in self.raw.columns])

    @property
    def events(self) -> ir.Table:
        """The analysed events, cleaned and typed, one row per event (journey order: ``_seq``)."""
        return self.cleaned.events

    @cached_property
    def grains(self) -> Grains:
        """The events, users and sessions tables every objective and analysis reads."""
        with self._engine_errors():
            return Grains.of(self.events, self.params, self.cleaned.absent)

    @property
    def users(self) -> ir.Table:
        """One row per user: first-touch attributes, where the journey starts, what they did."""
        return self.grains.users

    @property
    def sessions(self) -> ir.Table:
        """One row per session: its duration and the page types it starts and ends on."""
        return self.grains.sessions

    @cached_property
    def rejected(self) -> ir.Table:
        """The excluded rows in input order: ``source_row``, ``reason``, the raw columns."""
        return assembly.rejected_rows(self.raw, self.cleaned.rejected)

    # -- the answers --------------------------------------------------------------------------

    def objectives(self) -> Objectives:
        """The eight objectives of the specification."""
        with self._engine_errors():
            return assembly.objectives(self.grains)

    def report(self) -> Report:
        """The whole report: objectives, data quality and every analysis, validated."""
        with _progress() as stage, self._engine_errors():
            self._check_named_columns()
            with stage("reading the events"):
                rows_read = int(self.raw.count().to_pyarrow().as_py())
            with stage("cleaning"):
                self.cleaned  # noqa: B018  # materialised by cleaning
            with stage("users and sessions"):
                grains = self.grains
            with stage("rejected rows"):
                rejected = assembly.rejected_file_rows(self.rejected, self.raw)
                assembly.check_datetimes(rows_read, rejected, self.params)
                pseudonyms = Pseudonyms.of(self.params.pseudonymise, self.params.pseudonym_env)
                rejected, lines = forgotten_lines(rejected, list(self.cleaned.forget))
                rejected, personal = self._private(rejected, pseudonyms)
                counted = self.cleaned.forgotten
                forgotten = lines + (0 if counted is None else int(counted.to_pyarrow().as_py()))
            with stage("insights"):
                insights = analyses.compute_all(grains, "insights")
            with stage("analyses"):
                answers = analyses.compute_all(grains, "analyses")
            with stage("the eight objectives, checked against the schema"):
                return assembly.assemble(
                    grains, source=self.source, rows_read=rows_read, rejected=rejected,
                    insights=insights, analyses=answers, forgotten=forgotten,
                    personal=personal, pseudonyms=pseudonyms,
                )  # fmt: skip

    def _private(self, rejected: pa.Table, pseudonyms: Pseudonyms) -> tuple[pa.Table, list[str]]:
        """The rejected rows as they may be written: without personal columns and params
        fields (listed, with those of the source's header, in the second value), their ids
        pseudonymised when ``pseudonymise`` names rejected_rows."""
        p = self.params
        header = {c: normalise_header(p.columns.get(c, c)) for c in ("params", *ID_COLUMNS)}
        rejected, dropped = strip_personal(rejected, p.keep_columns, header["params"])
        raw = [c for c in self.raw.columns if c not in HIDDEN]
        personal = list(dict.fromkeys([*personal_columns(raw, p.keep_columns), *dropped]))
        if pseudonyms.applies_to("rejected_rows"):
            ids = [header["session_id"], header["visitor_id"],
                   normalise_header(p.columns.get(p.user_column, p.user_column))]  # fmt: skip
            rejected = pseudonymised_rows(rejected, pseudonyms, ids)
        return rejected, personal

    def _check_named_columns(self) -> None:
        """Refuse a definition naming a column the events lack before any row is cleaned."""
        p = self.params
        named = canonical(self._data, p.columns, origin="the events").columns
        columns = event_columns(named, p)
        for where, column in named_columns(p.funnels, p.retention, p.trends):
            if is_personal(column, p.keep_columns):
                raise ParameterError(
                    f"{where}: the column {column!r} is named like personal data, which no "
                    f"output carries by default. Add it to keep_columns to use it."
                )
            if column not in columns:
                raise ParameterError(
                    f"{where}: there is no column {column!r} in the events. Columns: "
                    f"{', '.join(columns)}."
                )

    def __getattr__(self, name: str) -> Callable[..., Any]:
        # One method per analysis, named after its compute function: events.funnel().
        analysis = _ANALYSES_BY_METHOD.get(name)
        if analysis is None:
            raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")
        return self._method(analysis)

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *_ANALYSES_BY_METHOD})

    def funnel(
        self,
        steps: list[dict[str, Any]],
        *,
        window: str | float | None = None,
        breakdown: str | None = None,
        name: str = "funnel",
    ) -> Any:
        """One funnel of your own: ``events.funnel([{"page_type": "search_page"},
        {"event_type": "click_book-now"}], window="1 day", breakdown="device_class")``;
        defined as the ``funnels`` parameter's (see ``helpers.analyses.funnels``)."""
        from helpers.analyses.funnels import funnel_of

        spec = {"name": name, "steps": steps, "window": window, "breakdown": breakdown}
        grains = self._with({"funnels": [spec]}, origin="funnel()")
        with self._engine_errors():
            return funnel_of(grains, grains.params.funnels[0])

    def _method(self, analysis: analyses.Analysis) -> Callable[..., Any]:
        takes = analysis.parameters
        if analysis.spec is not None:  # its parameters are the fields of its definition
            takes = tuple(getattr(self.params, analysis.spec).model_dump())

        def run(**parameters: Any) -> Any:
            unknown = sorted(set(parameters) - set(takes))
            if unknown:
                raise ParameterError(
                    f"{analysis.compute.__name__}() takes {', '.join(takes) or 'no parameters'}"
                    f", not {', '.join(unknown)}. To change how events are read or cleaned, "
                    f"open them again: open_events(source, {unknown[0]}=...)."
                )
            if analysis.spec is not None and parameters:
                own = getattr(self.params, analysis.spec).model_dump()
                parameters = {analysis.spec: {**own, **parameters}}
            grains = self._with(parameters, origin=f"{analysis.compute.__name__}()")
            with self._engine_errors():
                return analysis.compute(grains)

        run.__name__ = analysis.compute.__name__
        run.__doc__ = analysis.compute.__doc__
        return run

    def _with(self, parameters: dict[str, Any], *, origin: str) -> Grains:
        """The grains with other analysis parameters (checked as every parameter is)."""
        grains = self.grains
        if not parameters:
            return grains
        params = ReportParams.build({**self.params.model_dump(), **parameters}, origin=origin)
        return dataclasses.replace(grains, params=params)

    @contextmanager
    def _engine_errors(self) -> Iterator[None]:
        """A Parquet file is checked when found, but its pages are read only when a query runs:
        an engine error naming one of the files becomes a SourceError saying it is damaged."""
        try:
            yield
        except ReportError:
            raise
        except Exception as exc:
            if type(exc).__name__ == "OutOfMemoryException":  # duckdb's, by name: no import
                limit = self.params.memory_limit
                within = limit or f"{default_memory_limit()} (the default, a tenth of memory)"
                raise ReportError(
                    f"DuckDB ran out of memory within memory_limit {within} "
                    f"({str(exc).splitlines()[0]}). Raise memory_limit, e.g. to 50% (of the "
                    f"machine's memory) or 8GB; DuckDB spills to disk to stay within it."
                ) from None
            damaged = next((f for f in self._files if f in str(exc)), None)
            if damaged is None:
                raise
            raise SourceError(
                f"{damaged} could not be read ({type(exc).__name__}: {exc}). The file is "
                f"damaged or incomplete: export it again."
            ) from None


def _engine_reads(source: str | list[str]) -> bool:
    """Whether an engine that reads files (Spark) reads this source itself: not a Google
    Sheet nor an Excel workbook, which are read here and handed over as rows."""
    entries = [source] if isinstance(source, str) else source
    return not any(is_google_sheet(s) or s.lower().endswith(".xlsx") for s in entries)


_ANALYSES_BY_METHOD = {a.compute.__name__: a for a in analyses.ANALYSES}
_STAGES = 7


@contextmanager
def _progress() -> Iterator[Any]:
    """A ``stage(name)`` context for each step of a run: timed into the log, and a bar on
    stderr when a person is watching (a terminal); papermill and batch runs stay quiet."""
    bar = tqdm(
        total=_STAGES, unit="stage", leave=False, disable=None,  # None: only on a terminal
        bar_format="{desc:<40} {bar:20} {n_fmt}/{total_fmt} stages [{elapsed}]",
    )

    @contextmanager
    def stage(name: str) -> Iterator[None]:
        bar.set_description_str(name)
        started = time.perf_counter()
        yield
        _log.debug("%s: %.2f s", name, time.perf_counter() - started)
        bar.update()

    with bar:
        yield stage
