"""What one pull of an input table asks its source for: the days of the range, plus the
recent days already loaded (late corrections), one `pull_range` per run of consecutive
days, each row tagged with the business day it was delivered for. Shared by the command
line's run and the DAG's pull tasks (customer_tiering.pipeline)."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from customer_tiering.contract import BUSINESS_DATE, TABLES
from customer_tiering.sources import Source

# A pulled table: its rows and the business days they cover.
Batch = tuple[pd.DataFrame, list[date]]


def days_between(start: date, end: date) -> list[date]:
    """Every calendar day from start to end inclusive."""
    return [start + timedelta(days=offset) for offset in range((end - start).days + 1)]


def consecutive(days: list[date]) -> list[tuple[date, date]]:
    """Sorted days as (first, last) runs of consecutive days."""
    runs: list[tuple[date, date]] = []
    for day in days:
        if runs and day == runs[-1][1] + timedelta(days=1):
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def pull_table(
    source: Source,
    table: str,
    already_loaded: set[date],
    start: date,
    end: date,
    lookback_days: int,
    known_at: date | None = None,
) -> Batch:
    """Pull start..end of `table` as known on `known_at` (default `end`), with a
    `_business_date` column, and the business days the pull covers. Fact days already
    loaded in the `lookback_days` before `start` are pulled again, so late corrections are
    picked up (a day never loaded is not: a daily run then equals a backfill of the same
    days)."""
    spec = TABLES[table]
    known_at = known_at or end
    if spec.is_master:
        frame = source.pull_range(table, start, end, known_at=known_at)
        days = sorted({ts.date() for ts in pd.to_datetime(frame[BUSINESS_DATE]).unique()})
        return frame, days
    window = start - timedelta(days=lookback_days)
    repulled = sorted(d for d in already_loaded if window <= d < start)
    days = repulled + days_between(start, end)
    # One pull per run of consecutive days: a day never loaded is not asked for (a file
    # drop need not hold it). A source that knows the delivery day of each row (file
    # drops) sets `_business_date` itself, so validation sees rows dated outside it.
    frames = [
        source.pull_range(table, first, last, known_at=known_at)
        for first, last in consecutive(days)
    ]
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    if BUSINESS_DATE not in frame.columns:
        frame[BUSINESS_DATE] = pd.to_datetime(frame[spec.date_column])
    wanted = pd.to_datetime(pd.Series(days)).values
    return frame[frame[BUSINESS_DATE].isin(wanted)].reset_index(drop=True), days
