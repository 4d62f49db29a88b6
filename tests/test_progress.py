"""How dbt's output is shown: progress from its JSON events, its log in a file, the
failing nodes named; fed with dbt's own event shapes (no dbt run needed)."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path

import pytest
from rich.console import Console

from customer_tiering import progress, transform
from customer_tiering.errors import TransformError
from customer_tiering.warehouses.duckdb_file import DuckDBWarehouse

GREEN, RESET = "\x1b[32m", "\x1b[0m"


def event(event_name: str, msg: str, level: str = "info", **data: object) -> str:
    """One line of `dbt --log-format json`."""
    return json.dumps({"info": {"name": event_name, "level": level, "msg": msg}, "data": data})


def node(unique_id: str) -> dict[str, str]:
    return {"unique_id": unique_id, "node_name": unique_id.split(".")[2]}


EVENTS = [
    event("MainReportVersion", "Running with dbt=1.11.16"),
    event(
        "LogStartLine",
        "1 of 4 START seed file main.tier_service_policy",
        index=1,
        total=4,
        description="seed file main.tier_service_policy",
        node_info=node("seed.customer_tiering.tier_service_policy"),
    ),
    event(
        "LogSeedResult",
        f"1 of 4 OK loaded seed file [{GREEN}INSERT 6{RESET}]",
        status="success",
        index=1,
        total=4,
        node_info=node("seed.customer_tiering.tier_service_policy"),
    ),
    event(
        "LogStartLine",
        "2 of 4 START sql table model marts_build.customer_tiers",
        index=2,
        total=4,
        description="sql table model marts_build.customer_tiers",
        node_info=node("model.customer_tiering.customer_tiers"),
    ),
    event(
        "LogModelResult",
        f"2 of 4 OK created sql table model marts_build.customer_tiers [{GREEN}OK{RESET}]",
        status="OK",
        index=2,
        total=4,
        node_info=node("model.customer_tiering.customer_tiers"),
    ),
    event(
        "LogTestResult",
        f"3 of 4 PASS not_null_customer_tiers_tier [{GREEN}PASS{RESET}]",
        status="pass",
        name="not_null_customer_tiers_tier",
        index=3,
        num_models=4,
        node_info=node("test.customer_tiering.not_null_customer_tiers_tier.1"),
    ),
    event(
        "LogTestResult",
        "4 of 4 FAIL 3 unique_customer_tiers_customer_id",
        level="error",
        status="fail",
        name="unique_customer_tiers_customer_id",
        index=4,
        num_models=4,
        node_info=node("test.customer_tiering.unique_customer_tiers_customer_id.2"),
    ),
    event("RunResultError", "  Got 3 results, configured to fail if != 0", level="error"),
    event("EndOfRunSummary", f"{GREEN}Completed successfully{RESET}"),
    "Traceback (most recent call last): not a dbt event",
]


def test_the_events_are_counted_and_logged_without_colours() -> None:
    log, tally = io.StringIO(), progress.Tally()
    progress.follow(io.StringIO("\n".join(EVENTS) + "\n"), log, tally)
    assert (tally.models, tally.seeds, tally.tests) == (1, 1, 1)
    assert tally.failed == ["unique_customer_tiers_customer_id"]
    assert tally.errors == [
        "  Got 3 results, configured to fail if != 0",
        "Traceback (most recent call last): not a dbt event",
    ]
    text = log.getvalue()
    assert "OK created sql table model marts_build.customer_tiers [OK]" in text
    assert "\x1b[" not in text
    assert tally.progress() == "2 built · 1 tests passed · 1 failed"
    assert tally.line(12.3) == (
        "1 models and 1 seeds built, 1 tests passed,"
        " 1 failed (unique_customer_tiers_customer_id) in 12 s"
    )


def fake_dbt(tmp_path: Path, lines: list[str], code: int = 0) -> list[str]:
    """A command that prints dbt's events and exits with `code`."""
    script = tmp_path / "fake_dbt.py"
    script.write_text(
        f"import sys\nfor line in {lines!r}:\n    print(line, flush=True)\nsys.exit({code})\n"
    )
    return [sys.executable, str(script)]


def test_verbose_streams_dbts_own_lines(tmp_path: Path, capfd: pytest.CaptureFixture) -> None:
    log = tmp_path / "logs" / "build.log"
    with progress.streaming(True):
        code, _ = progress.run_logged(fake_dbt(tmp_path, EVENTS), {}, log)
    out = capfd.readouterr().out
    assert code == 0
    # The phrases the publish-safety test kills a run on.
    assert "OK created sql table model marts_build.customer_tiers" in out
    assert "Completed successfully" in out
    assert "START sql table model marts_build.customer_tiers" in out
    assert log.read_text().count("\n") == len(EVENTS)


def test_progress_shows_one_line_and_where_the_log_is(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "build.log"
    console = Console(record=True, width=200)
    with progress.streaming(False):
        code, tally = progress.run_logged(fake_dbt(tmp_path, EVENTS[:6]), {}, log, console)
    shown = console.export_text()
    assert code == 0 and tally.tests == 1
    assert "✓ dbt: 1 models and 1 seeds built, 1 tests passed in" in shown
    assert str(log) in shown
    assert "START" not in shown


def test_the_environment_chooses_when_the_command_line_did_not(monkeypatch) -> None:
    monkeypatch.setenv(progress.STREAM_ENV, "stream")
    assert progress.is_streaming()
    with progress.streaming(False):
        assert not progress.is_streaming()
    monkeypatch.delenv(progress.STREAM_ENV)
    assert not progress.is_streaming()


def test_a_failed_build_names_the_node_and_the_first_lines_of_its_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    warehouse = DuckDBWarehouse(tmp_path / "tiers.duckdb")
    args = transform.dbt_args("build", warehouse)
    target = Path(args[args.index("--target-path") + 1])
    message = "\n".join(
        ["Runtime Error in model customer_service_plan (models/marts/tiers/x.sql)"]
        + [f"  line {n}" for n in range(1, 20)]
    )

    def failing(command: list[str], env: dict, log_file: Path, console=None):
        target.mkdir(parents=True, exist_ok=True)
        results = [
            {
                "unique_id": "model.customer_tiering.customer_service_plan",
                "status": "error",
                "message": message,
            },
            {"unique_id": "model.customer_tiering.customer_tiers", "status": "success"},
        ]
        (target / "run_results.json").write_text(json.dumps({"results": results}))
        assert "--log-format" in command and "json" in command
        return 1, progress.Tally()

    monkeypatch.setattr(progress, "run_logged", failing)
    with pytest.raises(TransformError) as raised:
        transform.run_dbt(args, warehouse)
    text = str(raised.value)
    assert "model.customer_tiering.customer_service_plan: error Runtime Error in model" in text
    assert f"line {transform.ERROR_LINES - 1}" in text
    assert f"line {transform.ERROR_LINES}\n" not in text and "line 19" not in text
    assert "customer_tiers" not in text.replace("customer_tiering", "")
    assert "dbt log: " in text and text.rstrip().endswith("build.log")
