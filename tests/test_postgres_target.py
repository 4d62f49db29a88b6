"""The whole pipeline on a Postgres warehouse (`--target postgres`), on a real server.

One small demo (tests.good_warehouse's scale, exported as file drops) runs through the real
command line on both targets: a short backfill, then the next day's daily run. Every
published table must be equal row for row between the Postgres and the DuckDB warehouse,
and so must the Parquet exports both runs wrote (files, schemas, rows), the daily run's
rewriting only its day on both. The raw load (COPY, idempotence, a changed day), a refused
day, the read-only role, a failed export, `tiering export` and the configuration errors
are checked beside it.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import shutil
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from customer_tiering import cli, exports, load, lock, publish, transform, whatif
from customer_tiering.config import Settings, load_settings
from customer_tiering.contract import TABLES
from customer_tiering.errors import (
    EXIT_FAILURE,
    EXIT_INPUT_REFUSED,
    EXIT_OK,
    EXIT_USAGE,
    ConfigError,
    WarehouseBusy,
)
from customer_tiering.explain import explain
from customer_tiering.published import reading as published_reading
from customer_tiering.report import data as report_data
from customer_tiering.report import report_dir
from customer_tiering.sources.files import export
from customer_tiering.warehouses import Warehouse, open_warehouse, pg_arrow
from customer_tiering.warehouses.duckdb_file import DuckDBWarehouse
from customer_tiering.warehouses.postgres import READER_ROLE, URL_ENV, PgParams, PostgresWarehouse
from tests.conftest import pull_batches
from tests.good_warehouse import SCALE, demo_source
from tests.test_exports import parquet_files, read_export

FIRST, BACKFILL_END = date(2024, 1, 1), date(2024, 1, 10)
NEXT_DAY = BACKFILL_END + timedelta(days=1)


def psycopg_url(url: str) -> str:
    """The fixture's SQLAlchemy URL as libpq reads it."""
    return url.replace("postgresql+psycopg://", "postgresql://")


def new_database(url: str, name: str, template: str | None = None) -> str:
    """A new database on the server of `url` (a copy of `template` if given); its URL."""
    server = url.rsplit("/", 1)[0]
    with psycopg.connect(psycopg_url(f"{server}/postgres"), autocommit=True) as pg:
        pg.execute(f"drop database if exists {name}")
        pg.execute(f"create database {name}" + (f" template {template}" if template else ""))
    return f"{server}/{name}"


def pg_rows(url: str, sql: str, user: str | None = None) -> list[tuple[Any, ...]]:
    target = psycopg_url(url)
    if user is not None:
        target = target.replace("//postgres@", f"//{user}@")
    with psycopg.connect(target) as pg:
        return pg.execute(sql).fetchall()


def content_digest(url: str, schemas: tuple[str, ...] = ("raw", "marts")) -> dict[str, str]:
    """md5 of every table's rows (sorted) in `schemas`, load and publish times included:
    a table rewritten with the same rows gets new times."""
    tables = pg_rows(
        url,
        "select table_schema || '.' || table_name from information_schema.tables"
        f" where table_schema in ({', '.join(repr(s) for s in schemas)})"
        " and table_type = 'BASE TABLE' order by 1",
    )
    return {
        name: pg_rows(
            url,
            f"select md5(coalesce(string_agg(t::text, '|' order by t::text), '')) from {name} as t",
        )[0][0]
        for (name,) in tables
    }


@dataclass(frozen=True)
class Demo:
    """The landing folder and a config file for the command line."""

    landing: Path
    config: Path


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    root = tmp_path_factory.mktemp("pg_demo")
    export(demo_source(), FIRST, NEXT_DAY + timedelta(days=1), root / "landing", "csv")
    config = root / "tiering.yml"
    config.write_text(
        f"demo: {SCALE.model_dump()}\nsource: files\nquarantine: {root / 'quarantine'}\n",
        encoding="utf-8",
    )
    return Demo(root / "landing", config)


def tiering(demo: Demo, folder: Path, *args: str, landing: Path | None = None) -> int:
    """The command line, in this process: `run` with the demo's config and landing."""
    return cli.main(
        [
            "--config",
            str(demo.config),
            "run",
            *args,
            "--landing",
            str(landing or demo.landing),
            "--warehouse",
            str(folder / "tiers.duckdb"),
        ]
    )


@dataclass(frozen=True)
class Published:
    """The demo backfilled and one daily run, on both targets; wall seconds per run; per
    target the Parquet export as the backfill left it (a copy, mtimes kept) and its files'
    (inode, mtime) before the daily run."""

    pg_url: str
    duckdb_file: Path
    seconds: dict[str, float]
    backfill_exports: dict[str, Path]
    backfill_files: dict[str, dict[str, tuple[int, int]]]

    def folder(self, target: str) -> Path:
        """The `warehouse` setting's folder of a target's runs."""
        return self.duckdb_file.parent.parent / target

    def exports(self, target: str) -> Path:
        return self.folder(target) / "exports"


@pytest.fixture(scope="module")
def published(
    demo: Demo,
    postgres_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Published]:
    root = tmp_path_factory.mktemp("pg_published")
    pg_url = new_database(postgres_url, "published")
    seconds: dict[str, float] = {}
    backfill_exports: dict[str, Path] = {}
    backfill_files: dict[str, dict[str, tuple[int, int]]] = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(URL_ENV, psycopg_url(pg_url))
        for target in ("postgres", "duckdb"):
            folder = root / target
            for step, args in (
                ("backfill", ["--start", FIRST.isoformat(), "--end", BACKFILL_END.isoformat()]),
                ("daily", ["--date", NEXT_DAY.isoformat()]),
            ):
                began = time.perf_counter()
                code = tiering(demo, folder, *args, "--target", target)
                assert code == EXIT_OK, f"{target} {step}: exit {code} (its error is logged above)"
                seconds[f"{target} {step}"] = round(time.perf_counter() - began, 1)
                if step == "backfill":
                    backfill_files[target] = parquet_files(folder / "exports")
                    backfill_exports[target] = root / f"{target}_backfill_exports"
                    shutil.copytree(folder / "exports", backfill_exports[target])
    print(f"wall seconds per run: {seconds}")
    yield Published(
        pg_url, root / "duckdb" / "tiers.duckdb", seconds, backfill_exports, backfill_files
    )


# --- the published tables, compared -----------------------------------------------------


def normalised(value: Any) -> Any:
    """A value as both engines' Python drivers agree on it: decimals exact (trailing zeros
    aside), lists as lists, NaN as None."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, Decimal):
        return value.normalize()
    if isinstance(value, tuple | list):
        return [normalised(item) for item in value]
    return value


def sort_key(row: tuple[Any, ...], floats: set[int]) -> tuple[str, ...]:
    """Rows sorted on their exact columns (doubles may differ in the last bits)."""
    return tuple("" if v is None else str(v) for i, v in enumerate(row) if i not in floats)


def float_columns(*tables: list[tuple[Any, ...]]) -> set[int]:
    """Positions holding a double in any row of any of `tables`."""
    return {i for rows in tables for row in rows for i, v in enumerate(row) if isinstance(v, float)}


def same_value(left: Any, right: Any) -> bool:
    if isinstance(left, float) or isinstance(right, float):
        if left is None or right is None:
            return left is right
        return math.isclose(float(left), float(right), rel_tol=1e-9, abs_tol=1e-12)
    return left == right


def differences(duck: duckdb.DuckDBPyConnection, pg_url: str, table: str) -> list[str]:
    """How `marts.<table>` differs between the two warehouses (empty: equal)."""
    query = f"select * from marts.{table}"
    duck_columns = [row[0] for row in duck.execute(f"describe {query}").fetchall()]
    with psycopg.connect(psycopg_url(pg_url)) as pg:
        cursor = pg.execute(query)
        pg_columns = [column.name for column in cursor.description or []]
        pg_found = cursor.fetchall()
    if duck_columns != pg_columns:
        return [f"columns differ: duckdb {duck_columns}, postgres {pg_columns}"]
    return row_differences(duck_columns, duck.execute(query).fetchall(), pg_found)


def row_differences(
    columns: list[str], left_rows: list[tuple[Any, ...]], right_rows: list[tuple[Any, ...]]
) -> list[str]:
    """How two sets of rows of `columns` differ, in any order (empty: equal); doubles
    compared to 1e-9."""
    left_table, right_table = (
        [tuple(normalised(v) for v in row) for row in rows] for rows in (left_rows, right_rows)
    )
    if len(left_table) != len(right_table):
        return [f"{len(left_table)} rows against {len(right_table)}"]
    floats = float_columns(left_table, right_table)
    problems = []
    pairs = zip(
        sorted(left_table, key=lambda row: sort_key(row, floats)),
        sorted(right_table, key=lambda row: sort_key(row, floats)),
        strict=True,
    )
    for left, right in pairs:
        unequal = [
            f"{columns[i]}: {a!r} != {b!r}"
            for i, (a, b) in enumerate(zip(left, right, strict=True))
            if not same_value(a, b)
        ]
        if unequal:
            problems.append("; ".join(unequal))
    return problems[:3] + ([f"... {len(problems)} rows differ"] if len(problems) > 3 else [])


@pytest.mark.integration
def test_every_published_table_equals_duckdb_row_for_row(published: Published) -> None:
    duck_tables = DuckDBWarehouse(published.duckdb_file)
    with duck_tables.connect(read_only=True) as con:
        names = [
            row[0]
            for row in con.execute(
                "select table_name from information_schema.tables"
                " where table_schema = 'marts' order by 1"
            ).fetchall()
        ]
        pg_names = [
            row[0]
            for row in pg_rows(
                published.pg_url,
                "select table_name from information_schema.tables"
                " where table_schema = 'marts' order by 1",
            )
        ]
        assert pg_names == names
        found = {name: differences(con.duck, published.pg_url, name) for name in names}
    assert len(names) >= 8
    assert {name: problems for name, problems in found.items() if problems} == {}
    history = pg_rows(
        published.pg_url,
        "select min(as_of_date), max(as_of_date), count(distinct as_of_date)"
        " from marts.customer_tier_history",
    )
    assert history == [(FIRST, NEXT_DAY, (NEXT_DAY - FIRST).days + 1)]


@pytest.mark.integration
def test_postgres_run_writes_no_bi_snapshot(published: Published) -> None:
    folder = published.folder("postgres")
    assert not (folder / "bi").exists()
    assert not (folder / "tiers.duckdb").exists()  # the path names only the local folder
    assert (folder / ".tiers_dbt" / "target" / "manifest.json").exists()
    assert any((folder / "reports" / "validation").iterdir())
    # The tier report, read from schema marts, in the local folder as on DuckDB.
    assert (folder / "reports" / "tiers" / "latest.html").exists()
    # The Parquet export is in the same folder, and holds the daily run's publication.
    marker = json.loads((folder / "exports" / ".published.json").read_text(encoding="utf-8"))
    assert marker["published_at"] == pg_publication(published.pg_url)


# --- the Parquet export, on both targets ------------------------------------------------


def pg_publication(url: str) -> str:
    """The stamp of the last publish in a Postgres warehouse, as the pipeline reads it."""
    warehouse = PostgresWarehouse(PgParams.from_url(psycopg_url(url)), Path("unused.duckdb"))
    with warehouse.connect(read_only=True) as con:
        publication = publish.last_publication(con)
    assert publication is not None
    return publication.published_at


def export_rows(root: Path, table: str) -> tuple[list[tuple[str, str]], list[tuple[Any, ...]]]:
    """An exported table read back by DuckDB (hive partitions): (column, type) pairs, rows."""
    single = root / table / f"{table}.parquet"
    files = f"{single}" if single.exists() else f"{root / table}/**/*.parquet"
    relation = duckdb.sql(f"select * from read_parquet('{files}', hive_partitioning = true)")
    return list(zip(relation.columns, map(str, relation.types), strict=True)), relation.fetchall()


def exported_tables(root: Path) -> list[str]:
    return sorted(path.name for path in root.iterdir() if not path.name.startswith("."))


def export_differences(root: Path, other: Path) -> dict[str, list[str]]:
    """How two exports' tables differ, read back by DuckDB, rows in any order (empty:
    the same tables with the same columns, types and rows)."""
    names = exported_tables(root)
    assert names == exported_tables(other)
    found = {}
    for name in names:
        (columns, rows), (other_columns, other_rows) = (
            export_rows(folder, name) for folder in (root, other)
        )
        if columns != other_columns:
            found[name] = [f"columns differ: {columns} against {other_columns}"]
            continue
        found[name] = row_differences([column for column, _ in columns], rows, other_rows)
    return {name: problems for name, problems in found.items() if problems}


@pytest.mark.integration
def test_the_parquet_export_equals_duckdb_export(published: Published) -> None:
    """The daily run's export on each target: the same files, each file with the same
    Parquet schema (types and nullability), the same rows; and the Postgres export holds
    the Postgres marts row for row."""
    pg_root, duck_root = published.exports("postgres"), published.exports("duckdb")
    names = exported_tables(pg_root)
    assert names == exported_tables(duck_root) and len(names) == 9
    assert set(parquet_files(pg_root)) == set(parquet_files(duck_root))
    for path in parquet_files(pg_root):
        assert pq.read_schema(pg_root / path) == pq.read_schema(duck_root / path), path
    assert export_differences(pg_root, duck_root) == {}
    found = {}
    for name in names:
        columns, exported = export_rows(pg_root, name)
        listed = [column for column, _ in columns]
        in_marts = pg_rows(published.pg_url, f"select {', '.join(listed)} from marts.{name}")
        assert len(exported) > 0, name
        found[name] = row_differences(listed, exported, in_marts)
    assert {name: problems for name, problems in found.items() if problems} == {}
    # The contract's types, read back as a reader would.
    history = read_export(pg_root, "customer_tier_history")
    assert history.schema.field("contribution").type == pa.decimal128(18, 2)
    assert history.schema.field("as_of_date").type == pa.date32()
    assert (
        history.num_rows
        == pg_rows(published.pg_url, "select count(*) from marts.customer_tier_history")[0][0]
    )
    tiers = pd.read_parquet(pg_root / "customer_tiers" / "customer_tiers.parquet")
    assert {type(value) for value in tiers["contribution"]} == {Decimal}
    assert {type(value) for value in tiers["as_of_date"]} == {date}


@pytest.mark.integration
@pytest.mark.parametrize("target", ["postgres", "duckdb"])
def test_the_daily_run_rewrote_only_its_day(published: Published, target: str) -> None:
    """The daily run rewrote the latest-only files and its day's partitions, nothing else,
    on both targets alike."""
    before, root = published.backfill_files[target], published.exports(target)
    after = parquet_files(root)
    changed = {path for path, stat in after.items() if before.get(path) != stat}
    manifest = transform.manifest_path(published.folder(target) / "tiers.duckdb")
    models = publish.published_models(manifest)
    latest = {f"{m.name}/{m.name}.parquet" for m in models if m.mode != "as_of_partitions"}
    new_day = {path for path in after if f"/as_of_date={NEXT_DAY}/" in path and path not in before}
    assert "customer_tier_history/as_of_date=2024-01-11/data.parquet" in new_day
    assert changed == latest | new_day
    assert set(before) <= set(after)


@pytest.mark.integration
@pytest.mark.parametrize("target", ["postgres", "duckdb"])
def test_dbt_docs_describe_every_published_column_on_both_targets(
    published: Published, target: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`tiering docs --target T` after the runs: dbt's catalog, read off the database,
    holds every published mart with the columns its contract declares, each described."""
    monkeypatch.setenv(URL_ENV, psycopg_url(published.pg_url))
    folder = published.duckdb_file.parent.parent / target
    code = cli.main(["docs", "--target", target, "--warehouse", str(folder / "tiers.duckdb")])
    assert code == EXIT_OK
    assert_every_published_column_documented(folder / ".tiers_dbt" / "target")


def assert_every_published_column_documented(docs: Path) -> None:
    """dbt docs in `docs` (a target folder): the catalog, read off the database, holds
    every published mart with the columns its contract declares, each described."""
    assert (docs / "index.html").exists()
    manifest = json.loads((docs / "manifest.json").read_text(encoding="utf-8"))
    catalog = json.loads((docs / "catalog.json").read_text(encoding="utf-8"))["nodes"]
    marts = {
        unique_id: node
        for unique_id, node in manifest["nodes"].items()
        if node["resource_type"] == "model" and node["fqn"][1] == "marts"
    }
    assert len(marts) == 9
    for unique_id, node in marts.items():
        declared = {name: column["description"] for name, column in node["columns"].items()}
        assert all(declared.values()), f"{node['name']}: a column without a description"
        in_database = {name.lower() for name in catalog[unique_id]["columns"]}
        assert in_database == set(declared), node["name"]


@pytest.mark.integration
def test_a_failed_postgres_export_leaves_the_previous_one_and_the_next_repairs_it(
    published: Published, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The daily publication exported again over the backfill's export, from the Postgres
    warehouse, failing after its first table: the previous export stays byte for byte, no
    staging is left; the next export rewrites only the day and equals the daily run's."""
    monkeypatch.setenv(URL_ENV, psycopg_url(published.pg_url))
    folder = tmp_path / "local"
    shutil.copytree(published.folder("postgres"), folder)
    settings = Settings(target="postgres", warehouse=folder / "tiers.duckdb")
    root = exports.exports_dir(settings.warehouse)
    shutil.rmtree(root)
    shutil.copytree(published.backfill_exports["postgres"], root)
    previous_files, previous_marker = parquet_files(root), (root / exports.MARKER).read_text()
    models = publish.published_models(transform.manifest_path(settings.warehouse))
    previous = json.loads(previous_marker)["published_at"]
    delta = publish.SnapshotDelta(previous, models, NEXT_DAY, NEXT_DAY)

    real = exports.write_table
    calls: list[str] = []

    def fails_after_the_first_table(*args: Any, **kwargs: Any) -> exports.TableExport:
        if calls:
            raise OSError("disk full")
        calls.append("first")
        return real(*args, **kwargs)

    monkeypatch.setattr(exports, "write_table", fails_after_the_first_table)
    with pytest.raises(OSError, match="disk full"):
        exports.refresh(settings, delta)
    monkeypatch.setattr(exports, "write_table", real)
    assert parquet_files(root) == previous_files
    assert (root / exports.MARKER).read_text() == previous_marker
    assert not (root / exports.STAGING).exists()

    exported = exports.refresh(settings, delta)
    assert exported is not None and not exported.whole and exported.as_of == NEXT_DAY
    assert exported.published_at == pg_publication(published.pg_url)
    daily = parquet_files(published.exports("postgres"))
    assert set(parquet_files(root)) == set(daily)
    assert export_differences(root, published.exports("postgres")) == {}
    history = next(table for table in exported.tables if table.name == "customer_tier_history")
    assert history.files == 1  # the day, not the backfill's ten dates again
    assert exports.refresh(settings, delta) is None  # it holds that publication now


@pytest.mark.integration
def test_export_command_on_postgres(
    published: Published,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
) -> None:
    """`tiering export --target postgres` writes the run's layout into any folder (rows
    fetched 7 at a time here, so an as-of date's rows span batches and batches span
    dates, and still one file per date); it waits for a run holding the warehouse (from
    any host: the advisory lock), and a database with nothing published is a usage
    error."""
    monkeypatch.setenv(URL_ENV, psycopg_url(published.pg_url))
    monkeypatch.setattr(pg_arrow, "BATCH_ROWS", 7)
    warehouse = str(published.folder("postgres") / "tiers.duckdb")
    out = tmp_path / "out"
    args = ["export", "--target", "postgres", "--format", "parquet", "--out", str(out)]
    assert cli.main([*args, "--warehouse", warehouse]) == EXIT_OK
    lines = capsys.readouterr().out.splitlines()
    assert set(parquet_files(out)) == set(parquet_files(published.exports("postgres")))
    assert export_differences(out, published.exports("postgres")) == {}
    tiers = pg_rows(published.pg_url, "select count(*) from marts.customer_tiers")[0][0]
    assert f"customer_tiers\t1 file\t{tiers} rows" in lines
    assert f"customer_tier_history\t{(NEXT_DAY - FIRST).days + 1} partitions\t" in "\n".join(lines)
    assert lines[-1].startswith(f"Parquet export as of {NEXT_DAY} in {out}")
    assert lines[-1].endswith("(every table whole)")

    # A run on another host holds the warehouse: the export waits, here 0 s, then exit 1.
    config = tmp_path / "tiering.yml"
    config.write_text("lock_timeout_seconds: 0\n", encoding="utf-8")
    elsewhere = open_warehouse(Settings(target="postgres", warehouse=tmp_path / "b" / "t.duckdb"))
    busy = tmp_path / "busy"
    with elsewhere.lock(True, 0, "backfill elsewhere"):
        code = cli.main(["--config", str(config), *args[:-1], str(busy), "--warehouse", warehouse])
    assert code == EXIT_FAILURE
    assert "backfill elsewhere" in " ".join(capsys.readouterr().err.split())
    assert list(busy.rglob("*.parquet")) == []

    monkeypatch.setenv(URL_ENV, psycopg_url(new_database(published.pg_url, "nothing_yet")))
    empty = tmp_path / "empty"
    assert cli.main([*args[:-1], str(empty), "--warehouse", warehouse]) == EXIT_USAGE
    assert "no published tables" in capsys.readouterr().err
    assert not empty.exists()


@pytest.mark.integration
def test_reader_role_reads_marts_and_nothing_else(published: Published) -> None:
    url = published.pg_url
    with psycopg.connect(psycopg_url(url), autocommit=True) as pg:
        pg.execute("drop role if exists metabase")
        pg.execute("create role metabase login")
        pg.execute(f"grant {READER_ROLE} to metabase")
    assert pg_rows(url, f"select rolcanlogin from pg_roles where rolname = '{READER_ROLE}'") == [
        (False,)
    ]
    # customer_tiers is replaced at every publish: the daily run's table is readable too.
    tiers = pg_rows(url, "select count(*), max(as_of_date) from marts.customer_tiers", "metabase")
    assert tiers == pg_rows(url, "select count(*), max(as_of_date) from marts.customer_tiers")
    assert tiers[0][0] > 0 and tiers[0][1] == NEXT_DAY
    for refused in ("raw.sales_lines", "raw._batches", "marts_build.customer_tiers"):
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            pg_rows(url, f"select count(*) from {refused}", "metabase")
    staging = pg_rows(
        url,
        "select table_schema || '.' || table_name"
        " from information_schema.tables where table_schema = 'staging' limit 1",
    )
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        pg_rows(url, f"select count(*) from {staging[0][0]}", "metabase")
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        pg_rows(url, "create table marts.mine (x int)", "metabase")


@pytest.mark.integration
def test_refused_day_loads_and_publishes_nothing(
    published: Published, demo: Demo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = new_database(published.pg_url, "refused", template="published")
    landing = tmp_path / "landing"
    shutil.copytree(demo.landing, landing)
    day = NEXT_DAY + timedelta(days=1)
    lines = landing / "sales_lines" / f"{day.isoformat()}.csv"
    frame = pd.read_csv(lines, dtype=str)
    frame.loc[0, "net_amount"] = None
    frame.to_csv(lines, index=False)
    before = content_digest(url)
    monkeypatch.setenv(URL_ENV, psycopg_url(url))
    folder = tmp_path / "local"
    code = tiering(demo, folder, "--date", day.isoformat(), "--target", "postgres", landing=landing)
    assert code == EXIT_INPUT_REFUSED
    assert content_digest(url) == before
    assert (demo.config.parent / "quarantine" / "sales_lines" / day.isoformat()).is_dir()


# --- the raw load ---------------------------------------------------------------------------


@pytest.mark.integration
def test_copy_load_is_idempotent_and_replaces_a_changed_day(
    postgres_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = new_database(postgres_url, "raw_load")
    monkeypatch.setenv(URL_ENV, psycopg_url(url))
    settings = Settings(target="postgres", warehouse=tmp_path / "tiers.duckdb", demo=SCALE)
    duck_settings = settings.model_copy(update={"target": "duckdb"})
    last = FIRST + timedelta(days=2)
    batches = pull_batches(settings, demo_source(), FIRST, last)
    pg, duck = open_warehouse(settings), open_warehouse(duck_settings)
    for warehouse in (pg, duck):
        with warehouse.connect() as con:
            changed = load.load(con, batches)
        assert changed["sales_lines"] == [FIRST, FIRST + timedelta(days=1), last]
    # The contract's types, and the same values as the DuckDB load (money exact).
    types = dict(
        pg_rows(
            url,
            "select column_name, data_type || coalesce('(' || numeric_precision || ','"
            " || numeric_scale || ')', '') from information_schema.columns"
            " where table_schema = 'raw' and table_name = 'sales_lines'",
        )
    )
    assert types["line_id"] == "text" and types["order_date"] == "date"
    assert types["net_amount"] == "numeric(18,2)" and types["quantity"] == "numeric(18,3)"
    columns = ", ".join([*TABLES["sales_lines"].columns, "_business_date"])
    query = f"select {columns} from raw.sales_lines order by line_id"
    with duck.connect(read_only=True) as con:
        duck_lines = con.execute(query).fetchall()
    assert pg_rows(url, query) == duck_lines and len(duck_lines) > 100
    assert isinstance(duck_lines[0][-3], Decimal)

    # The same batches again: nothing changes, nothing is rewritten.
    before = content_digest(url, ("raw",))
    with pg.connect() as con:
        assert load.load(con, batches) == {table: [] for table in TABLES}
    assert content_digest(url, ("raw",)) == before

    # A corrected day replaces that day's partition alone.
    frame, days = batches["sales_lines"]
    corrected = frame.copy()
    second = pd.Timestamp(FIRST + timedelta(days=1))
    row = corrected.index[corrected["_business_date"] == second][0]
    corrected.loc[row, "net_amount"] = corrected.loc[row, "net_amount"] + 1.25
    with pg.connect() as con:
        con.execute("delete from raw._pending")
        changed = load.load(con, {**batches, "sales_lines": (corrected, days)})
        assert load.first_pending_day(con) == FIRST + timedelta(days=1)
    assert changed == {table: [] for table in TABLES} | {"sales_lines": [second.date()]}
    after = pg_rows(url, query)
    moved = [(old, new) for old, new in zip(duck_lines, after, strict=True) if old != new]
    assert len(moved) == 1 and len(after) == len(duck_lines)
    net_amount = list(TABLES["sales_lines"].columns).index("net_amount")
    assert moved[0][1][net_amount] - moved[0][0][net_amount] == Decimal("1.25")
    loaded = pg_rows(
        url,
        "select _business_date, count(distinct _loaded_at) from raw.sales_lines group by 1"
        " order by 1",
    )
    assert [count for _, count in loaded] == [1, 1, 1]
    stamps = pg_rows(
        url,
        "select business_date, loaded_at from raw._batches"
        " where table_name = 'sales_lines' order by 1",
    )
    assert stamps[1][1] > stamps[0][1] and stamps[1][1] > stamps[2][1]


@pytest.mark.integration
def test_a_failed_publish_leaves_marts_unchanged(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Built tables by hand (as dbt leaves them in marts_build), published twice: the second
    publish fails on its last model, after it dropped and refilled the others, and rolls
    back whole."""
    url = new_database(postgres_url, "publish_fails")
    monkeypatch.setenv(URL_ENV, psycopg_url(url))
    warehouse = open_warehouse(Settings(target="postgres", warehouse=tmp_path / "t.duckdb"))
    history = publish.PublishedModel("customer_tier_history", "as_of_partitions")
    tiers = publish.PublishedModel("customer_tiers", "replace")
    with warehouse.connect() as con:
        load.ensure_raw_schema(con)
        con.execute("create schema marts_build")
        con.execute(
            "create table marts_build.customer_tier_history (as_of_date date not null,"
            " customer_id text not null, tier text check (tier in ('A', 'B', 'C', 'D')),"
            " contribution numeric(18,2), primary key (as_of_date, customer_id))"
        )
        con.execute(
            "insert into marts_build.customer_tier_history values"
            " ('2024-01-01', 'C1', 'A', 10.50), ('2024-01-02', 'C1', 'B', 3)"
        )
        con.execute(
            "create table marts_build.customer_tiers as select * from"
            " marts_build.customer_tier_history where as_of_date = '2024-01-02'"
        )
    publish.promote(warehouse, [history, tiers], FIRST, FIRST + timedelta(days=1), "first")
    published = content_digest(url, ("raw", "marts"))
    assert pg_rows(url, "select tier, contribution from marts.customer_tiers") == [
        ("B", Decimal("3.00"))
    ]
    # The contract's constraints came along with the table.
    with pytest.raises(psycopg.errors.CheckViolation):
        pg_rows(url, "insert into marts.customer_tier_history values ('2024-01-03', 'C2', 'E', 1)")

    with warehouse.connect() as con:
        con.execute("update marts_build.customer_tier_history set tier = 'C'")
        con.execute("update marts_build.customer_tiers set tier = 'C'")
    missing = publish.PublishedModel("not_built", "replace")
    with pytest.raises(psycopg.errors.UndefinedTable):
        publish.promote(warehouse, [history, tiers, missing], FIRST, FIRST, "second")
    assert content_digest(url, ("raw", "marts")) == published
    with warehouse.connect() as con:
        assert publish.last_publication(con).fingerprint == "first"


@pytest.mark.integration
def test_runs_on_one_database_never_interleave(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Local folders (of two hosts, say) on one database: their file locks do not see each
    other, the advisory lock does."""
    url = new_database(postgres_url, "locked")
    monkeypatch.setenv(URL_ENV, psycopg_url(url))
    here, there, third = (
        open_warehouse(Settings(target="postgres", warehouse=tmp_path / name / "t.duckdb"))
        for name in ("here", "there", "third")
    )

    def hold(warehouse: Warehouse, exclusive: bool, purpose: str) -> AbstractContextManager[None]:
        return lock.warehouse_lock(
            warehouse.local,
            exclusive=exclusive,
            timeout=0,
            purpose=purpose,
            server=warehouse.lock(exclusive, 0, purpose),
        )

    with hold(here, True, "backfill 2024"):
        with (
            pytest.raises(WarehouseBusy, match="backfill 2024") as busy,
            hold(there, True, "daily run"),
        ):
            pass
        assert "daily run waited 0 s" in str(busy.value)
        with pytest.raises(WarehouseBusy), hold(there, False, "a reader"):
            pass
    with (
        hold(here, False, "a reader"),
        hold(there, False, "another reader"),
        pytest.raises(WarehouseBusy, match="a reader"),
        hold(third, True, "a writer"),
    ):
        pass
    with hold(there, True, "daily run"):  # every lock above was released
        pass


# --- configuration -------------------------------------------------------------------------


def test_postgres_without_its_url_is_a_usage_error(
    demo: Demo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.delenv(URL_ENV, raising=False)
    code = tiering(demo, tmp_path, "--date", FIRST.isoformat(), "--target", "postgres")
    assert code == EXIT_USAGE
    assert URL_ENV in capsys.readouterr().err
    assert not (tmp_path / "reports").exists()  # nothing pulled, nothing validated

    monkeypatch.setenv(URL_ENV, "mysql://tiering:s3cret@db/tiers")
    code = tiering(demo, tmp_path, "--date", FIRST.isoformat(), "--target", "postgres")
    assert code == EXIT_USAGE
    err = capsys.readouterr().err
    assert URL_ENV in err and "not postgresql" in err and "s3cret" not in err


@pytest.mark.parametrize(
    "url",
    ["postgresql://db/tiers", "postgresql://tiering@db", "not a url", "postgresql://u@h/d?x=1"],
)
def test_malformed_urls_are_refused(url: str) -> None:
    with pytest.raises(ConfigError, match=URL_ENV):
        PgParams.from_url(url)


def test_url_gives_dbt_its_connection(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(URL_ENV, "postgresql://tiering:p%40ss@db.internal:6543/tiers")
    warehouse = open_warehouse(Settings(target="postgres", warehouse=tmp_path / "t.duckdb"))
    assert warehouse.dbt_env() == {
        "TIERING_PG_HOST": "db.internal",
        "TIERING_PG_PORT": "6543",
        "TIERING_PG_USER": "tiering",
        "TIERING_PG_PASSWORD": "p@ss",
        "TIERING_PG_DATABASE": "tiers",
    }
    assert warehouse.dbt_target == "postgres" and "p@ss" not in warehouse.describe()


def test_target_in_the_file_and_on_the_command_line(tmp_path: Path) -> None:
    config = tmp_path / "tiering.yml"
    config.write_text("target: postgres\n", encoding="utf-8")
    assert load_settings(config).target == "postgres"
    assert load_settings(config, target="duckdb").target == "duckdb"  # the command line wins
    config.write_text("target: oracle\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="target: must be one of duckdb, postgres, spark"):
        load_settings(config)


# --- report, explain and whatif, on both targets --------------------------------------------
# Each target's figures come from its own published tables, read through the one read path
# (customer_tiering.published.reading): equal values, not a target compared with itself.

READERS = ("postgres", "duckdb")
# An as-of date of the backfill that no run wrote a report for, and the daily run's.
REPORT_DAYS = (BACKFILL_END - timedelta(days=4), NEXT_DAY)


def reader_settings(published: Published, target: str) -> Settings:
    """The settings of a target's runs, as the people's commands read them."""
    return Settings(target=target, warehouse=published.folder(target) / "tiers.duckdb")


def page_text(page: Path) -> str:
    """A tier report page without the moment it was generated."""
    return re.sub(r"generated [0-9T:+-]+\.", "generated .", page.read_text(encoding="utf-8"))


def said(err: str) -> str:
    """Console output as one line (rich wraps long lines)."""
    return " ".join(err.split())


@pytest.mark.integration
@pytest.mark.parametrize("day", REPORT_DAYS)
def test_the_report_figures_equal_duckdb(
    published: Published, monkeypatch: pytest.MonkeyPatch, day: date
) -> None:
    """Every figure of the page (each frame exactly, dtypes included), from each target."""
    monkeypatch.setenv(URL_ENV, psycopg_url(published.pg_url))
    figures = {}
    for target in READERS:
        with published_reading(reader_settings(published, target), "test") as con:
            figures[target] = report_data.load(con, day)
    pg, duck = figures["postgres"], figures["duckdb"]
    for field in dataclasses.fields(report_data.ReportData):
        left, right = getattr(pg, field.name), getattr(duck, field.name)
        if isinstance(left, pd.DataFrame):
            pd.testing.assert_frame_equal(left, right, check_exact=True, obj=field.name)
        else:
            assert left == right, field.name
    assert len(duck.pareto) > 10 and not duck.alerts.empty and not duck.ageing.empty


@pytest.mark.integration
def test_the_report_pages_equal_duckdb(
    published: Published, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """The pages each target's runs wrote (the backfill's last day, the daily run's and
    latest.html), and `tiering report --target T --date D` for a day no run wrote: the
    same HTML but for the moment it was generated."""
    monkeypatch.setenv(URL_ENV, psycopg_url(published.pg_url))
    folders = {target: report_dir(published.folder(target) / "tiers.duckdb") for target in READERS}
    day = REPORT_DAYS[0]
    for target in READERS:
        assert not (folders[target] / f"{day}.html").exists()
        warehouse = str(published.folder(target) / "tiers.duckdb")
        code = cli.main(
            ["report", "--date", str(day), "--target", target, "--warehouse", warehouse]
        )
        assert code == EXIT_OK
        assert (
            capsys.readouterr().out
            == f"tier report as of {day}: {folders[target] / f'{day}.html'}\n"
        )
    for name in (f"{day}.html", f"{BACKFILL_END}.html", f"{NEXT_DAY}.html", "latest.html"):
        assert page_text(folders["postgres"] / name) == page_text(folders["duckdb"] / name), name
    assert page_text(folders["postgres"] / "latest.html") == page_text(
        folders["postgres"] / f"{NEXT_DAY}.html"
    )


@pytest.mark.integration
def test_explain_equals_duckdb_for_every_customer(
    published: Published, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.setenv(URL_ENV, psycopg_url(published.pg_url))
    settings = {target: reader_settings(published, target) for target in READERS}
    ruled = 0
    for day in REPORT_DAYS:
        customers = pg_rows(
            published.pg_url,
            "select customer_id from marts.customer_tier_history"
            f" where as_of_date = '{day}' order by 1",
        )
        assert len(customers) > 10
        for (customer_id,) in customers:
            lines = {target: explain(settings[target], customer_id, day) for target in READERS}
            assert lines["postgres"] == lines["duckdb"], customer_id
            ruled += "Rules that moved or flagged it:" in lines["duckdb"]
    assert ruled, "no explained customer was moved or flagged by a rule"
    # The command line, the target from --target; the latest day by default.
    printed = {}
    for target in READERS:
        warehouse = str(settings[target].warehouse)
        assert cli.main(["explain", customer_id, "--target", target, "--warehouse", warehouse]) == 0
        printed[target] = capsys.readouterr().out
    assert printed["postgres"] == printed["duckdb"]
    assert (
        printed["postgres"].startswith(customer_id) and f"as of {NEXT_DAY}" in printed["postgres"]
    )


@pytest.mark.integration
def test_whatif_equals_duckdb_and_changes_nothing(
    published: Published, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """`tiering whatif` on each target: the same published and recomputed rows (exactly),
    the same printed figures; on Postgres raw and marts stay as they were (the day layers'
    fingerprint in raw._built too) and no scratch schema is left."""
    monkeypatch.setenv(URL_ENV, psycopg_url(published.pg_url))
    before = content_digest(published.pg_url)
    schemas = pg_rows(published.pg_url, "select nspname from pg_namespace order by 1")
    results: dict[str, whatif.WhatIf] = {}
    real = whatif.recompute

    def recorded(settings: Settings, *args: Any, **kwargs: Any) -> whatif.WhatIf:
        results[settings.target] = real(settings, *args, **kwargs)
        return results[settings.target]

    monkeypatch.setattr(whatif, "recompute", recorded)
    printed = {}
    for target in READERS:
        warehouse = str(published.folder(target) / "tiers.duckdb")
        sets = ["--set", "abc_cut_method=customer_count", "--set", "tier_basis=revenue"]
        code = cli.main(["whatif", *sets, "--target", target, "--warehouse", warehouse])
        assert code == EXIT_OK
        printed[target] = capsys.readouterr().out
    assert printed["postgres"] == printed["duckdb"]
    assert "What if abc_cut_method=customer_count, tier_basis=revenue" in printed["postgres"]
    pg, duck = results["postgres"], results["duckdb"]
    assert pg.as_of == duck.as_of == NEXT_DAY
    for side in ("before", "after"):
        left, right = (
            getattr(result, side).sort_values("customer_id", ignore_index=True)
            for result in (pg, duck)
        )
        pd.testing.assert_frame_equal(left, right, check_exact=True, obj=side)
    assert len(duck.before) > 10
    assert (whatif.matrix(duck).to_numpy().diagonal().sum()) < len(duck.joined())  # some move
    assert content_digest(published.pg_url) == before
    assert pg_rows(published.pg_url, "select nspname from pg_namespace order by 1") == schemas


@pytest.mark.integration
def test_readers_exit_codes_on_postgres_are_duckdb_s(
    published: Published,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
) -> None:
    """Nothing published: exit 2, "no published tables", on both targets. A run holding
    the Postgres warehouse (from any host): each reader waits (0 s here), then exit 1,
    naming the run; the target from tiering.yml."""
    commands = (["report"], ["explain", "C00001"], ["whatif", "--set", "window_days=180"])
    monkeypatch.setenv(URL_ENV, psycopg_url(new_database(published.pg_url, "nothing_published")))
    for command in commands:
        for target in READERS:
            warehouse = str(tmp_path / target / "tiers.duckdb")
            code = cli.main([*command, "--target", target, "--warehouse", warehouse])
            assert code == EXIT_USAGE, (command, target)
            err = said(capsys.readouterr().err)
            assert "no published tables" in err and "(run `tiering run" in err, err
    monkeypatch.setenv(URL_ENV, psycopg_url(published.pg_url))
    config = tmp_path / "tiering.yml"
    config.write_text("target: postgres\nlock_timeout_seconds: 0\n", encoding="utf-8")
    elsewhere = open_warehouse(Settings(target="postgres", warehouse=tmp_path / "b" / "t.duckdb"))
    warehouse = str(published.folder("postgres") / "tiers.duckdb")
    with elsewhere.lock(True, 0, "backfill elsewhere"):
        for command in commands:
            code = cli.main(["--config", str(config), *command, "--warehouse", warehouse])
            assert code == EXIT_FAILURE, command
            assert "backfill elsewhere" in said(capsys.readouterr().err)
