"""A real Airflow 3 (scheduler, dag-processor, api-server, LocalExecutor, SQLite metadata)
runs the customer_tiering DAG: a pending three-day backfill of past days plus the unpaused
daily schedule (which adds the latest day's run beside the backfill, its runs' tasks free
to interleave) must all succeed and give the same warehouse as `tiering run --date` for
the same days one after the other; a run whose input fails validation must fail at
validation, without retrying, leaving the published tables as they were; and the same DAG
with `target: postgres` (a real PostgreSQL server on loopback, tests/postgres.py) must
load, build and publish one day there, with its Parquet export and tier report.

Everything runs on loopback in a temporary AIRFLOW_HOME, in one process group that the
fixture ends (Airflow's components leave children behind otherwise). Progress is printed
(`pytest -s` shows it). Three to four minutes on a quiet machine before the Postgres run
was added; measured 2026-12-04 at load average 10 on 2 cores: 9 min 35 s, 96 s of it the
Postgres run (a new DAG run on a day no run has, so nothing waits for a reprocess).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import pandas as pd
import pytest

from customer_tiering import exports, orchestration, publish
from customer_tiering.config import load_settings
from customer_tiering.warehouses.postgres import URL_ENV
from tests.conftest import published_checksums, table_checksum, warehouse_tables
from tests.test_postgres_target import new_database, pg_publication, pg_rows, psycopg_url

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parent.parent
DAGS_DIR = ROOT / "dags"
VENV_BIN = Path(sys.executable).parent
DAG_ID = "customer_tiering"
FIRST, LAST = date(2024, 1, 1), date(2024, 1, 3)
BAD_DAY = LAST + timedelta(days=1)
# The day the DAG runs on the Postgres warehouse: no run of the DAG has it yet.
PG_DAY = BAD_DAY + timedelta(days=1)
STARTED = time.monotonic()

# The daily runs through pipeline.run, without Airflow: config, first day, last day.
REFERENCE = """
import sys
from datetime import date, timedelta
from pathlib import Path

from customer_tiering import pipeline
from customer_tiering.config import load_settings

settings = load_settings(Path(sys.argv[1]))
for day in sys.argv[2:]:
    pipeline.run(settings, date.fromisoformat(day), date.fromisoformat(day))
"""


Found = TypeVar("Found")


def progress(message: str) -> None:
    print(f"[{time.monotonic() - STARTED:6.1f} s] {message}", flush=True)


def poll(probe: Callable[[], Found | None], timeout: float, interval: float) -> Found | None:
    """What `probe` returns once it returns something, asked every `interval` seconds;
    None when `timeout` seconds passed first (the caller says what did not happen)."""
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found is not None or time.monotonic() >= deadline:
            return found
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def write_config(path: Path, root: Path, **extra: str) -> Path:
    lines = [
        f"source: {extra.pop('source', 'demo')}",
        f"warehouse: {root / 'warehouse' / 'tiers.duckdb'}",
        f"quarantine: {root / 'quarantine'}",
        "demo: {customers: 60, lines_per_day: 40}",
        *(f"{key}: {value}" for key, value in extra.items()),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class Airflow:
    """Airflow's CLI against the test's home, and the components it started."""

    def __init__(self, home: Path, config: Path, pg_url: str) -> None:
        self.home = home
        self.port = free_port()
        inherited = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("AIRFLOW") and key != "TIERING_CONFIG"
        }
        self.env = {
            **inherited,
            "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
            "AIRFLOW_HOME": str(home),
            # SQLite metadata shared by the scheduler, dag-processor, api-server and the
            # CLI: wait up to 60 s for its write lock (the default 5 s failed a
            # `backfill create` once under load with "database is locked").
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home.resolve()}/airflow.db?timeout=60",
            "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            "AIRFLOW__CORE__PARALLELISM": "8",
            "AIRFLOW__CORE__DAGBAG_IMPORT_TIMEOUT": "120",
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": (f"http://127.0.0.1:{self.port}/execution/"),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
            "AIRFLOW__API__HOST": "127.0.0.1",
            "AIRFLOW__API__PORT": str(self.port),
            "AIRFLOW__API__WORKERS": "1",
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(16),
            "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
            # Parse the DAG file once, not every 30 s: CPU goes to the runs under test.
            "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "600",
            "TIERING_CONFIG": str(config),
            # For the run on the Postgres warehouse (tasks inherit the scheduler's env).
            URL_ENV: psycopg_url(pg_url),
        }
        self.group: subprocess.Popen[bytes] | None = None

    def cli(self, *args: str, check: bool = True, timeout: float = 120) -> str:
        completed = subprocess.run(
            [str(VENV_BIN / "airflow"), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and completed.returncode != 0:
            raise AssertionError(
                f"airflow {' '.join(args)} exited {completed.returncode}:\n"
                f"{completed.stdout[-2000:]}\n{completed.stderr[-2000:]}"
            )
        return completed.stdout

    def cli_json(self, *args: str) -> list[dict[str, Any]]:
        """A CLI listing as JSON (warnings printed before it are skipped)."""
        output = self.cli(*args, "--output", "json")
        for line in reversed(output.splitlines()):
            if line.startswith("[{") or line.strip() == "[]":
                return json.loads(line)
        return []

    def start(self) -> None:
        """scheduler, dag-processor and api-server in ONE new process group."""
        logs = self.home / "component-logs"
        logs.mkdir(parents=True, exist_ok=True)
        script = " & ".join(
            f"airflow {command} > {logs / name}.log 2>&1"
            for name, command in (
                ("scheduler", "scheduler"),
                ("dag-processor", "dag-processor"),
                ("api-server", f"api-server --host 127.0.0.1 --port {self.port}"),
            )
        )
        self.group = subprocess.Popen(
            ["bash", "-c", f"{script} & wait"], env=self.env, start_new_session=True
        )

    def stop(self) -> None:
        if self.group is None:
            return
        pgid = self.group.pid

        def group_gone() -> bool | None:
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                return True
            return None

        for sig, grace in ((signal.SIGTERM, 20), (signal.SIGKILL, 5)):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                return
            if poll(group_gone, grace, 0.5):
                return

    def component_logs(self) -> str:
        parts = []
        for log in sorted((self.home / "component-logs").glob("*.log")):
            parts.append(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}")
        return "\n".join(parts)

    def wait_healthy(self, timeout: float = 240) -> None:
        url = f"http://127.0.0.1:{self.port}/api/v2/monitor/health"

        def healthy() -> bool | None:
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    health = json.loads(response.read())
            except OSError:
                return None
            parts = ("metadatabase", "scheduler")
            return all(health.get(part, {}).get("status") == "healthy" for part in parts) or None

        if not poll(healthy, timeout, 3):
            raise AssertionError(f"Airflow not healthy after {timeout} s\n{self.component_logs()}")

    def wait_dag_parsed(self, timeout: float = 150) -> None:
        def parsed() -> bool | None:
            return any(dag.get("dag_id") == DAG_ID for dag in self.cli_json("dags", "list")) or None

        if not poll(parsed, timeout, 3):
            errors = self.cli("dags", "list-import-errors", check=False)
            raise AssertionError(f"{DAG_ID} not parsed after {timeout} s\n{errors}")

    def backfill(self, first: date, last: date, timeout: float = 120) -> None:
        """`airflow backfill create` of first..last, one run at a time. Two refusals are
        waited out and retried: AlreadyRunningBackfill (the scheduler marks an earlier
        backfill complete a loop after its last run ends), and SQLite's "database is
        locked", which the busy timeout does not cover when a read transaction must turn
        into a write while the scheduler writes (SQLite answers at once rather than
        deadlock; Airflow then removes the half-made backfill so it can be retried)."""
        refusals: list[AssertionError] = []

        def created() -> bool | None:
            try:
                self.cli(
                    "backfill",
                    "create",
                    "--dag-id",
                    DAG_ID,
                    "--from-date",
                    first.isoformat(),
                    "--to-date",
                    last.isoformat(),
                    "--max-active-runs",
                    "1",
                )
            except AssertionError as refused:
                retryable = ("AlreadyRunningBackfill", "database is locked")
                if not any(reason in str(refused) for reason in retryable):
                    raise
                refusals.append(refused)
                return None
            return True

        if not poll(created, timeout, 3):
            raise refusals[-1]

    def runs(self) -> list[dict[str, Any]]:
        return self.cli_json("dags", "list-runs", DAG_ID)

    def wait_runs(self, logical_days: list[date], timeout: float) -> dict[date, dict[str, Any]]:
        """Poll until every run of `logical_days` is finished; return them by day."""
        last = ""

        def finished() -> dict[date, dict[str, Any]] | None:
            nonlocal last
            found = {
                date.fromisoformat(run["logical_date"][:10]): run
                for run in self.runs()
                if run.get("logical_date")
            }
            wanted = {day: found.get(day) for day in logical_days}
            states = ", ".join(
                f"{day}: {run['state'] if run else '-'}" for day, run in wanted.items()
            )
            if states != last:
                progress(f"runs {states}")
                last = states
            if all(run and run["state"] in ("success", "failed") for run in wanted.values()):
                return wanted  # type: ignore[return-value]
            return None

        runs = poll(finished, timeout, 5)
        if runs is None:
            raise AssertionError(f"runs not finished after {timeout} s: {last}")
        return runs

    def wait_scheduled_run(self, timeout: float = 180) -> date:
        """The business day of the run the daily schedule created."""

        def scheduled_day() -> date | None:
            for run in self.runs():
                if str(run.get("run_id", "")).startswith("scheduled__"):
                    return date.fromisoformat(run["logical_date"][:10])
            return None

        day = poll(scheduled_day, timeout, 3)
        if day is None:
            raise AssertionError(f"no scheduled run after {timeout} s: {self.runs()}")
        return day

    def task_states(self, run_id: str) -> dict[str, str]:
        """task_id -> state (of map index 0 for a mapped task)."""
        rows = self.cli_json("tasks", "states-for-dag-run", DAG_ID, run_id)
        return {row["task_id"]: row["state"] for row in rows if row.get("map_index") in ("", "0")}

    def attempts(self, run_id: str, task_id: str) -> list[Path]:
        """The log file of each attempt of a task (one per try)."""
        folder = self.home / "logs" / f"dag_id={DAG_ID}" / f"run_id={run_id}" / f"task_id={task_id}"
        return sorted(folder.glob("attempt=*.log"))


@pytest.fixture
def airflow(tmp_path: Path, postgres_url: str) -> Iterator[Airflow]:
    config = write_config(tmp_path / "tiering.yml", tmp_path / "airflow-run")
    pg_url = new_database(postgres_url, "airflow_dag")
    instance = Airflow(tmp_path / "airflow-home", config, pg_url)
    try:
        progress("airflow db migrate")
        instance.cli("db", "migrate", timeout=180)
        instance.cli("pools", "set", orchestration.WAREHOUSE_POOL, "1", "DuckDB: one writer")
        progress(f"starting scheduler, dag-processor, api-server on 127.0.0.1:{instance.port}")
        instance.start()
        yield instance
    finally:
        progress("stopping the Airflow process group")
        instance.stop()


def test_backfill_then_refused_day(airflow: Airflow, tmp_path: Path) -> None:
    settings = load_settings(Path(airflow.env["TIERING_CONFIG"]))

    airflow.wait_healthy()
    progress("components healthy; waiting for the DAG to be parsed")
    airflow.wait_dag_parsed()
    progress(f"backfill create {FIRST}..{LAST} --max-active-runs 1; unpause")
    airflow.backfill(FIRST, LAST)
    # Unpausing also starts the daily schedule: it adds the latest day's run, which runs
    # beside the backfill's (their max-active-runs are counted apart).
    airflow.cli("dags", "unpause", DAG_ID)
    scheduled_day = airflow.wait_scheduled_run()
    progress(f"the schedule added the run of {scheduled_day} beside the backfill")
    days = [FIRST + timedelta(days=n) for n in range((LAST - FIRST).days + 1)]
    runs = airflow.wait_runs([*days, scheduled_day], timeout=1200)
    failed = [day for day, run in runs.items() if run["state"] != "success"]
    assert not failed, f"runs failed: {failed}\n{airflow.component_logs()}"

    # The reference: the same days through pipeline.run (the command line's path), one call
    # per day as the daily schedule would. Run after the backfill rather than beside it, so
    # both builds use the same dbt models while colleagues edit them.
    progress("backfill and scheduled run succeeded; the same days through pipeline.run")
    reference_config = write_config(tmp_path / "reference.yml", tmp_path / "reference")
    in_order = [str(day) for day in [*days, scheduled_day]]
    reference = subprocess.run(
        [sys.executable, "-c", REFERENCE, str(reference_config), *in_order],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        timeout=600,
        check=False,
    )
    assert reference.returncode == 0, reference.stderr.decode(errors="replace")[-3000:]

    reference_settings = load_settings(reference_config)
    tables = warehouse_tables(settings.warehouse)
    assert tables == warehouse_tables(reference_settings.warehouse)
    assert any(table == "marts.customer_tiers" for table in tables)
    different = [
        table
        for table in tables
        if table_checksum(settings.warehouse, table)
        != table_checksum(reference_settings.warehouse, table)
    ]
    assert not different, f"Airflow's runs and tiering run in order differ in {different}"
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        latest = con.execute("select max(as_of_date) from marts.customer_tiers").fetchone()[0]
    assert latest == scheduled_day  # never moved back by a backfill day run after it

    # A day whose sales lines fail validation, delivered as files; same warehouse.
    published = published_checksums(settings.warehouse)
    snapshot = publish.bi_snapshot_path(settings.warehouse)
    snapshot_before = snapshot.read_bytes()
    landing = tmp_path / "landing"
    from customer_tiering.sources import files
    from customer_tiering.sources.demo import DemoSource

    demo = settings.demo
    files.export(
        DemoSource(seed=demo.seed, customers=demo.customers, lines_per_day=demo.lines_per_day),
        FIRST,
        BAD_DAY,
        landing,
        "csv",
    )
    bad_file = landing / "sales_lines" / f"{BAD_DAY}.csv"
    lines = pd.read_csv(bad_file, dtype=str)
    assert len(lines) > 0
    lines["customer_id"] = ""  # every line without a customer: a critical expectation
    lines.to_csv(bad_file, index=False)
    bad_config = write_config(
        tmp_path / "bad.yml", tmp_path / "airflow-run", source="files", landing=str(landing)
    )
    airflow.cli("variables", "set", "tiering_config", str(bad_config))
    progress(f"backfill of {BAD_DAY} from a landing folder with a bad sales_lines file")
    airflow.backfill(BAD_DAY, BAD_DAY)
    run = airflow.wait_runs([BAD_DAY], timeout=420)[BAD_DAY]
    assert run["state"] == "failed"
    states = airflow.task_states(run["run_id"])
    progress("task states: " + ", ".join(f"{task}={state}" for task, state in states.items()))
    assert states["validate"] == "failed"
    assert states["build"] == "upstream_failed"
    validate_attempts = airflow.attempts(run["run_id"], "validate")
    assert len(validate_attempts) == 1, validate_attempts  # not retried
    assert "input refused (not retried)" in validate_attempts[0].read_text(errors="replace")
    assert published_checksums(settings.warehouse) == published
    assert snapshot.read_bytes() == snapshot_before
    assert (settings.quarantine / "sales_lines" / BAD_DAY.isoformat()).is_dir()
    progress("refused day failed at validation, not retried; published tables unchanged")

    # The same DAG on a Postgres warehouse (`target: postgres` in its tiering.yml, the URL
    # in the workers' environment): one day loaded, built, published there, then exported
    # as Parquet and reported, all from schema marts.
    pg_config = write_config(tmp_path / "pg.yml", tmp_path / "pg-run", target="postgres")
    airflow.cli("variables", "set", "tiering_config", str(pg_config))
    progress(f"backfill of {PG_DAY} on the Postgres warehouse")
    airflow.backfill(PG_DAY, PG_DAY)
    run = airflow.wait_runs([PG_DAY], timeout=600)[PG_DAY]
    states = airflow.task_states(run["run_id"])
    assert run["state"] == "success", f"{states}\n{airflow.component_logs()}"
    assert set(states.values()) == {"success"}, states
    pg_url = airflow.env[URL_ENV]
    assert pg_rows(pg_url, "select max(as_of_date), count(*) > 0 from marts.customer_tiers") == [
        (PG_DAY, True)
    ]
    pg_settings = load_settings(pg_config)
    root = exports.exports_dir(pg_settings.warehouse)
    marker = json.loads((root / exports.MARKER).read_text(encoding="utf-8"))
    assert marker["published_at"] == pg_publication(pg_url)
    assert (root / "customer_tier_history" / f"as_of_date={PG_DAY}" / "data.parquet").exists()
    assert (root / "customer_tiers" / "customer_tiers.parquet").exists()
    reports = pg_settings.warehouse.resolve().parent / "reports" / "tiers"
    assert (reports / f"{PG_DAY}.html").exists() and (reports / "latest.html").exists()
    assert not publish.bi_snapshot_path(pg_settings.warehouse).exists()
    progress("the Postgres run succeeded: published, exported as Parquet, reported")
