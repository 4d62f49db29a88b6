"""One pipeline run: pull → validate → load raw → dbt build → summary.

The same function serves a daily run (start == end) and a backfill of a range (one pass
over the whole range, tier history computed for every day in it at once), so the command
line, Airflow and the tests all go through this one path.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

import pandas as pd
from rich.console import Console

from customer_tiering import load, quarantine, transform, validate
from customer_tiering.config import Settings
from customer_tiering.contract import BUSINESS_DATE, FACT_TABLES, TABLES
from customer_tiering.errors import InputRefused
from customer_tiering.sources import DeliveryRefused, Source, open_source

Batches = dict[str, tuple[pd.DataFrame, list[date]]]


@dataclass(frozen=True)
class RunResult:
    """What a run did: the as-of date, where history was recomputed from, what changed."""

    as_of: date
    history_start: date
    changed_days: dict[str, list[date]]
    # Wall seconds per step (pull, validate, load, transform), for progress and benchmarks.
    timings: dict[str, float] = field(default_factory=dict)


def days_between(start: date, end: date) -> list[date]:
    """Every calendar day from start to end inclusive."""
    return [start + timedelta(days=offset) for offset in range((end - start).days + 1)]


def pull_table(
    source: Source,
    table: str,
    already_loaded: set[date],
    start: date,
    end: date,
    lookback_days: int,
) -> tuple[pd.DataFrame, list[date]]:
    """Pull start..end of `table` as known on `end`, with a `_business_date` column, and the
    business days the pull covers. Fact days already loaded in the `lookback_days` before
    `start` are pulled again, so late corrections are picked up (a day never loaded is not:
    a daily run then equals a backfill of the same days)."""
    spec = TABLES[table]
    if spec.is_master:
        frame = source.pull_range(table, start, end, known_at=end)
        days = sorted({ts.date() for ts in pd.to_datetime(frame[BUSINESS_DATE]).unique()})
        return frame, days
    window = start - timedelta(days=lookback_days)
    repulled = sorted(d for d in already_loaded if window <= d < start)
    days = repulled + days_between(start, end)
    # One pull per run of consecutive days: a day never loaded is not asked for (a file
    # drop need not hold it). A source that knows the delivery day of each row (file
    # drops) sets `_business_date` itself, so validation sees rows dated outside it.
    frames = [
        source.pull_range(table, first, last, known_at=end) for first, last in consecutive(days)
    ]
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    if BUSINESS_DATE not in frame.columns:
        frame[BUSINESS_DATE] = pd.to_datetime(frame[spec.date_column])
    wanted = pd.to_datetime(pd.Series(days)).values
    return frame[frame[BUSINESS_DATE].isin(wanted)].reset_index(drop=True), days


def consecutive(days: list[date]) -> list[tuple[date, date]]:
    """Sorted days as (first, last) runs of consecutive days."""
    runs: list[tuple[date, date]] = []
    for day in days:
        if runs and day == runs[-1][1] + timedelta(days=1):
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


def pull_batches(
    settings: Settings,
    source: Source,
    already_loaded: dict[str, set[date]],
    start: date,
    end: date,
) -> Batches:
    """Every input table's batch. Deliveries the source refuses (missing, unreadable) are
    collected over all tables, quarantined, and refused together in one InputRefused."""
    batches: Batches = {}
    refused: list[DeliveryRefused] = []
    for table in TABLES:
        try:
            batches[table] = pull_table(
                source, table, already_loaded[table], start, end, settings.lookback_days
            )
        except DeliveryRefused as exc:
            refused.append(exc)
    if refused:
        lines = ["input refused: a delivery is missing or unreadable, nothing was loaded"]
        for exc in refused:
            folders = quarantine.quarantine_delivery(settings, exc)
            lines += [f"{exc}", f"  quarantined: {', '.join(map(str, folders[:3]))}"]
        raise InputRefused("\n".join(lines))
    return batches


def history_start(start: date, changed: dict[str, list[date]]) -> date:
    """First as-of date to recompute: the run's first day, or an earlier corrected day."""
    return min([start, *(day for days in changed.values() for day in days)])


# The steps below are `run`'s, split out so the Airflow tasks (customer_tiering.orchestration)
# reuse them: each task is its own process and opens the warehouse only for its step.


def loaded_days(settings: Settings) -> dict[str, set[date]]:
    """Business days of each input table already in the warehouse (none if it is new)."""
    if not settings.warehouse.exists():
        return {table: set() for table in TABLES}
    with load.connect(settings.warehouse, read_only=True) as con:
        has_ledger = con.execute(
            "select count(*) from information_schema.tables"
            " where table_schema = 'raw' and table_name = '_batches'"
        ).fetchone()[0]
        return {table: load.loaded_days(con, table) if has_ledger else set() for table in TABLES}


def load_batches(settings: Settings, batches: Batches) -> dict[str, list[date]]:
    """Load all batches into raw in one transaction; the changed days per table."""
    with load.connect(settings.warehouse) as con:
        return load.load(con, batches)


def first_loaded_day(settings: Settings) -> date | None:
    """The earliest business day of any fact table in the warehouse."""
    with load.connect(settings.warehouse, read_only=True) as con:
        return con.execute(
            f"select min(business_date) from {load.LEDGER} where table_name in (select unnest(?))",
            [list(FACT_TABLES)],
        ).fetchone()[0]


def build_tiers(
    settings: Settings,
    start: date,
    end: date,
    changed: dict[str, list[date]],
    full_refresh: bool = False,
) -> RunResult:
    """dbt build as of `end`, recomputing tier history from the first changed day, or from
    the first loaded day when `full_refresh` (after a rule change, say), in one pass."""
    first = history_start(start, changed)
    if full_refresh:
        first = min(first, first_loaded_day(settings) or first)
    transform.build(settings.warehouse, as_of=end, history_start=first, rules=settings.rules)
    return RunResult(as_of=end, history_start=first, changed_days=changed)


@contextmanager
def timed(timings: dict[str, float], step: str) -> Iterator[None]:
    """Add the wall time of the block to timings[step]."""
    began = time.perf_counter()
    try:
        yield
    finally:
        timings[step] = timings.get(step, 0.0) + time.perf_counter() - began


def run(
    settings: Settings,
    start: date,
    end: date,
    console: Console | None = None,
    source: Source | None = None,
) -> RunResult:
    """Run the pipeline for business days start..end and publish tiers as of `end`.
    `source` overrides the one named in the settings (tests hand in their own)."""
    console = console or Console(stderr=True)
    if start > end:
        raise ValueError(f"start {start} is after end {end}")
    source = source or open_source(settings)
    timings: dict[str, float] = {}
    with load.connect(settings.warehouse) as con:
        load.ensure_raw_schema(con)
        already_loaded = {table: load.loaded_days(con, table) for table in TABLES}
    with timed(timings, "pull"), console.status(f"pulling {start}..{end} from {source.name}"):
        batches = pull_batches(settings, source, already_loaded, start, end)
    rows = sum(len(frame) for frame, _ in batches.values())
    console.log(f"pulled {rows:,} rows from {source.name} for {start}..{end}")
    with timed(timings, "validate"), console.status("validating"):
        outcome = validate.validate_batches(settings, batches, start, end)
    for warning in outcome.warnings:
        console.log(
            f"[yellow]warning:[/] {warning.table}: {warning.rule}: {warning.failing}"
            f" failing on {len(warning.days)} day(s) {warning.detail}".rstrip()
        )
    console.log(str(outcome))
    with timed(timings, "load"):
        changed = load_batches(settings, batches)
    changed_count = sum(len(days) for days in changed.values())
    console.log(f"loaded {changed_count} changed table-day partitions into {settings.warehouse}")
    console.log(f"dbt build: tier history for {history_start(start, changed)}..{end}")
    with timed(timings, "transform"):
        result = build_tiers(settings, start, end, changed)
    return replace(result, timings=timings)
