"""The sql source against a real PostgreSQL server holding the demo ERP's data.

The server is the `postgres_url` fixture of tests/postgres.py (installed with apt-get if
missing, started on loopback, removed afterwards); the tests load demo frames into it.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import sqlalchemy

from customer_tiering import cli, load, validate
from customer_tiering.contract import TABLES
from customer_tiering.errors import EXIT_INPUT_REFUSED, EXIT_USAGE
from customer_tiering.sources.sql import SqlSource
from customer_tiering.warehouses.duckdb_file import DuckDBWarehouse
from tests.conftest import pull_batches
from tests.good_warehouse import FIRST, NEXT_DAY, copy_state, demo_source, good_root

pytestmark = pytest.mark.integration
URL_ENV = "TIERING_TEST_SQL_URL"


@pytest.fixture(scope="module")
def erp_url(postgres_url: str) -> str:
    """The server loaded with the demo ERP's data up to NEXT_DAY, typed as an ERP would
    (NUMERIC money, DATE dates), in tables named as in the contract."""
    engine = sqlalchemy.create_engine(postgres_url)
    source = demo_source()
    with engine.begin() as connection:
        for table, spec in TABLES.items():
            columns = ", ".join(f"{name} {sql_type}" for name, sql_type in spec.columns.items())
            connection.exec_driver_sql(f"create table {table} ({columns})")
            frame = source.pull_range(table, FIRST, NEXT_DAY, known_at=NEXT_DAY)
            if spec.is_master:  # the ERP holds the current master only
                frame = frame[frame["_business_date"] == frame["_business_date"].max()]
            frame[list(spec.columns)].to_sql(table, connection, if_exists="append", index=False)
    engine.dispose()
    return postgres_url


@pytest.mark.parametrize("table", list(TABLES))
def test_sql_pull_equals_the_demo_erp(erp_url: str, table: str) -> None:
    spec = TABLES[table]
    start, end = date(2024, 1, 8), NEXT_DAY
    pulled = SqlSource(erp_url).pull_range(table, start, end)
    expected = demo_source().pull_range(table, start, end, known_at=end)
    if spec.is_master:
        expected = expected[expected["_business_date"] == expected["_business_date"].max()]
        assert (pulled["_business_date"] == pd.Timestamp(start)).all()
    key = spec.key
    columns = list(spec.columns)
    pd.testing.assert_frame_equal(
        pulled[columns].sort_values(key).reset_index(drop=True),
        expected[columns].sort_values(key).reset_index(drop=True),
        check_dtype=False,
    )


def test_query_templates_are_overridable(erp_url: str) -> None:
    engine = sqlalchemy.create_engine(erp_url)
    with engine.begin() as connection:
        connection.exec_driver_sql(
            "create view erp_orders as select line_id as no, * from sales_lines"
        )
    engine.dispose()
    query = (
        "select no as line_id, order_id, order_date, customer_id, product_id, quantity,"
        " unit_price, discount_amount, net_amount, cost_amount from erp_orders"
        " where order_date >= :start and order_date <= :end and customer_id = 'C00001'"
    )
    pulled = SqlSource(erp_url, {"sales_lines": query}).pull_range(
        "sales_lines", NEXT_DAY, NEXT_DAY
    )
    assert len(pulled) and set(pulled["customer_id"]) == {"C00001"}
    assert set(pulled["order_date"].dt.date) == {NEXT_DAY}


def test_a_day_from_the_database_validates_and_loads(
    erp_url: str, tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    """Pull, validate and load the next day from the ERP (the dbt step is covered by the
    files source's end-to-end test)."""
    settings = copy_state(good_root(tmp_path_factory), tmp_path)
    batches = pull_batches(settings, SqlSource(erp_url), NEXT_DAY, NEXT_DAY)
    assert not validate.validate_batches(settings, batches, NEXT_DAY, NEXT_DAY).failures
    with DuckDBWarehouse(settings.warehouse).connect() as con:
        changed = load.load(con, batches)
    assert changed["sales_lines"] == [NEXT_DAY]
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        count = con.execute(
            "select count(*) from raw.sales_lines where _business_date = ?", [NEXT_DAY]
        ).fetchone()[0]
    assert count == len(demo_source().pull_range("sales_lines", NEXT_DAY, NEXT_DAY))


def test_cli_reads_the_url_from_the_named_variable(
    erp_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    """No URL: usage error (2). A URL: the ERP is read, and a bad ERP row is refused (3)
    with the rule named, all before anything is loaded or dbt runs."""
    bad_invoices = (
        "select invoice_id, customer_id, invoice_date, invoice_date - 1 as due_date, amount"
        " from ar_invoices where invoice_date between :start and :end"
    )
    config = tmp_path / "tiering.yml"
    config.write_text(
        json.dumps(
            {
                "quarantine": str(tmp_path / "quarantine"),
                "sql_url_env": URL_ENV,
                "sql_queries": {"ar_invoices": bad_invoices},
            }
        ),
        encoding="utf-8",
    )
    args = ["--config", str(config), "run", "--date", NEXT_DAY.isoformat(), "--source", "sql"]
    args += ["--warehouse", str(tmp_path / "warehouse" / "tiers.duckdb")]
    monkeypatch.delenv(URL_ENV, raising=False)
    assert cli.main(args) == EXIT_USAGE
    assert f"set the database URL in ${URL_ENV}" in capsys.readouterr().err

    monkeypatch.setenv(URL_ENV, erp_url)
    assert cli.main(args) == EXIT_INPUT_REFUSED
    error = " ".join(capsys.readouterr().err.split())
    rule = "expect_column_pair_values_a_to_be_greater_than_b(due_date, invoice_date) [fail]"
    assert f"ar_invoices: 1 day(s) refused: {NEXT_DAY}" in error and rule in error
