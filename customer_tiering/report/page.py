"""The report page: one self-contained HTML file, plotly.js inline, no request leaves it.

Every figure a chart draws is also in a table beside it, with the exact numbers as data
attributes (`data-tier`, `data-customers`, ...): a reader who cannot see a chart still
gets the numbers, and the tests compare them with the warehouse.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from customer_tiering.published import TIERS, alert_figure
from customer_tiering.report import charts
from customer_tiering.report.data import AGEING_BUCKETS, COMPARE_DAYS, NOT_TIERED, ReportData

Format = Callable[[Any], str]
# Columns of free text, allowed to wrap.
WIDE = {"alert_detail"}
STYLE = """
body { font: 14px/1.45 system-ui, sans-serif; margin: 0 auto; max-width: 1180px;
       padding: 0 24px 48px; color: #222; background: #fff; }
header { border-bottom: 3px solid #1f4e8c; margin-bottom: 8px; }
h1 { margin: 24px 0 4px; } h2 { margin-top: 36px; border-bottom: 1px solid #ddd; }
nav a { margin-right: 14px; } .note { color: #666; }
figure.chart { margin: 8px 0; min-height: 200px; }
table.figures { border-collapse: collapse; margin: 8px 0 16px; font-variant-numeric: tabular-nums; }
.scroll { overflow-x: auto; }
table.figures th, table.figures td { padding: 3px 10px; border-bottom: 1px solid #eee;
                                     white-space: nowrap; }
table.figures td.wide { white-space: normal; min-width: 240px; }
table.figures th { background: #f3f6fa; text-align: left; }
td.n { text-align: right; } .up { color: #1b7a3d; } .down { color: #b03a2e; }
"""


def missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT


def money(value: Any) -> str:
    return "—" if missing(value) else f"{float(value):,.2f}"


def count(value: Any) -> str:
    return "—" if missing(value) else f"{int(value):,}"


def percent(value: Any) -> str:
    return "—" if missing(value) else f"{float(value):.1%}"


def text(value: Any) -> str:
    if missing(value):
        return ""
    if isinstance(value, pd.Timestamp | datetime):
        return value.date().isoformat()
    return str(value)


def change(value: Any, formatter: Format) -> str:
    """A signed change, coloured: '+3', '-1,200.00' (with a minus sign)."""
    if missing(value):
        return "—"
    if value == 0:
        return "±0"
    shown = formatter(abs(value))
    sign, kind = ("+", "up") if value > 0 else ("\u2212", "down")
    return f'<span class="{kind}">{sign}{shown}</span>'


def attr_value(value: Any) -> str:
    """A data attribute's value: exact digits, cents for money."""
    if missing(value):
        return ""
    if isinstance(value, float):
        return f"{value:.2f}"
    return text(value)


def table(
    rows: pd.DataFrame,
    columns: list[tuple[str, str, Format]],
    table_id: str,
    data: Iterable[str] = (),
) -> str:
    """An HTML table of `rows`: (column, header, formatter) per column; the `data` columns
    also become data attributes of each row. Formatters return HTML (escaped)."""
    data = list(data)
    head = "".join(f"<th>{html.escape(label)}</th>" for _, label, _ in columns)
    body = []
    for row in rows.to_dict(orient="records"):
        attrs = "".join(
            f' data-{name.replace("_", "-")}="{html.escape(attr_value(row[name]))}"'
            for name in data
        )
        cells = "".join(
            f'<td class="{cell_class(key, fmt)}">{fmt(row[key])}</td>' for key, _, fmt in columns
        )
        body.append(f"<tr{attrs}>{cells}</tr>")
    return (
        f'<div class="scroll"><table class="figures" id="{table_id}"><thead><tr>{head}</tr>'
        f"</thead><tbody>{''.join(body)}</tbody></table></div>"
    )


def cell_class(column: str, formatter: Format) -> str:
    """Numbers right-aligned, free text wrapping."""
    if formatter in (money, count, percent):
        return "n"
    return "wide" if column in WIDE else ""


def escaped(formatter: Format = text) -> Format:
    return lambda value: html.escape(formatter(value))


def chart(name: str, figure: go.Figure | None, empty: str) -> str:
    """A chart's container (drawn by plotly.js on load), or a sentence when there is none."""
    if figure is None:
        return f'<p class="note">{html.escape(empty)}</p>'
    div = figure.to_html(
        full_html=False,
        include_plotlyjs=False,
        div_id=f"chart-{name}",
        config={"displaylogo": False, "responsive": True},
    )
    return f'<figure class="chart" data-chart="{name}">{div}</figure>'


def section(anchor: str, title: str, *parts: str) -> str:
    return f'<section id="{anchor}"><h2>{html.escape(title)}</h2>{"".join(parts)}</section>'


def note(sentence: str) -> str:
    return f'<p class="note">{html.escape(sentence)}</p>'


def tier_section(data: ReportData) -> str:
    rows = data.tiers.copy()
    for metric in ("customers", "contribution"):
        for label in ("previous", "earlier"):
            rows[f"{metric}_{label}_change"] = rows[f"{metric}_now"] - rows[f"{metric}_{label}"]
    rows["customers"] = rows["customers_now"]
    rows["contribution"] = rows["contribution_now"]
    positive = rows["contribution"].clip(lower=0)
    rows["share"] = positive / positive.sum() if positive.sum() else 0.0
    columns = [
        ("tier", "tier", escaped()),
        ("customers", "customers", count),
        ("customers_previous_change", f"since {data.previous or '—'}", lambda v: change(v, count)),
        ("customers_earlier_change", f"since {data.earlier or '—'}", lambda v: change(v, count)),
        ("contribution", "contribution", money),
        ("share", "share", percent),
        (
            "contribution_previous_change",
            f"since {data.previous or '—'}",
            lambda v: change(v, money),
        ),
        ("contribution_earlier_change", f"since {data.earlier or '—'}", lambda v: change(v, money)),
    ]
    return section(
        "tiers",
        "Tiers",
        note(
            f"Changes since the previous as-of date ({data.previous or 'none'}) and since"
            f" {COMPARE_DAYS} days earlier ({data.earlier or 'none'})."
        ),
        table(rows, columns, "tier-summary", data=("tier", "customers", "contribution")),
        chart("tiers", charts.tiers(data), ""),
    )


def pareto_section(data: ReportData) -> str:
    cuts = (
        data.cuts.pivot_table(index="cut", columns="tier", values="customers", aggfunc="sum")
        .reindex(columns=list(TIERS))
        .fillna(0)
        .astype(int)
        .reset_index()
    )
    cuts["used"] = cuts["cut"].map(lambda cut: "tiers use it" if cut == data.cut_method else "")
    columns = [("cut", "cut", escaped()), *[(t, t, count) for t in TIERS], ("used", "", escaped())]
    return section(
        "pareto",
        "Pareto curve and the two cuts",
        note(
            "Customers by contribution, largest first. Dashed: the cumulative-share cut; dotted:"
            " the customer-count cut. Each line is where A ends and where B ends; points are"
            " coloured by final tier."
        ),
        chart("pareto", charts.pareto(data), "No customer has a positive contribution."),
        table(cuts, columns, "cuts", data=("cut", *TIERS)),
    )


def migration_section(data: ReportData) -> str:
    order = [*TIERS, NOT_TIERED]
    moves = data.migration
    grid = []
    for source in order:
        cells = []
        for target in order:
            found = moves[(moves["from_tier"] == source) & (moves["to_tier"] == target)]
            customers = int(found["customers"].sum())
            cells.append(
                f'<td class="n" data-from="{source}" data-to="{target}"'
                f' data-customers="{customers}">{customers or ""}</td>'
            )
        grid.append(f"<tr><th>{html.escape(source)}</th>{''.join(cells)}</tr>")
    head = "".join(f"<th>{html.escape(target)}</th>" for target in order)
    matrix = (
        f'<div class="scroll"><table class="figures" id="migration"><thead><tr>'
        f"<th>from \\ to</th>{head}</tr></thead><tbody>{''.join(grid)}</tbody></table></div>"
    )
    return section(
        "migration",
        "Tier migration",
        note(f"Customers by tier on {data.earlier or '—'} (rows) and on {data.as_of} (columns)."),
        chart("migration", charts.migration(data), "No earlier as-of date to compare with."),
        matrix if data.earlier else "",
    )


def ageing_section(data: ReportData) -> str:
    columns = [
        ("tier", "tier", escaped()),
        ("customers", "customers", count),
        ("open_balance", "open balance", money),
        *[(column, label, money) for column, label in AGEING_BUCKETS.items()],
    ]
    return section(
        "ageing",
        "Receivables ageing by tier",
        chart("ageing", charts.ageing(data), "No open receivables."),
        table(data.ageing, columns, "ageing", data=("tier", "open_balance", "overdue_balance")),
    )


def alerts_section(data: ReportData) -> str:
    columns = [
        ("alert_type", "alert", escaped()),
        ("customer_id", "customer", escaped()),
        ("customer_name", "name", escaped()),
        ("tier", "tier", escaped()),
        ("metric_value", "figure", escaped(alert_figure)),
        ("threshold_value", "threshold", escaped(alert_figure)),
        ("raised_on", "since", escaped()),
        ("contribution", "contribution", money),
        ("open_balance", "open balance", money),
        ("overdue_balance", "overdue", money),
        ("worst_days_past_due", "days past due", count),
        ("days_since_last_order", "days silent", count),
        ("alert_detail", "why", escaped()),
    ]
    return section(
        "alerts",
        f"Alerts ({len(data.alerts)})",
        chart("alerts", charts.alerts(data), "No alert holds on this date."),
        table(data.alerts, columns, "alerts", data=("customer_id", "alert_type"))
        if not data.alerts.empty
        else "",
    )


def price_section(data: ReportData) -> str:
    columns = [
        ("as_of_date", "day", escaped()),
        ("product_id", "product", escaped()),
        ("customer_id", "customer", escaped()),
        ("tier", "tier", escaped()),
        ("unit_price", "unit price", money),
        ("reference_customer_id", "paid more", escaped()),
        ("reference_tier", "its tier", escaped()),
        ("reference_unit_price", "its price", money),
        ("price_gap_rate", "gap", percent),
        ("is_bigger_tier_paying_less", "bigger tier paying less", escaped()),
    ]
    shown = len(data.price_exceptions)
    return section(
        "prices",
        f"Price exceptions ({data.price_exception_count})",
        note(
            f"Sales days in the {COMPARE_DAYS} days up to {data.as_of} on which a customer paid"
            f" less than another for the same product; the {shown} widest gaps shown."
        ),
        chart("prices", charts.price_exceptions(data), "The supply price was uniform."),
        table(data.price_exceptions, columns, "price-exceptions", data=("customer_id",))
        if shown
        else "",
    )


def rebate_section(data: ReportData, ceiling: float | None) -> str:
    flagged = data.rebates[data.rebates["is_rebate_rate_high"]]
    columns = [
        ("customer_id", "customer", escaped()),
        ("customer_name", "name", escaped()),
        ("tier", "tier", escaped()),
        ("revenue", "revenue", money),
        ("rebate_cost", "rebates", money),
        ("rebate_rate", "rebate rate", percent),
    ]
    return section(
        "rebates",
        f"Rebate-rate outliers ({len(flagged)})",
        chart("rebates", charts.rebates(data, ceiling), "No customer has revenue in the window."),
        table(flagged, columns, "rebate-outliers", data=("customer_id",))
        if not flagged.empty
        else note("No customer's rebates exceed the ceiling."),
    )


def new_customer_section(data: ReportData) -> str:
    columns = [
        ("month_start_date", "month", escaped(lambda v: text(v)[:7])),
        ("new_customers", "new customers", count),
        ("repeat_customers", "bought again", count),
        ("repeat_rate", "repeat rate", percent),
        ("is_first_data_month", "first month of data", escaped()),
        ("is_partial_month", "partial month", escaped()),
    ]
    as_of = data.new_customers_as_of
    return section(
        "new-customers",
        "New customers",
        note(
            "The first month of data counts every existing customer as new (left out of the"
            " chart when later months exist)."
            + (f" Repeat purchases are counted up to {as_of}." if as_of else "")
        ),
        chart("new-customers", charts.new_customers(data), "No new customers."),
        table(data.new_customers, columns, "new-customers-monthly", data=("new_customers",)),
    )


def render(data: ReportData, ceiling: float | None) -> str:
    """The whole page."""
    sections = [
        tier_section(data),
        pareto_section(data),
        migration_section(data),
        ageing_section(data),
        alerts_section(data),
        price_section(data),
        rebate_section(data, ceiling),
        new_customer_section(data),
    ]
    links = [
        ("tiers", "Tiers"),
        ("pareto", "Pareto"),
        ("migration", "Migration"),
        ("ageing", "Receivables"),
        ("alerts", "Alerts"),
        ("prices", "Price exceptions"),
        ("rebates", "Rebates"),
        ("new-customers", "New customers"),
    ]
    nav = "".join(f'<a href="#{anchor}">{label}</a>' for anchor, label in links)
    generated = datetime.now(UTC).isoformat(timespec="seconds")
    title = f"Customer tiers as of {data.as_of}"
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>{STYLE}</style><script>{get_plotlyjs()}</script></head>"
        f'<body data-as-of="{data.as_of}" data-basis="{html.escape(data.basis)}"'
        f' data-cut-method="{html.escape(data.cut_method)}">'
        f"<header><h1>{title}</h1>"
        f'<p class="note">Contribution basis {html.escape(data.basis)}, cut'
        f" {html.escape(data.cut_method)}. From the published tables (schema marts),"
        f" generated {generated}.</p><nav>{nav}</nav></header>"
        f"{''.join(sections)}</body></html>\n"
    )
