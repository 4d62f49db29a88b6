"""Days as integer offsets from the demo epoch, and the dates of the planted story.

Why offsets: every fact is generated as numpy integer arrays (a day is an int, its weekday
is `day % 7`), and only turned into dates when a frame or a file is handed out.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np

DEMO_EPOCH = date(2024, 1, 1)  # the demo ERP's world starts here; no facts before it

EPOCH64 = np.datetime64("2024-01-01", "D")  # a Monday: weekday of day offset d is d % 7
MONTH0 = np.datetime64("2024-01", "M")
# Days to step back to the previous weekday (Sat -1, Sun -2) and on to the next (Sat +2,
# Sun +1), indexed by weekday: a table lookup instead of nested np.where.
_BACK_TO_FRIDAY = np.array([0, 0, 0, 0, 0, 1, 2])
_ON_TO_MONDAY = np.array([0, 0, 0, 0, 0, 2, 1])


def day_of(value: date) -> int:
    """Days since the epoch (negative before it); accepts datetimes and Timestamps too."""
    if isinstance(value, datetime):
        value = value.date()
    return (value - DEMO_EPOCH).days


def to_date(day: int) -> date:
    return DEMO_EPOCH + timedelta(days=int(day))


def month_of(days: np.ndarray | int) -> np.ndarray:
    """Months since 2024-01 of day offsets (vectorised)."""
    months = (EPOCH64 + np.asarray(days, dtype=np.int64)).astype("datetime64[M]")
    return (months - MONTH0).astype(np.int64)


def month_start(mi: int) -> int:
    """Day offset of the first day of month index `mi` (months since 2024-01)."""
    return int(((MONTH0 + mi).astype("datetime64[D]") - EPOCH64).astype(np.int64))


def months_between(s: int, e: int) -> range:
    """Month indices covering day offsets s..e (empty when s > e)."""
    return range(int(month_of(s)), int(month_of(e)) + 1) if s <= e else range(0)


def as_datetimes(days: np.ndarray) -> np.ndarray:
    """Day offsets as midnight `datetime64[s]`, the dtype every date column is handed out in."""
    return (EPOCH64 + days.astype(np.int64)).astype("datetime64[s]")


def skip_sunday(days: np.ndarray) -> np.ndarray:
    return days + (days % 7 == 6)


def prev_weekday(days: np.ndarray) -> np.ndarray:
    """Saturday and Sunday move back to Friday."""
    return days - _BACK_TO_FRIDAY[days % 7]


def next_weekday(days: np.ndarray) -> np.ndarray:
    """Saturday and Sunday move to Monday: banks book payments on weekdays."""
    return days + _ON_TO_MONDAY[days % 7]


# --- the calendar of the planted story -------------------------------------------------
HORIZON_END = day_of(date(2027, 1, 1))  # new customers are created before this day
GROUP_BUY_DAY = day_of(date(2024, 12, 20))
GROUP_CREATED = day_of(date(2024, 11, 25))
CHURN_START = day_of(date(2025, 4, 1))
CHURN_STOP = day_of(date(2025, 6, 1))  # churners are silent from this day
BLOCK_DAY = day_of(date(2025, 6, 1))  # C00016 is blocked in the master from this day
BAD_DEBT_MONTH = 12  # 2025-01: bad payers start leaving invoices unpaid
GROWER_MONTHS = 36  # growers stop growing after 2026-12 so the numbers stay finite
