"""
# customer_tiering: daily customer tiers for a goods distributor

Pulls one business day of the six input tables, refuses bad data, loads it into the DuckDB
warehouse, rebuilds the dbt models as of that day and publishes the tier tables. The logic
lives in the `customer_tiering` package; this file only wires tasks to
`customer_tiering.orchestration`.

**Which day a run processes.** The schedule is a `CronDataIntervalTimetable("0 0 * * *")`
in the distributor's timezone (`TIERING_TIMEZONE`, default UTC): a run's logical date is
the *start* of the day it covers (midnight), it fires when that day is over, and the
business day processed is the logical date's date. (A plain cron string would give a
`CronTriggerTimetable`, whose logical date is the moment it fires, i.e. the next, still
open day.) Late corrections are picked up by the daily pull re-reading the last
`lookback_days` loaded days. Set `AIRFLOW__CORE__DEFAULT_TIMEZONE` to the same timezone so
`airflow backfill create --from-date/--to-date` read dates the same way.

**Tasks.** prepare → pull (mapped, one per input table, chunk by chunk: a calendar month
of a long range at a time; retried with exponential backoff) → validate (each chunk
validated, then loaded into raw in one transaction, in order; refused input is
quarantined and fails the run at once with the guard's message, never retried) → build
(`dbt build` into `marts_build` with its tests, publish into `marts` in one transaction,
refresh the BI snapshot and the Parquet export `exports/`; emits the `customer_tiers`
asset) → report. Batches pass between
tasks as Parquet files in `<warehouse dir>/.runs/<YYYY-MM-DD>/<chunk>/`; a rerun of the
same day overwrites them.

**Steps of runs never interleave.** Validate holds the warehouse lock (a file lock beside
the warehouse) from its first chunk to its last load, the build from dbt to publish, and
prepare reads under its shared side, so a scheduled run beside a backfill, two manual
triggers, or a `tiering run` beside the DAG wait for each other (up to
`lock_timeout_seconds`, then exit 1, retried). A build that lands between another run's
validate and build publishes that run's loaded days too (they are pending). An old day
processed after a newer one adds its history and recomputes the days after it; the latest
tables stay at the latest day. The pool `tiering_warehouse`
(ONE slot: `airflow pools set tiering_warehouse 1 "DuckDB warehouse: one writer"`) keeps
waiting tasks from filling the workers.

**Manual runs.** Trigger with params `start` and `end` (YYYY-MM-DD, inclusive) to rebuild a
range in one set-based pass; `full_refresh: true` recomputes tier history from the first
loaded day (after a change of rules). Without params a manual run processes its logical
date's day.

**Configuration.** Airflow Variables `tiering_config` (path of tiering.yml; falls back to
`$TIERING_CONFIG`), optional `tiering_warehouse` and `tiering_quarantine` (paths). The ERP
database URL comes from the environment (`$TIERING_SQL_URL`), never from this file.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import pendulum
from airflow.sdk import (
    Asset,
    CronDataIntervalTimetable,
    Param,
    Variable,
    dag,
    get_current_context,
    task,
)
from airflow.sdk.exceptions import AirflowFailException

from customer_tiering import orchestration as orch
from customer_tiering.config import Settings
from customer_tiering.contract import TABLES

log = logging.getLogger(__name__)

# The published tier tables; downstream DAGs schedule on it (schedule=[TIERS_ASSET]).
TIERS_ASSET = Asset(
    name="customer_tiers", uri="tiering://warehouse/marts", group="customer_tiering"
)


def settings() -> Settings:
    """Settings at task run time (never at parse time: Variables are read per task)."""
    return orch.run_settings(
        Variable.get("tiering_config", default=None),
        Variable.get("tiering_warehouse", default=None),
        Variable.get("tiering_quarantine", default=None),
    )


@contextmanager
def fail_fast() -> Iterator[None]:
    """Refused input and bad params fail the task at once: a retry cannot fix them."""
    try:
        yield
    except Exception as exc:
        if orch.is_refusal(exc):
            raise AirflowFailException(str(exc)) from exc
        raise


def log_failure(context: Any) -> None:
    """Failure callback: one paragraph naming the dag, task, logical date and error."""
    ti = context.get("ti") or context.get("task_instance")
    log.error(
        orch.failure_summary(
            context["dag"].dag_id,
            ti.task_id if ti else "?",
            context.get("logical_date"),
            context.get("exception"),
        )
    )


@dag(
    dag_id="customer_tiering",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone=orch.timezone_name()),
    start_date=pendulum.datetime(2024, 1, 1, tz=orch.timezone_name()),
    catchup=False,
    max_active_runs=1,
    doc_md=__doc__,
    tags=["customer_tiering", "duckdb", "dbt"],
    default_args={
        "owner": "data-platform",
        "retries": 1,
        "retry_delay": timedelta(minutes=2),
        "execution_timeout": timedelta(minutes=30),
        "on_failure_callback": log_failure,
    },
    params={
        "start": Param(
            None,
            type=["null", "string"],
            format="date",
            description="First business day of a manual range run (YYYY-MM-DD), with end.",
        ),
        "end": Param(
            None,
            type=["null", "string"],
            format="date",
            description="Last business day of a manual range run (YYYY-MM-DD, inclusive).",
        ),
        "full_refresh": Param(
            False, type="boolean", description="Recompute tier history from the first day."
        ),
    },
)
def customer_tiering() -> None:
    @task(pool=orch.WAREHOUSE_POOL, execution_timeout=timedelta(minutes=10))
    def prepare(
        params: dict[str, Any] | None = None, logical_date: datetime | None = None
    ) -> dict[str, Any]:
        """Resolve the days to process and reset the run folder; bad params fail at once."""
        with fail_fast():
            window = orch.resolve_window(logical_date, params)
            folder = orch.prepare(settings(), window)
        log.info("processing %s in %s", window.key, folder)
        return window.to_xcom()

    @task(
        retries=3,
        retry_delay=timedelta(minutes=1),
        retry_exponential_backoff=2.0,
        max_retry_delay=timedelta(minutes=30),
        map_index_template="{{ input_table }}",
    )
    def pull(window: dict[str, Any], table: str) -> dict[str, Any]:
        """Pull one input table from the source into the run folder."""
        get_current_context()["input_table"] = table  # type: ignore[typeddict-unknown-key]
        with fail_fast():
            return orch.pull(settings(), orch.Window.from_xcom(window), table)

    @task(pool=orch.WAREHOUSE_POOL)
    def validate(window: dict[str, Any]) -> str:
        """Validate and load each chunk; a refused batch is quarantined and fails the run at
        once (fail_fast: no retry); a failed load is retried like any other failure."""
        with fail_fast():
            return orch.validate(settings(), orch.Window.from_xcom(window))

    @task(pool=orch.WAREHOUSE_POOL, execution_timeout=timedelta(hours=3), outlets=[TIERS_ASSET])
    def build(window: dict[str, Any]) -> dict[str, Any]:
        """dbt build, publish, BI snapshot and Parquet export under the warehouse lock (the
        steps `tiering run` takes); emits the asset."""
        with fail_fast():
            return orch.build(settings(), orch.Window.from_xcom(window))

    @task(execution_timeout=timedelta(minutes=10))
    def report(window: dict[str, Any], published: dict[str, Any]) -> str:
        """Log the run summary (tiers per class) and keep it in the run folder."""
        summary = orch.report(settings(), orch.Window.from_xcom(window))
        log.info("%s", summary)
        return summary

    window = prepare()
    pulled = pull.partial(window=window).expand(table=list(TABLES))
    validated = validate(window)
    pulled >> validated
    published = build(window)
    validated >> published
    report(window, published)


customer_tiering_dag = customer_tiering()
