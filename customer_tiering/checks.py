"""What one validation rule found in one table's batch, whichever engine checked it.

Great Expectations checks single-table rules; cross-table rules (references, payments
against open invoices, row counts against the ledger) are computed in pandas/DuckDB.
Both end up as a `CheckResult` carrying a GX-shaped result dict, so the quarantine,
the refusal message and the HTML report treat every rule alike.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd

from customer_tiering.contract import BUSINESS_DATE

# GX expectation severities mapped onto the pipeline's two outcomes.
SEVERITY = {"critical": "fail", "warning": "warn", "info": "warn"}
SAMPLE_ROWS = 3


@dataclass(frozen=True)
class CheckResult:
    """One rule on one table: whether it held and, if not, where."""

    table: str
    rule: str  # e.g. "expect_column_values_to_not_be_null(line_id)"
    severity: str  # "fail" stops the day, "warn" is reported and loads
    success: bool
    failing: int  # how many rows (or days, see `unit`) broke the rule
    rows: np.ndarray  # positions of failing rows in the table's batch frame
    days: tuple[date, ...]  # business days the failures fall on
    detail: str = ""  # observed value or explanation, for rules without failing rows
    result: dict[str, Any] = field(default_factory=dict)  # GX-shaped result JSON
    samples: list[dict[str, str]] = field(default_factory=list)  # a few failing rows
    unit: str = "row(s)"  # what `failing` counts: rows, or days for day-level rules

    @property
    def refuses(self) -> bool:
        return not self.success and self.severity == "fail"


def batch_days(frame: pd.DataFrame, days: list[date]) -> tuple[date, ...]:
    """The business days a batch covers: its declared days and any its rows carry."""
    found = set(days)
    if BUSINESS_DATE in frame.columns and len(frame):
        found |= {ts.date() for ts in pd.to_datetime(frame[BUSINESS_DATE].dropna().unique())}
    return tuple(sorted(found))


def days_of_rows(frame: pd.DataFrame, rows: np.ndarray) -> tuple[date, ...]:
    """Business days of the rows at positions `rows`."""
    if not len(rows) or BUSINESS_DATE not in frame.columns:
        return ()
    values = pd.to_datetime(frame[BUSINESS_DATE].iloc[rows].dropna().unique())
    return tuple(sorted(ts.date() for ts in values))


def row_check(
    table: str,
    frame: pd.DataFrame,
    rule: str,
    severity: str,
    failing: pd.Series,
    config: dict[str, Any],
) -> CheckResult:
    """A CheckResult for a row-level cross-table rule; `failing` is a boolean mask."""
    rows = np.flatnonzero(failing.to_numpy(dtype=bool))
    samples = sample_rows(frame, rows)
    return CheckResult(
        table=table,
        rule=rule,
        severity=SEVERITY[severity],
        success=not len(rows),
        failing=len(rows),
        rows=rows,
        days=days_of_rows(frame, rows),
        result={
            "success": not len(rows),
            "expectation_config": {"type": rule, "kwargs": config, "severity": severity},
            "result": {
                "element_count": len(frame),
                "unexpected_count": len(rows),
                "partial_unexpected_list": samples,
            },
        },
        samples=samples,
    )


def sample_rows(frame: pd.DataFrame, rows: np.ndarray) -> list[dict[str, str]]:
    """The first few rows at positions `rows`, as text (as a person would read them)."""
    if not len(rows):
        return []  # most rules pass: an empty frame's text still costs milliseconds
    return frame.iloc[rows[:SAMPLE_ROWS]].astype(str).to_dict("records")


def new_run_id() -> str:
    """A sortable id for one validation run or refusal (UTC time to the microsecond)."""
    return datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
