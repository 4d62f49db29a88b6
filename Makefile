# Customer tiering pipeline. `make help` lists the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
UV := $(BIN)/uv
DEMO_START ?= 2024-01-01
DEMO_END ?= 2025-12-31
WAREHOUSE ?= warehouse/tiers.duckdb
# sqlfluff's dbt templater connects to a warehouse to render models; an empty one will do.
LINT_WAREHOUSE := $(CURDIR)/warehouse/lint.duckdb
# Models choose a branch by build_days() (macros/run_dates.sql). With the default dates
# (a 1-day build) sqlfluff renders only the "few as-of dates" branch, so lint renders the
# project a second time as a 366-day build for the other one (about 30 s more).
LINT_MANY_DATES := TIERING_AS_OF_DATE=2024-12-31 TIERING_HISTORY_START_DATE=2024-01-01

# Bytecode is compiled at install: with PYTHONDONTWRITEBYTECODE set (as on these machines
# and in many images) Python would otherwise compile every imported module on every start,
# 2.4 s of each pipeline process and 5.6 s of Great Expectations' import.
UV_INSTALL = $(UV) pip install --quiet --compile-bytecode

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check uv

$(VENV)/.installed-core: pyproject.toml | $(BIN)/python
	$(UV_INSTALL) --python $(BIN)/python -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(UV_INSTALL) --python $(BIN)/python -e '.[dev,airflow]'
	touch $@ $(VENV)/.installed-core

.PHONY: help
help: ## List the targets
	@grep -hE '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-12s\033[0m %s\n", $$1, $$2}'

.PHONY: venv
venv: $(VENV)/.installed-core ## Create .venv with the pipeline installed (no Airflow)

.PHONY: dev
dev: $(VENV)/.installed-dev ## Create .venv with everything: pipeline, Airflow, test and lint tools

.PHONY: demo
demo: $(VENV)/.installed-core ## Two years of demo ERP data into warehouse/tiers.duckdb, tiers printed
	$(BIN)/tiering run --start $(DEMO_START) --end $(DEMO_END) --source demo --warehouse $(WAREHOUSE)
	@echo
	@echo "Warehouse: $(WAREHOUSE)  (published tables in schema marts, raw inputs in schema raw)"
	@echo "Query it:  $(BIN)/python -c \"import duckdb; print(duckdb.connect('$(WAREHOUSE)', read_only=True).sql('select tier, count(*) from marts.customer_tiers group by all order by 1'))\""
	@echo "Report:    $(dir $(WAREHOUSE))reports/tiers/latest.html  (self-contained HTML with charts, no server needed)"
	@echo "Open it:   xdg-open $(dir $(WAREHOUSE))reports/tiers/latest.html  (macOS: open ...), or $(BIN)/python -m webbrowser file://$(abspath $(dir $(WAREHOUSE)))/reports/tiers/latest.html"
	@echo "Then:      $(BIN)/tiering explain CUSTOMER_ID --warehouse $(WAREHOUSE)  (an id from the table above);  $(BIN)/tiering whatif --set window_days=180 --warehouse $(WAREHOUSE)"

# pytest-xdist workers: a module's tests stay on one worker unless tests/conftest.py
# spreads them, the slowest modules start first. TEST_WORKERS=0 runs serially.
TEST_WORKERS ?= 3
TEST_ARGS ?=
# The Spark build comparison (tests/test_spark_target.py, 7 min alone) would push CI past
# 30 minutes on 2 cores; `make test-spark` runs it. TEST_MARKS= runs everything.
TEST_MARKS ?= not spark_build

.PHONY: test
test: $(VENV)/.installed-dev ## Run the whole test suite (unit, dbt, data quality, DAG, end to end)
	$(BIN)/python -m pytest -q $(if $(filter 0,$(TEST_WORKERS)),,-n $(TEST_WORKERS) --dist loadscope --no-loadscope-reorder) $(if $(TEST_MARKS),-m "$(TEST_MARKS)") $(TEST_ARGS)

.PHONY: test-spark
test-spark: $(VENV)/.installed-dev ## The dbt models and `tiering run --target spark` on Spark, compared with DuckDB (Java 17)
	$(BIN)/python -m pytest -q -m spark_build tests/test_spark_target.py tests/test_spark_pipeline.py $(TEST_ARGS)

# dbt-spark in session mode runs the models on a local Spark (pyspark, Java 17). It lives
# in its own venv: with pyspark importable, Great Expectations imports pyspark.sql.connect,
# which exits the process (status 0) in any `python -c` or pytest-xdist worker.
SPARK_VENV := .venv-spark
SPARK_PACKAGES := 'dbt-core>=1.11,<1.12' 'dbt-spark[session]>=1.11,<1.12'

$(SPARK_VENV)/.installed: Makefile | $(BIN)/python
	$(PYTHON) -m venv $(SPARK_VENV)
	$(UV_INSTALL) --python $(SPARK_VENV)/bin/python $(SPARK_PACKAGES)
	touch $@

.PHONY: spark-env
spark-env: $(SPARK_VENV)/.installed ## Create .venv-spark with dbt-spark (session mode) for --target spark

.PHONY: lint
lint: $(VENV)/.installed-dev ## ruff (Python) and sqlfluff (dbt SQL); zero findings, run by .ci/run
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@mkdir -p $(dir $(LINT_WAREHOUSE))
	cd dbt_project && TIERING_WAREHOUSE=$(LINT_WAREHOUSE) ../$(BIN)/sqlfluff lint models tests
	cd dbt_project && TIERING_WAREHOUSE=$(LINT_WAREHOUSE) $(LINT_MANY_DATES) ../$(BIN)/sqlfluff lint models tests

.PHONY: format
format: $(VENV)/.installed-dev ## Fix what ruff and sqlfluff can fix
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
	@mkdir -p $(dir $(LINT_WAREHOUSE))
	cd dbt_project && TIERING_WAREHOUSE=$(LINT_WAREHOUSE) ../$(BIN)/sqlfluff fix models tests

.PHONY: docs
docs: $(VENV)/.installed-core ## Generate dbt docs (every model and column, lineage) beside the warehouse
	$(BIN)/tiering docs --warehouse $(WAREHOUSE)

.PHONY: clean
clean: ## Remove the warehouse, quarantine, dbt state and caches (keeps .venv)
	rm -rf warehouse quarantine reports exports dbt_project/target dbt_project/logs .pytest_cache .ruff_cache
