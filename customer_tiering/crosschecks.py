"""Cross-table rules GX cannot express, computed in pandas/DuckDB over a whole batch.

Each looks at the pulled batch together with what the warehouse (DuckDB or Postgres,
customer_tiering.warehouses) already holds, read-only, in SQL both engines speak:
a payment may settle an invoice loaded months ago, a sale may reference a customer whose
master snapshot was loaded earlier, and "is today's row count sane" needs the ledger of
earlier days. Partitions the batch is about to replace are read from the batch, not from
the warehouse, so a corrected day is judged on its new content.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from customer_tiering.checks import SEVERITY, CheckResult, row_check
from customer_tiering.contract import BUSINESS_DATE, TABLES
from customer_tiering.load import LEDGER, days_frame
from customer_tiering.money import tolerance_cents
from customer_tiering.warehouses import Connection
from customer_tiering.warehouses.duckdb_file import connect_duckdb

Batches = dict[str, tuple[pd.DataFrame, list[date]]]
Warehouse = Connection | None


def references(
    table: str, batches: Batches, con: Warehouse, column: str, master: str, severity: str
) -> list[CheckResult]:
    """Every `column` value names a row of `master`, in this pull or in the warehouse (a
    chunk after the first finds the master tables there)."""
    frame = batches[table][0]
    key = TABLES[master].key
    pulled = batches[master][0] if master in batches else pd.DataFrame()
    keys: list[pd.Series | pd.Index | pa.Array] = [pulled[key]] if key in pulled.columns else []
    if con is not None:
        referenced = pc.drop_null(pc.unique(_text(frame[column])))
        con.stage("batch_references", pd.DataFrame({key: referenced.to_pandas()}), {key: "VARCHAR"})
        # Keys are text; the cast also serves a warehouse whose ids are still BIGINT
        # (validation reads before the load migrates raw to the current contract).
        stored = con.arrow(
            f"select distinct cast({key} as varchar) as {key} from raw.{master}"
            f" where cast({key} as varchar) in (select {key} from batch_references)"
        )
        keys.append(_text(stored.column(key)))
    failing = pd.Series(frame[column].notna().to_numpy() & ~_is_in(frame[column], keys))
    config = {"column": column, "master": master}
    return [row_check(table, frame, f"references({column} -> {master})", severity, failing, config)]


def _text(values: pd.Series | pd.Index | pa.Array) -> pa.Array:
    """Ids as an Arrow text array (missing ones null). A source delivers ids as text; a
    column of anything else (refused by the type rules anyway) is compared as its text."""
    try:
        array = values if isinstance(values, pa.Array) else pa.array(values, from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # mixed objects
        array = pa.array([None if pd.isna(v) else str(v) for v in values], pa.string())
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    return array.cast(pa.string())


def _is_in(values: pd.Series, keys: list[pd.Series | pd.Index | pa.Array]) -> np.ndarray:
    """Which `values` are among `keys` (a missing value never is), as a boolean array.
    Computed in Arrow: pandas' `isin` on text walks the keys in Python, which costs
    seconds for a month of invoice ids."""
    known = pa.concat_arrays([_text(k) for k in keys]) if keys else pa.array([], pa.string())
    text = _text(values)
    return pc.and_(pc.is_valid(text), pc.is_in(text, value_set=known)).to_numpy(
        zero_copy_only=False
    )


def _stored_cents(table: str, aggregate: str, name: str, replaced_days: str) -> str:
    """What the warehouse holds of the invoices this pull pays, outside the partitions the
    pull replaces (the days in `replaced_days`): `aggregate` of `table`'s amounts per
    invoice, in cents, as column `name`. The id cast serves a warehouse not yet migrated
    to text ids."""
    return f"""
select cast(invoice_id as varchar) as invoice_id,
    cast({aggregate}(amount) * 100 as bigint) as {name}
from raw.{table}
where cast(invoice_id as varchar) in (select invoice_id from paid_invoices)
    and {BUSINESS_DATE} not in (select business_date from {replaced_days})
group by cast(invoice_id as varchar)
"""


# Each invoice's amount and its earlier payments.
_STORED_AMOUNTS = _stored_cents("ar_invoices", "min", "amount", "invoice_days")
_STORED_PAID = _stored_cents("ar_payments", "sum", "paid", "payment_days")
_OVERPAID = """
with paid as (
    select invoice_id, coalesce(sum(round_even(try_cast(amount as double) * 100, 0)), 0) as paid
    from batch_payments
    where invoice_id is not null
    group by invoice_id
),

pulled as (
    -- this pull's invoices, the first row of an id if it repeats
    select invoice_id, arg_min(round_even(try_cast(amount as double) * 100, 0), position) as amount
    from batch_invoices
    where invoice_id is not null
    group by invoice_id
)

select paid.invoice_id
from paid
left join pulled using (invoice_id)
left join stored_amounts as stored using (invoice_id)
left join stored_paid as earlier using (invoice_id)
where coalesce(earlier.paid, 0) + paid.paid
    - (case when pulled.invoice_id is not null then pulled.amount else stored.amount end)
    > $tolerance
"""


def payments_within_open_amount(
    table: str, batches: Batches, con: Warehouse, tolerance: float, severity: str
) -> list[CheckResult]:
    """All payments of an invoice (earlier ones in the warehouse plus this pull's) never
    exceed its amount by more than `tolerance`. Summed and compared in whole cents (a
    pulled amount rounded half to even; whole numbers add exactly in a double up to 2^53
    cents), so a payment exactly `tolerance` over passes. Invoices unknown anywhere are
    the `references` rule's business. The warehouse gives only what it holds of the paid
    invoices; one in-memory DuckDB query compares: aligning a month of text ids in pandas
    cost a second."""
    payments, payment_days = batches[table]
    invoices, invoice_days = batches["ar_invoices"]
    stored_amounts = _cents(pd.DataFrame(columns=["invoice_id", "amount"]))
    stored_paid = _cents(pd.DataFrame(columns=["invoice_id", "paid"]))
    if con is not None:
        paid_ids = _text(payments["invoice_id"]).unique().drop_null().to_pandas()
        con.stage(
            "paid_invoices", pd.DataFrame({"invoice_id": paid_ids}), {"invoice_id": "VARCHAR"}
        )
        con.stage("invoice_days", days_frame(invoice_days), {"business_date": "DATE"})
        con.stage("payment_days", days_frame(payment_days), {"business_date": "DATE"})
        stored_amounts = _cents(con.execute(_STORED_AMOUNTS).df())
        stored_paid = _cents(con.execute(_STORED_PAID).df())
    engine = connect_duckdb()
    try:
        engine.register("batch_payments", payments[["invoice_id", "amount"]])
        engine.register(
            "batch_invoices",
            invoices[["invoice_id", "amount"]].assign(position=np.arange(len(invoices))),
        )
        engine.register("stored_amounts", stored_amounts)
        engine.register("stored_paid", stored_paid)
        params = {"tolerance": tolerance_cents(tolerance)}
        over = engine.sql(_OVERPAID, params=params).to_arrow_table().column("invoice_id")
    finally:
        engine.close()
    failing = pd.Series(_is_in(payments["invoice_id"], [over.combine_chunks()]))
    config = {"tolerance": tolerance}
    return [row_check(table, payments, "payments_within_open_amount", severity, failing, config)]


def _cents(frame: pd.DataFrame) -> pd.DataFrame:
    """(invoice_id, cents) typed alike whichever engine (or none) gave the rows."""
    return frame.astype({frame.columns[0]: "str", frame.columns[1]: "int64"})


def daily_row_count(
    table: str,
    batches: Batches,
    con: Warehouse,
    weeks: int,
    max_ratio: float,
    min_average: float,
    severity: str,
) -> list[CheckResult]:
    """Each day's row count against the same weekday's average over the `weeks` before
    (from the batch itself and the ledger): an empty day or a `max_ratio`-fold jump is
    suspicious. Same weekday, because shops rest on Sundays and banks on weekends."""
    frame, days = batches[table]
    if not days:
        return []
    counts = pd.Series(0, index=pd.to_datetime(pd.Series(days)), dtype="float64")
    counts.update(pd.to_datetime(frame[BUSINESS_DATE]).value_counts().astype("float64"))
    known = counts.copy()
    if con is not None:
        history = con.execute(
            f"select business_date, row_count from {LEDGER}"
            " where table_name = ? and business_date between ? and ?",
            [table, min(days) - timedelta(weeks=weeks), max(days)],
        ).df()
        stored = history.set_index(pd.to_datetime(history["business_date"]))["row_count"]
        known = stored.astype("float64").combine_first(counts)
        known.update(counts)
    calendar = known.asfreq("D")
    baseline = pd.concat([calendar.shift(7 * k) for k in range(1, weeks + 1)], axis=1).mean(axis=1)
    baseline = baseline.reindex(counts.index)
    judged = baseline >= min_average
    findings = {
        "daily_row_count(empty day)": judged & (counts == 0),
        f"daily_row_count({max_ratio:g}x jump)": judged & (counts > max_ratio * baseline),
    }
    results = []
    for rule, flagged in findings.items():
        flagged_days = tuple(ts.date() for ts in counts.index[flagged.to_numpy()])
        detail = "; ".join(
            f"{ts:%Y-%m-%d}: {counts[ts]:.0f} rows vs same-weekday average {baseline[ts]:.1f}"
            for ts in counts.index[flagged.to_numpy()][:5]
        )
        results.append(
            CheckResult(
                table=table,
                rule=rule,
                severity=SEVERITY[severity],
                success=not flagged_days,
                failing=len(flagged_days),
                rows=np.array([], dtype=int),
                days=flagged_days,
                detail=detail,
                unit="day(s)",
                result={
                    "success": not flagged_days,
                    "expectation_config": {
                        "type": rule,
                        "kwargs": {"weeks": weeks, "max_ratio": max_ratio},
                        "severity": severity,
                    },
                    "result": {"unexpected_count": len(flagged_days), "observed_value": detail},
                },
            )
        )
    return results


CROSS_CHECKS: dict[str, Callable[..., list[CheckResult]]] = {
    "references": references,
    "payments_within_open_amount": payments_within_open_amount,
    "daily_row_count": daily_row_count,
}


def run_cross_checks(
    table: str, batches: Batches, con: Warehouse, checks: list[dict[str, Any]]
) -> list[CheckResult]:
    """Run the cross checks a suite's `meta.cross_checks` lists for `table`."""
    results = []
    for check in checks:
        params = {key: value for key, value in check.items() if key != "check"}
        results += CROSS_CHECKS[check["check"]](table, batches, con, **params)
    return results
