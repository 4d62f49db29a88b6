"""The steps of a pipeline run, and `run`, which composes them for the command line.

    prepare   what the warehouse already holds (shared warehouse lock)
    pull      one input table's batch of one chunk from the source (no lock: source and
              store only)
    check     one chunk's batches validated against their suites and the warehouse, then
              loaded into raw (exclusive lock)
    build     dbt build into marts_build → publish into marts → BI snapshot (DuckDB) →
              Parquet export (customer_tiering.exports), under the exclusive warehouse lock
              (customer_tiering.lock), so runs started at once (a backfill beside the
              schedule, two triggers, the CLI beside the DAG) never interleave; then the
              HTML tier report, from the published tables (customer_tiering.report)
    report    the tier summary, from the published tables (the BI snapshot on DuckDB)

The warehouse is the one the `target` setting names (customer_tiering.warehouses): a DuckDB
file, or a Postgres database, where there is no BI snapshot (BI reads schema marts as role
tiering_reader). The Parquet export and the HTML tier report run on both (from the
snapshot on DuckDB, from schema marts on Postgres).

The window is cut into chunks (`chunk` in the settings, a calendar month by default) so a
long backfill never holds more than one chunk of rows: each chunk is pulled, validated
and loaded before the next is checked, and its validation sees the chunks before it in the
warehouse, as a daily run sees the days before it. Master tables are small and come
whole, with the first chunk. Tier history is then built once, for every day of the
window. A chunk refused leaves the chunks before it in raw, unpublished and pending
(`raw._pending`), and nothing of the run reaches the published tables: publishing is the
build's, which a refused run never reaches.

Each step takes a RunContext: the settings, the window of business days, and a batch
store that carries pulled batches between steps (in memory for `run`, the run folder for
Airflow's one-process-per-task, customer_tiering.orchestration). The DAG's tasks call
these same functions (a pull task pulls every chunk of its table, the validate task checks
the chunks in order), so the command line and Airflow cannot drift apart: a pull depends
only on what prepare recorded, never on a load, so pulling a chunk before or after the
previous chunk is loaded gives the same batch.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import time
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import date
from typing import Protocol

import pyarrow as pa
from rich.console import Console

from customer_tiering import exports, load, lock, publish, quarantine, report, transform, validate
from customer_tiering.config import Settings
from customer_tiering.contract import FACT_TABLES, TABLES
from customer_tiering.errors import InputRefused, TieringError
from customer_tiering.sources import DeliveryRefused, Source, open_source
from customer_tiering.sources.pulling import Batch, pull_table
from customer_tiering.warehouses import Warehouse, open_warehouse
from customer_tiering.window import Window

Batches = dict[str, Batch]
Changed = dict[str, list[date]]


class BatchStore(Protocol):
    """Where pulled batches wait between steps, per chunk of the window, and what loading
    them changed."""

    def reset(self) -> None: ...
    def put_loaded(self, loaded: dict[str, set[date]]) -> None: ...
    def loaded(self) -> dict[str, set[date]]: ...
    def put_batch(self, chunk: Window, table: str, batch: Batch) -> None: ...
    def batches(self, chunk: Window, tables: Iterable[str]) -> Batches: ...
    def put_changed(self, chunk: Window, changed: Changed) -> None: ...
    def changed(self) -> Changed: ...


@dataclass
class MemoryStore:
    """Batches kept in the process (`run`: all steps in one process), one chunk at a time:
    `run` loads a chunk before it pulls the next, so keeping more would only cost memory."""

    _loaded: dict[str, set[date]] = field(default_factory=dict)
    _chunk: Window | None = None
    _batches: Batches = field(default_factory=dict)
    _changed: Changed = field(default_factory=dict)

    def reset(self) -> None:
        self._loaded, self._chunk, self._batches, self._changed = {}, None, {}, {}

    def put_loaded(self, loaded: dict[str, set[date]]) -> None:
        self._loaded = loaded

    def loaded(self) -> dict[str, set[date]]:
        return self._loaded

    def put_batch(self, chunk: Window, table: str, batch: Batch) -> None:
        if chunk != self._chunk:
            self._chunk, self._batches = chunk, {}
        self._batches[table] = batch

    def batches(self, chunk: Window, tables: Iterable[str]) -> Batches:
        if chunk != self._chunk:
            raise TieringError(f"no pulled batches of {chunk.key} in memory: pull it first")
        return {table: self._batches[table] for table in tables}

    def put_changed(self, chunk: Window, changed: Changed) -> None:
        """Record what loading `chunk` changed; its rows are no longer needed."""
        if chunk == self._chunk:
            self._chunk, self._batches = None, {}
        for table, days in changed.items():
            self._changed[table] = sorted({*self._changed.get(table, []), *days})

    def changed(self) -> Changed:
        return dict(self._changed)


@dataclass
class RunContext:
    """What every step needs: settings, the window, the batch store, where to talk, and
    the warehouse the settings name (opened at once, so a bad target or Postgres URL is a
    ConfigError before anything is pulled)."""

    settings: Settings
    window: Window
    store: BatchStore
    console: Console = field(default_factory=lambda: Console(stderr=True))
    # Wall seconds per step (pull, validate, load, transform, publish), summed over chunks.
    timings: dict[str, float] = field(default_factory=dict)
    # Whether the published tables were current before this run loaded anything (see
    # `unchanged`); decided at the first check.
    current: bool | None = None
    # A dbt child importing dbt while the run ingests (the command line's; a DAG task
    # runs one step per process, so it has none).
    dbt: transform.PrestartedDbt | None = None
    warehouse: Warehouse = field(init=False)

    def __post_init__(self) -> None:
        self.warehouse = open_warehouse(self.settings)

    @property
    def chunks(self) -> list[Window]:
        """The window cut into the pieces pulled, validated and loaded one at a time."""
        return self.window.chunks(self.settings.chunk)

    def tables(self, chunk: Window) -> tuple[str, ...]:
        """The input tables pulled for `chunk`: master tables are small and come whole with
        the first chunk (later chunks find them in the warehouse)."""
        return tuple(TABLES) if chunk == self.chunks[0] else FACT_TABLES

    def lock(self, exclusive: bool) -> AbstractContextManager[None]:
        """The warehouse lock for a step of this run (the file lock, and the warehouse's
        own lock inside it)."""
        timeout, purpose = self.settings.lock_timeout_seconds, f"run {self.window.key}"
        return lock.warehouse_lock(
            self.settings.warehouse,
            exclusive=exclusive,
            timeout=timeout,
            purpose=purpose,
            on_wait=self.console.log,
            server=self.warehouse.lock(exclusive, timeout, purpose, self.console.log),
        )


@dataclass(frozen=True)
class RunResult:
    """What a run did: the as-of date published, where history was recomputed from,
    which raw partitions changed, and the step timings."""

    as_of: date
    history_start: date
    changed_days: Changed
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


def loaded_days(settings: Settings) -> dict[str, set[date]]:
    """Business days of each input table already in the warehouse (none if it is new)."""
    warehouse = open_warehouse(settings)
    if not warehouse.exists():
        return {table: set() for table in TABLES}
    with warehouse.connect(read_only=True) as con:
        has_ledger = con.table_exists("raw", "_batches")
        return {table: load.loaded_days(con, table) if has_ledger else set() for table in TABLES}


# --- the steps --------------------------------------------------------------------------


def prepare(ctx: RunContext) -> None:
    """Reset the store and record which days the warehouse holds, so the pulls know which
    recent days to pull again for late corrections."""
    ctx.store.reset()
    with ctx.lock(exclusive=False):
        ctx.store.put_loaded(loaded_days(ctx.settings))


def pull(ctx: RunContext, table: str, chunk: Window, source: Source | None = None) -> Batch:
    """Pull one input table for one chunk into the store: a fact table's rows of the
    chunk's days (the first chunk also re-pulls the lookback's loaded days), a master
    table's snapshots of the whole window (first chunk only). Every chunk is pulled as
    known on the window's last day, so the chunks add up to the pull of the whole window.
    A delivery the source refuses (a file missing or unreadable) is quarantined and
    raises DeliveryRefused (exit 3)."""
    source = source or open_source(ctx.settings)
    already = ctx.store.loaded().get(table, set())
    span = ctx.window if TABLES[table].is_master else chunk
    lookback = ctx.settings.lookback_days if chunk == ctx.chunks[0] else 0
    with timed(ctx.timings, "pull"):
        try:
            batch = pull_table(
                source, table, already, span.start, span.end, lookback, ctx.window.end
            )
        except DeliveryRefused as refused:
            quarantine.quarantine_delivery(ctx.settings, refused)
            raise
    ctx.store.put_batch(chunk, table, batch)
    return batch


def pull_all(ctx: RunContext, chunk: Window, source: Source | None = None) -> None:
    """Pull every input table of one chunk; refused deliveries are gathered over all
    tables and refused together, so one run names every missing file."""
    source = source or open_source(ctx.settings)
    refused: list[DeliveryRefused] = []
    with ctx.console.status(f"pulling {chunk.key} from {source.name}"):
        for table in ctx.tables(chunk):
            try:
                pull(ctx, table, chunk, source)
            except DeliveryRefused as exc:
                refused.append(exc)
    if refused:
        lines = ["input refused: a delivery is missing or unreadable, nothing of it was loaded"]
        lines += [str(exc) for exc in refused]
        lines.append(f"  quarantined under {ctx.settings.quarantine}")
        raise InputRefused("\n".join([*lines, *unpublished_note(ctx, chunk)]))
    rows = sum(len(frame) for frame, _ in ctx.store.batches(chunk, ctx.tables(chunk)).values())
    ctx.console.log(f"pulled {rows:,} rows from {source.name} for {chunk.key}")


def unpublished_note(ctx: RunContext, chunk: Window) -> list[str]:
    """What a refusal of `chunk` leaves behind: the chunks before it passed validation and
    are in raw, waiting in `raw._pending`, but nothing of the run was published."""
    earlier = ctx.chunks[: ctx.chunks.index(chunk)]
    if not earlier:
        return []
    return [
        f"  {earlier[0].start}..{earlier[-1].end} passed validation and is loaded into raw,"
        " not published: the next run recomputes it with its own days"
    ]


def validation_lines(outcome: validate.Outcome) -> list[str]:
    """The accepted batch's warnings, one line each, then the outcome."""
    lines = [
        f"warning: {w.table}: {w.rule}: {w.failing} failing on {len(w.days)} day(s)"
        f" {w.detail}".rstrip()
        for w in outcome.warnings
    ]
    return [*lines, str(outcome)]


def publication_current(ctx: RunContext) -> bool:
    """True when the published tables hold what this run could give if its data equal the
    stored: the last publish was built from the same rules and dbt project, covers the
    window's last day and left nothing pending, and this is no full refresh."""
    settings = ctx.settings
    if ctx.window.full_refresh or not ctx.warehouse.exists():
        return False
    with ctx.warehouse.connect(read_only=True) as con:
        last = publish.last_publication(con)
        return (
            last is not None
            and last.as_of >= ctx.window.end
            and last.fingerprint == transform.fingerprint(settings.rules)
            and load.first_pending_day(con) is None
        )


def unchanged(ctx: RunContext, batches: Batches) -> bool:
    """True when loading `batches` could change nothing published: the publication was
    current before this run loaded anything (decided once per run context, at its first
    check) and every pulled partition equals the stored one (the checksum ledger). The
    chunk then skips validation (and Great Expectations' import) and the load; when every
    chunk does, the build is skipped too and the warehouse stays byte-identical."""
    if ctx.current is None:
        ctx.current = publication_current(ctx)
    if not ctx.current:
        return False
    with ctx.warehouse.connect(read_only=True) as con:
        return not any(load.changed_partitions(con, batches).values())


def check(ctx: RunContext, chunk: Window) -> validate.Outcome | None:
    """Validate one chunk's pulled batches and load them into raw, under the exclusive
    warehouse lock; chunks are checked in order, so each is validated against the ones
    before it. A refused batch is quarantined and raises InputRefused (exit 3: not
    retried). None when the chunk changes nothing published (nothing to validate)."""
    settings = ctx.settings
    batches = ctx.store.batches(chunk, ctx.tables(chunk))
    with ctx.lock(exclusive=True):
        with timed(ctx.timings, "validate"):
            if unchanged(ctx, batches):
                ctx.store.put_changed(chunk, {})
                ctx.console.log(f"{chunk.key}: nothing changed since the last publish")
                return None
            try:
                outcome = validate.validate_batches(settings, batches, chunk.start, chunk.end)
            except InputRefused as refused:
                note = unpublished_note(ctx, chunk)
                if not note:
                    raise
                raise InputRefused("\n".join([str(refused), *note])) from refused
        for line in validation_lines(outcome):
            ctx.console.log(line)
        with timed(ctx.timings, "load"), ctx.warehouse.connect() as con:
            changed = load.load(con, batches)
        ctx.store.put_changed(chunk, changed)
    count = sum(len(days) for days in changed.values())
    ctx.console.log(f"{chunk.key}: loaded {count} changed table-day partitions")
    return outcome


def plan(ctx: RunContext) -> tuple[date, date]:
    """(history_start, as_of) of the build: history from the run's first day or the
    earliest day loaded but not yet published (a corrected day, or the load of a run that
    failed later), or from the first loaded day for a full refresh; as of the run's last
    day, or the latest day already published, whichever is later (an old day processed
    after a newer one never moves the latest tables back)."""
    with ctx.warehouse.connect(read_only=True) as con:
        pending = load.first_pending_day(con)
        published = publish.published_as_of(con)
        first_loaded = load.first_loaded_day(con, FACT_TABLES) if ctx.window.full_refresh else None
    history_start = min(day for day in (ctx.window.start, pending, first_loaded) if day)
    as_of = max(day for day in (ctx.window.end, published) if day)
    return history_start, as_of


def build(ctx: RunContext) -> RunResult:
    """Build and test every model apart, publish them in one step, refresh the BI
    snapshot (DuckDB) and the Parquet export (both targets), then write the HTML tier
    report (both targets), all under the exclusive warehouse lock. The build is skipped when the
    published tables are current (every chunk of this run loaded nothing new), but a
    snapshot or export a killed run left behind is still brought up to date."""
    settings, timings, warehouse = ctx.settings, ctx.timings, ctx.warehouse
    with ctx.lock(exclusive=True):
        changed = ctx.store.changed()
        if publication_current(ctx):
            if warehouse.has_snapshot:
                publish.refresh_snapshot(settings.warehouse, force=False)
            exports.refresh(settings)
            with warehouse.connect(read_only=True) as con:
                as_of = publish.published_as_of(con) or ctx.window.end
            ctx.console.log(f"nothing changed: tables as of {as_of} left as they are")
            return RunResult(as_of, as_of, changed, [], dict(timings))
        history_start, as_of = plan(ctx)
        ctx.console.log(f"dbt build: tier history for {history_start}..{as_of}")
        with timed(timings, "transform"):
            transform.build(
                warehouse,
                as_of,
                history_start,
                settings.rules,
                ctx.window.full_refresh,
                prestarted=ctx.dbt,
            )
        with timed(timings, "publish"):
            models = publish.published_models(transform.manifest_path(settings.warehouse))
            with warehouse.connect(read_only=True) as con:
                previous = publish.last_publication(con)
            tables = publish.promote(
                warehouse,
                models,
                history_start,
                as_of,
                transform.fingerprint(settings.rules),
                ctx.window.full_refresh,
            )
            published = f"published {len(tables)} tables as of {as_of} in {warehouse.describe()}"
            delta = None
            if previous and not ctx.window.full_refresh:
                delta = publish.SnapshotDelta(previous.published_at, models, history_start, as_of)
            if warehouse.has_snapshot:
                snapshot = publish.refresh_snapshot(settings.warehouse, delta=delta)
                ctx.console.log(f"{published}; BI snapshot {snapshot}")
            else:
                ctx.console.log(f"{published}; {NO_SNAPSHOT}")
        with timed(timings, "export"):
            exported = exports.refresh(settings, delta)
        if exported is not None:
            ctx.console.log(str(exported))
        with timed(timings, "report"):
            written = report.write_for_build(settings, as_of)
        ctx.console.log(written)
    return RunResult(as_of, history_start, changed, tables, dict(timings))


# What a run on a warehouse without the BI snapshot file says instead of its path.
NO_SNAPSHOT = (
    "no BI snapshot file (DuckDB only): BI tools read schema marts as role tiering_reader,"
    " or the Parquet export"
)


def run(
    settings: Settings,
    start: date,
    end: date,
    console: Console | None = None,
    source: Source | None = None,
    full_refresh: bool = False,
) -> RunResult:
    """Run the pipeline for business days start..end and publish tiers as of `end` (or
    the latest day published, if later): each chunk pulled, validated and loaded in turn,
    then one build. `source` overrides the one named in the settings (tests hand in their
    own). Holds the exclusive warehouse lock for the whole run."""
    ctx = RunContext(settings, Window(start, end, full_refresh), MemoryStore())
    if console is not None:
        ctx.console = console
    with ctx.lock(exclusive=True), transform.prestarted(ctx.warehouse) as ctx.dbt:
        prepare(ctx)
        # The source (the demo's month caches) is let go before dbt starts beside this process.
        ingest(ctx, source or open_source(settings))
        release_memory()
        return build(ctx)


def release_memory() -> None:
    """Hand the heap the ingested chunks used back to the system before dbt builds beside
    this process: pyarrow's pool and glibc's malloc keep freed memory for reuse, which
    would count against the run's memory (about 100 MB after three months of 20,000
    customers' lines)."""
    pa.default_memory_pool().release_unused()
    name = ctypes.util.find_library("c")
    libc = ctypes.CDLL(name) if name else None
    if libc is not None and hasattr(libc, "malloc_trim"):  # glibc only
        libc.malloc_trim(0)


def ingest(ctx: RunContext, source: Source) -> None:
    """Pull, validate and load each chunk in turn, so one chunk of rows is in memory at a
    time (the command line's order; the DAG pulls every chunk first, which gives the same
    batches)."""
    for chunk in ctx.chunks:
        pull_all(ctx, chunk, source)
        check(ctx, chunk)
