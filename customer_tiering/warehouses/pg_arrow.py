"""Postgres rows as typed Arrow, and Parquet files written from them.

The Parquet export (customer_tiering.exports) must give a Postgres warehouse's tables the
column types a DuckDB warehouse's get: money DECIMAL(p,s), dates DATE, lists LIST. So
each column is built as the Arrow type of its Postgres type, read from the cursor's
description (precision and scale included), never inferred from the values: pandas
would turn money into float or objects and a column of nulls into no type at all.

Rows come through a server-side cursor in batches of BATCH_ROWS, so an export holds about
one batch (for a partitioned table, whole as-of dates: a batch and the rest of its last
date), never a whole table. The files are written by DuckDB's Parquet writer from the
Arrow data, the writer of the DuckDB export, so both targets' files are alike down to the
physical types (DECIMAL(18,2) as INT64).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import duckdb
import psycopg
import pyarrow as pa
import pyarrow.compute as pc

from customer_tiering.errors import TieringError
from customer_tiering.warehouses.duckdb_file import connect_duckdb, sql_path

# Rows fetched from the server at a time.
BATCH_ROWS = 50_000
# The Arrow type of each Postgres type (psycopg's name for it) a published column may have;
# numeric is DECIMAL with the column's precision and scale, an array a LIST of its element.
ARROW_TYPES: dict[str, pa.DataType] = {
    "bool": pa.bool_(),
    "int2": pa.int16(),
    "int4": pa.int32(),
    "int8": pa.int64(),
    "float4": pa.float32(),
    "float8": pa.float64(),
    "text": pa.string(),
    "varchar": pa.string(),
    "bpchar": pa.string(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
    "timestamptz": pa.timestamp("us", tz="UTC"),
}


def arrow_type(column: psycopg.Column) -> pa.DataType:
    """The Arrow type of a result column; TieringError for a type the export cannot carry
    faithfully (an unconstrained numeric: a contract declares its precision and scale)."""
    info = psycopg.adapters.types.get(column.type_code)
    name = info.name if info is not None else f"oid {column.type_code}"
    if name == "numeric" and column.precision is not None and column.scale is not None:
        element = pa.decimal128(column.precision, column.scale)
    elif name in ARROW_TYPES:
        element = ARROW_TYPES[name]
    else:
        raise TieringError(
            f"column {column.name}: Postgres type {name} (without precision, or not one of"
            f" {', '.join(sorted(ARROW_TYPES))}, numeric(p,s) and their arrays) has no Arrow type"
        )
    # psycopg's registry finds an array type under its element's entry.
    return pa.list_(element) if info is not None and column.type_code == info.array_oid else element


def arrow_schema(description: Sequence[psycopg.Column] | None) -> pa.Schema:
    """The Arrow schema of a cursor's result."""
    return pa.schema([pa.field(column.name, arrow_type(column)) for column in description or []])


def batches(cursor: psycopg.Cursor[Any], schema: pa.Schema) -> Iterator[pa.RecordBatch]:
    """The cursor's remaining rows, BATCH_ROWS at a time, as batches of `schema`."""
    while rows := cursor.fetchmany(BATCH_ROWS):
        columns = zip(*rows, strict=True)
        arrays = [
            pa.array(values, type=field.type) for values, field in zip(columns, schema, strict=True)
        ]
        yield pa.RecordBatch.from_arrays(arrays, schema=schema)


def table(cursor: psycopg.Cursor[Any]) -> pa.Table:
    """Every row of an executed cursor as one Arrow table."""
    schema = arrow_schema(cursor.description)
    return pa.Table.from_batches(list(batches(cursor, schema)), schema=schema)


def write_file(duck: duckdb.DuckDBPyConnection, rows: pa.RecordBatchReader, path: Path) -> int:
    """Write Arrow rows, consumed as they come, to the Parquet file `path`, through a DuckDB
    table (compressed, spilled beyond DuckDB's memory cap): DuckDB marks a column of a
    table copy REQUIRED when the table's statistics show no nulls, so the file has the
    schema, nullability included, of the DuckDB export's copy of the same table. (A
    partitioned COPY writes every column OPTIONAL on both targets.)"""
    duck.register("exported_rows", rows)
    try:
        duck.execute("create temp table exported as select * from exported_rows")
        return duck.execute(f"copy exported to {sql_path(path)} (format parquet)").fetchall()[0][0]
    finally:
        duck.unregister("exported_rows")
        duck.execute("drop table if exists exported")


def write_parquet(cursor: psycopg.Cursor[Any], path: Path, partition_by: str | None = None) -> int:
    """Write an executed cursor's rows as Connection.write_parquet says. Partitioned, the
    rows must come ordered by `partition_by`: they are gathered into pieces of at least
    BATCH_ROWS rows that never split a value (one as-of date's rows stay in one piece),
    and each piece is one partitioned COPY appending its values' folders, as the DuckDB
    export's one COPY writes them (one file per folder, every column OPTIONAL)."""
    schema = arrow_schema(cursor.description)
    duck = connect_duckdb()
    try:
        if partition_by is None:
            reader = pa.RecordBatchReader.from_batches(schema, batches(cursor, schema))
            return write_file(duck, reader, path)
        written = 0
        for piece in whole_values(batches(cursor, schema), partition_by):
            written += write_partitions(duck, piece, path, partition_by)
        return written
    finally:
        duck.close()


def whole_values(ordered: Iterator[pa.RecordBatch], column: str) -> Iterator[pa.Table]:
    """Batches ordered by `column`, regrouped so that no value's rows are split: each
    batch up to the start of its last run of one value, with what the previous batch
    held back; the last run is held back for the next."""
    held: list[pa.RecordBatch] = []
    for batch in ordered:
        run_ends = pc.run_end_encode(batch.column(column)).run_ends
        last_run = run_ends[-2].as_py() if len(run_ends) > 1 else 0
        if last_run:
            yield pa.Table.from_batches([*held, batch.slice(0, last_run)])
            held = []
        held.append(batch.slice(last_run))
    if held:
        yield pa.Table.from_batches(held)


def write_partitions(
    duck: duckdb.DuckDBPyConnection, rows: pa.Table, folder: Path, column: str
) -> int:
    """Rows holding every row of each of their `column` values, into `<column>=<value>/`
    folders under `folder` (a new file in each; the folder may hold other values)."""
    duck.register("exported_rows", rows)
    try:
        return duck.execute(
            f"copy (select * from exported_rows) to {sql_path(folder)}"
            f" (format parquet, partition_by ({column}), append)"
        ).fetchall()[0][0]
    finally:
        duck.unregister("exported_rows")
