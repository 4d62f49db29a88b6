"""Type a delivered frame to the input contract, without hiding what does not fit.

Sources that read text or a foreign database (files, sql) get strings, Decimals and date
objects. Each column is converted to the pandas dtype validation expects (str, int64,
float64, datetime64, bool). A value that does not convert is kept as received in an
object column beside the converted ones, so validation names the column, counts the bad
values and shows them, instead of the load failing on a cast or the value silently
becoming null.
"""

from __future__ import annotations

import pandas as pd

from customer_tiering.contract import TABLES

_TRUE = {"true", "t", "1", "yes", "y"}
_FALSE = {"false", "f", "0", "no", "n"}


def _keep_bad(original: pd.Series, converted: pd.Series, bad: pd.Series) -> pd.Series:
    """`converted`, unless some values did not convert: then an object column holding the
    converted values and, where `bad`, the original ones."""
    if not bad.any():
        return converted
    return original.astype(object).where(bad, converted.astype(object))


def _to_integer(values: pd.Series) -> pd.Series:
    numbers = pd.to_numeric(values, errors="coerce")
    bad = values.notna() & (numbers.isna() | (numbers % 1 != 0))
    if not bad.any() and numbers.notna().all():
        numbers = numbers.astype("int64")
    return _keep_bad(values, numbers, bad)


def _to_decimal(values: pd.Series) -> pd.Series:
    numbers = pd.to_numeric(values, errors="coerce").astype("float64")
    return _keep_bad(values, numbers, values.notna() & numbers.isna())


def _to_date(values: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(values):
        return values
    dates = pd.to_datetime(values, errors="coerce", format="mixed")
    return _keep_bad(values, dates, values.notna() & dates.isna())


def _to_boolean(values: pd.Series) -> pd.Series:
    if pd.api.types.is_bool_dtype(values):
        return values
    text = values.astype("str").str.strip().str.lower()
    flags = text.map(lambda v: True if v in _TRUE else False if v in _FALSE else None)
    bad = values.notna() & flags.isna()
    if not bad.any() and flags.notna().all():
        flags = flags.astype(bool)
    return _keep_bad(values, flags, bad)


def _to_text(values: pd.Series) -> pd.Series:
    return values if pd.api.types.is_string_dtype(values) else values.astype("str")


_CONVERTERS = {
    "VARCHAR": _to_text,
    "BIGINT": _to_integer,
    "DATE": _to_date,
    "BOOLEAN": _to_boolean,
}


def conform(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` with each contract column present converted to its contract dtype. Columns
    outside the contract (export extras) are dropped; missing ones stay missing, for
    validation to report."""
    spec = TABLES[table]
    typed = {}
    for column, sql_type in spec.columns.items():
        if column in frame.columns:
            convert = _CONVERTERS.get(sql_type, _to_decimal)  # DECIMAL(p,s) types
            typed[column] = convert(frame[column].reset_index(drop=True))
    return pd.DataFrame(typed, index=pd.RangeIndex(len(frame)))
