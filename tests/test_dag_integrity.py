"""DAG integrity: every file in dags/ imports, the DAG is wired as documented, and one
`airflow dags test` run of a demo day leaves that day's tiers in the warehouse.

Airflow 3.3 removed `DagBag(include_examples=...)`; the files are imported directly (and
through `DagBag(dag_folder=...)`, which the dag-processor uses) with Airflow pointed at a
throwaway AIRFLOW_HOME before its first import.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from types import ModuleType

import duckdb
import pytest

ROOT = Path(__file__).resolve().parent.parent
DAGS_DIR = ROOT / "dags"
VENV_BIN = Path(sys.executable).parent
DAG_FILES = sorted(DAGS_DIR.glob("*.py"))

# Airflow reads its configuration when first imported: give it a home of its own.
os.environ["AIRFLOW_HOME"] = tempfile.mkdtemp(prefix="airflow-home-")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(DAGS_DIR)

pytest.importorskip("airflow.sdk")

from airflow.sdk import DAG  # noqa: E402

from customer_tiering import orchestration, publish  # noqa: E402
from customer_tiering.contract import TABLES  # noqa: E402
from customer_tiering.errors import ConfigError, InputRefused  # noqa: E402

DAY = date(2024, 1, 1)  # the demo ERP's first day: nothing earlier needs to be loaded


def import_dag_file(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"dagfile_{path.stem}", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def dag_module() -> ModuleType:
    return import_dag_file(DAGS_DIR / "customer_tiering_dag.py")


@pytest.fixture(scope="module")
def dag(dag_module: ModuleType) -> DAG:
    return dag_module.customer_tiering_dag


@pytest.mark.parametrize("path", DAG_FILES, ids=[path.name for path in DAG_FILES])
def test_dag_file_imports_and_defines_a_dag(path: Path) -> None:
    module = import_dag_file(path)
    assert [value for value in vars(module).values() if isinstance(value, DAG)], path
    assert path.stem != "customer_tiering", "a DAG file named like the package shadows it"


def test_dagbag_loads_without_errors_or_warnings() -> None:
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(
        dag_folder=str(DAGS_DIR), known_pools={"default_pool", orchestration.WAREHOUSE_POOL}
    )
    assert bag.import_errors == {}
    assert "customer_tiering" in bag.dag_ids
    assert not bag.dag_warnings


def test_no_cycles_and_documented_order(dag: DAG) -> None:
    upstream = {task.task_id: set(task.upstream_task_ids) for task in dag.tasks}
    visiting: set[str] = set()
    done: set[str] = set()

    def visit(task_id: str) -> None:
        assert task_id not in visiting, f"cycle through {task_id}"
        if task_id in done:
            return
        visiting.add(task_id)
        for parent in upstream[task_id]:
            visit(parent)
        visiting.discard(task_id)
        done.add(task_id)

    for task_id in upstream:
        visit(task_id)
    assert upstream == {
        "prepare": set(),
        "pull": {"prepare"},
        "validate": {"prepare", "pull"},
        "build": {"prepare", "validate"},
        "report": {"prepare", "build"},
    }


def test_schedule_owner_tags_and_serial_runs(dag: DAG) -> None:
    assert type(dag.timetable).__name__ == "CronDataIntervalTimetable"
    assert dag.timetable.expression == "0 0 * * *"  # type: ignore[attr-defined]
    assert dag.catchup is False
    assert dag.max_active_runs == 1
    assert dag.tags and "customer_tiering" in dag.tags
    assert dag.doc_md and "CronDataIntervalTimetable" in dag.doc_md
    for task in dag.tasks:
        assert task.owner == "data-platform", task.task_id
        assert task.execution_timeout is not None, task.task_id
        assert task.on_failure_callback, task.task_id


def test_a_scheduled_run_processes_its_logical_dates_day() -> None:
    """With CronDataIntervalTimetable the run covering 2024-01-01 has that day's midnight as
    its logical date and fires when the day is over."""
    from airflow.timetables.base import DataInterval, TimeRestriction
    from airflow.timetables.interval import CronDataIntervalTimetable

    timetable = CronDataIntervalTimetable("0 0 * * *", timezone="UTC")
    info = timetable.next_dagrun_info(
        last_automated_data_interval=DataInterval(
            datetime(2023, 12, 31, tzinfo=UTC), datetime(2024, 1, 1, tzinfo=UTC)
        ),
        restriction=TimeRestriction(earliest=None, latest=None, catchup=True),
    )
    assert info is not None
    assert info.run_after == datetime(2024, 1, 2, tzinfo=UTC)
    assert orchestration.resolve_window(info.logical_date, {}).start == DAY


def test_retries_fit_the_failure(dag: DAG) -> None:
    tasks = {task.task_id: task for task in dag.tasks}
    pull = tasks["pull"]
    assert pull.retries >= 2
    assert pull.retry_exponential_backoff and pull.max_retry_delay
    # Refused input fails at once (fail_fast, tested below); a failed load is retried.
    for task_id in ("prepare", "validate", "build"):
        assert tasks[task_id].retries >= 1


def test_warehouse_tasks_share_the_one_slot_pool(dag: DAG) -> None:
    pooled = {task.task_id for task in dag.tasks if task.pool == orchestration.WAREHOUSE_POOL}
    assert pooled == {"prepare", "validate", "build"}


def test_build_emits_the_tiers_asset(dag: DAG, dag_module: ModuleType) -> None:
    build = next(task for task in dag.tasks if task.task_id == "build")
    assert dag_module.TIERS_ASSET in build.outlets
    assert dag_module.TIERS_ASSET.name == "customer_tiers"


def test_pull_is_mapped_over_the_input_tables(dag: DAG) -> None:
    pull = next(task for task in dag.tasks if task.task_id == "pull")
    assert pull.op_kwargs_expand_input.value["table"] == list(TABLES)  # type: ignore[attr-defined]


def test_params_are_validated(dag: DAG) -> None:
    from airflow.sdk import Param
    from airflow.sdk.exceptions import ParamValidationError

    assert set(dag.params) == {"start", "end", "full_refresh"}
    dag.params.validate()  # the defaults (a scheduled run) are valid
    start = dag.params.get_param("start")
    assert Param(start.value, **start.schema).resolve("2024-03-05") == "2024-03-05"
    for bad in ("2024-13-01", "05/03/2024", 20240305):
        with pytest.raises(ParamValidationError):
            Param(start.value, **start.schema).resolve(bad)
    with pytest.raises(ParamValidationError):
        full = dag.params.get_param("full_refresh")
        Param(full.value, **full.schema).resolve("yes")


def test_refusals_fail_fast_other_errors_retry(dag_module: ModuleType) -> None:
    from airflow.sdk.exceptions import AirflowFailException

    for refusal in (InputRefused("sales_lines refused"), ConfigError("end before start")):
        with pytest.raises(AirflowFailException, match=str(refusal)), dag_module.fail_fast():
            raise refusal
    with pytest.raises(RuntimeError), dag_module.fail_fast():
        raise RuntimeError("source timed out")


def wrapped_refusal(dag_module: ModuleType) -> Exception:
    """The exception a refused validate task ends with: InputRefused inside fail_fast."""
    try:
        with dag_module.fail_fast():
            raise InputRefused("ar_payments: 1 day(s) refused")
    except Exception as exc:
        return exc
    raise AssertionError("fail_fast swallowed the refusal")


def test_failure_callback_logs_one_paragraph(
    dag: DAG, dag_module: ModuleType, caplog: pytest.LogCaptureFixture
) -> None:
    class FakeTI:
        task_id = "validate"

    caplog.set_level(logging.ERROR)
    dag_module.log_failure(
        {
            "dag": dag,
            "ti": FakeTI(),
            "logical_date": datetime(2024, 1, 1, tzinfo=UTC),
            "exception": wrapped_refusal(dag_module),
        }
    )
    (record,) = caplog.records
    assert "dag customer_tiering, task validate, logical date 2024-01-01" in record.message
    assert "not retried" in record.message


# --- one demo day through `airflow dags test` -------------------------------------------


def airflow_env(home: Path, config: Path) -> dict[str, str]:
    """Environment for airflow subcommands: own home and SQLite DB, the venv first on PATH."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AIRFLOW") and key != "TIERING_CONFIG"
    }
    return {
        **env,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_DIR),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "TIERING_CONFIG": str(config),
    }


def write_config(root: Path) -> Path:
    config = root / "tiering.yml"
    config.write_text(
        f"source: demo\nwarehouse: {root / 'warehouse' / 'tiers.duckdb'}\n"
        f"quarantine: {root / 'quarantine'}\ndemo: {{customers: 60, lines_per_day: 40}}\n",
        encoding="utf-8",
    )
    return config


def airflow(env: dict[str, str], *args: str, timeout: float = 300) -> str:
    completed = subprocess.run(
        [str(VENV_BIN / "airflow"), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert completed.returncode == 0, f"airflow {' '.join(args)}:\n{completed.stdout[-3000:]}"
    return completed.stdout


def test_dags_test_runs_one_demo_day(tmp_path: Path) -> None:
    from customer_tiering import pipeline
    from customer_tiering.config import load_settings
    from tests.conftest import table_checksum

    config = write_config(tmp_path)
    env = airflow_env(tmp_path / "airflow", config)
    started = time.monotonic()
    airflow(env, "db", "migrate")
    airflow(env, "pools", "set", orchestration.WAREHOUSE_POOL, "1", "DuckDB: one writer")
    output = airflow(env, "dags", "test", "customer_tiering", DAY.isoformat())
    print(f"airflow db migrate + dags test: {time.monotonic() - started:.0f} s")
    assert "state=success" in output

    settings = load_settings(config)
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        as_of, customers = con.execute(
            "select max(as_of_date), count(*) from marts.customer_tiers"
        ).fetchone()
    assert as_of == DAY
    assert customers > 0
    assert publish.bi_snapshot_path(settings.warehouse).exists()
    # The build task exported the publication too (the export itself: tests/test_exports.py).
    export = settings.warehouse.parent / "exports"
    assert (export / "customer_tiers" / "customer_tiers.parquet").exists()
    assert (export / "customer_tier_history" / f"as_of_date={DAY}" / "data.parquet").exists()

    # The same day through the command line's path gives the same published tiers.
    direct = load_settings(config, warehouse=tmp_path / "direct" / "tiers.duckdb")
    pipeline.run(direct, DAY, DAY)
    for table in ("marts.customer_tiers", "marts.customer_tier_history"):
        assert table_checksum(settings.warehouse, table) == table_checksum(direct.warehouse, table)
