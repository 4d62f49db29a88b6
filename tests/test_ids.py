"""Ids are text whatever a source hands over: integers become their decimal text, text
stays as delivered (leading zeros, letters, slashes), and what is no id is kept for
validation to name."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy

from customer_tiering.contract import TABLES
from customer_tiering.sources.conform import conform
from customer_tiering.sources.sql import SqlSource


def payments(**ids: object) -> pd.DataFrame:
    frame = pd.DataFrame(
        {"customer_id": "000123", "payment_date": "2024-03-01", "amount": "10.00", **ids}
    )
    return conform("ar_payments", frame)


def test_every_id_column_of_the_contract_is_text() -> None:
    for spec in TABLES.values():
        assert spec.key in spec.id_columns
        assert {spec.columns[c] for c in spec.id_columns} == {"VARCHAR"}


def test_integer_ids_become_their_decimal_text() -> None:
    conformed = payments(
        payment_id=np.array([7, 20240100000001], dtype="int64"),  # Parquet, SQL integers
        invoice_id=pd.array([42, None], dtype="Int64"),  # nullable integers
    )
    assert conformed["payment_id"].tolist() == ["7", "20240100000001"]
    assert conformed["invoice_id"].dtype == "str"
    assert conformed["invoice_id"][0] == "42" and pd.isna(conformed["invoice_id"][1])

    # a null turns an integer column into floats; SQL NUMERIC arrives as Decimal
    conformed = payments(
        payment_id=[7.0, np.nan], invoice_id=pd.Series([Decimal("42"), Decimal("43.00")])
    )
    assert conformed["payment_id"][0] == "7" and pd.isna(conformed["payment_id"][1])
    assert conformed["invoice_id"].tolist() == ["42", "43"]


def test_text_ids_stay_as_delivered() -> None:
    ids = ["000123", "INV/2024/0042", "INV-2019-103800/C-13000", " PAY 1 "]
    conformed = payments(payment_id=ids, invoice_id=pd.array(ids, dtype="str"))
    assert conformed["payment_id"].tolist() == ids == conformed["invoice_id"].tolist()
    assert conformed["payment_id"].dtype == "str"


def test_what_is_no_id_is_kept_for_validation_to_show() -> None:
    conformed = payments(payment_id=pd.Series([1, 2.5, "A-1"], dtype=object), invoice_id="I1")
    assert conformed["payment_id"].tolist() == ["1", 2.5, "A-1"]  # 2.5 fails the type rule


def test_sql_source_reads_integer_and_text_ids_as_text(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'erp.sqlite'}"
    with sqlalchemy.create_engine(url).begin() as connection:
        connection.exec_driver_sql(
            "create table ar_payments (payment_id integer, customer_id varchar,"
            " invoice_id varchar, payment_date date, amount numeric)"
        )
        connection.exec_driver_sql(
            "insert into ar_payments values (1, '000123', 'INV/2024/0042', '2024-03-01', 5.5),"
            " (20240100000002, '000124', '0042', '2024-03-01', 7)"
        )
    day = date(2024, 3, 1)
    frame = SqlSource(url).pull_range("ar_payments", day, day)
    assert frame["payment_id"].tolist() == ["1", "20240100000002"]
    assert frame["customer_id"].tolist() == ["000123", "000124"]
    assert frame["invoice_id"].tolist() == ["INV/2024/0042", "0042"]
