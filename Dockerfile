# Images for docker-compose.yml. Two targets:
#   airflow  (the default, last stage): the official Airflow image with the pipeline installed
#   superset (docker compose builds it with `target: superset`): Superset with duckdb-engine,
#            reading the BI snapshot of the published tier tables
#
# The project is installed editable from /opt/airflow/project so that the package finds its
# dbt project and expectations beside it; docker-compose.yml mounts dags/, dbt_project/,
# expectations/ and tiering.yml over the copies baked in here, so edits need no rebuild.

ARG AIRFLOW_IMAGE=apache/airflow:3.3.2-python3.11
ARG SUPERSET_IMAGE=apache/superset:5.0.0

FROM ${SUPERSET_IMAGE} AS superset
USER root
# DuckDB driver for SQLAlchemy. The snapshot is written with DuckDB storage version v1.4.0,
# which this DuckDB reads whatever its release.
RUN . /app/.venv/bin/activate && uv pip install --no-cache "duckdb-engine>=0.15" "duckdb>=1.4,<3"
USER superset

FROM ${AIRFLOW_IMAGE} AS airflow
ARG AIRFLOW_VERSION=3.3.2
ENV TIERING_PROJECT=/opt/airflow/project
WORKDIR /opt/airflow/project
# Metadata first (better layer caching), README only if present (pyproject names it).
COPY --chown=airflow:0 pyproject.toml README.m[d] ./
COPY --chown=airflow:0 customer_tiering ./customer_tiering
COPY --chown=airflow:0 dbt_project ./dbt_project
COPY --chown=airflow:0 expectations ./expectations
COPY --chown=airflow:0 dags /opt/airflow/dags
# Keep Airflow at the image's version while installing the project and its dependencies.
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" -e .
WORKDIR /opt/airflow
