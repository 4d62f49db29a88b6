"""Task-level steps of the Airflow DAG (`dags/customer_tiering_dag.py`), usable without Airflow.

The DAG splits one pipeline run into tasks: prepare → pull (one per input table) →
validate → load → transform (dbt build) → publish → report. Each task is a separate
process, so the pulled batches travel between them as files in a *run folder* beside the
warehouse, keyed by the run's business day(s):

    <warehouse dir>/.runs/<YYYY-MM-DD>/            a daily run (one business day)
    <warehouse dir>/.runs/<start>_<end>/           a manual range run
        window.json        the days processed, full_refresh
        loaded.json        business days already in the warehouse when the run started
        <table>.parquet    the pulled batch (with `_business_date`)
        <table>.days.json  the business days that batch covers (empty days included)
        changed.json       the partitions the load changed (kept across reruns)
        summary.json       what the run published

A rerun of the same day overwrites the folder's batches, so reruns are idempotent.

Every step reuses the functions `pipeline.run` is made of (`pipeline.pull_table`,
`pipeline.load_batches`, `pipeline.build_tiers`, the validation guard), so the DAG and
`tiering run` cannot drift apart.

One writer: DuckDB allows one read-write process per file, and an open reader blocks the
writer. The DAG therefore runs one DAG run at a time (`max_active_runs=1`), and every task
that opens the warehouse (prepare, validate, load, transform, publish) takes a slot of the Airflow
pool `tiering_warehouse`, which has ONE slot. Backfills must be created with
`--max-active-runs 1` (the backfill option overrides the DAG's `max_active_runs`); the pool
still keeps writers apart if they are not. BI tools read a snapshot file the publish step
replaces atomically, never the file the pipeline writes.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from customer_tiering.config import Settings, load_settings
from customer_tiering.contract import TABLES
from customer_tiering.errors import ConfigError, InputRefused, TieringError

if TYPE_CHECKING:
    from customer_tiering.pipeline import Batches
    from customer_tiering.sources import Source

# The DAG file imports this module at parse time, which the dag-processor repeats every
# few seconds: pandas, DuckDB and the pipeline are imported inside the steps instead.

# The Airflow pool (one slot) that serializes every task opening the warehouse file.
WAREHOUSE_POOL = "tiering_warehouse"
RUNS_DIR = ".runs"
# Business days are dates in the distributor's timezone; the DAG's schedule uses the same.
TIMEZONE_ENV = "TIERING_TIMEZONE"
DEFAULT_TIMEZONE = "UTC"
# Run folders kept after a successful run (older ones are pruned by the report step).
KEEP_RUNS = 30


@dataclass(frozen=True)
class Window:
    """The business days one DAG run processes, and how."""

    start: date
    end: date
    full_refresh: bool = False

    @property
    def key(self) -> str:
        """Name of the run folder: the day, or `start_end` for a range."""
        if self.start == self.end:
            return self.start.isoformat()
        return f"{self.start.isoformat()}_{self.end.isoformat()}"

    def to_xcom(self) -> dict[str, Any]:
        """A JSON-able form, handed from task to task."""
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "full_refresh": self.full_refresh,
        }

    @classmethod
    def from_xcom(cls, data: Mapping[str, Any]) -> Window:
        return cls(
            start=date.fromisoformat(data["start"]),
            end=date.fromisoformat(data["end"]),
            full_refresh=bool(data.get("full_refresh", False)),
        )


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


def prepare(settings: Settings, window: Window) -> Path:
    """Create (or reset) the run folder and record which days the warehouse already holds,
    so the pull tasks know which recent days to pull again for late corrections. Needs the
    warehouse pool: it opens the warehouse (read-only)."""
    from customer_tiering import pipeline

    folder = run_dir(settings, window)
    folder.mkdir(parents=True, exist_ok=True)
    for stale in [*folder.glob("*.parquet"), *folder.glob("*.days.json")]:
        stale.unlink()
    write_json(folder / "window.json", window.to_xcom())
    write_json(
        folder / "loaded.json",
        {
            table: sorted(day.isoformat() for day in days)
            for table, days in pipeline.loaded_days(settings).items()
        },
    )
    return folder


def pull(
    settings: Settings, window: Window, table: str, source: Source | None = None
) -> dict[str, Any]:
    """Pull one input table for the window into the run folder (Parquet + its days).
    Touches only the source and the run folder, so pulls run in parallel and are retried;
    a delivery the source refuses (a file missing or unreadable) is quarantined and raises
    DeliveryRefused, an InputRefused, which is not retried."""
    if table not in TABLES:
        raise ConfigError(f"unknown input table {table!r}")
    folder = run_dir(settings, window)
    loaded_file = folder / "loaded.json"
    if not loaded_file.exists():
        raise TieringError(f"{loaded_file} is missing: run the prepare step first")
    already = {date.fromisoformat(day) for day in read_json(loaded_file).get(table, [])}
    from customer_tiering import pipeline, quarantine
    from customer_tiering.sources import DeliveryRefused, open_source

    source = source or open_source(settings)
    try:
        frame, days = pipeline.pull_table(
            source, table, already, window.start, window.end, settings.lookback_days
        )
    except DeliveryRefused as refused:
        # As in pipeline.pull_batches: keep what was received, then refuse (no retry).
        quarantine.quarantine_delivery(settings, refused)
        raise
    tmp = folder / f"{table}.parquet.tmp"
    frame.to_parquet(tmp, index=False)
    os.replace(tmp, folder / f"{table}.parquet")
    write_json(folder / f"{table}.days.json", [day.isoformat() for day in days])
    return {"table": table, "rows": len(frame), "days": len(days), "source": source.name}


def read_batches(settings: Settings, window: Window) -> Batches:
    """The pulled batches of every input table, as `pipeline.pull_table` returned them."""
    import pandas as pd

    folder = run_dir(settings, window)
    batches: Batches = {}
    for table in TABLES:
        frame_file, days_file = folder / f"{table}.parquet", folder / f"{table}.days.json"
        if not (frame_file.exists() and days_file.exists()):
            raise TieringError(f"no pulled batch of {table} in {folder}: run the pull step first")
        days = [date.fromisoformat(day) for day in read_json(days_file)]
        batches[table] = (pd.read_parquet(frame_file), days)
    return batches


def validate(settings: Settings, window: Window) -> str:
    """Validate every pulled batch with the pipeline's guard. A refused batch is quarantined
    by the guard and raises InputRefused (the DAG fails the task without retrying)."""
    from customer_tiering import validate as guard

    outcome = guard.validate_batches(
        settings, read_batches(settings, window), window.start, window.end
    )
    warnings = getattr(outcome, "warnings", [])
    lines = [
        f"accepted {window.start}..{window.end}: {len(warnings)} warning(s);"
        f" report {getattr(outcome, 'report', None)}"
    ]
    lines += [
        f"warning: {w.table}: {w.rule}: {w.failing} failing on {len(w.days)} day(s)"
        for w in warnings
    ]
    return "\n".join(lines)


def load_raw(settings: Settings, window: Window) -> dict[str, list[str]]:
    """Load every table's batch in ONE transaction (a day never lands half). Returns the
    changed partitions, merged with those an earlier attempt of this run changed, so a
    retried or cleared run still recomputes history from the earliest corrected day."""
    from customer_tiering import pipeline

    changed = pipeline.load_batches(settings, read_batches(settings, window))
    changed_file = run_dir(settings, window) / "changed.json"
    merged = read_json(changed_file) if changed_file.exists() else {}
    for table, days in changed.items():
        merged[table] = sorted({*merged.get(table, []), *(day.isoformat() for day in days)})
    write_json(changed_file, merged)
    return merged


def transform(
    settings: Settings, window: Window, changed: Mapping[str, list[str]] | None = None
) -> dict[str, Any]:
    """dbt build with the window's end as the as-of date and history from the first changed
    day (or the first loaded day, for full_refresh)."""
    from customer_tiering import pipeline

    if changed is None:
        changed_file = run_dir(settings, window) / "changed.json"
        changed = read_json(changed_file) if changed_file.exists() else {}
    result = pipeline.build_tiers(
        settings,
        window.start,
        window.end,
        {table: [date.fromisoformat(day) for day in days] for table, days in changed.items()},
        full_refresh=window.full_refresh,
    )
    return {"as_of": result.as_of.isoformat(), "history_start": result.history_start.isoformat()}


def publish_tables(settings: Settings, window: Window) -> dict[str, Any]:
    """Check the published tiers are as of the window's end, then replace the BI snapshot
    (a separate file, swapped in atomically, so BI readers never lock the warehouse)."""
    from customer_tiering import load, publish

    with load.connect(settings.warehouse, read_only=True) as con:
        as_of = con.execute(
            f"select max(as_of_date) from {publish.PUBLISHED_SCHEMA}.customer_tiers"
        ).fetchone()[0]
    if as_of is not None and as_of != window.end:
        raise TieringError(f"customer_tiers is as of {as_of}, expected {window.end}")
    snapshot = publish.bi_snapshot_path(settings.warehouse)
    tables = publish.export_snapshot(settings.warehouse, snapshot)
    return {"as_of": window.end.isoformat(), "snapshot": str(snapshot), "tables": tables}


def report(settings: Settings, window: Window) -> str:
    """A run summary (tiers per class as of the window's end), kept as summary.json in the run
    folder; older run folders beyond KEEP_RUNS are pruned."""
    from customer_tiering import publish

    snapshot = publish.bi_snapshot_path(settings.warehouse)
    summary = publish.tier_summary(snapshot if snapshot.exists() else settings.warehouse)
    folder = run_dir(settings, window)
    rows = summary.to_dict(orient="records")
    write_json(folder / "summary.json", {"window": window.to_xcom(), "tiers": rows})
    prune_runs(settings)
    lines = [f"customer tiers for {window.start}..{window.end} (as of {window.end}):"]
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
