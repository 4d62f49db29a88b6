"""Write-audit-publish: a run that fails or is killed at any moment leaves every published
table and the BI snapshot as they were, and the next run recovers by itself.

Real processes, real dbt, a real DuckDB file: `tiering run` is killed (SIGKILL of its
process group, dbt included) at moments read off dbt's own log; a data test and a model
are made to fail through a copy of the dbt project with one file changed.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from datetime import date
from pathlib import Path

import duckdb
import pytest

from customer_tiering import pipeline, publish, transform
from customer_tiering.config import DemoSettings, Settings
from customer_tiering.errors import TransformError
from tests.conftest import published_checksums, table_checksum, tiering_command, warehouse_tables

SCALE = {"seed": 11, "customers": 40, "lines_per_day": 30}
FIRST, SECOND, NEXT = date(2024, 3, 1), date(2024, 3, 7), date(2024, 3, 8)


def settings_for(folder: Path) -> Settings:
    return Settings(
        warehouse=folder / "tiers.duckdb",
        quarantine=folder / "quarantine",
        demo=DemoSettings(**SCALE),
    )


def write_config(settings: Settings, path: Path) -> Path:
    path.write_text(
        f"warehouse: {settings.warehouse}\nquarantine: {settings.quarantine}\n"
        f"demo: {{seed: {SCALE['seed']}, customers: {SCALE['customers']},"
        f" lines_per_day: {SCALE['lines_per_day']}}}\n",
        encoding="utf-8",
    )
    return path


def copy_of(folder: Path, tmp_path: Path, name: str) -> Settings:
    """A writable copy of a warehouse folder (warehouse, BI snapshot, dbt state)."""
    target = tmp_path / name
    shutil.copytree(folder, target)
    return settings_for(target)


def everything(warehouse: Path) -> dict[str, str]:
    """Checksum of every raw and published table."""
    return {table: table_checksum(warehouse, table) for table in warehouse_tables(warehouse)}


def pending_days(warehouse: Path) -> list[date]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return [row[0] for row in con.execute("select * from raw._pending order by 1").fetchall()]


@pytest.fixture(scope="module")
def base(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A warehouse folder with FIRST..SECOND published."""
    folder = tmp_path_factory.mktemp("base")
    pipeline.run(settings_for(folder), FIRST, SECOND)
    return folder


@pytest.fixture(scope="module")
def reference(base: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Every table after base plus a clean run of NEXT: what a run that never failed gives."""
    settings = copy_of(base, tmp_path_factory.mktemp("reference"), "wh")
    pipeline.run(settings, NEXT, NEXT)
    return everything(settings.warehouse)


def stat_fields(stat: Path) -> list[str] | None:
    """A /proc stat file's fields after "(comm)" (state, ppid, pgrp, ...; comm itself may
    hold spaces); None once the process is gone."""
    try:
        return stat.read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def is_exiting_or_alive(process: Path) -> bool:
    """Whether any thread of /proc/<pid> still runs. A killed multi-threaded process (dbt's
    DuckDB) shows its leader as a zombie while other threads are still exiting, and
    those still hold its files, the warehouse lock among them."""
    states = [stat_fields(stat) for stat in process.glob("task/*/stat")]
    return any(fields is not None and fields[0] not in ("Z", "X") for fields in states)


def wait_for_group_exit(group: int, timeout: float = 60) -> None:
    """Wait until no live process of process group `group` is left. Waiting for the leader
    is not enough: its dbt child may still be exiting, holding the warehouse file's lock."""
    deadline = time.monotonic() + timeout
    while True:
        alive = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            fields = stat_fields(stat)
            if fields is not None and int(fields[2]) == group and is_exiting_or_alive(stat.parent):
                alive.append(stat.parent.name)
        if not alive:
            return
        assert time.monotonic() < deadline, f"processes {alive} of group {group} outlived SIGKILL"
        time.sleep(0.05)


def run_and_kill(config: Path, marker: str) -> str:
    """Start `tiering run --date NEXT --verbose` and SIGKILL its whole process group as soon
    as its output contains `marker`; return the output read until then."""
    process = subprocess.Popen(
        # --verbose: dbt's log on stdout, whose lines are the markers.
        tiering_command(config, "run", "--date", NEXT.isoformat(), "--verbose"),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    seen = []
    assert process.stdout is not None
    for line in process.stdout:
        seen.append(line)
        if marker in line:
            os.killpg(process.pid, signal.SIGKILL)
            break
    process.wait(timeout=120)
    wait_for_group_exit(process.pid)
    output = "".join(seen)
    assert marker in output, output[-3000:]
    assert process.returncode == -signal.SIGKILL, output[-3000:]
    return output


# Moments of a run, as dbt logs them: building the intermediate layer, half of the marts
# built in marts_build, the marts built and being tested, and dbt done (publish under way
# or just finished).
KILL_POINTS = [
    "START sql table model intermediate.int_customer_windows_aggregated",
    "OK created sql table model marts_build.customer_tiers",
    "START test not_null_customer_service_plan",
    "Completed successfully",
]


def test_a_killed_run_leaves_all_old_or_all_new(base: Path, tmp_path: Path, reference) -> None:
    settings = copy_of(base, tmp_path, "wh")
    config = write_config(settings, tmp_path / "tiering.yml")
    old = published_checksums(settings.warehouse)
    snapshot = publish.bi_snapshot_path(settings.warehouse)
    new = {table: value for table, value in reference.items() if table.startswith("marts.")}
    assert new != old
    for marker in KILL_POINTS:
        old_snapshot = snapshot.read_bytes()
        run_and_kill(config, marker)
        now = published_checksums(settings.warehouse)
        assert now in (old, new), f"killed at {marker!r}: published tables are half-new"
        if marker != KILL_POINTS[-1]:
            assert now == old, f"killed at {marker!r} before publishing, yet tables changed"
            assert snapshot.read_bytes() == old_snapshot
            # The loaded day waits to be recomputed by the next run.
            assert pending_days(settings.warehouse) == [NEXT]
    # The next run recovers by itself: it equals a run that never failed.
    pipeline.run(settings, NEXT, NEXT)
    assert everything(settings.warehouse) == reference
    assert pending_days(settings.warehouse) == []
    with duckdb.connect(str(snapshot), read_only=True) as con:
        as_of = con.execute("select max(as_of_date) from marts.customer_tiers").fetchone()[0]
    assert as_of == NEXT


def broken_project(tmp_path: Path, relative: str, sql: str) -> Path:
    """A copy of the dbt project with one file written (a failing test or model)."""
    project = tmp_path / "dbt_project"
    shutil.copytree(
        transform.DBT_PROJECT_DIR,
        project,
        ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"),
    )
    (project / relative).write_text(sql, encoding="utf-8")
    return project


@pytest.mark.parametrize(
    "relative,sql,failed",
    [
        # A data test on a mart fails: the build stops after writing marts_build.
        (
            "tests/assert_injected_failure.sql",
            "select customer_id from {{ ref('customer_tiers') }}",
            "assert_injected_failure",
        ),
        # A model fails at run time, after others were built.
        (
            "models/marts/tiers/customer_service_plan.sql",
            "select cast('not a number' as integer) as as_of_date",
            "customer_service_plan",
        ),
    ],
    ids=["data_test_fails", "model_fails"],
)
def test_a_failed_build_publishes_nothing(
    base: Path,
    tmp_path: Path,
    reference: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    relative: str,
    sql: str,
    failed: str,
) -> None:
    settings = copy_of(base, tmp_path, "wh")
    old = published_checksums(settings.warehouse)
    snapshot = publish.bi_snapshot_path(settings.warehouse)
    old_snapshot = snapshot.read_bytes()
    with monkeypatch.context() as patch:
        patch.setattr(transform, "DBT_PROJECT_DIR", broken_project(tmp_path, relative, sql))
        with pytest.raises(TransformError, match=failed):
            pipeline.run(settings, NEXT, NEXT)
    assert published_checksums(settings.warehouse) == old
    assert snapshot.read_bytes() == old_snapshot
    assert pending_days(settings.warehouse) == [NEXT]
    pipeline.run(settings, NEXT, NEXT)
    assert everything(settings.warehouse) == reference
