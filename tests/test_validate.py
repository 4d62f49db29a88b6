"""Bad input of every class is refused before loading: exit 3, a message naming table, day
and rule, the batch quarantined with its result, the warehouse unchanged.

Each case copies the known-good warehouse, injects one fault into the next business day
of the demo ERP and runs the pipeline, which stops at validation (no dbt run).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from customer_tiering import pipeline, validate
from customer_tiering.config import EXPECTATIONS_DIR, Settings, ValidationSettings
from customer_tiering.contract import BUSINESS_DATE, TABLES
from customer_tiering.errors import EXIT_INPUT_REFUSED, InputRefused
from customer_tiering.quarantine import DATA_FILE, RESULT_FILE, SUMMARY_FILE
from tests.conftest import load_batches, pull_batches
from tests.good_warehouse import (
    NEXT_DAY,
    checksums,
    copy_state,
    demo_source,
    good_checksums,
    good_root,
)

Fault = Callable[[pd.DataFrame, Path], pd.DataFrame]
DAY = NEXT_DAY.isoformat()
NET_RULE = "net_amount_consistent"


class FaultySource:
    """The demo ERP with one table's delivery altered by `fault(frame, warehouse)`."""

    name = "faulty demo"

    def __init__(self, table: str, fault: Fault, warehouse: Path) -> None:
        self.base, self.table, self.fault, self.warehouse = demo_source(), table, fault, warehouse

    def pull_range(
        self, table: str, start: date, end: date, known_at: date | None = None
    ) -> pd.DataFrame:
        frame = self.base.pull_range(table, start, end, known_at)
        return self.fault(frame, self.warehouse) if table == self.table else frame


def set_cell(column: str, value: object, row: int = 0) -> Fault:
    def fault(frame: pd.DataFrame, _: Path) -> pd.DataFrame:
        frame = frame.astype({column: object}) if not isinstance(value, int | float) else frame
        frame.loc[row, column] = value
        return frame

    return fault


def duplicate_key(frame: pd.DataFrame, _: Path) -> pd.DataFrame:
    frame.loc[1, "line_id"] = frame.loc[0, "line_id"]
    return frame


def priced_line(
    frame: pd.DataFrame, quantity: str, unit_price: str, discount: str, off: str
) -> pd.DataFrame:
    """Row 0 becomes a line whose net amount is `off` away from quantity x unit price -
    discount (worked out in decimals, handed over as floats, as a source delivers)."""
    expected = Decimal(quantity) * Decimal(unit_price) - Decimal(discount)
    values = (quantity, unit_price, discount, str(expected + Decimal(off)))
    frame.loc[0, ["quantity", "unit_price", "discount_amount", "net_amount"]] = [
        float(v) for v in values
    ]
    return frame


def net_amount_off(off: str) -> Fault:
    return lambda frame, _: priced_line(frame, "3", "0.10", "0", off)


def due_before_invoice(frame: pd.DataFrame, _: Path) -> pd.DataFrame:
    frame.loc[0, "due_date"] = frame.loc[0, "invoice_date"] - pd.Timedelta(days=1)
    return frame


def overpay_stored_invoice(frame: pd.DataFrame, warehouse: Path) -> pd.DataFrame:
    """A payment today exceeding what is still open on an invoice loaded days ago."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        invoice_id, customer_id, amount = con.execute(
            "select invoice_id, customer_id, amount::double from raw.ar_invoices"
            " order by invoice_id limit 1"
        ).fetchone()
    payment = {
        "payment_id": "PAY/2024/99000001",
        "customer_id": customer_id,
        "invoice_id": invoice_id,
        "payment_date": pd.Timestamp(NEXT_DAY),
        "amount": amount + 100.0,
    }
    return pd.concat([frame, pd.DataFrame([payment])], ignore_index=True)


def row_from_yesterday(frame: pd.DataFrame, _: Path) -> pd.DataFrame:
    """The delivery for today carries a row dated yesterday (as a file drop would)."""
    frame[BUSINESS_DATE] = pd.Timestamp(NEXT_DAY)
    frame.loc[0, "order_date"] = pd.Timestamp(NEXT_DAY - timedelta(days=1))
    return frame


CASES: dict[str, tuple[str, Fault, str]] = {
    "missing column": (
        "sales_lines",
        lambda frame, _: frame.drop(columns=["unit_price"]),
        "expect_column_to_exist(unit_price)",
    ),
    "wrong type": (
        "sales_lines",
        set_cell("quantity", "twelve"),
        "expect_column_values_to_be_in_type_list(quantity)",
    ),
    "duplicate key": ("sales_lines", duplicate_key, "expect_column_values_to_be_unique(line_id)"),
    "null key": (
        "ar_invoices",
        set_cell("invoice_id", None),
        "expect_column_values_to_not_be_null(invoice_id)",
    ),
    "negative price": (
        "sales_lines",
        set_cell("unit_price", -5.0),
        "expect_column_values_to_be_between(unit_price, 0 .. 1e+06)",
    ),
    "net amount inconsistent": ("sales_lines", set_cell("net_amount", 123456.0), NET_RULE),
    "net amount ten cents off": ("sales_lines", net_amount_off("0.10"), NET_RULE),
    "due date before invoice date": (
        "ar_invoices",
        due_before_invoice,
        "expect_column_pair_values_a_to_be_greater_than_b(due_date, invoice_date)",
    ),
    "over-payment": ("ar_payments", overpay_stored_invoice, "payments_within_open_amount"),
    "orphan customer": (
        "sales_lines",
        set_cell("customer_id", "C99999"),
        "references(customer_id -> customers)",
    ),
    "rows outside the day": (
        "sales_lines",
        row_from_yesterday,
        "expect_column_pair_values_to_be_equal(order_date, _business_date)",
    ),
}


@pytest.fixture
def settings(tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> Settings:
    """Settings on a private copy of the known-good warehouse; no lookback re-pull, so the
    faulty source is asked for the faulty day only."""
    settings = copy_state(good_root(tmp_path_factory), tmp_path)
    settings.lookback_days = 0
    return settings


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_refused_and_quarantined(case: str, settings: Settings) -> None:
    table, fault, rule = CASES[case]
    source = FaultySource(table, fault, settings.warehouse)

    with pytest.raises(InputRefused) as refused:
        pipeline.run(settings, NEXT_DAY, NEXT_DAY, source=source)

    message = str(refused.value)
    assert refused.value.exit_code == EXIT_INPUT_REFUSED
    assert f"{table}: 1 day(s) refused: {DAY}" in message
    assert f"{rule} [fail]" in message
    assert "validation report: " in message
    folder = settings.quarantine / table / DAY
    assert sorted(p.name for p in folder.iterdir()) == [DATA_FILE, SUMMARY_FILE, RESULT_FILE]
    record = json.loads((folder / RESULT_FILE).read_text(encoding="utf-8"))
    assert (record["table"], record["day"]) == (table, DAY)
    assert any(reason.startswith(rule) for reason in record["reasons"])
    assert rule in (folder / SUMMARY_FILE).read_text(encoding="utf-8")
    received = pd.read_csv(folder / DATA_FILE)
    assert len(received) == len(source.pull_range(table, NEXT_DAY, NEXT_DAY))
    assert [p.name for p in settings.quarantine.iterdir()] == [table]
    assert checksums(settings.warehouse) == good_checksums()


def test_refusal_message_shows_count_and_sample_rows(settings: Settings) -> None:
    def two_orphans(frame: pd.DataFrame, warehouse: Path) -> pd.DataFrame:
        frame = set_cell("customer_id", "C99999", row=0)(frame, warehouse)
        return set_cell("customer_id", "C99998", row=1)(frame, warehouse)

    source = FaultySource("sales_lines", two_orphans, settings.warehouse)
    with pytest.raises(InputRefused) as refused:
        pipeline.run(settings, NEXT_DAY, NEXT_DAY, source=source)
    message = str(refused.value)
    assert f"references(customer_id -> customers) [fail]: 2 failing row(s) on {DAY}" in message
    assert "C99999" in message and "C99998" in message


def empty_day_batches(settings: Settings) -> pipeline.Batches:
    source = FaultySource("sales_lines", lambda frame, _: frame.iloc[:0], settings.warehouse)
    return pull_batches(settings, source, NEXT_DAY, NEXT_DAY)


def test_empty_day_is_a_warning_and_loads(settings: Settings) -> None:
    outcome = validate.validate_batches(settings, empty_day_batches(settings), NEXT_DAY, NEXT_DAY)
    warnings = [(w.table, w.rule, w.days) for w in outcome.warnings]
    assert ("sales_lines", "daily_row_count(empty day)", (NEXT_DAY,)) in warnings
    assert not outcome.failures
    assert outcome.report.exists() and "daily_row_count(empty day)" in outcome.report.read_text()


def test_severity_is_configured_in_the_suite(settings: Settings, tmp_path: Path) -> None:
    """Raising the empty-day rule to `critical` in the suite JSON refuses the day."""
    suites = tmp_path / "expectations"
    shutil.copytree(settings.expectations, suites)
    suite = json.loads((suites / "sales_lines.json").read_text(encoding="utf-8"))
    for check in suite["meta"]["cross_checks"]:
        if check["check"] == "daily_row_count":
            check["severity"] = "critical"
    (suites / "sales_lines.json").write_text(json.dumps(suite), encoding="utf-8")
    settings.expectations = suites
    with pytest.raises(InputRefused, match=r"daily_row_count\(empty day\) \[fail\]"):
        validate.validate_batches(settings, empty_day_batches(settings), NEXT_DAY, NEXT_DAY)
    assert (settings.quarantine / "sales_lines" / DAY / RESULT_FILE).exists()


def test_range_is_validated_at_once_and_names_the_failing_days(tmp_path: Path) -> None:
    """A month pulled as one batch; faults on two days refuse exactly those two days."""
    settings = Settings(warehouse=tmp_path / "none.duckdb", quarantine=tmp_path / "q")
    start, end = date(2024, 1, 1), date(2024, 1, 31)
    batches = pull_batches(settings, demo_source(), start, end)
    lines = batches["sales_lines"][0]
    bad_days = [date(2024, 1, 9), date(2024, 1, 23)]
    for day in bad_days:
        row = lines.index[lines[BUSINESS_DATE] == pd.Timestamp(day)][0]
        lines.loc[row, "quantity"] = 0
    with pytest.raises(InputRefused) as refused:
        validate.validate_batches(settings, batches, start, end)
    assert "sales_lines: 2 day(s) refused: 2024-01-09, 2024-01-23" in str(refused.value)
    assert sorted(p.name for p in (settings.quarantine / "sales_lines").iterdir()) == [
        "2024-01-09",
        "2024-01-23",
    ]


def test_suites_cover_the_contract() -> None:
    """Every contract column has an existence, a type and a not-null expectation."""
    for table, spec in TABLES.items():
        suite = validate.load_suite(EXPECTATIONS_DIR, table)
        assert suite["name"] == table
        kinds: dict[str, set[str]] = {}
        for expectation in suite["expectations"]:
            column = expectation["kwargs"].get("column")
            kinds.setdefault(column, set()).add(expectation["type"])
        for column in spec.columns:
            assert "expect_column_to_exist" in kinds[column], (table, column)
            assert "expect_column_values_to_not_be_null" in kinds[column], (table, column)
            assert kinds[column] & {
                "expect_column_values_to_be_of_type",
                "expect_column_values_to_be_in_type_list",
            }, (table, column)


def accepted_and_loaded(settings: Settings, fault: Fault) -> tuple[Decimal, ...]:
    """Pull the next day through `fault`, validate and load it (dbt is not needed to show
    that it loads); the stored quantity, unit price, discount and net amount of row 0."""
    source = FaultySource("sales_lines", fault, settings.warehouse)
    batches = pull_batches(settings, source, NEXT_DAY, NEXT_DAY)
    outcome = validate.validate_batches(settings, batches, NEXT_DAY, NEXT_DAY)
    assert NET_RULE in {r.rule for r in outcome.results if r.table == "sales_lines"}
    load_batches(settings, batches)
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        return con.execute(
            "select quantity, unit_price, discount_amount, net_amount from raw.sales_lines"
            " where line_id = ?",
            [batches["sales_lines"][0].loc[0, "line_id"]],
        ).fetchone()


@pytest.mark.parametrize("off", ["0.01", "-0.01"])
def test_a_line_exactly_one_cent_off_loads(settings: Settings, off: str) -> None:
    """3 x 0.10 is 0.30000000000000004 in binary floats: a float check of a net amount of
    0.29 sees a gap above one cent and refuses it; the decimal check sees exactly 0.01."""
    assert abs(0.29 - 3 * 0.1) > 0.01  # the float trap the -0.01 line sets
    loaded = accepted_and_loaded(settings, net_amount_off(off))
    assert loaded == (
        Decimal("3.000"),
        Decimal("0.10"),
        Decimal("0.00"),
        Decimal("0.30") + Decimal(off),
    )


def test_relative_tolerance_accepts_an_erp_rounding_unit_prices(settings: Settings) -> None:
    """1,000 units at 12.34 exported, priced by the ERP at 12.3449: net 12,344.90 is 4.90
    off, refused by the one-cent default. With net_amount_relative_tolerance 0.0005 the
    line may be off by 0.0005 x 12,340 = 6.17: exactly 6.17 loads, 6.18 is refused."""

    def line_off(off: str) -> Fault:
        return lambda frame, _: priced_line(frame, "1000", "12.34", "0", off)

    with pytest.raises(InputRefused, match=f"{NET_RULE} \\[fail\\]"):
        accepted_and_loaded(settings, line_off("4.90"))
    settings.validation = ValidationSettings(net_amount_relative_tolerance=0.0005)
    with pytest.raises(InputRefused, match=f"{NET_RULE} \\[fail\\]"):
        accepted_and_loaded(settings, line_off("6.18"))
    assert accepted_and_loaded(settings, line_off("6.17"))[3] == Decimal("12346.17")
