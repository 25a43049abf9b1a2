"""The floor: read one events file into Arrow with pyarrow alone, as the project reads it.

Run as its own process by :mod:`bench.bench` (``python bench/floor.py FILE``), so its wall time
and peak RSS are what any run of the report pays at least: interpreter start, ``import
pyarrow`` and reading every column. A CSV is read with the options of
``helpers.sources._read_csv``: header from the first line, every column ``pa.string()``,
``newlines_in_values=True``, blanks kept as empty strings. Only pyarrow is imported.
"""

from __future__ import annotations

import csv
import sys

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq


def read(path: str) -> pa.Table:
    if path.lower().endswith((".parquet", ".pq")):
        return pq.read_table(path)
    with open(path, encoding="utf-8-sig", newline="") as fh:
        header = next(csv.reader([fh.readline()]))
    return pacsv.read_csv(
        path,
        read_options=pacsv.ReadOptions(column_names=header, skip_rows=1),
        parse_options=pacsv.ParseOptions(delimiter=",", newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            column_types={name: pa.string() for name in header},
            strings_can_be_null=False,
            quoted_strings_can_be_null=False,
        ),
    )


if __name__ == "__main__":
    table = read(sys.argv[1])
    print(f"{table.num_rows} rows, {table.num_columns} columns, {table.nbytes} bytes")
