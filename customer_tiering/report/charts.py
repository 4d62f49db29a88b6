"""The report's charts, as Plotly figures (drawn by plotly.js embedded in the page, so
the file opens without a server or a network). One function per chart; None where there
is nothing to draw (no alerts, no price exceptions), and the page says so in words."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from customer_tiering.published import TIERS
from customer_tiering.report.data import AGEING_BUCKETS, NOT_TIERED, ReportData

TIER_COLOURS = {"A": "#1b9e77", "B": "#3778c2", "C": "#e6a117", "D": "#c0392b"}
TIER_COLOURS[NOT_TIERED] = "#9e9e9e"
HEIGHT = 420
CUT_NAMES = {"cumulative_share": "share cut", "customer_count": "count cut"}


def styled(figure: go.Figure, title: str, height: int = HEIGHT) -> go.Figure:
    """One look for every chart."""
    figure.update_layout(
        title={"text": title, "x": 0.01},
        height=height,
        margin={"l": 60, "r": 30, "t": 60, "b": 50},
        template="plotly_white",
        legend={"orientation": "h", "y": -0.18},
    )
    return figure


def cut_sizes(data: ReportData, cut: str) -> dict[str, int]:
    """Customers per tier under one cut."""
    rows = data.cuts[data.cuts["cut"] == cut]
    return {tier: int(rows.loc[rows["tier"] == tier, "customers"].sum()) for tier in TIERS}


def pareto(data: ReportData) -> go.Figure | None:
    """Cumulative share of contribution against share of customers, with the A|B and B|C
    boundaries of both cuts and how many customers each puts in A, B and C."""
    curve = data.pareto
    if curve.empty:
        return None
    positive = len(curve)
    # The curve, then each tier's customers as markers of one colour: a colour per point
    # would have Plotly validate 16,000 colour strings one by one (1.6 s of a daily run).
    figure = go.Figure(
        go.Scatter(
            x=pd.concat([pd.Series([0.0]), curve["rank"] / positive]),
            y=pd.concat([pd.Series([0.0]), curve["cumulative_share"]]),
            mode="lines",
            line={"color": "#555"},
            hoverinfo="skip",
            name="cumulative share",
        )
    )
    for tier, customers in curve.groupby("tier", sort=True):
        figure.add_trace(
            go.Scatter(
                x=customers["rank"] / positive,
                y=customers["cumulative_share"],
                mode="markers",
                marker={"size": 6, "color": TIER_COLOURS[tier]},
                customdata=customers[["customer_id", "customer_name", "contribution"]].to_numpy(
                    dtype=object
                ),
                hovertemplate="%{customdata[0]} %{customdata[1]}<br>contribution"
                " %{customdata[2]:,.2f}<br>top %{x:.0%} of customers hold %{y:.1%}<extra></extra>",
                name=f"tier {tier}",
            )
        )
    styles = (("cumulative_share", "dash", "top"), ("customer_count", "dot", "bottom"))
    for cut, dash, position in styles:
        sizes = cut_sizes(data, cut)
        label = f"{CUT_NAMES[cut]}: A {sizes['A']} · B {sizes['B']} · C {sizes['C']}" + (
            f" · D {sizes['D']}" if sizes["D"] else ""
        )
        figure.add_trace(
            go.Scatter(
                x=[None], y=[None], mode="lines", line={"dash": dash, "color": "#333"}, name=label
            )
        )
        for boundary, between in ((sizes["A"], "A|B"), (sizes["A"] + sizes["B"], "B|C")):
            figure.add_vline(
                x=boundary / positive,
                line={"dash": dash, "color": "#333", "width": 1},
                annotation_text=f"{CUT_NAMES[cut]} {between} after {boundary}",
                annotation_position=f"{position} right",
            )
    figure.update_xaxes(title="share of customers, largest contribution first", tickformat=".0%")
    figure.update_yaxes(title="cumulative share of contribution", tickformat=".0%", range=[0, 1.05])
    return styled(figure, f"Pareto curve of contribution ({data.basis})")


def tiers(data: ReportData) -> go.Figure:
    """Customers and contribution per tier now, on the previous as-of date and 30 days
    earlier, side by side."""
    figure = make_subplots(rows=1, cols=2, subplot_titles=("customers", "contribution"))
    dates = [
        ("earlier", data.earlier, "#c9d6e8"),
        ("previous", data.previous, "#7fa3d1"),
        ("now", data.as_of, "#1f4e8c"),
    ]
    for label, day, colour in dates:
        if day is None:
            continue
        for column, metric in ((1, "customers"), (2, "contribution")):
            figure.add_trace(
                go.Bar(
                    x=data.tiers["tier"],
                    y=data.tiers[f"{metric}_{label}"],
                    name=str(day),
                    marker_color=colour,
                    legendgroup=label,
                    showlegend=column == 1,
                ),
                row=1,
                col=column,
            )
    figure.update_layout(barmode="group")
    return styled(figure, "Tiers: customers and contribution")


def migration(data: ReportData) -> go.Figure | None:
    """Heatmap of customers by tier on the earlier date (rows) and now (columns)."""
    moves = data.migration
    if moves.empty:
        return None
    order = [*TIERS, NOT_TIERED]
    grid = (
        moves.pivot_table(index="from_tier", columns="to_tier", values="customers", aggfunc="sum")
        .reindex(index=order, columns=order)
        .fillna(0)
        .astype(int)
    )
    figure = go.Figure(
        go.Heatmap(
            z=grid.to_numpy(),
            x=order,
            y=order,
            text=grid.to_numpy(),
            texttemplate="%{text}",
            colorscale="Blues",
            hovertemplate="from %{y} to %{x}: %{z} customers<extra></extra>",
            showscale=False,
        )
    )
    figure.update_xaxes(title=f"tier on {data.as_of}", side="top")
    figure.update_yaxes(title=f"tier on {data.earlier}", autorange="reversed")
    return styled(figure, f"Tier migration {data.earlier} → {data.as_of}")


def ageing(data: ReportData) -> go.Figure | None:
    """Open receivables per tier, stacked by ageing bucket."""
    if data.ageing.empty:
        return None
    colours = ["#a6d96a", "#fee08b", "#fdae61", "#f46d43", "#a50026"]
    figure = go.Figure(
        [
            go.Bar(x=data.ageing["tier"], y=data.ageing[column], name=label, marker_color=colour)
            for (column, label), colour in zip(AGEING_BUCKETS.items(), colours, strict=True)
        ]
    )
    figure.update_layout(barmode="stack")
    figure.update_yaxes(title="open balance")
    return styled(figure, "Receivables ageing by tier")


def alerts(data: ReportData) -> go.Figure | None:
    """Alerts holding now, per type, coloured by the customers' tiers."""
    if data.alerts.empty:
        return None
    counts = data.alerts.groupby(["alert_type", "tier"], dropna=False).size().reset_index(name="n")
    figure = go.Figure(
        [
            go.Bar(
                x=rows["alert_type"],
                y=rows["n"],
                name=f"tier {tier}",
                marker_color=TIER_COLOURS.get(tier, TIER_COLOURS[NOT_TIERED]),
            )
            for tier, rows in counts.groupby("tier", dropna=False)
        ]
    )
    figure.update_layout(barmode="stack")
    figure.update_yaxes(title="customers")
    return styled(figure, "Alerts by type", height=360)


def flagged_scatter(
    rows: pd.DataFrame,
    flag: str,
    groups: tuple[tuple[bool, str, str], ...],
    x: str,
    y: str,
    hover: tuple[list[str], str],
) -> go.Figure:
    """One marker trace per value of the boolean column `flag` (value, legend name,
    colour), so the flagged points stand out; `hover` is the customdata columns and the
    hover template that reads them."""
    figure = go.Figure()
    custom, template = hover
    for value, name, colour in groups:
        part = rows[rows[flag] == value]
        figure.add_trace(
            go.Scatter(
                x=part[x],
                y=part[y],
                mode="markers",
                name=name,
                marker={"color": colour, "size": 8},
                customdata=part[custom],
                hovertemplate=template,
            )
        )
    return figure


def price_exceptions(data: ReportData) -> go.Figure | None:
    """Price gap of each exception shown, by day; a bigger tier paying less stands out."""
    rows = data.price_exceptions
    if rows.empty:
        return None
    figure = flagged_scatter(
        rows,
        "is_bigger_tier_paying_less",
        ((True, "bigger tier paying less", "#c0392b"), (False, "other", "#7f8c8d")),
        "as_of_date",
        "price_gap_rate",
        (
            ["customer_id", "product_id", "reference_customer_id"],
            "%{customdata[0]} paid %{y:.1%} less for %{customdata[1]}"
            " than %{customdata[2]}<extra></extra>",
        ),
    )
    figure.update_yaxes(title="below the highest price paid that day", tickformat=".0%")
    return styled(figure, "Price exceptions (widest gaps)", height=360)


def rebates(data: ReportData, ceiling: float | None) -> go.Figure | None:
    """Rebate rate against revenue for every customer; the flagged ones in red."""
    rows = data.rebates
    if rows.empty:
        return None
    figure = flagged_scatter(
        rows,
        "is_rebate_rate_high",
        ((False, "within the ceiling", "#3778c2"), (True, "above the ceiling", "#c0392b")),
        "revenue",
        "rebate_rate",
        (
            ["customer_id", "customer_name", "tier"],
            "%{customdata[0]} %{customdata[1]} (tier %{customdata[2]})"
            "<br>revenue %{x:,.2f}, rebate rate %{y:.1%}<extra></extra>",
        ),
    )
    if ceiling is not None:
        figure.add_hline(
            y=ceiling,
            line={"dash": "dash", "color": "#c0392b"},
            annotation_text=f"ceiling {ceiling:.0%}",
        )
    figure.update_xaxes(title="revenue in the window", type="log")
    figure.update_yaxes(title="rebates / net sales", tickformat=".0%")
    return styled(figure, "Rebate rate by customer")


def new_customers(data: ReportData) -> go.Figure | None:
    """New customers per month (bars) and the share that bought again (line). The first
    month of data, where every existing customer looks new, is left out when there are
    others: it would flatten every other bar."""
    months = data.new_customers
    if len(months) > 1:
        months = months[~months["is_first_data_month"].fillna(False).astype(bool)]
    if months.empty:
        return None
    figure = make_subplots(specs=[[{"secondary_y": True}]])
    figure.add_trace(
        go.Bar(
            x=months["month_start_date"],
            y=months["new_customers"],
            name="new customers",
            marker_color="#3778c2",
        ),
        secondary_y=False,
    )
    figure.add_trace(
        go.Scatter(
            x=months["month_start_date"],
            y=months["repeat_rate"],
            name="repeat rate",
            mode="lines+markers",
            line={"color": "#e6a117"},
        ),
        secondary_y=True,
    )
    figure.update_yaxes(title="new customers", secondary_y=False)
    figure.update_yaxes(title="repeat rate", tickformat=".0%", range=[0, 1.05], secondary_y=True)
    return styled(figure, "New customers per month and repeat rate")
