"""The steps of a pipeline run, and `run`, which composes them for the command line.

    prepare   what the warehouse already holds (shared warehouse lock)
    pull      one input table's batch from the source (no lock: source and store only)
    validate  every batch against its suite and the warehouse (shared lock)
    build     load raw → dbt build into marts_build → publish into marts → BI snapshot,
              all under the exclusive warehouse lock (customer_tiering.lock), so runs
              started at once (a backfill beside the schedule, two triggers, the CLI
              beside the DAG) never interleave; then the HTML tier report, from the
              snapshot (customer_tiering.report)
    report    the tier summary, from the BI snapshot

Each step takes a RunContext: the settings, the window of business days, and a batch
store that carries pulled batches between steps (in memory for `run`, the run folder for
Airflow's one-process-per-task, customer_tiering.orchestration). The DAG's tasks call
these same functions, so the command line and Airflow cannot drift apart.

A range run (start < end) is one pass: tier history for every day of it at once.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Protocol

import pandas as pd
from rich.console import Console

from customer_tiering import load, lock, publish, quarantine, report, transform, validate
from customer_tiering.config import Settings
from customer_tiering.contract import BUSINESS_DATE, FACT_TABLES, TABLES
from customer_tiering.errors import InputRefused
from customer_tiering.sources import DeliveryRefused, Source, open_source
from customer_tiering.window import Window

Batch = tuple[pd.DataFrame, list[date]]
Batches = dict[str, Batch]


class BatchStore(Protocol):
    """Where pulled batches wait between steps."""

    def reset(self) -> None: ...
    def put_loaded(self, loaded: dict[str, set[date]]) -> None: ...
    def loaded(self) -> dict[str, set[date]]: ...
    def put_batch(self, table: str, batch: Batch) -> None: ...
    def batches(self) -> Batches: ...


@dataclass
class MemoryStore:
    """Batches kept in the process (`run`: all steps in one process)."""

    _loaded: dict[str, set[date]] = field(default_factory=dict)
    _batches: Batches = field(default_factory=dict)

    def reset(self) -> None:
        self._loaded, self._batches = {}, {}

    def put_loaded(self, loaded: dict[str, set[date]]) -> None:
        self._loaded = loaded

    def loaded(self) -> dict[str, set[date]]:
        return self._loaded

    def put_batch(self, table: str, batch: Batch) -> None:
        self._batches[table] = batch

    def batches(self) -> Batches:
        return {table: self._batches[table] for table in TABLES}


@dataclass
class RunContext:
    """What every step needs: settings, the window, the batch store, where to talk."""

    settings: Settings
    window: Window
    store: BatchStore
    console: Console = field(default_factory=lambda: Console(stderr=True))
    # Wall seconds per step (pull, validate, load, transform, publish).
    timings: dict[str, float] = field(default_factory=dict)
    # Whether the pulled batches change nothing published (see `nothing_to_do`).
    unchanged: bool | None = None

    def lock(self, exclusive: bool) -> AbstractContextManager[None]:
        """The warehouse lock for a step of this run."""
        return lock.warehouse_lock(
            self.settings.warehouse,
            exclusive=exclusive,
            timeout=self.settings.lock_timeout_seconds,
            purpose=f"run {self.window.key}",
            on_wait=self.console.log,
        )


@dataclass(frozen=True)
class RunResult:
    """What a build did: the as-of date published, where history was recomputed from,
    which raw partitions changed, and the step timings."""

    as_of: date
    history_start: date
    changed_days: dict[str, list[date]]
    tables: list[str] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)


@contextmanager
def timed(timings: dict[str, float], step: str) -> Iterator[None]:
    """Add the wall time of the block to timings[step]."""
    began = time.perf_counter()
    try:
        yield
    finally:
        timings[step] = timings.get(step, 0.0) + time.perf_counter() - began


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
) -> Batch:
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


def loaded_days(settings: Settings) -> dict[str, set[date]]:
    """Business days of each input table already in the warehouse (none if it is new)."""
    if not settings.warehouse.exists():
        return {table: set() for table in TABLES}
    with load.connect(settings.warehouse, read_only=True) as con:
        has_ledger = con.execute(
            "select count(*) from information_schema.tables"
            " where table_schema = 'raw' and table_name = '_batches'"
        ).fetchall()[0][0]
        return {table: load.loaded_days(con, table) if has_ledger else set() for table in TABLES}


# --- the steps --------------------------------------------------------------------------


def prepare(ctx: RunContext) -> None:
    """Reset the store and record which days the warehouse holds, so the pulls know which
    recent days to pull again for late corrections."""
    ctx.store.reset()
    with ctx.lock(exclusive=False):
        ctx.store.put_loaded(loaded_days(ctx.settings))


def pull(ctx: RunContext, table: str, source: Source | None = None) -> Batch:
    """Pull one input table for the window into the store. A delivery the source refuses
    (a file missing or unreadable) is quarantined and raises DeliveryRefused (exit 3)."""
    source = source or open_source(ctx.settings)
    already = ctx.store.loaded().get(table, set())
    window = ctx.window
    with timed(ctx.timings, "pull"):
        try:
            batch = pull_table(
                source, table, already, window.start, window.end, ctx.settings.lookback_days
            )
        except DeliveryRefused as refused:
            quarantine.quarantine_delivery(ctx.settings, refused)
            raise
    ctx.store.put_batch(table, batch)
    return batch


def pull_all(ctx: RunContext, source: Source | None = None) -> None:
    """Pull every input table; refused deliveries are gathered over all tables and refused
    together, so one run names every missing file."""
    source = source or open_source(ctx.settings)
    refused: list[DeliveryRefused] = []
    with ctx.console.status(f"pulling {ctx.window.key} from {source.name}"):
        for table in TABLES:
            try:
                pull(ctx, table, source)
            except DeliveryRefused as exc:
                refused.append(exc)
    if refused:
        lines = ["input refused: a delivery is missing or unreadable, nothing was loaded"]
        lines += [str(exc) for exc in refused]
        lines.append(f"  quarantined under {ctx.settings.quarantine}")
        raise InputRefused("\n".join(lines))
    rows = sum(len(frame) for frame, _ in ctx.store.batches().values())
    ctx.console.log(f"pulled {rows:,} rows from {source.name} for {ctx.window.key}")


def validation_lines(outcome: validate.Outcome) -> list[str]:
    """The accepted batch's warnings, one line each, then the outcome."""
    lines = [
        f"warning: {w.table}: {w.rule}: {w.failing} failing on {len(w.days)} day(s)"
        f" {w.detail}".rstrip()
        for w in outcome.warnings
    ]
    return [*lines, str(outcome)]


def nothing_to_do(ctx: RunContext) -> bool:
    """True when publishing again could not change anything: the last publish was built
    from the same rules and dbt project, covers the window's last day, left nothing
    pending, and every pulled partition equals the stored one (the checksum ledger). A
    rerun of a day then skips validation (and Great Expectations' import) and the build,
    and the published tables stay byte-identical. Decided once per run context."""
    if ctx.unchanged is None:
        ctx.unchanged = False
        settings = ctx.settings
        if not ctx.window.full_refresh and settings.warehouse.exists():
            with load.connect(settings.warehouse, read_only=True) as con:
                last = publish.last_publication(con)
                if (
                    last is not None
                    and last.as_of >= ctx.window.end
                    and last.fingerprint == transform.fingerprint(settings.rules)
                    and load.first_pending_day(con) is None
                ):
                    changed = load.changed_partitions(con, ctx.store.batches())
                    ctx.unchanged = not any(changed.values())
    return ctx.unchanged


def check(ctx: RunContext) -> validate.Outcome | None:
    """Validate every pulled batch; a refused batch is quarantined and raises InputRefused
    (exit 3: not retried). Reads the warehouse under the shared lock. None when nothing
    changed since the last publish (nothing to validate)."""
    with timed(ctx.timings, "validate"), ctx.lock(exclusive=False):
        if nothing_to_do(ctx):
            ctx.console.log("nothing changed since the last publish: validation skipped")
            return None
        outcome = validate.validate_batches(
            ctx.settings, ctx.store.batches(), ctx.window.start, ctx.window.end
        )
    for line in validation_lines(outcome):
        ctx.console.log(line)
    return outcome


def plan(ctx: RunContext) -> tuple[date, date]:
    """(history_start, as_of) of the build: history from the run's first day or the
    earliest day loaded but not yet published (a corrected day, or the load of a run that
    failed later), or from the first loaded day for a full refresh; as of the run's last
    day, or the latest day already published, whichever is later (an old day processed
    after a newer one never moves the latest tables back)."""
    with load.connect(ctx.settings.warehouse, read_only=True) as con:
        pending = load.first_pending_day(con)
        published = publish.published_as_of(con)
        first_loaded = load.first_loaded_day(con, FACT_TABLES) if ctx.window.full_refresh else None
    history_start = min(day for day in (ctx.window.start, pending, first_loaded) if day)
    as_of = max(day for day in (ctx.window.end, published) if day)
    return history_start, as_of


def build(ctx: RunContext) -> RunResult:
    """Load the batches, build and test every model apart, publish them in one step and
    refresh the BI snapshot; all under the exclusive warehouse lock."""
    settings, timings = ctx.settings, ctx.timings
    with ctx.lock(exclusive=True):
        if nothing_to_do(ctx):
            snapshot = publish.refresh_snapshot(settings.warehouse, force=False)
            with load.connect(settings.warehouse, read_only=True) as con:
                as_of = publish.published_as_of(con) or ctx.window.end
            ctx.console.log(f"nothing changed: tables as of {as_of} left as they are")
            return RunResult(as_of, as_of, {}, [], dict(timings))
        with timed(timings, "load"), load.connect(settings.warehouse) as con:
            changed = load.load(con, ctx.store.batches())
        count = sum(len(days) for days in changed.values())
        ctx.console.log(f"loaded {count} changed table-day partitions into {settings.warehouse}")
        history_start, as_of = plan(ctx)
        ctx.console.log(f"dbt build: tier history for {history_start}..{as_of}")
        with timed(timings, "transform"):
            transform.build(
                settings.warehouse, as_of, history_start, settings.rules, ctx.window.full_refresh
            )
        with timed(timings, "publish"):
            models = publish.published_models(transform.manifest_path(settings.warehouse))
            with load.connect(settings.warehouse, read_only=True) as con:
                previous = publish.last_publication(con)
            tables = publish.promote(
                settings.warehouse,
                models,
                history_start,
                as_of,
                transform.fingerprint(settings.rules),
                ctx.window.full_refresh,
            )
            delta = None
            if previous and not ctx.window.full_refresh:
                delta = publish.SnapshotDelta(previous.published_at, models, history_start, as_of)
            snapshot = publish.refresh_snapshot(settings.warehouse, delta=delta)
        ctx.console.log(f"published {len(tables)} tables as of {as_of}; BI snapshot {snapshot}")
    ctx.console.log(report.write_for_build(settings, as_of))
    return RunResult(as_of, history_start, changed, tables, dict(timings))


def run(
    settings: Settings,
    start: date,
    end: date,
    console: Console | None = None,
    source: Source | None = None,
    full_refresh: bool = False,
) -> RunResult:
    """Run the pipeline for business days start..end and publish tiers as of `end` (or
    the latest day published, if later). `source` overrides the one named in the settings
    (tests hand in their own). Holds the exclusive warehouse lock for the whole run."""
    ctx = RunContext(settings, Window(start, end, full_refresh), MemoryStore())
    if console is not None:
        ctx.console = console
    with ctx.lock(exclusive=True):
        prepare(ctx)
        pull_all(ctx, source)
        check(ctx)
        return build(ctx)
