"""The demo written straight to Parquet file drops, month by month.

Why beside `files.export`: that export pulls each whole table as one pandas frame and
groups it by day, which at benchmark scale (30 M lines) holds gigabytes and spends most
of its time in pandas. This writer streams one month at a time from the generator's
arrays into Arrow tables, cuts them into day files by position (rows come in date order)
and writes them on a thread while the next month is generated. The files are the ones
the export writes: the same layout, columns, values and text dates (YYYY-MM-DD), so the
files source reads the same frames from either (tests/test_demo_drops.py).
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from datetime import date
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from customer_tiering.contract import COST_KINDS, FACT_TABLES, TABLES
from customer_tiering.sources.demo.calendar import (
    BLOCK_DAY,
    EPOCH64,
    day_of,
    month_start,
    months_between,
    to_date,
)
from customer_tiering.sources.demo.frames import snapshot_days
from customer_tiering.sources.demo.month import Arrays
from customer_tiering.sources.demo.source import DemoSource
from customer_tiering.sources.demo.world import BLOCKED_IDX, CATEGORIES, CHANNELS, REGIONS

_TEXT = pa.large_string()  # what pandas' str columns are written as by the export
# Parquet dictionary-encodes text only; numbers are mostly distinct and encode faster plain.
_TYPES = {"VARCHAR": _TEXT, "DATE": _TEXT, "BIGINT": pa.int64(), "BOOLEAN": pa.bool_()}


def _schema(table: str) -> pa.Schema:
    columns = TABLES[table].columns.items()
    return pa.schema([(name, _TYPES.get(sql_type, pa.float64())) for name, sql_type in columns])


def _text(values: tuple[str, ...] | object) -> pa.Array:
    return pa.array(list(values), type=_TEXT)


def _iso(days: np.ndarray) -> pa.Array:
    """Day offsets as YYYY-MM-DD text, in Arrow: the few distinct days are formatted once
    and taken by position (no Python string per row)."""
    if not days.size:
        return pa.array([], type=_TEXT)
    first = int(days.min())
    calendar = np.arange(first, int(days.max()) + 1)
    text = pa.array((EPOCH64 + calendar).astype("datetime64[D]")).cast(_TEXT)
    return text.take(pa.array(days.astype(np.int64) - first))


class _Writer:
    """Writes day files on one background thread, at most one batch behind the caller."""

    def __init__(self) -> None:
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="demo-drops")
        self.last: Future[None] | None = None
        self.count = 0

    def submit(self, files: list[tuple[pa.Table, Path]]) -> None:
        self.wait()
        self.last = self.pool.submit(self._write, files)
        self.count += len(files)

    @staticmethod
    def _write(files: list[tuple[pa.Table, Path]]) -> None:
        for table, path in files:
            text = [f.name for f in table.schema if f.type == _TEXT]
            # No Arrow schema in the file: it costs a millisecond per file and the files
            # source reads the same frames without it.
            pq.write_table(
                table, path, use_dictionary=text, write_statistics=False, store_schema=False
            )

    def wait(self) -> None:
        if self.last is not None:
            self.last.result()

    def close(self) -> None:
        self.wait()
        self.pool.shutdown()


def write_parquet_drops(source: DemoSource, start: date, end: date, out: Path) -> int:
    """Write `source`'s tables for start..end under `out` in the file-drop layout, as
    `files.export(source, start, end, out, "parquet")` does: a file per fact table per
    day (header-only on a day without rows) with the rows known on `end`, and one file
    per master snapshot. Returns the number of files written."""
    s, e = day_of(start), day_of(end)
    if s > e:
        raise ValueError(f"start {start} is after end {end}")
    for table in TABLES:
        (out / table).mkdir(parents=True, exist_ok=True)
    world = source.world
    codes = {
        "customer": _text(world.customers.ids),
        "product": _text(world.products.ids),
        "kind": _text(COST_KINDS),
    }
    days = np.arange(s, e + 1)
    writer = _Writer()
    try:
        writer.submit([*_products(source, s, out), *_customers(source, s, e, out)])
        before = days[days < 0]  # days before the epoch: delivered, without rows
        writer.submit([f for t in FACT_TABLES for f in _day_files(t, None, before, out)])
        for mi in source.streaming("sales_lines", months_between(max(s, 0), e)):
            month = days[(days >= month_start(mi)) & (days < month_start(mi + 1))]
            files = []
            for table in FACT_TABLES:
                rows = _known(source.month_rows(table, mi), month, e)
                data = (_fact_table(table, rows, codes), rows["day"])
                files += _day_files(table, data, month, out)
            writer.submit(files)
    finally:
        writer.close()
    return writer.count


def _known(rows: Arrays, month: np.ndarray, e: int) -> Arrays:
    """The rows dated on the `month` days asked for and known by day offset `e`."""
    lo, hi = np.searchsorted(rows["day"], [month[0], month[-1] + 1])
    keep = rows["entered"][lo:hi] <= e
    return {k: v[lo:hi][keep] for k, v in rows.items()}


def _fact_table(table: str, r: Arrays, codes: dict[str, pa.Array]) -> pa.Table:
    """Rows of a fact table as Arrow, in contract columns; codes become text by `take`."""
    cust = codes["customer"].take(pa.array(r["customer"]))
    if table == "sales_lines":
        product = codes["product"].take(pa.array(r["product"]))
        columns = [_ids(r["id"]), _ids(r["order_id"]), _iso(r["day"]), cust, product, r["quantity"]]
        columns += [r["unit_price"], r["discount"], r["net"], r["cost"]]
    elif table == "cost_to_serve":
        kind = codes["kind"].take(pa.array(r["kind"]))
        columns = [_ids(r["id"]), cust, _iso(r["day"]), kind, r["amount"]]
    elif table == "ar_invoices":
        columns = [_ids(r["id"]), cust, _iso(r["day"]), _iso(r["due"]), r["amount"]]
    else:
        columns = [_ids(r["id"]), cust, _ids(r["invoice_id"]), _iso(r["day"]), r["amount"]]
    return pa.Table.from_arrays(columns, schema=_schema(table))


def _ids(ids: np.ndarray) -> pa.Array:
    """Integer document ids as their decimal text, the contract's key type."""
    return pa.array(ids).cast(pa.string())


def _day_files(
    table: str, data: tuple[pa.Table, np.ndarray] | None, days: np.ndarray, out: Path
) -> list[tuple[pa.Table, Path]]:
    """One file of `table` per day of `days`: slices of `data` (an Arrow table in date
    order and the day of each row), or header-only files when there is no data."""
    paths = [out / table / f"{to_date(d).isoformat()}.parquet" for d in days]
    if data is None:
        empty = _schema(table).empty_table()
        return [(empty, path) for path in paths]
    rows, day = data
    bounds = np.searchsorted(day, np.r_[days, days[-1] + 1])
    return [
        (rows.slice(int(lo), int(hi - lo)), path)
        for lo, hi, path in zip(bounds[:-1], bounds[1:], paths, strict=True)
    ]


def _products(source: DemoSource, s: int, out: Path) -> list[tuple[pa.Table, Path]]:
    """The products master: one snapshot, on the first day (it never changes)."""
    p = source.world.products
    columns = [
        _text(p.ids),
        _text(p.names),
        _text(CATEGORIES).take(pa.array(p.category)),
        p.list_price,
        p.unit_cost,
    ]
    table = pa.Table.from_arrays(columns, schema=_schema("products"))
    return [(table, out / "products" / f"{to_date(s).isoformat()}.parquet")]


def _customers(source: DemoSource, s: int, e: int, out: Path) -> list[tuple[pa.Table, Path]]:
    """The customers master: a full snapshot on the first day and on every day it changes."""
    c = source.world.customers
    ids, names = _text(c.ids), _text(c.names)
    regions, channels = _text(REGIONS), _text(CHANNELS)
    files = []
    for snap in snapshot_days(source.world, "customers", s, e):
        cc = np.nonzero(c.created <= snap)[0]
        index = pa.array(cc)
        columns = [
            ids.take(index),
            names.take(index),
            regions.take(pa.array(c.region[cc])),
            channels.take(pa.array(c.channel[cc])),
            _iso(c.created[cc]),
            c.credit_limit[cc],
            (cc == BLOCKED_IDX) & (snap >= BLOCK_DAY),
        ]
        table = pa.Table.from_arrays(columns, schema=_schema("customers"))
        files.append((table, out / "customers" / f"{to_date(int(snap)).isoformat()}.parquet"))
    return files
