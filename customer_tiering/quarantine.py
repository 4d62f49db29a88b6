"""Quarantine: refused input kept with the reason, so nothing is ever lost.

Layout (fixed by DESIGN.md): `quarantine/<table>/<YYYY-MM-DD>/` holds the batch as
received (`received.csv`, or the delivered file itself when it could not be read), the
validation result (`validation.json`) and a short summary (`summary.txt`). A day refused
again keeps its earlier attempt under `earlier/<run id>/` rather than overwriting it.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from customer_tiering.checks import CheckResult, new_run_id
from customer_tiering.config import Settings
from customer_tiering.contract import BUSINESS_DATE
from customer_tiering.sources import DeliveryRefused

RESULT_FILE = "validation.json"
SUMMARY_FILE = "summary.txt"
DATA_FILE = "received.csv"
EARLIER = "earlier"


@dataclass(frozen=True)
class Entry:
    """One quarantined table-day, as `tiering quarantine list` shows it."""

    table: str
    day: date
    run_id: str
    refused_at: str
    reasons: list[str]
    path: Path


def _fresh_dir(root: Path, table: str, day: date) -> Path:
    """The day's quarantine folder, emptied of a previous attempt (moved to `earlier/`)."""
    directory = root / table / day.isoformat()
    previous = directory / RESULT_FILE
    if previous.exists():
        run_id = json.loads(previous.read_text(encoding="utf-8"))["run_id"]
        keep = directory / EARLIER / run_id
        keep.mkdir(parents=True, exist_ok=True)
        for item in directory.iterdir():
            if item.name != EARLIER:
                shutil.move(str(item), keep / item.name)
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def _write(directory: Path, record: dict[str, Any], summary: str) -> None:
    (directory / RESULT_FILE).write_text(
        json.dumps(record, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8"
    )
    (directory / SUMMARY_FILE).write_text(summary + "\n", encoding="utf-8")


def _record(table: str, day: date, run_id: str, reasons: list[str]) -> dict[str, Any]:
    return {
        "table": table,
        "day": day.isoformat(),
        "run_id": run_id,
        "refused_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "reasons": reasons,
    }


def _summary(record: dict[str, Any], received: str) -> str:
    lines = [
        f"{record['table']} for business day {record['day']} was refused"
        f" at {record['refused_at']} (run {record['run_id']}); none of it was loaded.",
        "Why:",
        *(f"  - {reason}" for reason in record["reasons"]),
        f"Received data: {received}",
        "Fix the source and rerun the day; it loads normally once it passes validation.",
    ]
    return "\n".join(lines)


def quarantine_batches(
    settings: Settings,
    run_id: str,
    batches: dict[str, tuple[pd.DataFrame, list[date]]],
    failures: list[CheckResult],
) -> dict[str, list[Path]]:
    """Write each refused table's failing days, as received, with their results; return
    the folders written per table."""
    written: dict[str, list[Path]] = {}
    for table in dict.fromkeys(f.table for f in failures):
        frame = batches[table][0].reset_index(drop=True)
        table_failures = [f for f in failures if f.table == table]
        business_days = pd.to_datetime(frame[BUSINESS_DATE]).dt.date
        for day in sorted({d for f in table_failures for d in f.days}):
            on_day = [f for f in table_failures if day in f.days]
            reasons = [
                f"{f.rule}: {int((business_days.iloc[f.rows] == day).sum()) or f.failing}"
                f" failing {f.unit}" + (f" ({f.detail})" if f.detail else "")
                for f in on_day
            ]
            record = _record(table, day, run_id, reasons)
            record["results"] = [_result_on_day(f, frame, business_days, day) for f in on_day]
            directory = _fresh_dir(settings.quarantine, table, day)
            frame[business_days == day].to_csv(directory / DATA_FILE, index=False)
            _write(directory, record, _summary(record, DATA_FILE))
            written.setdefault(table, []).append(directory)
    return written


def _result_on_day(
    failure: CheckResult, frame: pd.DataFrame, business_days: pd.Series, day: date
) -> dict[str, Any]:
    """The rule's GX-shaped result narrowed to one day's failing rows."""
    rows = failure.rows[(business_days.iloc[failure.rows] == day).to_numpy()]
    return {
        **failure.result,
        "failing_rows_on_day": len(rows),
        "failing_row_samples": frame.iloc[rows[:20]].astype(str).to_dict("records"),
    }


def quarantine_delivery(settings: Settings, refused: DeliveryRefused) -> list[Path]:
    """Record a delivery refused before validation (missing, unreadable): the summary
    says what is wrong and any file received is kept as it was."""
    run_id = new_run_id()
    written = []
    for day in refused.days:
        directory = _fresh_dir(settings.quarantine, refused.table, day)
        received = [path for path in refused.files if path.stem == day.isoformat()]
        for path in received:
            shutil.copy2(path, directory / path.name)
        record = _record(refused.table, day, run_id, [refused.reason])
        record["results"] = [
            {"success": False, "expectation_config": {"type": "delivery"}, "result": refused.reason}
        ]
        names = ", ".join(path.name for path in received) or "nothing (not delivered)"
        _write(directory, record, _summary(record, names))
        written.append(directory)
    return written


def list_entries(root: Path) -> list[Entry]:
    """Every quarantined table-day (latest attempt), oldest refusal first."""
    entries = []
    for result in sorted(root.glob(f"*/*/{RESULT_FILE}")):
        record = json.loads(result.read_text(encoding="utf-8"))
        entries.append(
            Entry(
                table=record["table"],
                day=date.fromisoformat(record["day"]),
                run_id=record["run_id"],
                refused_at=record["refused_at"],
                reasons=record["reasons"],
                path=result.parent,
            )
        )
    return sorted(entries, key=lambda e: (e.refused_at, e.table, e.day))
