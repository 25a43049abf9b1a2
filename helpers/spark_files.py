"""Spark reads the events files itself: the rows never pass through the driver.

With ``backend=pyspark`` a CSV or Parquet file, a directory or glob of them, local or at any
URI Spark understands (``file://``, ``hdfs://``, ``s3a://``, ``gs://``, ``abfss://``), is read
by Spark's own readers on the executors. The result is what :mod:`helpers.sources` gives the
other engines: every column as text, headers normalised as the spec says, and ``_row``, the
0-based input order (file by file in name order, then row by row within a file).

``_row`` is dense (the rejected rows report ``source_row = _row + 2``), so it is built in two
steps: one small job counts the rows of each file, and each row's number is then its file's
offset plus its place in the file. A Parquet row knows its place (``_metadata.row_index``); a
CSV file is read whole by one task (``multiLine``: quoted values may hold line breaks), so its
rows carry consecutive ``monotonically_increasing_id`` values from the file's first row.

The driver does list the files (through Hadoop's file system, as Spark does), so the report's
``source`` is identified by a ``fingerprint`` of the files' paths, sizes and modification
times instead of a ``sha256`` of their bytes, which would mean reading every byte here.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from helpers.errors import SourceError
from helpers.sources import ROW, csv_delimiter, file_kind, normalised_names

# Spark's names for types that cannot be read as text (see helpers.sources.text_kind).
_NOT_TEXT = ("StructType", "ArrayType", "MapType", "BinaryType", "VariantType")


@dataclass(frozen=True)
class _File:
    uri: str  # as Hadoop's file system spells it: what Spark reports in _metadata.file_path
    size: int
    modified_ms: int


def read_files(session: Any, source: str) -> tuple[Any, dict[str, Any]]:
    """The events at ``source`` as a Spark DataFrame of text columns plus ``_row``, and the
    report's source block (kind, name, fingerprint)."""
    files = _list_files(session, source)
    kind = _kind_of(files, source)
    if kind == "csv":
        frame = _read_csv(session, files, origin=source)
    else:
        frame = _read_parquet(session, files, origin=source)
    name = files[0].uri.rsplit("/", 1)[-1] if len(files) == 1 else f"{source} ({len(files)} files)"
    return frame, {"kind": kind, "name": name, "fingerprint": _fingerprint(files)}


def _list_files(session: Any, source: str) -> list[_File]:
    """The data files a path, directory or glob names, sorted by URI; hidden files (``_SUCCESS``,
    ``.crc``) skipped as Spark skips them."""
    jvm = session.sparkContext._jvm
    path = jvm.org.apache.hadoop.fs.Path(source)
    try:
        fs = path.getFileSystem(session.sparkContext._jsc.hadoopConfiguration())
        statuses = fs.globStatus(path) or []
        found: list[_File] = []
        for status in statuses:
            if status.isDirectory():
                listing = fs.listFiles(status.getPath(), True)
                while listing.hasNext():
                    found.append(_file(listing.next()))
            else:
                found.append(_file(status))
    except Exception as exc:  # py4j wraps the file system's IOException
        raise SourceError(
            f"Spark could not list {source} ({_java_message(exc)}). Check the path and, for "
            f"a remote store, the Spark session's credentials."
        ) from None
    files = sorted(
        (f for f in found if not f.uri.rsplit("/", 1)[-1].startswith(("_", "."))),
        key=lambda f: f.uri,
    )
    if not files:
        raise SourceError(
            f"{source} does not exist or holds no files. Check the --source path (a file, a "
            f"directory of files, or a glob such as 'events/2021-01-*.parquet')."
        )
    return files


def _file(status: Any) -> _File:
    return _File(status.getPath().toString(), status.getLen(), status.getModificationTime())


def _kind_of(files: list[_File], source: str) -> str:
    kinds = {file_kind(f.uri) for f in files}
    if len(kinds) > 1:
        raise SourceError(f"{source} mixes CSV and Parquet files: give one kind at a time.")
    return kinds.pop()


def _read_csv(session: Any, files: list[_File], *, origin: str) -> Any:
    from pyspark.sql import functions as F
    from pyspark.sql.types import StringType, StructField, StructType

    header, delimiter = _csv_header(session, files[0], origin=origin)
    names = normalised_names(header, origin=origin)
    positional = [f"_c{i}" for i in range(len(header))]
    frame = (
        session.read.schema(StructType([StructField(c, StringType()) for c in positional]))
        .options(
            header=True, enforceSchema=True, multiLine=True, sep=delimiter, quote='"',
            escape='"', mode="FAILFAST", encoding="UTF-8",
        )
        .csv([f.uri for f in files])
    )
    # Spark reads an empty cell as null; the other engines read it as the empty text it is.
    cells = [
        F.coalesce(F.col(c), F.lit("")).alias(n) for c, n in zip(positional, names, strict=True)
    ]
    frame = frame.select(
        *cells,
        F.col("_metadata.file_path").alias("_file"),
        F.monotonically_increasing_id().alias("_place"),
    )
    return _numbered(session, frame, files)


def _csv_header(session: Any, first: _File, *, origin: str) -> tuple[list[str], str]:
    """The first file's header row and its delimiter (:func:`helpers.sources.csv_delimiter`),
    read by Spark: one line, not the file."""
    import csv
    import io

    line = session.read.text(first.uri).limit(1).collect()
    text = line[0][0].lstrip("\ufeff") if line else ""
    if not text.strip():
        raise SourceError(f"{first.uri} is empty: it has no header row.")
    delimiter = csv_delimiter(first.uri, text)
    return next(csv.reader(io.StringIO(text), delimiter=delimiter)), delimiter


def _read_parquet(session: Any, files: list[_File], *, origin: str) -> Any:
    """The files grouped by schema, each group read by one reader and rendered as text, then
    stacked by column name, as DuckDB stacks them: files of one set may type a column
    differently (a timestamp in one, text in another) and still be one set of events."""
    from pyspark.sql import functions as F

    groups: dict[str, tuple[Any, list[str]]] = {}
    for f in files:
        try:
            schema = session.read.parquet(f.uri).schema  # the footer only
        except Exception as exc:  # AnalysisException for a damaged or foreign file
            raise SourceError(
                f"{f.uri} could not be read as Parquet ({_java_message(exc)}). The file is "
                f"damaged or not Parquet: export it again."
            ) from None
        groups.setdefault(schema.json(), (schema, []))[1].append(f.uri)
    frames = []
    for schema, uris in groups.values():
        frame = session.read.schema(schema).parquet(*uris)
        names = normalised_names(frame.columns, origin=uris[0] if len(uris) == 1 else origin)
        frames.append(frame.select(
            *[
                _as_text(F, frame.schema[c].dataType, c).alias(n)
                for c, n in zip(frame.columns, names, strict=True)
            ],
            F.col("_metadata.file_path").alias("_file"),
            F.col("_metadata.row_index").alias("_place"),
        ))
    stacked = frames[0]
    for frame in frames[1:]:
        stacked = stacked.unionByName(frame, allowMissingColumns=True)
    return _numbered(session, stacked, files)


def _as_text(F: Any, kind: Any, name: str) -> Any:
    """A typed column as text, as :func:`helpers.sources.text_kind` renders it."""
    type_name = type(kind).__name__
    column = F.col(f"`{name}`")
    if type_name == "StringType":
        return column
    if type_name == "TimestampNTZType":  # no time zone: UTC by the spec, and said so
        return F.concat(column.cast("string"), F.lit(" UTC"))
    if type_name == "NullType":
        return F.lit(None).cast("string")
    if type_name in _NOT_TEXT:
        raise SourceError(
            f"column {name!r} has type {kind.simpleString()}, which cannot be read as text. "
            f"Export it as a string (for params, the JSON text)."
        )
    return column.cast("string")


def _numbered(session: Any, frame: Any, files: list[_File]) -> Any:
    """``frame`` with ``_row``: its file's offset (the rows of the files before it) plus the
    row's place in the file (``_place`` minus the file's smallest ``_place``)."""
    from pyspark.sql import functions as F

    try:
        counts = frame.groupBy("_file").agg(
            F.count(F.lit(1)).alias("rows"), F.min("_place").alias("first")
        ).collect()
    except Exception as exc:
        raise SourceError(
            f"Spark could not read {files[0].uri if len(files) == 1 else 'the files'} "
            f"({_java_message(exc)}). Check that it is a comma-separated UTF-8 export with one "
            f"header row and the same number of cells in every row."
        ) from None
    offsets, total = [], 0
    for row in sorted(counts, key=lambda r: r["_file"]):
        offsets.append((row["_file"], total - row["first"]))
        total += row["rows"]
    shift = session.createDataFrame(offsets, "_file string, _shift long")
    numbered = frame.join(F.broadcast(shift), "_file")
    return numbered.select(
        *[c for c in frame.columns if c not in ("_file", "_place")],
        (F.col("_place") + F.col("_shift")).alias(ROW),
    )


def _fingerprint(files: list[_File]) -> str:
    """SHA-256 of each file's URI, size and modification time (ms), one line per file."""
    lines = "".join(f"{f.uri}\t{f.size}\t{f.modified_ms}\n" for f in files)
    return hashlib.sha256(lines.encode()).hexdigest()


def _java_message(exc: Exception) -> str:
    """The first line of a Java exception, without py4j's stack trace."""
    text = str(getattr(exc, "java_exception", None) or exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__
