"""Validate pulled batches before anything is loaded: GX suites plus cross-table checks.

Each input table has one Great Expectations suite in `expectations/<table>.json`, run on
one chunk of the pulled range at a time (one pandas DataFrame per table; a month of
business days by default, customer_tiering.pipeline), so a two-year backfill costs a
validation per month, not one per day, and memory does not grow with the range; failing
rows are traced back to their business days. One ephemeral GX context serves the whole
process and each suite is built once and reused by every chunk. The suite's `meta` adds
what GX cannot express natively:
`row_checks` (money rules compared in decimals, customer_tiering/money.py, with the
tolerances of the `validation:` settings) and `cross_checks` run in pandas/DuckDB against
the warehouse, read-only. A failed `critical` rule refuses the batch: the refused tables'
days go to quarantine and `InputRefused` is raised; warnings are returned for the caller
to print.
"""

from __future__ import annotations

import json
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import date
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from customer_tiering import quarantine, validation_report
from customer_tiering.checks import (
    SAMPLE_ROWS,
    SEVERITY,
    CheckResult,
    batch_days,
    days_of_rows,
    new_run_id,
    sample_rows,
)
from customer_tiering.config import Settings
from customer_tiering.crosschecks import Batches, run_cross_checks
from customer_tiering.errors import InputRefused
from customer_tiering.money import ROW_CHECKS
from customer_tiering.warehouses import open_warehouse

# Lists GX returns per result that can be as long as the batch: kept out of stored JSON.
_LONG_LISTS = ("unexpected_list", "unexpected_index_list", "unexpected_index_query")
_COLUMN_KWARGS = ("column", "column_A", "column_B")


@dataclass(frozen=True)
class Outcome:
    """What validation found in one run: every rule's result and the report written."""

    run_id: str
    results: list[CheckResult]
    report: Path

    @property
    def warnings(self) -> list[CheckResult]:
        return [r for r in self.results if not r.success and r.severity == "warn"]

    @property
    def failures(self) -> list[CheckResult]:
        return [r for r in self.results if r.refuses]

    def __str__(self) -> str:
        verdict = "refused" if self.failures else "passed"
        return f"validation {verdict}, {len(self.warnings)} warning(s); report: {self.report}"


def load_suite(directory: Path, table: str) -> dict[str, Any]:
    """The suite JSON of `table` (GX's own suite format, with our additions in `meta`)."""
    return json.loads((directory / f"{table}.json").read_text(encoding="utf-8"))


@cache
def _batch_definition() -> Any:
    """One ephemeral GX context per process, its pandas batch definition reused: building
    a context is cheap, importing GX is not (seconds), so import lazily and once."""
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from great_expectations.execution_engine import pandas_execution_engine

    # GX fingerprints every DataFrame under HASH_THRESHOLD bytes (an md5 over pandas' row
    # hashes) for its batch markers, twice per validation: measured, 70% of a month's
    # validation, for a marker nothing here reads. A threshold of 0 skips it.
    pandas_execution_engine.HASH_THRESHOLD = 0
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    asset = context.data_sources.add_pandas("pulled").add_dataframe_asset("batch")
    return asset.add_batch_definition_whole_dataframe("whole")


def _columns(kwargs: dict[str, Any]) -> list[str]:
    """The columns an expectation's kwargs name."""
    named = [kwargs[key] for key in _COLUMN_KWARGS if key in kwargs]
    return [str(c) for c in [*named, *kwargs.get("column_list", [])]]


def _rule_name(config: dict[str, Any]) -> str:
    kwargs = config["kwargs"]
    bounds = [f"{kwargs[key]:g}" for key in ("min_value", "max_value") if key in kwargs]
    inside = ", ".join(_columns(kwargs) + ([" .. ".join(bounds)] if bounds else []))
    return f"{config['type']}({inside})"


@lru_cache(maxsize=32)
def _gx_suite(table: str, expectations: str) -> Any:
    """The GX suite of `table` for `expectations` (JSON text, hashable), built once and
    reused by every chunk: building one checks every expectation's configuration. GX
    returns results in its own order, so each expectation is tagged with its position."""
    from great_expectations.core import ExpectationSuite

    tagged = [
        {**e, "meta": {**e.get("meta", {}), "position": i}}
        for i, e in enumerate(json.loads(expectations))
    ]
    return ExpectationSuite(name=table, expectations=tagged)


def _gx_results(
    table: str, frame: pd.DataFrame, suite: dict[str, Any], all_days: tuple[date, ...]
) -> list[CheckResult]:
    """Run the table's GX expectations on `frame`. Expectations on a missing column are
    left out: `expect_column_to_exist` already names the column."""
    present = set(frame.columns)
    expectations = [
        e
        for e in suite["expectations"]
        if e["type"] == "expect_column_to_exist" or set(_columns(e["kwargs"])) <= present
    ]
    batch = _batch_definition().get_batch(batch_parameters={"dataframe": frame})
    outcomes = _validate(batch, table, expectations, "BOOLEAN_ONLY")
    # Most batches pass every rule: only the failed ones are run again for their rows.
    failed = [position for position, outcome in outcomes.items() if not outcome.success]
    if failed:
        again = _validate(batch, table, [expectations[p] for p in failed], "COMPLETE")
        outcomes.update({failed[at]: outcome for at, outcome in again.items()})
    results = []
    for position, config in enumerate(expectations):
        outcome = outcomes[position]
        result = outcome.result or {}
        rows = np.asarray(result.get("unexpected_index_list") or [], dtype=int)
        stored = outcome.to_json_dict()
        kept = stored.get("result") or {}
        stored["result"] = {k: v for k, v in kept.items() if k not in _LONG_LISTS}
        error = outcome.exception_info.get("exception_message") or ""
        table_level = not outcome.success and "unexpected_count" not in result
        results.append(
            CheckResult(
                table=table,
                rule=_rule_name(config),
                severity=SEVERITY[config.get("severity", "critical")],
                success=bool(outcome.success),
                failing=len(rows) if not table_level else len(frame),
                rows=rows,
                days=all_days if table_level else days_of_rows(frame, rows),
                detail=error or _observed(result),
                result=stored,
                samples=sample_rows(frame, rows),
            )
        )
    return results


def _validate(
    batch: Any, table: str, expectations: list[dict[str, Any]], result_format: str
) -> dict[int, Any]:
    """GX's result of each of `expectations` on `batch`, by position. BOOLEAN_ONLY halves
    the cost of a suite (no failing rows are gathered); COMPLETE lists them."""
    validation = batch.validate(
        _gx_suite(table, json.dumps(expectations, sort_keys=True)),
        result_format={"result_format": result_format, "partial_unexpected_count": 5},
    )
    return {r.expectation_config.meta["position"]: r for r in validation.results}


def _observed(result: dict[str, Any]) -> str:
    return f"observed {result['observed_value']}" if "observed_value" in result else ""


def check_batches(settings: Settings, batches: Batches) -> list[CheckResult]:
    """Every rule of every table's suite on the pulled batches, nothing written."""
    results: list[CheckResult] = []
    suites = {table: load_suite(settings.expectations, table) for table in batches}
    # Failing rows are reported by position: number every batch's rows from 0.
    batches = {
        table: (frame.reset_index(drop=True), days) for table, (frame, days) in batches.items()
    }
    for table, (frame, days) in batches.items():
        results += _gx_results(table, frame, suites[table], batch_days(frame, days))
        for check in suites[table].get("meta", {}).get("row_checks", []):
            rule = ROW_CHECKS[check["check"]]
            results += rule(table, frame, settings.validation, check.get("severity", "critical"))
    refused_tables = {r.table for r in results if r.refuses}
    # Before the first load there is no warehouse: then the batch alone is the context.
    warehouse = open_warehouse(settings)
    with warehouse.connect(read_only=True) if warehouse.exists() else nullcontext() as con:
        for table in batches:
            if table in refused_tables:
                continue  # cross checks on data already refused would only add noise
            checks = suites[table].get("meta", {}).get("cross_checks", [])
            results += run_cross_checks(table, batches, con, checks)
    return results


def refusal_message(
    failures: list[CheckResult],
    batches: Batches,
    quarantined: dict[str, list[Path]],
    report: Path,
) -> str:
    """The refusal as a person reads it: per table, each failed rule with its failing
    count, days and a few sample rows, then where the batch went."""
    lines = ["input refused: validation failed, nothing was loaded"]
    for table in dict.fromkeys(r.table for r in failures):
        frame = batches[table][0].reset_index(drop=True)
        table_failures = [r for r in failures if r.table == table]
        days = sorted({d for r in table_failures for d in r.days})
        lines.append(f"{table}: {len(days)} day(s) refused: {_days_text(days)}")
        shown: list[int] = []
        for result in table_failures:
            lines.append(
                f"  - {result.rule} [fail]: {result.failing} failing {result.unit}"
                f" on {_days_text(list(result.days))}"
                + (f"; {result.detail}" if result.detail else "")
            )
            positions = list(result.rows[:SAMPLE_ROWS])
            if positions and positions == shown:
                lines.append("      (the same rows as above)")
            elif positions:
                sample = frame.iloc[positions].to_string(index=False)
                lines += [f"      {line}" for line in sample.splitlines()]
            shown = positions
        lines.append(f"  quarantined: {', '.join(str(p) for p in quarantined[table][:3])}")
    lines.append(f"validation report: {report}")
    return "\n".join(lines)


def _days_text(days: list[date], shown: int = 5) -> str:
    text = ", ".join(d.isoformat() for d in days[:shown])
    return text + (f" and {len(days) - shown} more" if len(days) > shown else "")


def validate_batches(settings: Settings, batches: Batches, start: date, end: date) -> Outcome:
    """Validate the pulled `batches` for business days start..end, write the HTML report,
    and either return the outcome (warnings only) or quarantine the refused tables' days
    and raise InputRefused. Reads the warehouse, never writes it."""
    run_id = new_run_id()
    results = check_batches(settings, batches)
    report = validation_report.write(settings, run_id, start, end, results)
    outcome = Outcome(run_id=run_id, results=results, report=report)
    if not outcome.failures:
        return outcome
    quarantined = quarantine.quarantine_batches(settings, run_id, batches, outcome.failures)
    raise InputRefused(refusal_message(outcome.failures, batches, quarantined, report))
