"""Parquet export of the published tables, for readers that do not open DuckDB files or
connect to Postgres (Spark, pandas, BI tools reading a folder), on both targets.

Written under `<warehouse dir>/exports/` after every publish (`parquet_export` in
tiering.yml, on by default), or under any folder by `tiering export --format parquet
--out DIR`, in one layout:

    <table>/as_of_date=<YYYY-MM-DD>/data.parquet   a history mart (dbt meta `publish:
                                                   as_of_partitions`): one file per
                                                   as-of date, hive-partitioned, so the
                                                   date is in the folder name, not in
                                                   the file (as Spark writes it)
    <table>/<table>.parquet                        a latest-only mart (`publish: replace`)
    .published.json                                the publication the folder holds

Column types are the warehouse's: money DECIMAL(18,2), dates DATE, lists LIST.

Never half-written. Every file is first written into `.staging/` of the same folder, all
tables before any is swapped in; then each moves over its old name with `os.replace`,
the partitions no longer published are removed, and the marker is written last. So a
reader sees each file whole, old or new; a failure while writing (the slow part) leaves
the previous export exactly as it was; a run killed while swapping (renames) leaves some
files new and the marker naming the previous publication, and the next export, seeing a
marker that is not the publication before it, rewrites everything.

A daily run rewrites only what its publish changed: when the marker names the publication
just before this one and no table or column changed, the as-of dates this publish
replaced (history_start..as_of, as publish.apply_delta does for the BI snapshot) and the
latest-only tables; otherwise every file.

One code path for both targets: the export reads the published tables where readers
read them (customer_tiering.published.read_published) through the warehouse Connection,
which writes each file (Connection.write_parquet, DuckDB's Parquet writer on both, so the
types are the same). On DuckDB that is the BI snapshot, not the warehouse: `tiering export`
then never waits for a build, and after a publish the snapshot holds exactly that
publication. On Postgres it is schema `marts` in one read-only transaction with the
publication record, rows streamed a batch (or one as-of date) at a time; outside a run
the export holds the warehouse lock shared, so a run waits for it and it for a run.

Where `<warehouse dir>` is: the folder of the `warehouse` setting (default `warehouse/`)
on both targets. On Postgres no warehouse file is written there, but the folder already
holds this machine's side of the warehouse (dbt state `.<name>_dbt/`, `reports/`, the lock
file), and the export needs the dbt manifest of that state for each mart's publish mode;
so `warehouse: /srv/tiering/tiers.duckdb` exports into `/srv/tiering/exports/`.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from customer_tiering import lock, publish, published, transform
from customer_tiering.config import Settings
from customer_tiering.errors import ConfigError, TieringError
from customer_tiering.warehouses import Connection, open_warehouse

EXPORTS_DIR = "exports"
PARTITION = "as_of_date"
PARTITION_FILE = "data.parquet"
MARKER = ".published.json"
STAGING = ".staging"


def exports_dir(warehouse: Path) -> Path:
    """Where each publish is exported: `exports/` in the folder of the `warehouse` setting
    (beside the DuckDB file; on Postgres the local folder, see the module docstring)."""
    return warehouse.resolve().parent / EXPORTS_DIR


@dataclass(frozen=True)
class TableExport:
    """One table's files written by an export."""

    name: str
    mode: str
    files: int
    rows: int


@dataclass(frozen=True)
class Exported:
    """What an export wrote: into which folder, of which publication, whole or the delta."""

    root: Path
    published_at: str
    as_of: date | None
    whole: bool
    tables: list[TableExport]

    def __str__(self) -> str:
        files = sum(table.files for table in self.tables)
        rows = sum(table.rows for table in self.tables)
        what = "every table whole" if self.whole else "the as-of dates this publish replaced"
        return (
            f"Parquet export as of {self.as_of} in {self.root}: {files:,} files,"
            f" {rows:,} rows written ({what})"
        )


def refresh(settings: Settings, delta: publish.SnapshotDelta | None = None) -> Exported | None:
    """After a publish (or a run that found nothing to publish): bring `exports/` up to the
    publication readers see, unless `parquet_export` is off or it already holds that
    publication (a run killed before its export is made good by the next one). `delta`,
    what the publish changed, lets an export of the previous publication rewrite only
    that."""
    if not settings.parquet_export:
        return None
    root = exports_dir(settings.warehouse)
    held = read_marker(root)
    stamp = published.publication_stamp(open_warehouse(settings))
    if held is not None and held["published_at"] == stamp:
        return None
    return export(settings, root, delta)


def export(settings: Settings, root: Path, delta: publish.SnapshotDelta | None = None) -> Exported:
    """Export the published tables into `root`, as the module docstring says. Two exports
    into one folder take turns (a lock file in it). ConfigError (exit 2) before anything
    is written when nothing is published yet or `root` is a file."""
    warehouse = open_warehouse(settings)
    published.publication_stamp(warehouse)
    if root.exists() and not root.is_dir():
        raise ConfigError(f"{root} is not a folder")
    root.mkdir(parents=True, exist_ok=True)
    purpose = f"Parquet export into {root}"
    timeout = settings.lock_timeout_seconds
    with (
        published.reading_lock(settings, warehouse, purpose),
        lock.warehouse_lock(root / "export", exclusive=True, timeout=timeout, purpose=purpose),
    ):
        held = read_marker(root)
        models = publish.published_models(transform.manifest_path(settings.warehouse))
        staging = root / STAGING
        shutil.rmtree(staging, ignore_errors=True)  # of an export killed while writing
        staging.mkdir()
        try:
            with published.read_published(warehouse) as (con, stamp):
                layouts = table_layouts(con, models)
                dates = None  # every as-of date, unless the folder holds the last publication
                if delta is not None and held == {
                    "published_at": delta.previous_published_at,
                    "tables": layouts,
                }:
                    dates = (delta.history_start, delta.as_of)
                written = [
                    write_table(con, name, layout["mode"], staging, dates)
                    for name, layout in layouts.items()
                ]
                as_of = publish.published_as_of(con)
            for table in written:
                swap_in(root, staging, table, dates)
            for gone in set(held["tables"] if held else ()) - set(layouts):
                shutil.rmtree(root / gone, ignore_errors=True)
            write_marker(root, {"published_at": stamp, "tables": layouts})
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return Exported(root, stamp, as_of, dates is None, written)


def table_layouts(
    con: Connection, models: list[publish.PublishedModel]
) -> dict[str, dict[str, Any]]:
    """Per published table (of the dbt build, present where readers read): how it is
    published and its columns with their types as the engine spells them; a change of
    either (or of the target) makes the next export whole."""
    layouts: dict[str, dict[str, Any]] = {}
    for model in models:
        kinds = con.columns(publish.PUBLISHED_SCHEMA, model.name)
        if kinds:
            layouts[model.name] = {"mode": model.mode, "columns": [list(c) for c in kinds.items()]}
    return layouts


def write_table(
    con: Connection,
    name: str,
    mode: str,
    staging: Path,
    dates: tuple[date, date] | None,
) -> TableExport:
    """Write one published table into `staging`: a latest-only table as `<name>.parquet`,
    a history table as `<name>/as_of_date=<D>/data.parquet`, only the as-of dates `dates`
    (first, last) if given."""
    source = f'{publish.PUBLISHED_SCHEMA}."{name}"'
    if mode != "as_of_partitions":
        rows = con.write_parquet(f"select * from {source}", staging / f"{name}.parquet")
        return TableExport(name, mode, 1, rows)
    where = ""
    if dates is not None:
        where = f" where {PARTITION} between date '{dates[0]}' and date '{dates[1]}'"
    folder = staging / name
    rows = con.write_parquet(f"select * from {source}{where}", folder, partition_by=PARTITION)
    partitions = sorted(folder.glob(f"{PARTITION}=*")) if folder.exists() else []
    for partition in partitions:
        files = list(partition.iterdir())
        if len(files) != 1:
            raise TieringError(f"{partition}: {len(files)} files written, expected one")
        files[0].rename(partition / PARTITION_FILE)
    return TableExport(name, mode, len(partitions), rows)


def swap_in(root: Path, staging: Path, table: TableExport, dates: tuple[date, date] | None) -> None:
    """Move a table's staged files over the exported ones, one `os.replace` each (a new
    as-of date's folder moves in whole: no empty folder is left to remove from staging,
    which cost seconds for the thousands of a backfill), then remove what the
    publication no longer holds: the as-of dates in `dates` (all of them for a whole
    export) that were not written, and the other layout's files."""
    folder = root / table.name
    folder.mkdir(exist_ok=True)
    latest_file = folder / f"{table.name}.parquet"
    if table.mode != "as_of_partitions":
        os.replace(staging / latest_file.name, latest_file)
        for partition in folder.glob(f"{PARTITION}=*"):
            shutil.rmtree(partition)
        return
    staged = staging / table.name
    written = {path.name for path in staged.glob(f"{PARTITION}=*")} if staged.exists() else set()
    for name in sorted(written):
        if (folder / name).exists():
            os.replace(staged / name / PARTITION_FILE, folder / name / PARTITION_FILE)
        else:
            os.replace(staged / name, folder / name)
    for partition in folder.glob(f"{PARTITION}=*"):
        if partition.name not in written and within(partition, dates):
            shutil.rmtree(partition)
    latest_file.unlink(missing_ok=True)


def within(partition: Path, dates: tuple[date, date] | None) -> bool:
    """Whether a partition folder's as-of date is in dates (first, last); any is in None."""
    if dates is None:
        return True
    # ISO dates sort as text.
    return str(dates[0]) <= partition.name.split("=", 1)[1] <= str(dates[1])


def read_marker(root: Path) -> dict[str, Any] | None:
    """The publication `root` holds and its tables' layouts (None: no complete export)."""
    try:
        held = json.loads((root / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return held if isinstance(held, dict) and set(held) == {"published_at", "tables"} else None


def write_marker(root: Path, data: dict[str, Any]) -> None:
    tmp = root / f"{MARKER}.tmp"
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")
    os.replace(tmp, root / MARKER)
