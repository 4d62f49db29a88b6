"""The Parquet export (customer_tiering.exports), read back with pyarrow and pandas.

The session's demo warehouses were built with the export on (the default): the backfill
wrote `exports/` whole, the daily run of the next day only its changes. Their exports are
compared with the published tables, row for row and type for type; a failure injected
mid-export must leave the previous export readable and the next run repair it. Small
hand-made publications check what the demo has not: lists, a date that leaves the
history, a table or column that changes.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import pytest

from customer_tiering import exports, pipeline, publish, transform
from customer_tiering.config import Settings, load_settings
from customer_tiering.errors import EXIT_FAILURE, EXIT_OK, EXIT_USAGE, ConfigError
from tests.conftest import DEMO_NEXT_DAY, copy_demo_folder

HIVE_DATES = ds.partitioning(pa.schema([("as_of_date", pa.date32())]), flavor="hive")


def read_export(root: Path, table: str) -> pa.Table:
    """One exported table read with pyarrow, as_of_date typed from the folder names."""
    single = root / table / f"{table}.parquet"
    if single.exists():
        return pq.read_table(single)
    return pq.read_table(root / table, partitioning=HIVE_DATES)


def published(warehouse: Path) -> dict[str, pa.Table]:
    """Every table of schema marts, read by DuckDB from the warehouse itself."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        names = [
            row[0]
            for row in con.execute(
                "select table_name from information_schema.tables where table_schema = 'marts'"
            ).fetchall()
        ]
        return {name: con.sql(f"select * from marts.{name}").to_arrow_table() for name in names}


def assert_same_rows(exported: pa.Table, expected: pa.Table, name: str) -> None:
    """Same columns with the same Arrow types, and the same rows (in any order)."""
    assert sorted(exported.column_names) == sorted(expected.column_names), name
    exported = exported.select(expected.column_names)  # the hive column comes last
    assert exported.num_rows == expected.num_rows, name
    keys = [
        (column, "ascending")
        for column, kind in zip(expected.column_names, expected.schema.types, strict=True)
        if not pa.types.is_nested(kind)
    ]
    exported, expected = exported.sort_by(keys), expected.sort_by(keys)
    for column in expected.column_names:
        assert exported.schema.field(column).type == expected.schema.field(column).type, column
        assert exported.column(column).equals(expected.column(column)), f"{name}.{column}"


def assert_export_equals_warehouse(root: Path, warehouse: Path) -> None:
    tables = published(warehouse)
    assert sorted(path.name for path in root.iterdir() if not path.name.startswith(".")) == sorted(
        tables
    )
    for name, table in tables.items():
        assert_same_rows(read_export(root, name), table, name)


def history_tables(warehouse: Path) -> list[str]:
    models = publish.published_models(transform.manifest_path(warehouse))
    return [model.name for model in models if model.mode == "as_of_partitions"]


def parquet_files(root: Path) -> dict[str, tuple[int, int]]:
    """Every Parquet file under root: relative path -> (inode, mtime in ns)."""
    return {
        str(path.relative_to(root)): (path.stat().st_ino, path.stat().st_mtime_ns)
        for path in root.rglob("*.parquet")
    }


def publication_stamp(warehouse: Path) -> str:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute("select loaded_at from raw._published").fetchone()[0].isoformat()


# --- the demo's backfill and daily run --------------------------------------------------


def test_the_backfill_export_equals_the_published_tables(demo_warehouse: Path) -> None:
    root = demo_warehouse.parent / "exports"
    assert_export_equals_warehouse(root, demo_warehouse)
    history = read_export(root, "customer_tier_history")
    assert history.schema.field("contribution").type == pa.decimal128(18, 2)
    assert history.schema.field("as_of_date").type == pa.date32()
    assert history.schema.field("first_order_date").type == pa.date32()
    # pandas, with no help: money as Decimal, dates as dates.
    tiers = pd.read_parquet(root / "customer_tiers" / "customer_tiers.parquet")
    assert {type(value) for value in tiers["contribution"]} == {Decimal}
    assert {type(value) for value in tiers["as_of_date"]} == {date}


def test_the_layout_is_hive_partitioned_by_as_of_date(demo_warehouse: Path) -> None:
    root = demo_warehouse.parent / "exports"
    history = history_tables(demo_warehouse)
    names = list(published(demo_warehouse))
    assert set(history) == {
        "customer_tier_history",
        "tier_transitions",
        "customer_alerts",
        "price_exceptions",
        "receivables_aging",
    }
    with duckdb.connect(str(demo_warehouse), read_only=True) as con:
        for name in names:
            folder = root / name
            if name not in history:
                assert [path.name for path in folder.iterdir()] == [f"{name}.parquet"]
                continue
            counts = dict(
                con.execute(
                    f"select strftime(as_of_date, '%Y-%m-%d'), count(*)"
                    f" from marts.{name} group by 1"
                ).fetchall()
            )
            found = {}
            for partition in folder.iterdir():
                assert [path.name for path in partition.iterdir()] == ["data.parquet"]
                key, day = partition.name.split("=")
                assert key == "as_of_date"
                found[day] = pq.read_metadata(partition / "data.parquet").num_rows
            assert found == counts, name
    # Nothing staged is left; the marker names the publication the export holds.
    assert sorted(path.name for path in root.iterdir() if path.name.startswith(".")) == [
        ".export.lock",
        ".published.json",
    ]
    marker = json.loads((root / ".published.json").read_text())
    assert marker["published_at"] == publication_stamp(demo_warehouse)


def test_the_readme_example_reads_dates_as_dates(demo_warehouse: Path) -> None:
    folder = demo_warehouse.parent / "exports" / "customer_tier_history"
    rows = duckdb.sql(
        f"select typeof(as_of_date), count(*), max(as_of_date) from read_parquet("
        f"'{folder}/**/*.parquet', hive_partitioning = true) group by 1"
    ).fetchall()
    with duckdb.connect(str(demo_warehouse), read_only=True) as con:
        expected = con.execute(
            "select count(*), max(as_of_date) from marts.customer_tier_history"
        ).fetchone()
    assert rows == [("DATE", *expected)]


def test_a_daily_run_rewrites_only_its_partitions(
    demo_warehouse: Path, demo_next_day: Path
) -> None:
    """demo_next_day's folder is a copy of demo_warehouse's (mtimes kept): the daily run
    rewrote the latest-only tables and its day's partitions, nothing else."""
    before = parquet_files(demo_warehouse.parent / "exports")
    root = demo_next_day.parent / "exports"
    after = parquet_files(root)
    changed = {path for path, stat in after.items() if before.get(path, (0, 0))[1] != stat[1]}
    history = history_tables(demo_next_day)
    latest = {f"{name}/{name}.parquet" for name in published(demo_next_day) if name not in history}
    with duckdb.connect(str(demo_next_day), read_only=True) as con:
        new_days = {
            f"{name}/as_of_date={DEMO_NEXT_DAY}/data.parquet"
            for name in history
            if con.execute(
                f"select count(*) from marts.{name} where as_of_date = ?", [DEMO_NEXT_DAY]
            ).fetchone()[0]
        }
    assert "customer_tier_history/as_of_date=2026-01-01/data.parquet" in new_days
    assert changed == latest | new_days
    assert set(before) <= set(after)
    assert_export_equals_warehouse(root, demo_next_day)
    marker = json.loads((root / ".published.json").read_text())
    assert marker["published_at"] == publication_stamp(demo_next_day)


@pytest.mark.parametrize("step", ["write_table", "swap_in"])
def test_a_failed_export_leaves_the_previous_one_and_the_next_run_repairs_it(
    demo_warehouse: Path,
    demo_next_day: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    step: str,
) -> None:
    """The daily run's export fails after its first table, while writing (the previous
    export stays byte for byte) or while swapping files in (every file stays whole and
    readable); the next run, which has nothing to build, makes the export whole again."""
    settings = copy_demo_folder(demo_next_day, tmp_path / "wh")
    root = exports.exports_dir(settings.warehouse)
    shutil.rmtree(root)
    shutil.copytree(demo_warehouse.parent / "exports", root)  # the previous publication's
    previous_files = parquet_files(root)
    previous_marker = (root / ".published.json").read_text()

    real = getattr(exports, step)
    calls: list[str] = []

    def fails_after_the_first_table(*args: object, **kwargs: object) -> object:
        if calls:
            raise OSError("disk full")
        calls.append("first")
        return real(*args, **kwargs)

    monkeypatch.setattr(exports, step, fails_after_the_first_table)
    models = publish.published_models(transform.manifest_path(settings.warehouse))
    previous = json.loads(previous_marker)["published_at"]
    delta = publish.SnapshotDelta(previous, models, DEMO_NEXT_DAY, DEMO_NEXT_DAY)
    with pytest.raises(OSError, match="disk full"):
        exports.refresh(settings, delta)
    monkeypatch.setattr(exports, step, real)

    assert (root / ".published.json").read_text() == previous_marker
    assert not (root / exports.STAGING).exists()
    now = parquet_files(root)
    if step == "write_table":
        assert now == previous_files
        assert_export_equals_warehouse(root, demo_warehouse)
    else:  # the first table's files were swapped in, every file is whole
        changed = {path.split("/")[0] for path in now if now[path] != previous_files.get(path)}
        assert changed == {"customer_activity_monthly"}
        for name in published(settings.warehouse):
            assert read_export(root, name).num_rows > 0

    def no_dbt(*args: object, **kwargs: object) -> None:
        raise AssertionError("nothing changed: the next run must not build")

    monkeypatch.setattr(transform, "build", no_dbt)
    result = pipeline.run(settings, DEMO_NEXT_DAY, DEMO_NEXT_DAY)
    assert result.tables == []
    assert_export_equals_warehouse(root, settings.warehouse)
    marker = json.loads((root / ".published.json").read_text())
    assert marker["published_at"] == publication_stamp(settings.warehouse)


def test_the_setting_turns_the_export_off(tmp_path: Path) -> None:
    elsewhere = tmp_path / "wh" / "tiers.duckdb"
    assert exports.refresh(Settings(warehouse=elsewhere, parquet_export=False)) is None
    assert not tmp_path.joinpath("wh").exists()
    config = tmp_path / "tiering.yml"
    config.write_text("parquet_export: 'no'\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="parquet_export: must be true or false, got 'no'"):
        load_settings(config)
    config.write_text("parquet_export: false\n", encoding="utf-8")
    assert load_settings(config).parquet_export is False


# --- `tiering export` --------------------------------------------------------------------

TIERING = [sys.executable, "-m", "customer_tiering.cli"]


def tiering(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*TIERING, *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )


def test_export_command_writes_the_same_layout(demo_warehouse: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = ["--format", "parquet", "--out", str(out), "--warehouse", str(demo_warehouse)]
    result = tiering("export", *args, cwd=tmp_path)
    assert result.returncode == EXIT_OK, result.stderr[-3000:]
    assert set(parquet_files(out)) == set(parquet_files(demo_warehouse.parent / "exports"))
    assert_export_equals_warehouse(out, demo_warehouse)
    tables = published(demo_warehouse)
    with duckdb.connect(str(demo_warehouse), read_only=True) as con:
        dates = con.execute(
            "select count(distinct as_of_date) from marts.customer_tier_history"
        ).fetchone()[0]
    lines = result.stdout.splitlines()
    assert f"customer_tier_history\t{dates} partitions\t" in result.stdout
    assert f"customer_tiers\t1 file\t{tables['customer_tiers'].num_rows} rows" in lines
    assert lines[-1].startswith(f"Parquet export as of 2025-12-31 in {out}")
    total = sum(table.num_rows for table in tables.values())
    assert f"{total:,} rows written (every table whole)" in lines[-1]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "csv", "--out", "out"], "invalid choice: 'csv'"),
        ([], "the following arguments are required: --out"),
        (["--out", "out", "--warehouse", "nowhere/tiers.duckdb"], "run `tiering run` first"),
        (["--out", "tiering.yml"], "is not a folder"),
    ],
)
def test_export_usage_errors_exit_2(
    demo_warehouse: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    (tmp_path / "tiering.yml").write_text(f"warehouse: {demo_warehouse}\n", encoding="utf-8")
    result = tiering("export", *args, cwd=tmp_path)
    assert result.returncode == EXIT_USAGE, result.stderr[-3000:]
    assert message in " ".join(result.stderr.split())
    assert not (tmp_path / "out").exists()


def test_export_of_a_broken_snapshot_exits_1(demo_warehouse: Path, tmp_path: Path) -> None:
    warehouse = tmp_path / "wh" / "tiers.duckdb"
    snapshot = publish.bi_snapshot_path(warehouse)
    snapshot.parent.mkdir(parents=True)
    snapshot.write_bytes(b"not a DuckDB file" * 100)
    publish.snapshot_marker(snapshot).write_text("2026-01-01T00:00:00+00:00")
    manifest = transform.manifest_path(warehouse)
    manifest.parent.mkdir(parents=True)
    shutil.copy(transform.manifest_path(demo_warehouse), manifest)
    out = tmp_path / "out"
    result = tiering("export", "--out", str(out), "--warehouse", str(warehouse), cwd=tmp_path)
    assert result.returncode == EXIT_FAILURE
    assert "failed:" in result.stderr
    assert list(out.rglob("*.parquet")) == []


# --- hand-made publications: lists, dates leaving the history, changed tables ----------


def publish_by_hand(warehouse: Path, stamp: str, history: str, latest: str) -> None:
    """A BI snapshot with tables `history` (publish: as_of_partitions) and `latest`
    (replace) made by the given SELECTs, its marker, and the manifest naming both."""
    snapshot = publish.bi_snapshot_path(warehouse)
    snapshot.parent.mkdir(parents=True, exist_ok=True)
    snapshot.unlink(missing_ok=True)
    with duckdb.connect(str(snapshot)) as con:
        con.execute("create schema marts")
        con.execute(f"create table marts.history as {history}")
        con.execute(f"create table marts.latest as {latest}")
    publish.snapshot_marker(snapshot).write_text(stamp)
    manifest = transform.manifest_path(warehouse)
    manifest.parent.mkdir(parents=True, exist_ok=True)
    nodes = {
        f"model.customer_tiering.{name}": {
            "resource_type": "model",
            "schema": publish.BUILD_SCHEMA,
            "name": name,
            "config": {"meta": {"publish": mode}},
        }
        for name, mode in (("history", "as_of_partitions"), ("latest", "replace"))
    }
    manifest.write_text(json.dumps({"nodes": nodes}), encoding="utf-8")


def history_rows(*rows: tuple[str, str, str, list[str]]) -> str:
    """SELECT of (as_of_date, customer_id, amount DECIMAL(18,2), codes VARCHAR[]) rows."""
    values = ", ".join(
        f"(date '{day}', '{customer}', {amount}::decimal(18, 2), {codes!r}::varchar[])"
        for day, customer, amount, codes in rows
    )
    return f"select * from (values {values}) as t(as_of_date, customer_id, amount, codes)"


LATEST = "select date '2024-01-03' as as_of_date, 'C1' as customer_id, 'A' as tier"


def test_lists_decimals_and_dates_keep_their_types(tmp_path: Path) -> None:
    settings = Settings(warehouse=tmp_path / "wh" / "tiers.duckdb")
    rows = history_rows(("2024-01-01", "C1", "1234567.89", ["LATE", "DROP"]))
    publish_by_hand(settings.warehouse, "p1", rows, LATEST)
    exported = exports.export(settings, tmp_path / "out")
    table = read_export(tmp_path / "out", "history")
    assert table.schema.field("codes").type == pa.list_(pa.string())
    assert table.schema.field("amount").type == pa.decimal128(18, 2)
    assert table.to_pylist() == [
        {
            "customer_id": "C1",
            "amount": Decimal("1234567.89"),
            "codes": ["LATE", "DROP"],
            "as_of_date": date(2024, 1, 1),
        }
    ]
    assert (exported.whole, [(t.name, t.files, t.rows) for t in exported.tables]) == (
        True,
        [("history", 1, 1), ("latest", 1, 1)],
    )


def test_a_delta_removes_dates_no_longer_published(tmp_path: Path) -> None:
    """A publish that replaced 2024-01-02..2024-01-03 (the 2nd now without rows) rewrites
    only those dates; a new column then makes the next export whole."""
    settings = Settings(warehouse=tmp_path / "wh" / "tiers.duckdb")
    root = exports.exports_dir(settings.warehouse)
    old = [("2024-01-01", "C1", "1.00", ["A"]), ("2024-01-02", "C1", "2.00", ["B"])]
    publish_by_hand(settings.warehouse, "p1", history_rows(*old), LATEST)
    exports.refresh(settings)
    first = parquet_files(root)
    assert exports.refresh(settings) is None  # already holds p1

    new = [old[0], ("2024-01-03", "C2", "3.00", [])]
    publish_by_hand(settings.warehouse, "p2", history_rows(*new), LATEST)
    models = publish.published_models(transform.manifest_path(settings.warehouse))
    delta = publish.SnapshotDelta("p1", models, date(2024, 1, 2), date(2024, 1, 3))
    exported = exports.refresh(settings, delta)
    assert exported is not None and not exported.whole
    files = parquet_files(root)
    assert sorted(files) == [
        "history/as_of_date=2024-01-01/data.parquet",
        "history/as_of_date=2024-01-03/data.parquet",
        "latest/latest.parquet",
    ]
    assert (
        files["history/as_of_date=2024-01-01/data.parquet"]
        == (first["history/as_of_date=2024-01-01/data.parquet"])
    )
    assert read_export(root, "history").sort_by("as_of_date").to_pylist() == [
        {"customer_id": c, "amount": Decimal(a), "codes": k, "as_of_date": date.fromisoformat(d)}
        for d, c, a, k in new
    ]

    widened = f"select *, 'x' as note from ({history_rows(*new)})"
    publish_by_hand(settings.warehouse, "p3", widened, LATEST)
    delta = publish.SnapshotDelta("p2", models, date(2024, 1, 3), date(2024, 1, 3))
    exported = exports.refresh(settings, delta)
    assert exported is not None and exported.whole
    assert (
        parquet_files(root)["history/as_of_date=2024-01-01/data.parquet"]
        != (files["history/as_of_date=2024-01-01/data.parquet"])
    )
    assert read_export(root, "history").column("note").to_pylist() == ["x", "x"]
