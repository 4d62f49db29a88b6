"""The tier report: one self-contained HTML page per as-of date, beside the warehouse.

    <warehouse dir>/reports/tiers/<as_of_date>.html   any as-of date in history
    <warehouse dir>/reports/tiers/latest.html         the latest published as-of date

Each successful build writes the page for the day it published (customer_tiering.pipeline);
`tiering report --date D` writes it for any day in history. It reads the published tables
where readers read them, on either target (customer_tiering.published.reading): on DuckDB
the BI snapshot, never the warehouse, so it neither waits for nor blocks a running build;
on Postgres schema marts under the warehouse lock held shared (a publish replacing tables
mid-read would empty them in its snapshot), so it waits for a running build's publish as
the export does. `<warehouse dir>` is the `warehouse` setting's folder on both (on Postgres
the local folder of dbt state and exports). Each file is written beside its final name and
swapped in (os.replace): a browser never opens half a page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from customer_tiering.config import DBT_PROJECT_DIR, Settings
from customer_tiering.publish import write_atomically
from customer_tiering.published import HISTORY, history_range, reading, resolve_as_of
from customer_tiering.report import data, page
from customer_tiering.rules import dbt_var_defaults, effective_rules

LATEST = "latest.html"


@dataclass(frozen=True)
class ReportFiles:
    """What `write_report` wrote: the dated page and, for the latest day, latest.html."""

    as_of: date
    page: Path
    latest: Path | None


def report_dir(warehouse: Path) -> Path:
    """`reports/tiers/` in the folder of the `warehouse` setting (beside the DuckDB file;
    on Postgres in the local folder)."""
    return warehouse.resolve().parent / "reports" / "tiers"


def rebate_ceiling(settings: Settings, figures: data.ReportData) -> float:
    """The ceiling the build compared rebate rates with (its alerts carry it), else the
    one the current rules set."""
    thresholds = figures.alerts.loc[
        figures.alerts["alert_type"] == "high_rebate_rate", "threshold_value"
    ]
    if not thresholds.empty:
        return float(thresholds.iloc[0])
    rules = effective_rules(settings.rules, dbt_var_defaults(DBT_PROJECT_DIR))
    return rules.rebate_rate_ceiling


def write_report(settings: Settings, as_of: date | None = None) -> ReportFiles:
    """Write the report as of `as_of` (default: the latest published day), and latest.html
    when that is the latest day. ConfigError (exit 2) for a day with no history."""
    with reading(settings, "tier report") as con:
        day = resolve_as_of(con, as_of)
        figures = data.load(con, day)
        _, last = history_range(con)
    html = page.render(figures, rebate_ceiling(settings, figures))
    folder = report_dir(settings.warehouse)
    dated = folder / f"{day.isoformat()}.html"
    write_atomically(dated, html)
    latest = None
    if day == last:
        latest = folder / LATEST
        write_atomically(latest, html)
    return ReportFiles(day, dated, latest)


def write_for_build(settings: Settings, as_of: date) -> str:
    """Write the report of the day a build published; return the line the build logs.
    A day on which no customer is tiered (no sale, cost or receivable in the window) has
    nothing to show, which is no reason to fail a run that has published."""
    with reading(settings, "tier report") as con:
        tiered = con.execute(
            f"select count(*) from {HISTORY} where as_of_date = ?", [as_of]
        ).fetchone()[0]
    if not tiered:
        return f"no tier report as of {as_of}: no customer is tiered on that day"
    return f"tier report {write_report(settings, as_of).page}"
