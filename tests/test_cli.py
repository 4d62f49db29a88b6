"""The command line as a scheduler sees it: output and exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from customer_tiering import cli, pipeline, summary
from customer_tiering.config import Settings
from customer_tiering.errors import EXIT_FAILURE, EXIT_OK, EXIT_USAGE

TIERING = [sys.executable, "-m", "customer_tiering.cli"]


def tiering(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*TIERING, *args], cwd=cwd, capture_output=True, text=True, timeout=300, check=False
    )


def test_run_one_day_prints_tiers(tmp_path: Path) -> None:
    (tmp_path / "tiering.yml").write_text(
        "demo: {customers: 60, lines_per_day: 40}\nrules: {tier_basis: revenue, window_days: 180}\n"
    )
    warehouse = tmp_path / "wh" / "tiers.duckdb"
    result = tiering("run", "--date", "2024-03-01", "--warehouse", str(warehouse), cwd=tmp_path)
    assert result.returncode == EXIT_OK, result.stderr[-3000:]
    assert "Customer tiers as of 2024-03-01" in result.stdout
    # Progress, not dbt's log: one closing line naming the log file, and the report.
    assert "START sql" not in result.stdout + result.stderr
    assert "tests passed" in result.stderr and "build.log" in result.stderr
    report = warehouse.parent / "reports" / "tiers"
    assert f"tier report: {report / 'latest.html'}" in result.stdout
    assert (report / "2024-03-01.html").exists()
    # BI tools get a read-only copy of the published tables, the same rows.
    snapshot = warehouse.parent / "bi" / "tiers.duckdb"
    query = "select count(*), max(as_of_date) from marts.customer_tiers"
    with duckdb.connect(str(snapshot), read_only=True) as con:
        copied = con.execute(query).fetchone()
    with duckdb.connect(str(warehouse), read_only=True) as con:
        assert con.execute(query).fetchone() == copied
    assert copied[0] > 0 and str(copied[1]) == "2024-03-01"
    with duckdb.connect(str(warehouse), read_only=True) as con:  # the rules reached dbt
        assert con.execute("select distinct basis from marts.customer_tiers").fetchall() == [
            ("revenue",)
        ]


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
    assert "tiering.yml: sourse: unknown setting (did you mean source?)" in result.stderr


@pytest.fixture
def nothing_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail loudly if a run gets as far as opening its source."""

    def pulled(settings: Settings) -> None:
        raise AssertionError("a source was opened")

    monkeypatch.setattr(pipeline, "open_source", pulled)


@pytest.mark.parametrize(
    "text,message",
    [
        (
            "rules: {window_day: 180}",
            "tiering.yml: rules.window_day: unknown rule (did you mean window_days?)",
        ),
        (
            "rules: {price_exception_tolerance: abc}",
            "tiering.yml: rules.price_exception_tolerance: must be a fraction >= 0 and <= 1,"
            " got 'abc'",
        ),
        (
            "rules: {abc_b_cumulative_share: 0.75}",
            "tiering.yml: rules.abc_b_cumulative_share: must be greater than"
            " abc_a_cumulative_share (0.8), got 0.75",
        ),
        (
            "rules: {abc_a_cumulative_share: 0.95}",
            "tiering.yml: rules.abc_a_cumulative_share: must be less than"
            " abc_b_cumulative_share (0.95), got 0.95",
        ),
        (
            "rules: {credit_cap_max_tier: X}",
            "tiering.yml: rules.credit_cap_max_tier: must be one of A, B, C, D, got 'X'",
        ),
        ("sourse: demo", "tiering.yml: sourse: unknown setting (did you mean source?)"),
        (
            "demo: {customer: 60}",
            "tiering.yml: demo.customer: unknown setting (did you mean customers?)",
        ),
    ],
)
def test_bad_settings_exit_2_before_anything_is_pulled_or_written(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    nothing_runs: None,
    text: str,
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TIERING_CONFIG", raising=False)
    (tmp_path / "tiering.yml").write_text(text + "\n", encoding="utf-8")
    warehouse = tmp_path / "wh" / "tiers.duckdb"
    code = cli.main(["run", "--date", "2024-01-05", "--warehouse", str(warehouse)])
    assert code == EXIT_USAGE
    assert message in " ".join(capsys.readouterr().err.split())  # rich wraps long lines
    # Nothing pulled, loaded or quarantined: no warehouse, no quarantine, no run folder.
    assert [path.name for path in tmp_path.iterdir()] == ["tiering.yml"]


def test_a_valid_file_runs_with_its_rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("TIERING_CONFIG", raising=False)
    (tmp_path / "tiering.yml").write_text(
        "demo: {customers: 60}\nlock_timeout_seconds: 5\nrules: {window_days: 180}\n",
        encoding="utf-8",
    )
    runs: list[Settings] = []
    monkeypatch.setattr(
        pipeline,
        "run",
        lambda settings, start, end, console, full_refresh: runs.append(settings),
    )
    monkeypatch.setattr(summary, "print_tier_summary", lambda warehouse, console: None)
    assert cli.main(["run", "--date", "2024-01-05", "--warehouse", "w.duckdb"]) == EXIT_OK
    [settings] = runs
    assert settings.rules == {"window_days": 180}
    assert (settings.warehouse, settings.demo.customers) == (Path("w.duckdb"), 60)
    assert settings.lock_timeout_seconds == 5


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
