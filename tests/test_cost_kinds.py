"""The cost-to-serve kinds are written down in four places: the input contract
(customer_tiering.contract.COST_KINDS), the dbt macro that makes a `<kind>_cost` column of
each (dbt_project/macros/profit.sql), the Great Expectations suite that refuses any other
kind (expectations/cost_to_serve.json) and the enforced column contract of the tier marts.
A kind added or renamed in one place only would be refused at the door, or accepted and
then silently left out of cost to serve; this ties them."""

from __future__ import annotations

import json
import re

import yaml

from customer_tiering.config import DBT_PROJECT_DIR, EXPECTATIONS_DIR
from customer_tiering.contract import COST_KINDS


def macro_cost_kinds() -> list[str]:
    """The list `cost_kinds()` returns, read from the macro's source."""
    source = (DBT_PROJECT_DIR / "macros" / "profit.sql").read_text(encoding="utf-8")
    found = re.search(r"macro cost_kinds\(\).*?return\((\[.*?\])\)", source, re.DOTALL)
    assert found, "cost_kinds() in macros/profit.sql no longer returns a list literal"
    return json.loads(found.group(1))


def expected_kinds() -> list[str]:
    """The value set of the suite's `kind` check."""
    suite = json.loads((EXPECTATIONS_DIR / "cost_to_serve.json").read_text(encoding="utf-8"))
    (check,) = [
        expectation
        for expectation in suite["expectations"]
        if expectation["type"] == "expect_column_values_to_be_in_set"
        and expectation["kwargs"]["column"] == "kind"
    ]
    return check["kwargs"]["value_set"]


def tier_mart_cost_columns() -> list[str]:
    """The `<kind>_cost` columns of customer_tier_history's (and customer_tiers') contract,
    from whichever models yml declares it."""
    declared = [
        model
        for path in sorted((DBT_PROJECT_DIR / "models").rglob("*.yml"))
        for model in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("models", [])
        if model["name"] == "customer_tier_history"
    ]
    (history,) = declared
    names = [column["name"] for column in history["columns"]]
    return [name for name in names if name.endswith("_cost")]


def test_dbt_macro_has_the_contract_cost_kinds_in_order() -> None:
    assert macro_cost_kinds() == list(COST_KINDS)


def test_validation_accepts_exactly_the_contract_cost_kinds() -> None:
    assert sorted(expected_kinds()) == sorted(COST_KINDS)


def test_tier_marts_have_a_cost_column_per_kind() -> None:
    assert tier_mart_cost_columns() == [f"{kind}_cost" for kind in COST_KINDS]
