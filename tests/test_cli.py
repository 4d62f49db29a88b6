"""The command line as a scheduler sees it: output and exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from customer_tiering.errors import EXIT_FAILURE, EXIT_OK, EXIT_USAGE

TIERING = [sys.executable, "-m", "customer_tiering.cli"]


def tiering(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*TIERING, *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )


def test_run_one_day_prints_tiers(tmp_path: Path) -> None:
    (tmp_path / "tiering.yml").write_text("demo: {customers: 60, lines_per_day: 40}\n")
    warehouse = tmp_path / "wh" / "tiers.duckdb"
    result = tiering("run", "--date", "2024-03-01", "--warehouse", str(warehouse), cwd=tmp_path)
    assert result.returncode == EXIT_OK, result.stderr[-3000:]
    assert "Customer tiers as of 2024-03-01" in result.stdout
    # BI tools get a read-only copy of the published tables, the same rows.
    snapshot = warehouse.parent / "bi" / "tiers.duckdb"
    query = "select count(*), max(as_of_date) from marts.customer_tiers"
    with duckdb.connect(str(snapshot), read_only=True) as con:
        copied = con.execute(query).fetchone()
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute(query).fetchone() == copied
    assert copied[0] > 0 and str(copied[1]) == "2024-03-01"


@pytest.mark.parametrize(
    "args,message",
    [
        (["run"], "one of the arguments --date --start is required"),
        (["run", "--date", "2024-13-01"], "is not a date in YYYY-MM-DD form"),
        (["run", "--start", "2024-01-05"], "--start needs --end"),
        (["run", "--start", "2024-01-05", "--end", "2024-01-01"], "is after --end"),
        (["run", "--date", "2024-01-05", "--source", "ftp"], "invalid choice"),
    ],
)
def test_usage_errors_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    result = tiering(*args, cwd=tmp_path)
    assert result.returncode == EXIT_USAGE
    assert message in result.stderr


def test_bad_config_exits_2(tmp_path: Path) -> None:
    (tmp_path / "tiering.yml").write_text("sourse: demo\n")
    result = tiering("run", "--date", "2024-01-05", cwd=tmp_path)
    assert result.returncode == EXIT_USAGE
    assert "unknown setting(s) sourse" in result.stderr


def test_unexpected_failure_exits_1(tmp_path: Path) -> None:
    (tmp_path / "not_a_file.duckdb").mkdir()
    result = tiering(
        "run",
        "--date",
        "2024-01-05",
        "--warehouse",
        str(tmp_path / "not_a_file.duckdb"),
        cwd=tmp_path,
    )
    assert result.returncode == EXIT_FAILURE
    assert "failed:" in result.stderr
