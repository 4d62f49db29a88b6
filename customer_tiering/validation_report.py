"""The validation report of one run: an HTML page a person can read without tools.

Written for every run, passed or refused, next to the warehouse
(`<warehouse dir>/reports/validation/<run id>.html`): per table, each rule with its
severity, outcome, failing count, days and a few failing rows.
"""

from __future__ import annotations

from datetime import date
from html import escape
from pathlib import Path

from customer_tiering.checks import CheckResult
from customer_tiering.config import Settings

_STYLE = """
body { font-family: sans-serif; margin: 2em; color: #222; }
table { border-collapse: collapse; margin-bottom: 1.5em; }
td, th { border: 1px solid #ccc; padding: 3px 8px; text-align: left; vertical-align: top;
         white-space: pre-wrap; }
.fail { background: #fdd; } .warn { background: #ffd; } .ok { color: #080; }
"""


def report_path(settings: Settings, run_id: str) -> Path:
    return settings.warehouse.parent / "reports" / "validation" / f"{run_id}.html"


def _status(result: CheckResult) -> tuple[str, str]:
    if result.success:
        return "ok", "passed"
    return result.severity, "FAILED" if result.severity == "fail" else "warning"


def _row(result: CheckResult) -> str:
    css, status = _status(result)
    days = ", ".join(d.isoformat() for d in result.days[:10])
    days += f" (+{len(result.days) - 10} more)" if len(result.days) > 10 else ""
    detail = result.detail if not result.success else ""
    samples = "\n".join(", ".join(f"{k}={v}" for k, v in row.items()) for row in result.samples)
    cells = [result.rule, result.severity, status, "" if result.success else result.failing]
    cells += [days, detail, samples]
    return f'<tr class="{css}">' + "".join(f"<td>{escape(str(c))}</td>" for c in cells) + "</tr>"


def render(run_id: str, start: date, end: date, results: list[CheckResult]) -> str:
    refused = sorted({r.table for r in results if r.refuses})
    verdict = f"REFUSED ({', '.join(refused)})" if refused else "passed"
    parts = [
        f"<html><head><meta charset='utf-8'><title>Validation {escape(run_id)}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>Validation of {start}..{end}: {escape(verdict)}</h1>",
        f"<p>Run {escape(run_id)}. Failed <b>fail</b> rules stop the run (the batch not",
        " loaded but quarantined); <b>warn</b> rules are reported and the data loads.</p>",
    ]
    header = "".join(
        f"<th>{h}</th>"
        for h in ("rule", "severity", "status", "failing", "days", "detail", "failing rows")
    )
    for table in dict.fromkeys(r.table for r in results):
        rows = sorted(
            (r for r in results if r.table == table), key=lambda r: (r.success, r.severity)
        )
        failed = sum(not r.success for r in rows)
        parts.append(f"<h2>{escape(table)}: {len(rows)} rules, {failed} not met</h2>")
        parts.append(f"<table><tr>{header}</tr>{''.join(_row(r) for r in rows)}</table>")
    parts.append("</body></html>")
    return "\n".join(parts)


def write(
    settings: Settings, run_id: str, start: date, end: date, results: list[CheckResult]
) -> Path:
    """Write the report of a run and return its path."""
    path = report_path(settings, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(run_id, start, end, results), encoding="utf-8")
    return path
