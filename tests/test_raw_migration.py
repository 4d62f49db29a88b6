"""A warehouse loaded under the previous contract (document ids BIGINT) keeps working: the
raw set-up turns those columns into VARCHAR, an unchanged re-pulled day still counts as
unchanged, and validation can read such a warehouse before it is migrated."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb
import pytest

from customer_tiering import load, pipeline, validate
from customer_tiering.config import Settings
from customer_tiering.contract import FACT_TABLES, TABLES
from customer_tiering.sources.files import FilesSource
from customer_tiering.warehouses.duckdb_file import DuckDBWarehouse
from tests.conftest import load_batches, pull_batches
from tests.good_warehouse import NEXT_DAY, copy_state, demo_source, good_root

# What the previous contract typed BIGINT.
BIGINT_IDS = {
    "sales_lines": ("line_id", "order_id"),
    "cost_to_serve": ("entry_id",),
    "ar_invoices": ("invoice_id",),
    "ar_payments": ("payment_id", "invoice_id"),
}
STALE = sorted(f"{table}.{column}" for table, columns in BIGINT_IDS.items() for column in columns)


def as_previous_contract(warehouse: Path) -> None:
    """Turn a warehouse into what the previous version left: id columns BIGINT and the
    ledger's checksums hashed over those BIGINT values (as its load computed them)."""
    with duckdb.connect(str(warehouse)) as con:
        for table, columns in BIGINT_IDS.items():
            for column in columns:
                con.execute(f"alter table raw.{table} alter column {column} type bigint")
            con.execute(
                f"""
                update {load.LEDGER} as ledger set checksum = stored.checksum
                from (
                    select _business_date as business_date,
                           cast(sum(hash({", ".join(TABLES[table].columns)})) as varchar)
                               as checksum
                    from raw.{table} group by 1
                ) as stored
                where ledger.table_name = ? and ledger.business_date = stored.business_date
                """,
                [table],
            )


def column_types(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    rows = con.execute(
        "select table_name || '.' || column_name, data_type from information_schema.columns"
        " where table_schema = 'raw'"
    ).fetchall()
    return dict(rows)


def ledger(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute(f"select * from {load.LEDGER} order by 1, 2").fetchall()


def test_bigint_ids_are_migrated_to_text_and_unchanged_days_stay_unchanged(
    tmp_path: Path,
) -> None:
    settings = Settings(warehouse=tmp_path / "tiers.duckdb", quarantine=tmp_path / "q")
    start, end = date(2024, 1, 1), date(2024, 1, 20)
    batches = pull_batches(settings, demo_source(), start, end)
    load_batches(settings, batches)
    with duckdb.connect(str(settings.warehouse)) as con:
        current = ledger(con)
        line_ids = con.execute("select line_id from raw.sales_lines order by 1").fetchall()
    as_previous_contract(settings.warehouse)

    with duckdb.connect(str(settings.warehouse)) as con:
        assert {column_types(con)[c] for c in STALE} == {"BIGINT"}
        assert ledger(con) != current  # the old checksums hashed integers
    # Validation reads the warehouse before any load migrates it (the Airflow validate
    # task): payments are matched to stored invoices across the type difference.
    assert not [r for r in validate.check_batches(settings, batches) if r.refuses]

    with DuckDBWarehouse(settings.warehouse).connect() as wrapped:
        con = wrapped.duck
        assert sorted(load.migrate_text_columns(wrapped)) == STALE
        types = column_types(con)
        assert {types[f"{t}.{c}"] for t, spec in TABLES.items() for c in spec.id_columns} == {
            "VARCHAR"
        }
        assert con.execute("select line_id from raw.sales_lines order by 1").fetchall() == (
            line_ids
        )
        assert ledger(con) == current
        assert load.migrate_text_columns(wrapped) == []  # idempotent
        assert load.load(wrapped, batches) == {table: [] for table in TABLES}


def test_a_daily_run_on_a_bigint_warehouse_works(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    """The next day's run (files source, a week re-pulled, dbt included) on the known-good
    warehouse set back to BIGINT ids: it migrates, loads only the new day and publishes."""
    settings = copy_state(good_root(tmp_path_factory), tmp_path)
    assert settings.lookback_days == 7
    as_previous_contract(settings.warehouse)

    result = pipeline.run(settings, NEXT_DAY, NEXT_DAY, source=FilesSource(settings.landing))

    assert result.changed_days == {
        table: [NEXT_DAY] if table in FACT_TABLES else [] for table in TABLES
    }
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        assert {column_types(con)[c] for c in STALE} == {"VARCHAR"}
        assert con.execute("select max(as_of_date) from marts.customer_tiers").fetchone() == (
            NEXT_DAY,
        )
