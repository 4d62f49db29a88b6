"""Money checks compare decimals: the net-amount rule and payments against open invoices
on hand-made batches whose amounts are binary-float traps, and their settings."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from customer_tiering.config import ValidationSettings, load_settings
from customer_tiering.contract import BUSINESS_DATE
from customer_tiering.crosschecks import payments_within_open_amount
from customer_tiering.errors import ConfigError
from customer_tiering.money import net_amount_consistent

DAY = pd.Timestamp("2024-03-01")


def lines(*rows: tuple[object, object, object, object]) -> pd.DataFrame:
    """Sales lines (quantity, unit_price, discount_amount, net_amount), floats as a batch
    holds them."""
    frame = pd.DataFrame(rows, columns=["quantity", "unit_price", "discount_amount", "net_amount"])
    return frame.assign(**{BUSINESS_DATE: DAY})


def failing_rows(frame: pd.DataFrame, **tolerances: float) -> list[int]:
    (result,) = net_amount_consistent(
        "sales_lines", frame, ValidationSettings(**tolerances), "critical"
    )
    return result.rows.tolist()


def test_one_cent_off_passes_and_more_fails_whatever_floats_make_of_it() -> None:
    frame = lines(
        (3, 0.10, 0, 0.29),  # 3 x 0.1 = 0.30000000000000004: a float gap above 0.01
        (3, 0.10, 0, 0.31),
        (7, 0.07, 0.01, 0.47),  # 0.49 - 0.01 = 0.48, one cent under
        (1.5, 19.99, 0, 29.98),  # 29.985 rounded half down by the ERP: 0.005 off
        (-2, 10.00, 0, -20.01),  # a return, one cent off
        (3, 0.10, 0, 0.28),  # two cents
        (3, 0.10, 0, 0.40),  # ten cents
        (1, 1.00, 0, 1.01001),  # stored as 1.01: one cent, passes
        (0.001, 0.01, 0, 0.01),  # 0.00001 expected: 0.00999 off
        (1.234, 1.00, 0, 1.224),  # 1.234 - 0.01 (net stored as 1.22: 0.014 off)
    )
    assert failing_rows(frame) == [5, 6, 9]


def test_the_tolerance_is_a_setting_and_inclusive() -> None:
    frame = lines((10, 5.00, 0, 50.05), (10, 5.00, 0, 50.06), (10, 5.00, 0, 49.94))
    assert failing_rows(frame) == [0, 1, 2]
    assert failing_rows(frame, net_amount_tolerance=0.05) == [1, 2]
    assert failing_rows(frame, net_amount_tolerance=0.06) == []
    assert failing_rows(frame, net_amount_tolerance=0.0) == [0, 1, 2]
    assert failing_rows(lines((10, 5.00, 0, 50.00)), net_amount_tolerance=0.0) == []


def test_relative_tolerance_scales_with_the_line_value() -> None:
    """allowed = max(absolute, relative x |quantity x unit_price|): 0.0001 of 1,000.00 is
    0.10 (inclusive), of 10.00 it is 0.001, so the absolute cent still applies there."""
    frame = lines(
        (100, 10.00, 0, 1000.10),
        (100, 10.00, 0, 1000.11),
        (-100, 10.00, 0, -1000.10),  # returns: |quantity x unit_price|
        (1, 10.00, 0, 10.01),
        (1, 10.00, 0, 10.02),
        (100, 10.00, 5.00, 995.10),  # relative to quantity x unit_price (1,000), not net
    )
    assert failing_rows(frame) == [0, 1, 2, 4, 5]
    assert failing_rows(frame, net_amount_relative_tolerance=0.0001) == [1, 4]


def test_missing_and_mistyped_amounts_are_left_to_their_own_rules() -> None:
    frame = lines((1, 1.00, 0, None), ("one", 1.00, 0, 5.00), (1, 1.00, 0, 1.00))
    assert failing_rows(frame) == []
    assert (
        net_amount_consistent(
            "sales_lines", frame.drop(columns="net_amount"), ValidationSettings(), "critical"
        )
        == []
    )


def test_absurdly_large_lines_fail_rather_than_overflow() -> None:
    frame = lines((1e10, 1e15, 0, 1e25), (1, 2e12, 0, 2e12), (1, 1.00, 0, 1.00))
    (result,) = net_amount_consistent("sales_lines", frame, ValidationSettings(), "critical")
    assert result.rows.tolist() == [0, 1]
    assert result.days == (DAY.date(),)
    assert "2 line(s) too large" in result.detail


def test_the_refusal_says_what_was_allowed_and_the_largest_gap() -> None:
    frame = lines((3, 0.10, 0, 0.40), (3, 0.10, 0, 0.35))
    (result,) = net_amount_consistent("sales_lines", frame, ValidationSettings(), "critical")
    assert (result.rule, result.severity, result.failing) == ("net_amount_consistent", "fail", 2)
    assert "max(0.01, 0.0 * |quantity * unit_price|)" in result.detail
    assert "largest gap 0.1" in result.detail
    assert result.result["expectation_config"]["kwargs"] == {
        "net_amount_tolerance": "0.01000",
        "net_amount_relative_tolerance": "0.000000",
    }


def payment_batches(paid: list[float], invoiced: float) -> dict:
    invoices = pd.DataFrame(
        {"invoice_id": ["INV/2024/0042"], "customer_id": ["000123"], "amount": [invoiced]}
    )
    payments = pd.DataFrame(
        {
            "payment_id": [f"PAY-{i:04d}" for i in range(len(paid))],
            "invoice_id": "INV/2024/0042",
            "amount": paid,
            BUSINESS_DATE: DAY,
        }
    )
    days = [date(2024, 3, 1)]
    return {"ar_invoices": (invoices, days), "ar_payments": (payments, days)}


@pytest.mark.parametrize(
    "paid,invoiced,failing",
    [
        ([0.1, 0.2], 0.30, 0),  # 0.1 + 0.2 = 0.30000000000000004 > 0.30 in floats
        ([0.1, 0.2], 0.29, 0),  # one cent over: within the tolerance
        ([0.1, 0.2], 0.28, 2),  # two cents over: every payment of the invoice is shown
        ([33.33, 33.33, 33.35], 100.00, 0),  # 100.01
        ([33.33, 33.33, 33.36], 100.00, 3),  # 100.02
    ],
)
def test_payments_within_open_amount_compare_cents(
    paid: list[float], invoiced: float, failing: int
) -> None:
    batches = payment_batches(paid, invoiced)
    (result,) = payments_within_open_amount("ar_payments", batches, None, 0.01, "critical")
    assert result.failing == failing


def test_validation_settings_come_from_tiering_yml(tmp_path: Path) -> None:
    config = tmp_path / "tiering.yml"
    config.write_text("lookback_days: 7\n", encoding="utf-8")
    assert load_settings(config).validation == ValidationSettings(
        net_amount_tolerance=0.01, net_amount_relative_tolerance=0.0
    )
    config.write_text(
        "validation: {net_amount_tolerance: 0.02, net_amount_relative_tolerance: 0.0001}\n",
        encoding="utf-8",
    )
    assert load_settings(config).validation == ValidationSettings(
        net_amount_tolerance=0.02, net_amount_relative_tolerance=0.0001
    )
    for wrong in (
        "{net_amount_tolerence: 0.02}",
        "{net_amount_tolerance: -0.01}",
        "{net_amount_relative_tolerance: 1.5}",
        "{net_amount_tolerance: abc}",
    ):
        config.write_text(f"validation: {wrong}\n", encoding="utf-8")
        with pytest.raises(ConfigError, match="validation"):
            load_settings(config)
