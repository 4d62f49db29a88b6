"""The dbt project on every target of profiles.yml, so that SQL only DuckDB understands
fails here rather than on a Postgres or Spark warehouse.

- duckdb: `dbt compile` of both branches of the models (a build of a few as-of dates and
  one of many, macros/run_dates.sql); the rest of the suite builds and checks DuckDB.
- postgres: on a real server (tests/postgres.py) with the contract's raw tables, empty,
  `dbt build --empty` runs every model's SQL and data test: a first build of many dates,
  then, with a published tier history and hysteresis on, incremental builds of a few and
  of many dates. Then the unit tests assert their hand-computed figures on Postgres.
- spark: `dbt compile` through a local Spark session (about 20 s, mostly the JVM), run
  by `.venv-spark` (tests/spark.py: `make spark-env` when missing); skipped without Java.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
import sqlalchemy

from customer_tiering import transform
from customer_tiering.config import DBT_PROJECT_DIR
from customer_tiering.contract import BUSINESS_DATE, LOADED_AT, TABLES
from tests.spark import requires_java, spark_python

# (as-of date, history start): a daily build, and builds of many as-of dates.
FEW_DATES = ("2025-01-01", "2025-01-01")
MANY_DATES = ("2024-12-31", "2024-01-01")
LATER_MANY_DATES = ("2025-12-31", "2025-01-02")


def dbt(
    command: list[str],
    target: str,
    state: Path,
    dates: tuple[str, str],
    env: dict,
    python: str = sys.executable,
) -> dict:
    """Run dbt on `target` with the build's dates; its run results (none for `parse`).
    Fails the test with dbt's output when dbt fails."""
    as_of, history_start = dates
    args = [
        *command,
        *("--target", target, "--project-dir", str(DBT_PROJECT_DIR)),
        *("--profiles-dir", str(DBT_PROJECT_DIR), "--target-path", str(state / "target")),
        *("--log-path", str(state / "logs")),
    ]
    dates_env = {"TIERING_AS_OF_DATE": as_of, "TIERING_HISTORY_START_DATE": history_start}
    results = state / "target" / "run_results.json"
    results.unlink(missing_ok=True)
    done = subprocess.run(
        [python, "-c", transform.DBT_CLI, *args],
        env={**os.environ, **env, **dates_env},
        cwd=state,  # a Spark session writes its Derby metastore into the working folder
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, f"dbt {' '.join(command)} on {target}:\n{done.stdout[-6000:]}"
    return json.loads(results.read_text(encoding="utf-8")) if results.exists() else {}


def statuses(results: dict, prefix: str) -> dict[str, str]:
    return {
        result["unique_id"].split(".")[-1]: result["status"]
        for result in results["results"]
        if result["unique_id"].startswith(prefix)
    }


def model_names() -> set[str]:
    return {path.stem for path in (DBT_PROJECT_DIR / "models").rglob("*.sql")}


def run_models(state: Path) -> set[str]:
    """The models the last dbt command against `state` reports: every model but the
    ephemeral ones, which dbt compiles into the models reading them (checked here: each
    one's CTE is in some compiled model)."""
    manifest = json.loads((state / "target" / "manifest.json").read_text(encoding="utf-8"))
    models = [node for node in manifest["nodes"].values() if node["resource_type"] == "model"]
    ephemeral = {node["name"] for node in models if node["config"]["materialized"] == "ephemeral"}
    compiled = "\n".join(node.get("compiled_code") or "" for node in models)
    assert {name for name in ephemeral if f"__dbt__cte__{name}" not in compiled} == set()
    return model_names() - ephemeral


@pytest.mark.parametrize("dates", [FEW_DATES, MANY_DATES], ids=["few_dates", "many_dates"])
def test_compiles_on_duckdb(tmp_path: Path, dates: tuple[str, str]) -> None:
    env = {"TIERING_WAREHOUSE": str(tmp_path / "empty.duckdb")}
    results = dbt(["compile"], "duckdb", tmp_path, dates, env)
    assert set(statuses(results, "model.")) == run_models(tmp_path)


def test_published_marts_are_contracted_and_described(tmp_path: Path) -> None:
    """Every published mart has an enforced contract (its columns are the yml's), every
    column a description, and the BI exposure reads all of them."""
    env = {"TIERING_WAREHOUSE": str(tmp_path / "empty.duckdb")}
    dbt(["parse"], "duckdb", tmp_path, FEW_DATES, env)
    manifest = json.loads((tmp_path / "target" / "manifest.json").read_text(encoding="utf-8"))
    marts = {
        node["unique_id"]: node
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["schema"] == "marts_build"
    }
    assert len(marts) == 9
    for node in marts.values():
        assert node["contract"]["enforced"], node["name"]
        assert node["description"], node["name"]
        columns = node["columns"].items()
        assert [name for name, column in columns if not column["description"]] == [], node["name"]
    (exposure,) = manifest["exposures"].values()
    assert exposure["type"] == "dashboard"
    assert set(exposure["depends_on"]["nodes"]) == set(marts)


def create_raw_tables(url: str) -> None:
    """The raw tables of the input contract and the load ledger, empty."""
    with psycopg.connect(url, autocommit=True) as con:
        con.execute("create schema raw")
        for spec in TABLES.values():
            columns = ", ".join(f"{name} {sql_type}" for name, sql_type in spec.columns.items())
            dated = f"{BUSINESS_DATE} date, {LOADED_AT} timestamp"
            con.execute(f"create table raw.{spec.name} ({columns}, {dated})")
        con.execute("create table raw._batches (table_name varchar, business_date date)")


@pytest.mark.integration
def test_builds_on_postgres(postgres_url: str, tmp_path: Path) -> None:
    url = sqlalchemy.make_url(postgres_url)
    plain_url = url.set(drivername="postgresql").render_as_string(hide_password=False)
    create_raw_tables(plain_url)
    env = {
        "TIERING_PG_HOST": url.host,
        "TIERING_PG_PORT": str(url.port),
        "TIERING_PG_USER": url.username,
        "TIERING_PG_DATABASE": url.database,
    }
    build = ["build", "--empty", "--exclude-resource-type", "unit_test"]
    first = dbt(build, "postgres", tmp_path, MANY_DATES, env)
    assert set(statuses(first, "model.")) == run_models(tmp_path)
    assert set(statuses(first, "model.").values()) == {"success"}

    # The branches that read published history (tier transitions, hysteresis).
    with psycopg.connect(plain_url, autocommit=True) as con:
        con.execute("create schema marts")
        con.execute(
            "create table marts.customer_tier_history"
            " as select * from marts_build.customer_tier_history"
        )
    hysteresis = ["--vars", '{"hysteresis_evaluations": 3}']
    for dates in (FEW_DATES, LATER_MANY_DATES):
        results = dbt([*build, *hysteresis], "postgres", tmp_path, dates, env)
        assert set(statuses(results, "model.").values()) == {"success"}
        assert set(statuses(results, "test.").values()) == {"pass"}

    unit = dbt(["test", "--select", "test_type:unit"], "postgres", tmp_path, FEW_DATES, env)
    assert len(statuses(unit, "unit_test.")) >= 13
    assert set(statuses(unit, "unit_test.").values()) == {"pass"}

    # The contract's types, in Postgres's names.
    with psycopg.connect(plain_url) as con:
        types = dict(
            con.execute(
                "select column_name, data_type || case when data_type = 'numeric'"
                " then '(' || numeric_precision || ',' || numeric_scale || ')' else '' end"
                " from information_schema.columns"
                " where table_schema = 'marts_build' and table_name = 'customer_tiers'"
            ).fetchall()
        )
    assert types["customer_id"] == "text"
    assert types["contribution"] == "numeric(18,2)"
    assert types["share"] == "double precision"
    assert types["contribution_rank"] == "bigint"
    assert types["days_since_last_order"] == "integer"
    assert types["is_blocked"] == "boolean"
    assert types["as_of_date"] == "date"


@pytest.mark.integration
@pytest.mark.spark
@requires_java
def test_compiles_on_spark(tmp_path: Path) -> None:
    env = {"TIERING_SPARK_WAREHOUSE": str(tmp_path / "spark")}
    results = dbt(["compile"], "spark", tmp_path, MANY_DATES, env, python=spark_python())
    assert set(statuses(results, "model.")) == run_models(tmp_path)
