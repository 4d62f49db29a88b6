"""Airflow's side of a run (`dags/customer_tiering_dag.py`), usable without Airflow.

The DAG runs the steps of `customer_tiering.pipeline` one task each: prepare → pull (one
per input table, every chunk of the window) → validate (each chunk validated, then loaded
into raw, in order) → build (dbt build → publish) → report. Each task is a separate
process, so the pulled batches travel between them as files in a *run folder* beside the
warehouse, keyed by the run's business day(s), one subfolder per chunk (a calendar month
by default, `chunk` in the settings):

    <warehouse dir>/.runs/<YYYY-MM-DD>/            a daily run (one business day)
    <warehouse dir>/.runs/<start>_<end>/           a manual range run
        loaded.json            business days already in the warehouse when the run started
        <chunk>/<table>.parquet    the chunk's pulled batch (with `_business_date`)
        <chunk>/<table>.days.json  the business days that batch covers (empty days too)
        <chunk>/changed.json       the partitions this attempt's load of the chunk changed
        summary.json           what the run published

A rerun of the same day overwrites the folder's batches, so reruns are idempotent. Which
days a build recomputes is not carried here: the load records them in the warehouse
(`raw._pending`, in the load's own transaction) until a publish consumes them.

Runs never interleave in a way that matters: validate holds the warehouse lock
(customer_tiering.lock) exclusively from its first chunk to its last load, the build from
dbt to publish, and prepare reads under its shared side, whatever Airflow starts at once
(a backfill beside the schedule, two manual triggers, the CLI beside the DAG). Another
run's build landing between a run's validate and build publishes that run's loaded days
too (they are pending), so the later build finds nothing left to do. The one-slot pool
`tiering_warehouse` only keeps waiting tasks from holding worker slots. BI tools read a
snapshot file the build replaces atomically, never the warehouse; other readers the
Parquet export beside it (customer_tiering.exports), swapped in file by file.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from customer_tiering.config import Settings, load_settings
from customer_tiering.contract import TABLES
from customer_tiering.errors import ConfigError, InputRefused, TieringError
from customer_tiering.window import Window

if TYPE_CHECKING:
    from customer_tiering.pipeline import Batch, Batches, Changed, RunContext
    from customer_tiering.sources import Source

# The DAG file imports this module at parse time, which the dag-processor repeats every
# few seconds: pandas, DuckDB and the pipeline are imported inside the steps instead.

# The Airflow pool (one slot) for the tasks that open the warehouse: they would only wait
# for the warehouse lock, so they need not hold more worker slots than one.
WAREHOUSE_POOL = "tiering_warehouse"
RUNS_DIR = ".runs"
# Business days are dates in the distributor's timezone; the DAG's schedule uses the same.
TIMEZONE_ENV = "TIERING_TIMEZONE"
DEFAULT_TIMEZONE = "UTC"
# Run folders kept after a successful run (older ones are pruned by the report step).
KEEP_RUNS = 30


def timezone_name() -> str:
    """The distributor's timezone (TIERING_TIMEZONE, default UTC)."""
    return os.environ.get(TIMEZONE_ENV) or DEFAULT_TIMEZONE


def business_day(logical_date: datetime, tz: str | None = None) -> date:
    """The business day a scheduled run processes: its logical date, in the distributor's
    timezone. With the DAG's CronDataIntervalTimetable the logical date is the *start* of the
    day's data interval (midnight), and the run fires when that day is over."""
    if logical_date.tzinfo is None:
        return logical_date.date()
    return logical_date.astimezone(ZoneInfo(tz or timezone_name())).date()


def parse_day(value: Any, name: str) -> date | None:
    """A date param: None/empty, a date, or an ISO `YYYY-MM-DD` string."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise ConfigError(f"param {name}={value!r} is not a date in YYYY-MM-DD form") from exc


def resolve_window(
    logical_date: datetime | None, params: Mapping[str, Any] | None, tz: str | None = None
) -> Window:
    """The days a run processes: params `start`/`end` (a manual range run, one set-based
    pass) when given, else the business day of the logical date (a scheduled or backfill
    run). Raises ConfigError for bad params, which the DAG fails without retrying."""
    params = params or {}
    start = parse_day(params.get("start"), "start")
    end = parse_day(params.get("end"), "end")
    full_refresh = params.get("full_refresh", False)
    if not isinstance(full_refresh, bool):
        raise ConfigError(f"param full_refresh must be true or false, not {full_refresh!r}")
    if (start is None) != (end is None):
        raise ConfigError("params start and end go together: give both or neither")
    if start is not None and end is not None:
        if end < start:
            raise ConfigError(f"param end {end} is before start {start}")
        return Window(start, end, full_refresh)
    if logical_date is None:
        raise ConfigError("a run without a logical date needs params start and end")
    day = business_day(logical_date, tz)
    return Window(day, day, full_refresh)


def run_settings(
    config: str | Path | None = None,
    warehouse: str | Path | None = None,
    quarantine: str | Path | None = None,
) -> Settings:
    """Settings for a task: the config file (Airflow Variable `tiering_config`, else
    $TIERING_CONFIG, else ./tiering.yml), optionally with the warehouse and quarantine paths
    overridden (Variables `tiering_warehouse`, `tiering_quarantine`). Secrets such as the
    ERP URL stay in the environment ($TIERING_SQL_URL), never in the DAG or the config."""
    return load_settings(
        Path(config) if config else None,
        warehouse=Path(warehouse) if warehouse else None,
        quarantine=Path(quarantine) if quarantine else None,
    )


def run_dir(settings: Settings, window: Window) -> Path:
    """The run folder of `window`, beside the warehouse file."""
    return settings.warehouse.resolve().parent / RUNS_DIR / window.key


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (a half-written file never appears under its name)."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str), encoding="utf-8")
    os.replace(tmp, path)


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


class FolderStore:
    """The batch store of a DAG run: its run folder (see the module docstring)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def reset(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        for stale in self.folder.iterdir():
            if stale.is_dir():
                shutil.rmtree(stale)

    def put_loaded(self, loaded: dict[str, set[date]]) -> None:
        days = {table: sorted(day.isoformat() for day in found) for table, found in loaded.items()}
        write_json(self.folder / "loaded.json", days)

    def loaded(self) -> dict[str, set[date]]:
        path = self.folder / "loaded.json"
        if not path.exists():
            raise TieringError(f"{path} is missing: run the prepare step first")
        return {
            table: {date.fromisoformat(day) for day in days}
            for table, days in read_json(path).items()
        }

    def put_batch(self, chunk: Window, table: str, batch: Batch) -> None:
        frame, days = batch
        folder = self.folder / chunk.key
        folder.mkdir(exist_ok=True)
        tmp = folder / f"{table}.parquet.tmp"
        frame.to_parquet(tmp, index=False)
        os.replace(tmp, folder / f"{table}.parquet")
        write_json(folder / f"{table}.days.json", [day.isoformat() for day in days])

    def batches(self, chunk: Window, tables: Iterable[str]) -> Batches:
        import pandas as pd

        folder = self.folder / chunk.key
        batches: Batches = {}
        for table in tables:
            frame_file = folder / f"{table}.parquet"
            days_file = folder / f"{table}.days.json"
            if not (frame_file.exists() and days_file.exists()):
                raise TieringError(
                    f"no pulled batch of {table} in {folder}: run the pull step first"
                )
            days = [date.fromisoformat(day) for day in read_json(days_file)]
            batches[table] = (pd.read_parquet(frame_file), days)
        return batches

    def put_changed(self, chunk: Window, changed: Changed) -> None:
        days = {table: [day.isoformat() for day in found] for table, found in changed.items()}
        write_json(self.folder / chunk.key / "changed.json", days)

    def changed(self) -> Changed:
        merged: dict[str, set[date]] = {}
        for path in sorted(self.folder.glob("*/changed.json")):
            for table, days in read_json(path).items():
                merged.setdefault(table, set()).update(map(date.fromisoformat, days))
        return {table: sorted(days) for table, days in merged.items()}


def context(settings: Settings, window: Window) -> RunContext:
    """The run context of a DAG task: its run folder as the batch store."""
    from customer_tiering.pipeline import RunContext

    return RunContext(settings, window, FolderStore(run_dir(settings, window)))


def prepare(settings: Settings, window: Window) -> Path:
    """Create (or reset) the run folder and record which days the warehouse holds."""
    from customer_tiering import pipeline

    ctx = context(settings, window)
    pipeline.prepare(ctx)
    return run_dir(settings, window)


def pull(
    settings: Settings, window: Window, table: str, source: Source | None = None
) -> dict[str, Any]:
    """Pull one input table for the window into the run folder, chunk by chunk (one chunk
    in memory at a time). Touches only the source and the run folder, so pulls run in
    parallel and are retried; a refused delivery raises DeliveryRefused, an InputRefused,
    which is not retried."""
    if table not in TABLES:
        raise ConfigError(f"unknown input table {table!r}")
    from customer_tiering import pipeline
    from customer_tiering.sources import open_source

    source = source or open_source(settings)
    ctx = context(settings, window)
    rows = days = 0
    for chunk in ctx.chunks:
        if table in ctx.tables(chunk):
            frame, covered = pipeline.pull(ctx, table, chunk, source)
            rows, days = rows + len(frame), days + len(covered)
    return {"table": table, "rows": rows, "days": days, "source": source.name}


def validate(settings: Settings, window: Window) -> str:
    """Validate every chunk's batches and load each into raw once it passes, in order,
    holding the warehouse lock throughout. A refused batch is quarantined and raises
    InputRefused (the DAG fails the task without retrying)."""
    from customer_tiering import pipeline

    ctx = context(settings, window)
    lines: list[str] = []
    with ctx.lock(exclusive=True):
        for chunk in ctx.chunks:
            outcome = pipeline.check(ctx, chunk)
            if outcome is None:
                lines.append(f"{chunk.key}: nothing changed since the last publish")
            else:
                lines += pipeline.validation_lines(outcome)
    return "\n".join(lines)


def build(settings: Settings, window: Window) -> dict[str, Any]:
    """dbt build and publish (with the BI snapshot and the Parquet export) under the
    warehouse lock."""
    from customer_tiering import pipeline

    result = pipeline.build(context(settings, window))
    return {
        "as_of": result.as_of.isoformat(),
        "history_start": result.history_start.isoformat(),
        "changed": {t: [d.isoformat() for d in days] for t, days in result.changed_days.items()},
        "tables": result.tables,
    }


def report(settings: Settings, window: Window) -> str:
    """A run summary (tiers per class as of the latest published day), kept as
    summary.json in the run folder; older run folders beyond KEEP_RUNS are pruned."""
    from customer_tiering import summary
    from customer_tiering.warehouses import open_warehouse

    tiers = summary.tier_summary(open_warehouse(settings).published())
    rows = tiers.to_dict(orient="records")
    summary_file = run_dir(settings, window) / "summary.json"
    write_json(summary_file, {"window": window.to_xcom(), "tiers": rows})
    prune_runs(settings)
    as_of = rows[0]["as_of_date"] if rows else window.end
    lines = [f"customer tiers after {window.start}..{window.end} (as of {as_of}):"]
    lines += [
        f"  {row['tier']}: {row['customers']} customers, contribution {row['contribution']}"
        for row in rows
    ]
    return "\n".join(lines)


def prune_runs(settings: Settings, keep: int = KEEP_RUNS) -> list[Path]:
    """Remove all but the `keep` most recently used run folders."""
    root = settings.warehouse.resolve().parent / RUNS_DIR
    if not root.exists():
        return []
    folders = sorted(
        (path for path in root.iterdir() if path.is_dir()),
        key=lambda path: path.stat().st_mtime,
        reverse=True,
    )
    for folder in folders[keep:]:
        shutil.rmtree(folder, ignore_errors=True)
    return folders[keep:]


def is_refusal(exc: BaseException) -> bool:
    """Failures a retry cannot fix: refused input and bad configuration or params."""
    return isinstance(exc, InputRefused | ConfigError)


def failure_summary(
    dag_id: str, task_id: str, logical_date: datetime | date | None, exc: BaseException | None
) -> str:
    """One paragraph for the failure log / alert: what failed, for which day, and why."""
    when = logical_date.isoformat() if logical_date is not None else "no logical date"
    # The DAG wraps refusals in AirflowFailException: name the refusal, not the wrapper.
    if exc is not None and exc.__cause__ is not None and is_refusal(exc.__cause__):
        exc = exc.__cause__
    kind = "input refused (not retried)" if exc and is_refusal(exc) else "failed"
    reason = f"{type(exc).__name__}: {exc}" if exc else "no exception recorded"
    reason = " ".join(reason.split())
    return f"customer tiering {kind}: dag {dag_id}, task {task_id}, logical date {when}. {reason}"
