"""Spark: the session (local or a cluster's), and the variant functions called by name."""

from __future__ import annotations

import importlib.util
import shutil
from typing import Any

import ibis
import ibis.expr.datatypes as dt

from helpers.errors import ReportError


@ibis.udf.scalar.builtin(name="try_parse_json")
def _try_parse_json(doc: str) -> dt.Binary: ...


@ibis.udf.scalar.builtin(name="try_variant_get")
def _try_variant_get(variant: dt.Binary, path: str, kind: str) -> dt.Binary: ...


@ibis.udf.scalar.builtin(name="try_variant_get")
def _try_variant_get_string(variant: dt.Binary, path: str, kind: str) -> str: ...


@ibis.udf.scalar.builtin(name="try_variant_get")
def _try_variant_get_map(
    variant: dt.Binary, path: str, kind: str
) -> dt.Map(dt.string, dt.string): ...


@ibis.udf.scalar.builtin(name="schema_of_variant")
def _schema_of_variant(variant: dt.Binary) -> str: ...


def _spark_session(master: str | None) -> Any:
    _require("pyspark", "pyspark", what="the pyspark backend", extra="spark")
    if shutil.which("java") is None:
        raise ReportError(
            "the pyspark backend needs Java 17 or newer, and no `java` was found on PATH. "
            "Install a JDK (for example `apt-get install openjdk-17-jre-headless`) or set "
            "JAVA_HOME, or use --set backend=duckdb."
        )
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None and master is None:
        session = active  # a notebook attached to a cluster already holds one
    else:
        session = (
            SparkSession.builder.master(master or "local[*]")
            .appName("customer-activity-report")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")  # stderr is for our messages
            .config("spark.sql.shuffle.partitions", "8")
            .getOrCreate()
        )
    session.conf.set("spark.sql.session.timeZone", "UTC")
    # A JSON key given twice: the last value wins, as in JSON.parse, DuckDB's macros and
    # PostgreSQL (by default Spark's try_parse_json gives null for such a document).
    session.conf.set("spark.sql.variant.allowDuplicateKeys", "true")
    return session


def _require(module: str, package: str, *, what: str, extra: str | None = None) -> None:
    if importlib.util.find_spec(module) is None:
        hint = f"pip install -e '.[{extra}]'" if extra else f"pip install '{package}'"
        raise ReportError(f"{what} needs the Python package {package}: run `{hint}`.")
