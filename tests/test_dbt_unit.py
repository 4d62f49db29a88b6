"""dbt unit tests (the `unit_tests:` of the dbt project's yml files): hand-computed fixtures
for ageing buckets, DSO, days late, settlement, cumulative share, hysteresis, rule order,
price exceptions and the outlook (develop candidates, tiers at risk). Production builds
exclude them (`--exclude-resource-type unit_test`).

dbt reads the column types of a unit test's inputs from the warehouse, so the models must
exist first: on a warehouse with empty raw tables, one `dbt build --empty` builds every
model with zero rows and runs each unit test before its model (data tests left out)."""

from __future__ import annotations

import json
from pathlib import Path

from customer_tiering.load import ensure_raw_schema
from customer_tiering.transform import dbt_args, run_dbt
from customer_tiering.warehouses.duckdb_file import DuckDBWarehouse

UNIT_TESTS = {
    "receivables_aged_point_in_time",
    "receivables_aged_point_in_time_over_many_dates",
    "receivables_oldest_open_invoice_and_settled_history",
    "receivables_oldest_open_invoice_over_many_dates",
    "invoices_settled_by_cumulative_payments",
    "invoices_settled_incrementally",
    "contributions_cumulative_share_and_cut",
    "tier_history_hysteresis_holds_demotions",
    "tier_history_rules_in_order",
    "tier_rules_after_hysteresis_hold",
    "price_exceptions_big_customer_paying_less",
    "tier_outlooks_develop_conditions",
    "tier_outlooks_run_rate_projection",
    "tier_outlooks_growth_peers",
    "customers_versioned_collapses_unchanged_snapshots",
    "customers_versioned_from_the_snapshot_in_force",
}


def test_dbt_unit_tests_pass(tmp_path: Path) -> None:
    warehouse = DuckDBWarehouse(tmp_path / "unit.duckdb")
    with warehouse.connect() as con:
        ensure_raw_schema(con)
    resource_types = ["seed", "model", "unit_test"]
    args = [*dbt_args("build", warehouse), "--empty"]
    for resource_type in resource_types:
        args += ["--resource-type", resource_type]
    run_dbt(args, warehouse)  # raises TransformError naming each failed unit test

    target = Path(args[args.index("--target-path") + 1])
    results = json.loads((target / "run_results.json").read_text(encoding="utf-8"))["results"]
    unit_results = {
        result["unique_id"].split(".")[-1]: result["status"]
        for result in results
        if result["unique_id"].startswith("unit_test.")
    }
    assert set(unit_results) >= UNIT_TESTS
    assert set(unit_results.values()) == {"pass"}
