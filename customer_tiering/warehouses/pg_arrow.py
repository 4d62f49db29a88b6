"""Postgres rows as typed Arrow, and Parquet files written from them.

The Parquet export (customer_tiering.exports) must give a Postgres warehouse's tables the
column types a DuckDB warehouse's get: money DECIMAL(p,s), dates DATE, lists LIST. So
each column is built as the Arrow type of its Postgres type, read from the cursor's
description (precision and scale included), never inferred from the values: pandas
would turn money into float or objects and a column of nulls into no type at all.

Rows come through a server-side cursor in batches of BATCH_ROWS, so an export holds one
batch, or one as-of date of a partitioned table, never a whole table. The files are
written by DuckDB's Parquet writer from the Arrow data, the writer of the DuckDB export,
so both targets' files are alike down to the physical types (DECIMAL(18,2) as INT64).
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
from customer_tiering.warehouses import PARTITION_FILE
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


def write_file(
    duck: duckdb.DuckDBPyConnection,
    rows: pa.Table | pa.RecordBatchReader,
    path: Path,
    as_table: bool = False,
) -> int:
    """Write Arrow rows (a reader is consumed as it goes) to the Parquet file `path`.

    `as_table` first loads them into a DuckDB table (compressed, spilled beyond DuckDB's
    memory cap) and copies that: DuckDB marks a column of a table copy REQUIRED when the
    table's statistics show no nulls, so a latest-only table's file then has the same
    schema, nullability included, as the DuckDB export's. (A partitioned COPY writes every
    column OPTIONAL, as a copy of Arrow data does.)"""
    duck.register("exported_rows", rows)
    try:
        source = "(select * from exported_rows)"
        if as_table:
            duck.execute("create or replace temp table exported as select * from exported_rows")
            source = "exported"
        return duck.execute(f"copy {source} to {sql_path(path)} (format parquet)").fetchall()[0][0]
    finally:
        duck.unregister("exported_rows")
        duck.execute("drop table if exists exported")


def write_parquet(cursor: psycopg.Cursor[Any], path: Path, partition_by: str | None = None) -> int:
    """Write an executed cursor's rows as Connection.write_parquet says; partitioned, the
    rows must come ordered by `partition_by`, and each value's rows are gathered (one
    as-of date of a table) and written as `<column>=<value>/data.parquet`."""
    schema = arrow_schema(cursor.description)
    duck = connect_duckdb()
    try:
        if partition_by is None:
            reader = pa.RecordBatchReader.from_batches(schema, batches(cursor, schema))
            return write_file(duck, reader, path, as_table=True)
        written = 0
        value: Any = None
        pieces: list[pa.RecordBatch] = []
        for batch in batches(cursor, schema):
            for run_value, piece in runs(batch, partition_by):
                if pieces and run_value != value:
                    written += write_partition(duck, pieces, path, partition_by, value)
                    pieces = []
                value = run_value
                pieces.append(piece)
        if pieces:
            written += write_partition(duck, pieces, path, partition_by, value)
        return written
    finally:
        duck.close()


def runs(batch: pa.RecordBatch, column: str) -> Iterator[tuple[Any, pa.RecordBatch]]:
    """A batch ordered by `column` cut into its runs of one value: (value, rows)."""
    encoded = pc.run_end_encode(batch.column(column))
    start = 0
    for end, value in zip(encoded.run_ends.to_pylist(), encoded.values.to_pylist(), strict=True):
        if value is None:
            raise TieringError(f"{column} is null in {end - start} rows: no partition to write")
        yield value, batch.slice(start, end - start)
        start = end


def write_partition(
    duck: duckdb.DuckDBPyConnection,
    pieces: list[pa.RecordBatch],
    folder: Path,
    column: str,
    value: Any,
) -> int:
    """One partition's rows, without the partition column, into its hive folder."""
    rows = pa.Table.from_batches(pieces).drop_columns([column])
    target = folder / f"{column}={value}"
    target.mkdir(parents=True)
    return write_file(duck, rows, target / PARTITION_FILE)
