"""Publishing: write-audit-publish, then the BI snapshot.

dbt builds every mart into schema `marts_build` and runs its data tests there (write,
audit). Only when the whole build passed does `promote` make the new tables the published
ones in schema `marts`, in ONE warehouse transaction (publish): a run that fails or is
killed at any moment before that commit leaves every published table exactly as it was:
DuckDB's write-ahead log discards an uncommitted transaction on the next open, and Postgres
DDL is transactional (readers see the old tables until the commit). On Postgres the same
transaction grants the read-only role `tiering_reader` every published table
(customer_tiering.warehouses.postgres).

Each mart says in its dbt config (`meta: {publish: ...}`, dbt_project.yml) how it is
published:
- `replace`: the built table replaces the published one (latest-only marts).
- `as_of_partitions`: the build holds only the as-of dates it computed; those dates are
  deleted from the published table and the built rows inserted (history marts), so a
  daily run writes one day, not the whole history.

Raw data a failed run loaded stays loaded (it passed validation); the days it changed
stay in `raw._pending` until a publish consumes them, so the next run recomputes history
from the earliest of them by itself.

On DuckDB, BI tools read a snapshot file (`bi/<name>.duckdb`), a copy of schema `marts` written as a
new file and swapped in with `os.replace`: never half-written, never locking the
warehouse. It is refreshed after every publish; a run killed between the two leaves the
old snapshot, which the next run replaces. When the snapshot holds the publication just
before this one, only this publish's changes are written (the as-of dates recomputed, the
latest-only marts), not the whole schema: into the spare file (`bi/.<name>.duckdb.spare`,
the snapshot before the current one, kept by a hard link when it was swapped out), which
then gets the changes of the last two publishes and is swapped in, so a daily run writes
a day, not a copy of the whole history; or, when there is no spare or a BI tool still
holds it open (DuckDB's file lock), into a byte copy of the current file. The spare costs
the disk space of a second snapshot.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import duckdb

from customer_tiering.errors import ConfigError, TieringError
from customer_tiering.load import PENDING
from customer_tiering.warehouses import Connection, Warehouse
from customer_tiering.warehouses.duckdb_file import (
    DuckDBWarehouse,
    bi_snapshot_path,
    connect_duckdb,
)

# The last publish: what it was built from (transform.fingerprint), its as-of date and
# when it happened (named loaded_at so table checksums leave the time out).
PUBLICATION = "raw._published"

PUBLISHED_SCHEMA = "marts"
BUILD_SCHEMA = "marts_build"
PUBLISH_MODES = ("replace", "as_of_partitions")
# The history mart whose latest as-of date is "the latest published day".
HISTORY_TABLE = "customer_tier_history"


@dataclass(frozen=True)
class PublishedModel:
    """A mart dbt builds in BUILD_SCHEMA and how it is published."""

    name: str
    mode: str


def published_models(manifest: Path) -> list[PublishedModel]:
    """The marts of the last dbt build (its manifest), with their publish mode."""
    if not manifest.exists():
        raise TieringError(f"{manifest} is missing: dbt has not built the project")
    nodes = json.loads(manifest.read_text(encoding="utf-8"))["nodes"].values()
    models = []
    for node in nodes:
        config = node.get("config", {})
        if node["resource_type"] != "model" or node.get("schema") != BUILD_SCHEMA:
            continue
        if not config.get("enabled", True):
            continue
        mode = config.get("meta", {}).get("publish", "replace")
        if mode not in PUBLISH_MODES:
            raise ConfigError(f"model {node['name']}: meta publish must be one of {PUBLISH_MODES}")
        models.append(PublishedModel(node["name"], mode))
    return sorted(models, key=lambda model: model.name)


def published_as_of(con: Connection) -> date | None:
    """The latest as-of date published (None before the first publish)."""
    if not con.table_exists(PUBLISHED_SCHEMA, HISTORY_TABLE):
        return None
    return con.execute(
        f"select max(as_of_date) from {PUBLISHED_SCHEMA}.{HISTORY_TABLE}"
    ).fetchall()[0][0]


def replace_partitions(con: Connection, name: str, history_start: date, as_of: date) -> None:
    """Replace the as-of dates history_start..as_of of a published history mart with the
    built rows; new columns are added (null for older dates), a dropped or retyped column
    needs a full refresh."""
    built = con.columns(BUILD_SCHEMA, name)
    published = con.columns(PUBLISHED_SCHEMA, name)
    changed = [column for column, kind in published.items() if built.get(column, kind) != kind]
    dropped = [column for column in published if column not in built]
    if changed or dropped:
        raise ConfigError(
            f"{PUBLISHED_SCHEMA}.{name} no longer matches its model"
            f" (dropped: {', '.join(dropped) or '-'}; retyped: {', '.join(changed) or '-'}):"
            " rebuild its history with `tiering run ... --full-refresh`"
        )
    for column, kind in built.items():
        if column not in published:
            con.execute(f'alter table {PUBLISHED_SCHEMA}.{name} add column "{column}" {kind}')
    replace_dates(
        con,
        f"{PUBLISHED_SCHEMA}.{name}",
        f"{BUILD_SCHEMA}.{name}",
        list(built),
        history_start,
        as_of,
    )


def replace_dates(
    con: Connection | duckdb.DuckDBPyConnection,
    target: str,
    source: str,
    names: list[str],
    first: date,
    last: date,
) -> None:
    """Replace the as-of dates first..last of history table `target` with those of
    `source`, columns `names` matched by name."""
    dates = [first, last]
    listed = ", ".join(f'"{name}"' for name in names)
    con.execute(f"delete from {target} where as_of_date between ? and ?", dates)
    con.execute(
        f"insert into {target} ({listed}) select {listed} from {source}"
        " where as_of_date between ? and ?",
        dates,
    )


@dataclass(frozen=True)
class Publication:
    """The last publish recorded in the warehouse."""

    fingerprint: str
    as_of: date
    published_at: str


def last_publication(con: Connection) -> Publication | None:
    if not con.table_exists("raw", PUBLICATION.split(".")[1]):
        return None
    rows = con.execute(f"select fingerprint, as_of_date, loaded_at from {PUBLICATION}").fetchall()
    return Publication(rows[0][0], rows[0][1], rows[0][2].isoformat()) if rows else None


def promote(
    warehouse: Warehouse,
    models: list[PublishedModel],
    history_start: date,
    as_of: date,
    fingerprint: str,
    full_refresh: bool = False,
) -> list[str]:
    """Publish the built marts in one transaction, record the publication, grant the
    reader role (Postgres) and clear the pending days; return the tables published.
    `full_refresh` replaces history marts whole (their build then holds every loaded
    day)."""
    with warehouse.connect() as con:
        with con.transaction():
            con.replace_table(
                PUBLICATION,
                "select cast(? as varchar) as fingerprint, cast(? as date) as as_of_date,"
                " current_timestamp as loaded_at",
                [fingerprint, as_of],
            )
            con.execute(f"create schema if not exists {PUBLISHED_SCHEMA}")
            for model in models:
                target = f"{PUBLISHED_SCHEMA}.{model.name}"
                partitioned = model.mode == "as_of_partitions" and not full_refresh
                if partitioned and con.table_exists(PUBLISHED_SCHEMA, model.name):
                    replace_partitions(con, model.name, history_start, as_of)
                    continue
                con.execute(f"drop table if exists {target}")
                con.create_like(BUILD_SCHEMA, PUBLISHED_SCHEMA, model.name)
                con.execute(f"insert into {target} select * from {BUILD_SCHEMA}.{model.name}")
            con.grant_readers(PUBLISHED_SCHEMA)
            con.execute(f"delete from {PENDING}")
        con.checkpoint()
    return [model.name for model in models]


# DuckDB storage version of the BI snapshot: readable by the DuckDB that BI drivers bundle
# (duckdb-engine, DBeaver), which may be older than the pipeline's DuckDB.
SNAPSHOT_STORAGE_VERSION = "v1.4.0"


def snapshot_marker(snapshot: Path) -> Path:
    """Beside the BI snapshot: the publication it was copied from."""
    return snapshot.with_name(f".{snapshot.name}.published")


def spare_snapshot(snapshot: Path) -> Path:
    """The snapshot file before the current one, kept (a hard link taken at the swap) so
    the next publish can bring it up to date in place rather than copy the whole file."""
    return snapshot.with_name(f".{snapshot.name}.spare")


def spare_record(snapshot: Path) -> Path:
    """How the current snapshot differs from the spare: their publications and the as-of
    dates the publish between them replaced."""
    return snapshot.with_name(f".{snapshot.name}.spare.json")


@dataclass(frozen=True)
class SnapshotDelta:
    """What one publish changed, for a snapshot that holds the publication before it."""

    previous_published_at: str
    models: list[PublishedModel]
    history_start: date
    as_of: date

    def dates(self) -> dict[str, str]:
        """The as-of dates it replaced, for the spare record."""
        return {"history_start": self.history_start.isoformat(), "as_of": self.as_of.isoformat()}


def refresh_snapshot(
    warehouse: Path, force: bool = True, delta: SnapshotDelta | None = None
) -> Path:
    """Copy the published tables to the BI snapshot unless (`force` off) it already holds
    the last publication: a run killed between publish and snapshot is made good by the
    next run, even one with nothing to rebuild. With `delta`, a snapshot holding the
    previous publication gets only the changes."""
    snapshot = bi_snapshot_path(warehouse)
    with DuckDBWarehouse(warehouse).connect(read_only=True) as con:
        publication = last_publication(con)
    stamp = publication.published_at if publication else ""
    marker = snapshot_marker(snapshot)
    held = marker.read_text() if snapshot.exists() and marker.exists() else None
    if not force and held == stamp:
        return snapshot
    applied = delta is not None and held == delta.previous_published_at
    if (
        applied
        and delta is not None
        and (apply_to_spare(warehouse, snapshot, delta) or apply_delta(warehouse, snapshot, delta))
    ):
        record = {"spare": held, "current": stamp, **delta.dates()}
        write_atomically(spare_record(snapshot), json.dumps(record))
    else:
        spare_record(snapshot).unlink(missing_ok=True)
        spare_snapshot(snapshot).unlink(missing_ok=True)
        export_snapshot(warehouse, snapshot)
    write_atomically(marker, stamp)
    return snapshot


def write_atomically(path: Path, content: str) -> None:
    """Write `content` to a temporary file beside `path`, then swap it in."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(content, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def apply_to_spare(warehouse: Path, snapshot: Path, delta: SnapshotDelta) -> bool:
    """Bring the spare snapshot (the publication before the current one's) up to this
    publication in place and swap it in; the current file becomes the spare. False, with
    nothing swapped, when there is no spare of the current file's previous publication,
    a BI tool holds it open (DuckDB's file lock), or the tables changed: the caller then
    copies the current file instead."""
    spare, record = spare_snapshot(snapshot), spare_record(snapshot)
    try:
        changes = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not spare.exists() or changes.get("current") != delta.previous_published_at:
        return False
    # From the spare's publication: the publish before this one replaced changes' dates.
    first = min(date.fromisoformat(changes["history_start"]), delta.history_start)
    last = max(date.fromisoformat(changes["as_of"]), delta.as_of)
    record.unlink()  # the spare is about to change: no record of it until the swap
    try:
        applied = apply_models(warehouse, spare, replace(delta, history_start=first, as_of=last))
    except (duckdb.IOException, duckdb.ResourceInUseException):  # a reader holds it open
        return False
    if applied:
        swap_in(spare, snapshot)
    return applied


def apply_delta(warehouse: Path, snapshot: Path, delta: SnapshotDelta) -> bool:
    """Write a copy of `snapshot` with `delta` applied and swap it in (the current file
    becomes the spare); False (nothing swapped in) when the set of tables or a history
    mart's columns changed, so the caller exports the whole schema instead."""
    tmp = snapshot.with_name(f".{snapshot.name}.tmp")
    for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):
        leftover.unlink(missing_ok=True)
    shutil.copyfile(snapshot, tmp)
    if not apply_models(warehouse, tmp, delta):
        tmp.unlink(missing_ok=True)
        return False
    swap_in(tmp, snapshot)
    return True


def apply_models(warehouse: Path, target: Path, delta: SnapshotDelta) -> bool:
    """Apply `delta` to the snapshot file `target` in one transaction; False when the set
    of tables or a history mart's columns changed."""
    source, schema = warehouse.stem, PUBLISHED_SCHEMA
    con = connect_duckdb()
    try:
        con.execute(f"attach '{warehouse.resolve()}' as \"{source}\" (read_only)")
        con.execute(f"attach '{target}' as snapshot")
        con.execute("begin")
        applied = same_tables(con, source, "snapshot", schema) and all(
            apply_model(con, f'"{source}".{schema}."{model.name}"', model, delta)
            for model in delta.models
        )
        con.execute("commit" if applied else "rollback")
        con.execute("detach snapshot")
    finally:
        con.close()
    return applied


def swap_in(new: Path, snapshot: Path) -> None:
    """Make `new` the snapshot; the file it replaces becomes the spare (readers that have
    it open keep reading it)."""
    spare = spare_snapshot(snapshot)
    keep = spare.with_name(spare.name + ".tmp")
    keep.unlink(missing_ok=True)
    os.link(snapshot, keep)
    os.replace(new, snapshot)
    os.replace(keep, spare)


def same_tables(con: duckdb.DuckDBPyConnection, source: str, target: str, schema: str) -> bool:
    names = [
        con.execute(
            "select table_name from information_schema.tables"
            " where table_catalog = ? and table_schema = ? order by table_name",
            [catalog, schema],
        ).fetchall()
        for catalog in (source, target)
    ]
    return names[0] == names[1]


def apply_model(
    con: duckdb.DuckDBPyConnection, new: str, model: PublishedModel, delta: SnapshotDelta
) -> bool:
    """Bring the snapshot's copy of one mart up to `new`; False if its columns changed."""
    old = f'snapshot.{PUBLISHED_SCHEMA}."{model.name}"'
    if model.mode != "as_of_partitions":
        con.execute(f"create or replace table {old} as select * from {new}")
        return True
    described = con.execute(f"describe {new}").fetchall()
    if described != con.execute(f"describe {old}").fetchall():
        return False
    names = [row[0] for row in described]
    replace_dates(con, old, new, names, delta.history_start, delta.as_of)
    return True


def export_snapshot(warehouse: Path, target: Path, schema: str = PUBLISHED_SCHEMA) -> list[str]:
    """Copy every table and view of `schema` into a new DuckDB file and swap it in over
    `target` atomically; return the tables copied.

    BI tools read the snapshot, never the warehouse: DuckDB has one writer per file and a
    reader holding the warehouse open would block the next load. Readers of the old
    snapshot keep their view; new connections see the new tables."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    for leftover in (tmp, tmp.with_name(tmp.name + ".wal")):  # of a run killed here
        leftover.unlink(missing_ok=True)
    # An in-memory session attaching the warehouse read-only (under its own name, which
    # dbt's views refer to) and the new file read-write.
    source = warehouse.stem
    con = connect_duckdb()
    try:
        con.execute(f"attach '{warehouse.resolve()}' as \"{source}\" (read_only)")
        con.execute(f"attach '{tmp}' as snapshot (storage_version '{SNAPSHOT_STORAGE_VERSION}')")
        names = [
            row[0]
            for row in con.execute(
                "select table_name from information_schema.tables"
                " where table_catalog = ? and table_schema = ? order by table_name",
                [source, schema],
            ).fetchall()
        ]
        con.execute(f"create schema snapshot.{schema}")
        for name in names:
            con.execute(
                f'create table snapshot.{schema}."{name}" as'
                f' select * from "{source}".{schema}."{name}"'
            )
        con.execute("detach snapshot")
    finally:
        con.close()
    os.replace(tmp, target)
    return names
