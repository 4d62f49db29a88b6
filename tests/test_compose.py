"""docker-compose.yml and the Dockerfile, checked as files (no Docker engine needed).

What is checked is what makes the stack work: the Airflow 3 services of the official
pattern with health checks and start order, the LocalExecutor (one DuckDB writer), one
JWT secret for every component, the project and the warehouse mounted where the package
expects them, and a BI service that reads the snapshot read-only.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from customer_tiering import orchestration, publish

ROOT = Path(__file__).resolve().parent.parent
AIRFLOW_SERVICES = (
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
)


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    return compose["services"]


def env(service: dict[str, Any]) -> dict[str, str]:
    environment = service.get("environment", {})
    if isinstance(environment, list):
        return dict(item.split("=", 1) for item in environment)
    return {key: str(value) for key, value in environment.items()}


def mounts(service: dict[str, Any]) -> dict[str, str]:
    """container path -> 'source[:mode]'."""
    result = {}
    for volume in service.get("volumes", []):
        source, target, *mode = volume.split(":")
        result[target] = ":".join([source, *mode])
    return result


def test_services_of_the_airflow3_pattern(services: dict[str, Any]) -> None:
    assert set(services) >= {"postgres", "airflow-init", *AIRFLOW_SERVICES, "superset"}
    assert not {"redis", "airflow-worker", "flower"} & set(services)
    commands = {name: services[name].get("command") for name in AIRFLOW_SERVICES}
    assert commands == {
        "airflow-apiserver": "api-server",
        "airflow-scheduler": "scheduler",
        "airflow-dag-processor": "dag-processor",
        "airflow-triggerer": "triggerer",
    }


def test_local_executor_and_postgres_metadata(services: dict[str, Any]) -> None:
    for name in (*AIRFLOW_SERVICES, "airflow-init"):
        variables = env(services[name])
        assert variables["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor", name
        assert variables["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")
        assert "@postgres/" in variables["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
        assert variables["AIRFLOW__CORE__LOAD_EXAMPLES"] == "false"
        assert variables["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == (
            "http://airflow-apiserver:8080/execution/"
        )


def test_one_jwt_secret_from_the_environment(services: dict[str, Any]) -> None:
    secrets = {env(services[name])["AIRFLOW__API_AUTH__JWT_SECRET"] for name in AIRFLOW_SERVICES}
    assert len(secrets) == 1
    (secret,) = secrets
    assert re.fullmatch(r"\$\{[A-Z_]+:\?[^}]+\}", secret), "required from .env, not a literal"


def test_no_secret_literals(services: dict[str, Any]) -> None:
    for name, service in services.items():
        for key, value in env(service).items():
            if re.search(r"SECRET|FERNET|PASSWORD|SQL_URL", key) and key != "POSTGRES_PASSWORD":
                assert value.startswith("${"), f"{name}: {key} must come from .env"


def test_healthchecks(services: dict[str, Any]) -> None:
    api = services["airflow-apiserver"]["healthcheck"]["test"]
    assert "http://localhost:8080/api/v2/version" in api
    assert "pg_isready" in services["postgres"]["healthcheck"]["test"]
    assert "/health" in " ".join(services["airflow-scheduler"]["healthcheck"]["test"])
    for name in ("airflow-dag-processor", "airflow-triggerer"):
        assert "airflow jobs check" in " ".join(services[name]["healthcheck"]["test"])
    assert "/health" in " ".join(services["superset"]["healthcheck"]["test"])


def test_start_order(services: dict[str, Any]) -> None:
    assert services["airflow-init"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in AIRFLOW_SERVICES:
        depends = services[name]["depends_on"]
        assert depends["postgres"]["condition"] == "service_healthy", name
        assert depends["airflow-init"]["condition"] == "service_completed_successfully", name
    # Tasks talk to the api-server's execution API: the scheduler waits for it.
    scheduler = services["airflow-scheduler"]["depends_on"]
    assert scheduler["airflow-apiserver"]["condition"] == "service_healthy"
    superset = services["superset"]["depends_on"]
    assert superset["airflow-init"]["condition"] == "service_completed_successfully"


def test_init_migrates_and_creates_the_one_slot_pool(services: dict[str, Any]) -> None:
    init = services["airflow-init"]
    assert env(init)["_AIRFLOW_DB_MIGRATE"] == "true"
    script = "\n".join(init["command"])
    assert f"airflow pools set {orchestration.WAREHOUSE_POOL} 1 " in script
    assert "chown" in script  # named volumes start root-owned


def test_image_built_from_the_dockerfile(services: dict[str, Any]) -> None:
    for name in (*AIRFLOW_SERVICES, "airflow-init"):
        build = services[name]["build"]
        assert build["context"] == "."
        assert build["target"] == "airflow"
    assert services["superset"]["build"] == {"context": ".", "target": "superset"}
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert re.search(r"^ARG AIRFLOW_IMAGE=apache/airflow:3\.3\.2-python3\.11$", dockerfile, re.M)
    assert re.search(r"^FROM \$\{AIRFLOW_IMAGE\} AS airflow$", dockerfile, re.M)
    assert dockerfile.rstrip().splitlines()[-1].startswith("WORKDIR")  # airflow is last
    assert 'pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" -e .' in dockerfile
    assert "duckdb-engine" in dockerfile


def test_dockerignore_keeps_local_state_out() -> None:
    lines = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    ignored = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    for entry in (".venv", ".git", "warehouse", "*.duckdb", ".env"):
        assert entry in ignored
    for needed in ("customer_tiering", "dbt_project", "expectations", "dags", "pyproject.toml"):
        assert needed not in ignored


def test_project_and_warehouse_mounted(services: dict[str, Any], compose: dict[str, Any]) -> None:
    for name in (*AIRFLOW_SERVICES, "airflow-init"):
        mounted = mounts(services[name])
        assert mounted["/opt/airflow/dags"].startswith("./dags")
        assert mounted["/opt/airflow/project/dbt_project"].startswith("./dbt_project")
        assert mounted["/opt/airflow/project/expectations"].startswith("./expectations")
        assert mounted["/opt/airflow/project/tiering.yml"].startswith("./tiering.yml")
        assert mounted["/opt/airflow/warehouse"] == "tiering-warehouse"
        variables = env(services[name])
        assert variables["TIERING_CONFIG"] == "/opt/airflow/project/tiering.yml"
        assert variables["AIRFLOW_VAR_TIERING_WAREHOUSE"].startswith("/opt/airflow/warehouse/")
        assert variables["TIERING_SQL_URL"].startswith("${")
    assert "tiering-warehouse" in compose["volumes"]
    assert "postgres-db-volume" in compose["volumes"]


def test_bi_reads_the_snapshot_read_only(services: dict[str, Any]) -> None:
    superset = services["superset"]
    assert mounts(superset)["/warehouse"] == "tiering-warehouse:ro"
    script = "\n".join(superset["command"])
    uri = re.search(r'--uri "([^"]+)"', script)
    assert uri
    # The snapshot the publish step writes, seen through the read-only mount.
    airflow_warehouse = Path(env(services["airflow-scheduler"])["AIRFLOW_VAR_TIERING_WAREHOUSE"])
    snapshot = publish.bi_snapshot_path(airflow_warehouse)
    in_superset = "/warehouse" / snapshot.relative_to("/opt/airflow/warehouse")
    assert uri.group(1) == f"duckdb:///{in_superset}?access_mode=read_only"
