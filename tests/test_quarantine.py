"""Quarantine keeps every refused attempt and lists what was refused, when and why."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from customer_tiering import quarantine, validate
from customer_tiering.config import Settings
from customer_tiering.errors import InputRefused
from tests.conftest import pull_batches
from tests.good_warehouse import demo_source

DAY = date(2024, 3, 4)


def refuse_once(settings: Settings, price: float) -> None:
    batches = pull_batches(settings, demo_source(), DAY, DAY)
    batches["products"][0].loc[0, "list_price"] = price
    with pytest.raises(InputRefused, match=r"products: 1 day\(s\) refused"):
        validate.validate_batches(settings, batches, DAY, DAY)


def test_a_second_refusal_keeps_the_first(tmp_path: Path) -> None:
    settings = Settings(warehouse=tmp_path / "w" / "tiers.duckdb", quarantine=tmp_path / "q")
    refuse_once(settings, -1.0)
    refuse_once(settings, -2.0)

    entries = quarantine.list_entries(settings.quarantine)
    assert [(e.table, e.day) for e in entries] == [("products", DAY)]
    latest = entries[0].path
    assert "-2.0" in (latest / quarantine.DATA_FILE).read_text(encoding="utf-8")
    [earlier] = (latest / quarantine.EARLIER).iterdir()
    assert "-1.0" in (earlier / quarantine.DATA_FILE).read_text(encoding="utf-8")
    first = json.loads((earlier / quarantine.RESULT_FILE).read_text(encoding="utf-8"))
    assert first["run_id"] == earlier.name != entries[0].run_id
    assert entries[0].reasons == [
        "expect_column_values_to_be_between(list_price, 0 .. 1e+06): 1 failing row(s)"
    ]
