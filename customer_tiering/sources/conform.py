"""Type a delivered frame to the input contract, without hiding what does not fit.

Sources that read text or a foreign database (files, sql) get strings, Decimals and date
objects. Each column is converted to the pandas dtype validation expects (str, float64,
datetime64, bool). Ids are text: a delivered string is kept as it is (`000123` stays
`000123`); an integer becomes its decimal text (a Parquet int64 123, a SQL NUMERIC 123 and
a float 123.0, which is what a null makes of an integer column, all become `123`). A value
that does not convert is kept as received in an object column beside the converted ones,
so validation names the column, counts the bad values and shows them, instead of the load
failing on a cast or the value silently becoming null.
"""

from __future__ import annotations

import math
import numbers
from decimal import Decimal

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


def _key_text(value: object) -> str | None:
    """One id as text; None for a value that is no id (a fraction, a flag)."""
    if isinstance(value, str):
        return value
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float | Decimal) and math.isfinite(value) and value == int(value):
        return str(int(value))
    return None


def _to_key(values: pd.Series) -> pd.Series:
    """Ids as text. Text columns (CSV and Excel are read as text) pass untouched, so
    leading zeros survive; numbers become their decimal digits."""
    if isinstance(values.dtype, pd.StringDtype):
        return values
    if pd.api.types.is_integer_dtype(values):
        return values.astype("str")  # vectorised: Parquet and SQL integer ids
    texts = values.map(_key_text, na_action="ignore")
    return _keep_bad(values, texts.astype("str"), values.notna() & texts.isna())


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
            if column in spec.id_columns:
                convert = _to_key
            else:
                convert = _CONVERTERS.get(sql_type, _to_decimal)  # DECIMAL(p,s) types
            typed[column] = convert(frame[column].reset_index(drop=True))
    return pd.DataFrame(typed, index=pd.RangeIndex(len(frame)))
