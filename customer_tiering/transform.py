"""Transform: run `dbt build` (models and their data tests) for a range of as-of dates.

dbt runs in a child process, one per pipeline run: dbt-duckdb keeps its DuckDB instance
open for the life of the process that ran it, which would lock the warehouse against the
pipeline's own later connections, and dbt-core does not support concurrent in-process
invocations. Unit tests are excluded from production builds; `make test` runs them.

The day layers (int_sales_lines_priced, int_customer_days_aggregated) are incremental: a
build recomputes only the days from its history start. They are valid only for the rules
and project they were built with, so `raw._built` records that fingerprint after each
successful build (and is cleared before one starts); when it differs, dbt runs with
--full-refresh.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from customer_tiering import progress
from customer_tiering.config import DBT_PROJECT_DIR
from customer_tiering.errors import TransformError
from customer_tiering.warehouses import Warehouse

# Dates go to dbt as env vars, not --vars: changed vars force a full re-parse (and the
# macros read them only at compile time, so a new date re-parses nothing).
AS_OF_ENV = "TIERING_AS_OF_DATE"
HISTORY_START_ENV = "TIERING_HISTORY_START_DATE"
# Put before every schema dbt builds into (macros/generate_schema_name.sql): a scratch
# build beside the real one in the same database (whatif on Postgres).
SCHEMA_PREFIX_ENV = "TIERING_SCHEMA_PREFIX"
# First lines of a failed node's error kept in the TransformError message.
ERROR_LINES = 6
# The fingerprint the incremental layers were last built with (one row, or none).
BUILT = "raw._built"
# A build of at most this many as-of dates (a daily run) has no model big enough to
# compete for DuckDB's memory_limit, so it runs SMALL_BUILD_THREADS nodes at once (its
# hundred small tests take a quarter less time); longer builds keep profiles.yml's one.
SMALL_BUILD_DAYS = 7
SMALL_BUILD_THREADS = 2


def state_dir(warehouse: Path) -> Path:
    """dbt's target and log folders for the `warehouse` setting's path, kept beside it so
    that several warehouses (tests, backfills into a scratch file) never share a target
    dir. On Postgres the path names only this local folder."""
    return warehouse.resolve().parent / f".{warehouse.stem}_dbt"


def manifest_path(warehouse: Path) -> Path:
    """The manifest of the last dbt invocation against `warehouse`."""
    return state_dir(warehouse) / "target" / "manifest.json"


def dbt_args(
    command: str, warehouse: Warehouse, extra_vars: dict[str, Any] | None = None
) -> list[str]:
    """Arguments for a dbt command against `warehouse` (its output of profiles.yml), its
    state beside the local path."""
    state = state_dir(warehouse.local)
    args = [
        command,
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target-path",
        str(state / "target"),
        "--log-path",
        str(state / "logs"),
        "--target",
        warehouse.dbt_target,
    ]
    if extra_vars:
        args += ["--vars", json.dumps(extra_vars, default=str)]
    return args


# A dbt child that imports dbt at once, then reads its job (one JSON line: arguments and
# environment) from stdin; an empty stdin ends it.
WAITING_DBT = """
import json, os, sys
from dbt.cli.main import cli
job = sys.stdin.readline()
if not job:
    sys.exit(0)
job = json.loads(job)
os.environ.update(job["env"])
sys.argv = ["-c", *job["args"]]
cli()
"""
LOG_ARGS = ["--log-format", "json", "--log-format-file", "debug"]
DBT_CLI = "from dbt.cli.main import cli; cli()"


class PrestartedDbt:
    """A dbt child started before the run needs it: it imports dbt (3-4 s on these
    machines) while the run pulls, validates and loads, so a daily run's build starts at
    once. Used by at most one run_dbt; `close` ends it if unused."""

    def __init__(self, warehouse: Warehouse) -> None:
        self.warehouse = warehouse
        env = {**os.environ, **warehouse.dbt_env()}
        self.process: subprocess.Popen[str] | None = progress.start_logged(
            [warehouse.dbt_python(), "-c", WAITING_DBT], env, stdin=subprocess.PIPE
        )

    def take(self, args: list[str], env: dict[str, str]) -> subprocess.Popen[str] | None:
        """Hand the child its job; None when it is gone (then the caller starts dbt)."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None or process.stdin is None:
            return None
        try:
            process.stdin.write(json.dumps({"args": args, "env": env}) + "\n")
            process.stdin.close()
        except BrokenPipeError:
            return None
        return process

    def close(self) -> None:
        """End the child if no build took it (a run with nothing to build, or refused),
        at once: it may still be importing dbt."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            if self.process.stdout is not None:
                self.process.stdout.close()
            if self.process.stdin is not None:
                self.process.stdin.close()
            self.process = None


@contextmanager
def prestarted(warehouse: Warehouse) -> Iterator[PrestartedDbt]:
    """A PrestartedDbt for the block, ended with it."""
    dbt = PrestartedDbt(warehouse)
    try:
        yield dbt
    finally:
        dbt.close()


def run_dbt(
    args: list[str],
    warehouse: Warehouse,
    env: dict[str, str] | None = None,
    prestarted: PrestartedDbt | None = None,
) -> None:
    """Run dbt against `warehouse` (its connection in the environment the profile reads),
    in the `prestarted` child if given, shown as progress (or its log streamed, see
    customer_tiering.progress) and logged to `<state>/logs/<command>.log`; raise
    TransformError naming each failed model or test with the first lines of its error."""
    job_env = {**(env or {}), **warehouse.dbt_env()}
    env = {**os.environ, **job_env}
    target = Path(args[args.index("--target-path") + 1])
    log_file = Path(args[args.index("--log-path") + 1]) / f"{args[0]}.log"
    (target / "run_results.json").unlink(missing_ok=True)  # never report a previous run
    started = prestarted.take([*args, *LOG_ARGS], job_env) if prestarted else None
    command = started or [warehouse.dbt_python(), "-c", DBT_CLI, *args, *LOG_ARGS]
    code, tally = progress.run_logged(command, env, log_file)
    if code == 0:
        return
    failures = failed_nodes(target / "run_results.json") or tally.errors[:ERROR_LINES]
    detail = "\n  ".join(failures) if failures else "no error was logged"
    raise TransformError(f"dbt {args[0]} failed (exit {code}):\n  {detail}\n  dbt log: {log_file}")


def failed_nodes(run_results: Path) -> list[str]:
    """'node: status message' for each failed node in dbt's run_results.json, the message
    cut to its first ERROR_LINES lines."""
    if not run_results.exists():
        return []
    results = json.loads(run_results.read_text(encoding="utf-8")).get("results", [])
    lines = [
        f"{result['unique_id']}: {result['status']} {result.get('message') or ''}".strip()
        for result in results
        if result.get("status") in ("error", "fail", "runtime error")
    ]
    return ["\n    ".join(line.splitlines()[:ERROR_LINES]) for line in lines]


def fingerprint(rules: dict[str, Any] | None) -> str:
    """A digest of what decides the published tables besides the raw data: the rule
    overrides and every file of the dbt project. Equal fingerprints and unchanged raw data
    mean a rebuild would publish the same tables, so it can be skipped."""
    digest = hashlib.sha256(json.dumps(rules or {}, sort_keys=True, default=str).encode())
    for folder in ("models", "macros", "seeds", "tests", "snapshots"):
        for path in sorted((DBT_PROJECT_DIR / folder).rglob("*")):
            if path.is_file():
                digest.update(str(path.relative_to(DBT_PROJECT_DIR)).encode())
                digest.update(path.read_bytes())
    for name in ("dbt_project.yml", "profiles.yml"):
        digest.update((DBT_PROJECT_DIR / name).read_bytes())
    return digest.hexdigest()


def generate_docs(warehouse: Warehouse) -> Path:
    """`dbt docs generate` against `warehouse`; returns the folder holding index.html."""
    args = dbt_args("docs", warehouse)
    run_dbt([args[0], "generate", *args[1:]], warehouse)
    return Path(args[args.index("--target-path") + 1])


def built_fingerprint(warehouse: Warehouse) -> str | None:
    """The fingerprint of the last successful build, None if unknown (then the next build
    is a full refresh)."""
    with warehouse.connect() as con:
        con.execute(f"create schema if not exists {BUILT.split('.')[0]}")
        con.execute(f"create table if not exists {BUILT} (fingerprint varchar)")
        rows = con.execute(f"select fingerprint from {BUILT}").fetchall()
    return rows[0][0] if rows else None


def record_built(warehouse: Warehouse, built: str | None) -> None:
    """Set (or with None clear) the fingerprint of the last successful build."""
    with warehouse.connect() as con:
        con.execute(f"delete from {BUILT}")
        if built is not None:
            con.execute(f"insert into {BUILT} values (?)", [built])


def build_threads(warehouse: Warehouse, as_of: date, history_start: date) -> list[str]:
    """`--threads` for a small build on DuckDB, else nothing (the profile's threads)."""
    small = (as_of - history_start).days + 1 <= SMALL_BUILD_DAYS
    if warehouse.dbt_target == "duckdb" and small:
        return ["--threads", str(SMALL_BUILD_THREADS)]
    return []


def build(
    warehouse: Warehouse,
    as_of: date,
    history_start: date,
    rules: dict[str, Any] | None = None,
    full_refresh: bool = False,
    prestarted: PrestartedDbt | None = None,
    schema_prefix: str = "",
) -> None:
    """Build and test every model, computing tier history for the loaded days in
    history_start..as_of. Marts land in schema marts_build; publishing is the caller's
    (customer_tiering.publish), so a failed build publishes nothing. The incremental day
    layers are rebuilt whole when `full_refresh` or when the rules or the project changed
    since they were built.

    With `schema_prefix` dbt builds into the prefixed schemas instead (`<prefix>staging`
    ... `<prefix>marts_build`), whole (their day layers are the scratch build's own), and
    `raw._built`, the fingerprint of the real schemas' day layers, is neither read nor
    changed."""
    if history_start > as_of:
        raise ValueError("history_start must not be after as_of")
    # Set empty for a real build, so no stray variable of the caller's moves it elsewhere.
    env = {
        AS_OF_ENV: as_of.isoformat(),
        HISTORY_START_ENV: history_start.isoformat(),
        SCHEMA_PREFIX_ENV: schema_prefix,
    }
    current = None if schema_prefix else fingerprint(rules)
    refresh = full_refresh or current is None or built_fingerprint(warehouse) != current
    if current is not None:
        record_built(warehouse, None)
    warehouse.prepare_build()
    run_dbt(
        [
            *dbt_args("build", warehouse, rules),
            "--exclude-resource-type",
            "unit_test",
            *(["--full-refresh"] if refresh else []),
            *build_threads(warehouse, as_of, history_start),
        ],
        warehouse,
        env=env,
        prestarted=prestarted,
    )
    if current is not None:
        record_built(warehouse, current)
