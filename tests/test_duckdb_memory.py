"""Every DuckDB session of a run is capped by one setting, $TIERING_DUCKDB_MEMORY (2.5GB).

The 4 GB budget of a whole run (issue 12) holds only if dbt's session and each of the
pipeline's own connections stay under the cap; DuckDB's own default is 80 % of RAM.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import yaml

from customer_tiering import pipeline
from customer_tiering.config import DBT_PROJECT_DIR
from customer_tiering.warehouses.duckdb_file import (
    DEFAULT_MEMORY_LIMIT,
    MEMORY_ENV,
    DuckDBWarehouse,
    connect_duckdb,
)


def shown_limit(limit: str) -> str:
    """How DuckDB itself shows a memory_limit of `limit` (the oracle: DuckDB's parsing)."""
    with duckdb.connect(config={"memory_limit": limit}) as con:
        return con.execute("select current_setting('memory_limit')").fetchone()[0]


def session_limit(con: duckdb.DuckDBPyConnection) -> str:
    return con.execute("select current_setting('memory_limit')").fetchone()[0]


def test_the_default_cap_is_2_5gb_on_the_warehouse_and_in_memory_sessions(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(MEMORY_ENV, raising=False)
    assert DEFAULT_MEMORY_LIMIT == "2.5GB"
    with DuckDBWarehouse(tmp_path / "tiers.duckdb").connect() as con:
        assert session_limit(con.duck) == shown_limit("2.5GB")
    with connect_duckdb() as con:
        assert session_limit(con) == shown_limit("2.5GB")
    assert shown_limit("2.5GB") != shown_limit("3GB")  # the check can tell caps apart


def test_the_environment_sets_the_cap_for_the_pipeline_and_for_dbt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(MEMORY_ENV, "1GB")
    warehouse = DuckDBWarehouse(tmp_path / "tiers.duckdb")
    with warehouse.connect() as con:
        assert session_limit(con.duck) == shown_limit("1GB")
    with warehouse.connect(read_only=True) as con:
        assert session_limit(con.duck) == shown_limit("1GB")
    assert warehouse.dbt_env()[MEMORY_ENV] == "1GB"


def test_dbt_reads_the_same_variable_with_the_same_default() -> None:
    profile = yaml.safe_load((DBT_PROJECT_DIR / "profiles.yml").read_text(encoding="utf-8"))
    duckdb_output = profile["customer_tiering"]["outputs"]["duckdb"]
    assert duckdb_output["settings"]["memory_limit"] == (
        f"{{{{ env_var('{MEMORY_ENV}', '{DEFAULT_MEMORY_LIMIT}') }}}}"
    )


def resident_mb() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") // 2**20


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="needs Linux /proc")
def test_the_run_gives_the_ingested_heap_back_before_dbt_builds() -> None:
    # Frames like a chunk's, freed: pyarrow's pool and malloc keep the pages, which would
    # sit beside dbt's DuckDB for the whole build.
    table = pa.table({"amount": pa.array(np.arange(20_000_000, dtype="int64"))})
    frame = pd.DataFrame({"line_id": [f"L{i}" for i in range(1_000_000)]})
    frame["amount"] = table.to_pandas()["amount"][: len(frame)].to_numpy()
    del table, frame
    freed = resident_mb()
    pipeline.release_memory()
    assert resident_mb() < freed - 100
