"""Spark reads the events files itself: the rows never pass through the driver.

With ``backend=pyspark`` a CSV, JSON Lines or Parquet file, a directory or glob of them, or a
list of those, local or at any URI Spark understands (``file://``, ``hdfs://``, ``s3a://``,
``gs://``, ``abfss://``), is read by Spark's own readers on the executors. The result is what
:mod:`helpers.sources` gives the other engines: every column as text, headers normalised as
the spec says, and the hidden columns ``_row`` (the input order: file by file, in the order
:mod:`helpers.files` gives, then row by row), ``_line`` (the row's line in its file),
``_file`` (for several files) and, for JSON Lines, ``_invalid_line``.

The numbers are built in two steps: one small job counts the rows of each file (or block of
a file), and each row's number is then its file's offset plus its place in the file. A
Parquet row knows its place (``_metadata.row_index``); a CSV file is read whole by one task
(``multiLine``: quoted values may hold line breaks), so its rows carry consecutive
``monotonically_increasing_id`` values from the file's first row, and its line adds the line
breaks inside the values of the rows before it. Spark's CSV reader skips empty lines, so on
Spark a CSV row after an empty line has a line one too small per empty line (the other
engines count them). A JSON Lines file is read as lines of text
(split into blocks across tasks; a line knows its block, ``_metadata.file_block_start``,
and its place in it), and each line is parsed on the executors by the very function the
other engines use, :func:`helpers.jsonl.parse_line`, so that every value is the same text.

The driver does list the files (through Hadoop's file system, as Spark does), so the report's
``source`` is identified by a ``fingerprint`` of the files' paths, sizes and modification
times instead of a ``sha256`` of their bytes, which would mean reading every byte here.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from helpers import jsonl
from helpers.activity import normalise_header
from helpers.csvs import csv_delimiter
from helpers.errors import SourceError
from helpers.files import file_kind, labels
from helpers.sources import FILE, LINE, ROW, normalised_names

# The working columns below (``"_ file"``, ``"_ place"``...) sit beside the data's columns:
# their names hold a space, as the hidden columns' do, so that no data column can meet them.

# Spark's names for types that cannot be read as text (see helpers.sources.text_kind).
_NOT_TEXT = ("StructType", "ArrayType", "MapType", "BinaryType", "VariantType")


@dataclass(frozen=True)
class _File:
    uri: str  # as Hadoop's file system spells it: what Spark reports in _metadata.file_path
    size: int
    modified_ms: int


def read_files(session: Any, source: str | list[str]) -> tuple[Any, dict[str, Any]]:
    """The events at ``source`` as a Spark DataFrame of text columns plus the hidden ones,
    and the report's source block (kind, name, fingerprint)."""
    entries = [source] if isinstance(source, str) else list(source)
    files = [f for entry in entries for f in _list_files(session, entry)]
    origin = ", ".join(entries)
    kind = _kind_of(files, origin)
    if kind == "csv":
        frame = _read_csv(session, files, origin=origin)
    elif kind == "jsonl":
        frame = _read_jsonl(session, files)
    else:
        frame = _read_parquet(session, files, origin=origin)
    name = files[0].uri.rsplit("/", 1)[-1] if len(files) == 1 else f"{origin} ({len(files)} files)"
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
    files = _once_each(sorted(
        (f for f in found if not f.uri.rsplit("/", 1)[-1].startswith(("_", "."))),
        key=lambda f: f.uri,
    ))  # fmt: skip
    if not files:
        raise SourceError(
            f"{source} does not exist or holds no files. Check the --source path (a file, a "
            f"directory of files, or a glob such as 'events/2021-01-*.parquet')."
        )
    return files


def _once_each(files: list[_File]) -> list[_File]:
    """Local files without the later paths to one already listed (a symlinked folder, or a
    link back up the tree): each file's events are read once, as :mod:`helpers.files` reads
    them. A remote store has no symlinks."""
    seen: set[str] = set()
    kept = []
    for f in files:
        parts = urlsplit(f.uri)
        real = os.path.realpath(unquote(parts.path)) if parts.scheme in ("", "file") else f.uri
        if real not in seen:
            seen.add(real)
            kept.append(f)
    return kept


def _file(status: Any) -> _File:
    return _File(status.getPath().toString(), status.getLen(), status.getModificationTime())


def _kind_of(files: list[_File], source: str) -> str:
    kinds = {file_kind(f.uri) for f in files}
    if len(kinds) > 1:
        raise SourceError(
            f"{source} mixes kinds of files ({', '.join(sorted(kinds))}): the files of one "
            f"data set must all be CSV, all JSON Lines or all Parquet. Read one kind at a time."
        )
    kind = kinds.pop()
    if kind == "xlsx":
        raise SourceError(
            f"{source}: Spark reads CSV, JSON Lines and Parquet files itself, not Excel "
            f"workbooks. Name the .xlsx file itself (the report reads it and hands the rows "
            f"to Spark), or export the sheet as CSV."
        )
    return kind


def _read_csv(session: Any, files: list[_File], *, origin: str) -> Any:
    from pyspark.sql import Window
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
        F.col("_metadata.file_path").alias("_ file"),
        F.monotonically_increasing_id().alias("_ place"),
    )
    breaks = sum(F.size(F.split(F.col(f"`{n}`"), "\r\n|\r|\n")) - 1 for n in names)
    frame = frame.withColumn("_ breaks", breaks)
    numbered, broken = _numbered(session, frame, files, first_line=2)
    if not broken:  # no value holds a line break (the count job said so): one row, one line
        return numbered.drop("_ breaks")
    # A row's line is later by the line breaks inside the values of the rows before it.
    before = Window.partitionBy(FILE if FILE in numbered.columns else F.lit(0)).orderBy(ROW)
    earlier = F.sum("_ breaks").over(before.rowsBetween(Window.unboundedPreceding, -1))
    return numbered.withColumn(LINE, F.col(LINE) + F.coalesce(earlier, F.lit(0))).drop("_ breaks")


def _csv_header(session: Any, first: _File, *, origin: str) -> tuple[list[str], str]:
    """The first file's header row and its delimiter (:func:`helpers.csvs.csv_delimiter`),
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
            F.col("_metadata.file_path").alias("_ file"),
            F.col("_metadata.row_index").alias("_ place"),
        ))
    stacked = frames[0]
    for frame in frames[1:]:
        stacked = stacked.unionByName(frame, allowMissingColumns=True)
    return _numbered(session, stacked, files, first_line=2)[0]


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
    numeric = type_name in _NUMBERS or type_name.startswith("Decimal")
    if numeric and normalise_header(name) == "is_internal_ip":  # read by its value: FLAG
        return (F.when(column == 1, F.lit("true")).when(column == 0, F.lit("false"))
                .otherwise(column.cast("string")))  # fmt: skip
    return column.cast("string")


_NUMBERS = {"ByteType", "ShortType", "IntegerType", "LongType", "FloatType", "DoubleType"}


def _numbered(
    session: Any, frame: Any, files: list[_File], *, first_line: int
) -> tuple[Any, bool]:
    """``frame`` with ``_row``: its file's offset (the rows of the files before it) plus the
    row's place in the file (``_place`` minus the file's smallest ``_place``); ``_line``,
    ``first_line`` plus that place; and ``_file`` for several files. And whether a row has
    ``_breaks`` (line breaks in its values), when the frame counts them."""
    from pyspark.sql import functions as F

    breaks = [F.max("_ breaks").alias("breaks")] if "_ breaks" in frame.columns else []
    try:
        counts = frame.groupBy("_ file").agg(
            F.count(F.lit(1)).alias("rows"), F.min("_ place").alias("first"), *breaks
        ).collect()
    except Exception as exc:
        raise SourceError(
            f"Spark could not read {files[0].uri if len(files) == 1 else 'the files'} "
            f"({_java_message(exc)}). Check that it is a comma-separated UTF-8 export with one "
            f"header row and the same number of cells in every row."
        ) from None
    by_file = {row["_ file"]: row for row in counts}
    names = _labels(files)
    offsets, total = [], 0
    for f in files:  # in reading order; a file without rows has no count
        row = by_file.get(f.uri)
        if row is not None:
            offsets.append((f.uri, total - row["first"], row["first"], names[f.uri]))
            total += row["rows"]
    shift = session.createDataFrame(
        offsets, "`_ file` string, `_ shift` long, `_ first` long, `_ label` string"
    )
    numbered = frame.join(F.broadcast(shift), "_ file")
    broken = any((row["breaks"] or 0) > 0 for row in counts) if breaks else False
    return numbered.select(
        *[c for c in frame.columns if c not in ("_ file", "_ place")],
        (F.col("_ place") + F.col("_ shift")).alias(ROW),
        (F.col("_ place") - F.col("_ first") + first_line).alias(LINE),
        *([F.col("_ label").alias(FILE)] if len(files) > 1 else []),
    ), broken


def _labels(files: list[_File]) -> dict[str, str | None]:
    """Each file's ``_file`` (:func:`helpers.files.labels`), the same text the other engines
    give it: the path below the directory the files share."""
    if len(files) == 1:
        return {files[0].uri: None}
    return dict(zip([f.uri for f in files], labels([f.uri for f in files]), strict=True))


def _read_jsonl(session: Any, files: list[_File]) -> Any:
    """JSON Lines read as text lines by Spark and parsed on the executors by
    :func:`helpers.jsonl.parse_line`: the same columns, text, order and invalid lines as the
    Arrow reader gives."""
    from pyspark.sql import functions as F

    lines = session.read.option("lineSep", "\n").text([f.uri for f in files]).select(
        F.col("value").cast("binary").alias("_ bytes"),  # as written: not yet UTF-8 text
        F.col("_metadata.file_path").alias("_ file"),
        F.col("_metadata.file_block_start").alias("_ block"),
        F.monotonically_increasing_id().alias("_ place"),
    )
    located = _located_lines(session, lines, files)
    parsed = located.select(
        "*", _parse_udf()(F.col("_ bytes"), F.col(LINE) == 1).alias("_ parsed")
    ).filter(F.col("_ parsed").isNotNull()).drop("_ bytes")
    parsed = parsed.withColumn(
        "_ pairs", F.map_from_arrays(F.col("`_ parsed`.keys"), F.col("`_ parsed`.values"))
    ).persist()  # parsed once (the parsing is Python), read by every query
    keys = _keys(parsed, files)
    cells = []
    for name, raw_keys in keys.items():
        value = F.coalesce(*[F.col("_ pairs")[k] for k in raw_keys], F.lit(""))
        cells.append(value.alias(name))
    hidden = [ROW, LINE, *([FILE] if FILE in parsed.columns else [])]
    return parsed.select(
        *cells, F.col("`_ parsed`.invalid").alias(jsonl.INVALID), *hidden
    )


def _located_lines(session: Any, lines: Any, files: list[_File]) -> Any:
    """The lines with ``_line`` (1-based, in its file), ``_row`` (lines of the files before,
    plus the line's place: in order, though not dense where a line is blank) and ``_file``."""
    from pyspark.sql import functions as F

    try:
        blocks = lines.groupBy("_ file", "_ block").agg(
            F.count(F.lit(1)).alias("lines"), F.min("_ place").alias("first")
        ).collect()
    except Exception as exc:
        raise SourceError(
            f"Spark could not read {files[0].uri if len(files) == 1 else 'the files'} "
            f"({_java_message(exc)}). Check the files and the Spark session's access to them."
        ) from None
    order = {f.uri: i for i, f in enumerate(files)}
    names = _labels(files)
    offsets, total, file_start, current = [], 0, 0, None
    for block in sorted(blocks, key=lambda b: (order[b["_ file"]], b["_ block"])):
        if block["_ file"] != current:
            current, file_start = block["_ file"], total
        offsets.append((
            block["_ file"], block["_ block"], total - block["first"],
            total - file_start - block["first"] + 1, names[block["_ file"]],
        ))
        total += block["lines"]
    shift = session.createDataFrame(
        offsets,
        "`_ file` string, `_ block` long, `_ row_shift` long, `_ line_shift` long, "
        "`_ label` string",
    )
    located = lines.join(F.broadcast(shift), ["_ file", "_ block"])
    return located.select(
        "_ bytes",
        (F.col("_ place") + F.col("_ row_shift")).alias(ROW),
        (F.col("_ place") + F.col("_ line_shift")).alias(LINE),
        *([F.col("_ label").alias(FILE)] if len(files) > 1 else []),
        F.col("_ file").alias("_ uri"),
    )


def _keys(parsed: Any, files: list[_File]) -> dict[str, list[str]]:
    """Normalised column name -> the raw keys that mean it, in order of first appearance
    (file, line, place in the line), each file's keys checked as a header is."""
    from pyspark.sql import functions as F

    firsts = (
        parsed.select("_ uri", ROW, F.posexplode("`_ parsed`.keys").alias("_at", "_key"))
        .groupBy("_ uri", "_key").agg(F.min(F.struct(ROW, "_at")).alias("_ first"))
        .collect()
    )
    order = {f.uri: i for i, f in enumerate(files)}
    firsts.sort(key=lambda r: (order[r["_ uri"]], r["_ first"][0], r["_ first"][1]))
    columns: dict[str, list[str]] = {}
    for uri in [f.uri for f in files]:
        raw = [r["_key"] for r in firsts if r["_ uri"] == uri]
        if not raw and len(files) > 1:
            continue  # no key in this file: no column (as helpers.sources reads a set)
        for key, name in zip(raw, normalised_names(raw, origin=uri), strict=True):
            if key not in columns.setdefault(name, []):
                columns[name].append(key)
    return columns


def _parse_udf() -> Any:
    """:func:`helpers.jsonl.parse_line` as a Spark function: null for a blank line."""
    from pyspark import cloudpickle
    from pyspark.sql import functions as F

    # By value: an executor then needs no copy of this package, only Python's standard
    # library (the parser's functions are sent, not the module, which imports pyarrow).
    cloudpickle.register_pickle_by_value(jsonl)
    parse_line, blank = jsonl.parse_line, jsonl.BLANK

    def parse(raw: bytes, first: bool) -> Any:
        parsed = parse_line(raw, first=first)
        if parsed == blank:
            return None
        pairs, invalid = parsed
        # Keys and values as lists: a map from Python reaches Spark as a Java HashMap, in
        # no particular order, and the keys' order makes the columns' order.
        return list(pairs), list(pairs.values()), invalid

    return F.udf(
        parse, "struct<keys: array<string>, values: array<string>, invalid: string>",
        useArrow=False,
    )


def _fingerprint(files: list[_File]) -> str:
    """SHA-256 of each file's URI, size and modification time (ms), one line per file."""
    lines = "".join(f"{f.uri}\t{f.size}\t{f.modified_ms}\n" for f in files)
    return hashlib.sha256(lines.encode()).hexdigest()


def _java_message(exc: Exception) -> str:
    """The first line of a Java exception, without py4j's stack trace."""
    text = str(getattr(exc, "java_exception", None) or exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__
