"""`tiering explain CUSTOMER_ID [--date D]`: why a customer has its tier, for a sales manager.

Everything comes from the published rows of that customer on that as-of date, where
readers read them on either target (the BI snapshot on DuckDB, schema marts on Postgres,
through customer_tiering.published.reading; rows typed from the SQL types, so both give
the same values and the same text): the final and plain ABC tier, rank and shares on
the basis, what the other cut would say (`share_cut_tier` / `count_cut_tier`), and for
each reason code the figures the rule looked at, from the same row. The thresholds
quoted are the current rules (tiering.yml over the dbt defaults); the alerts quote the
thresholds their build used.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from customer_tiering.config import DBT_PROJECT_DIR, Settings
from customer_tiering.errors import ConfigError
from customer_tiering.publish import PUBLISHED_SCHEMA
from customer_tiering.published import HISTORY, alert_figure, reading, records, resolve_as_of
from customer_tiering.rules import Rules, dbt_var_defaults, effective_rules
from customer_tiering.warehouses import Connection

# Transitions shown, latest first.
TRANSITIONS = 5
OTHER_CUT = {"cumulative_share": "customer_count", "customer_count": "cumulative_share"}
CUT_COLUMN = {"cumulative_share": "share_cut_tier", "customer_count": "count_cut_tier"}


def money(value: Any) -> str:
    return "—" if value is None else f"{float(value):,.2f}"


def percent(value: Any) -> str:
    return "—" if value is None else f"{float(value):.1%}"


def number(value: Any) -> str:
    return "—" if value is None else f"{value:,}"


def rule_lines(row: dict[str, Any], rules: Rules) -> list[str]:
    """One line per reason code of the row: what the rule did and the figures behind it."""
    lines = {
        "non_positive_contribution": (
            f"moved to D: contribution {money(row['contribution'])} on {row['basis']}"
            " is not positive, so it takes no share"
        ),
        "hysteresis_hold": (
            f"held at {row['held_abc_tier']} although plain ABC says {row['abc_tier']}: a"
            f" demotion waits for {rules.hysteresis_evaluations} evaluations below the tier"
        ),
        "one_off_buyer": (
            f"capped at {rules.one_off_max_tier}: active in {number(row['active_months'])}"
            f" month(s) of the window, fewer than {rules.one_off_min_active_months}"
            f" ({number(row['order_count'])} orders)"
        ),
        "chicken_rib": (
            f"flag, caps at {rules.chicken_rib_max_tier}: revenue rank"
            f" {number(row['revenue_rank'])} (top {rules.chicken_rib_top_revenue_share:.0%} by"
            f" revenue) but customer profit rate {percent(row['customer_profit_rate'])}, below"
            f" {rules.chicken_rib_max_profit_rate:.0%}"
        ),
        "price_chaser": (
            f"flag{cap(rules.price_chaser_max_tier)}: {percent(row['deep_discount_share'])} of"
            f" its volume bought at deep discount (threshold"
            f" {rules.price_chaser_min_volume_share:.0%}), {number(row['order_count'])} orders"
        ),
        "credit_overdue_cap": (
            f"capped at {rules.credit_cap_max_tier}: {money(row['serious_overdue_balance'])}"
            f" more than {rules.credit_cap_days_past_due} days past due (at least"
            f" {money(rules.credit_cap_min_amount)}); oldest invoice"
            f" {number(row['worst_days_past_due'])} days past due"
        ),
        "credit_drop": (
            f"moved to D, drop candidate: {money(row['chronic_overdue_balance'])} more than"
            f" {rules.credit_drop_days_past_due} days past due (at least"
            f" {money(rules.credit_drop_min_amount)}); oldest invoice"
            f" {number(row['worst_days_past_due'])} days past due"
        ),
        "negative_customer_profit": (
            f"moved to D: customer profit {money(row['customer_profit'])} (gross profit"
            f" {money(row['gross_profit'])} minus cost to serve {money(row['cost_to_serve'])}),"
            f" profit rate {percent(row['customer_profit_rate'])}"
        ),
        "blocked": "moved to D, drop candidate: on the company's blocklist",
        "high_rebate_rate": (
            f"flag: rebate rate {percent(row['rebate_rate'])} (rebates"
            f" {money(row['rebate_cost'])} / revenue {money(row['revenue'])}), above the"
            f" ceiling {rules.rebate_rate_ceiling:.0%}"
        ),
    }
    codes = [code for code in (row["reason_codes"] or "").split(";") if code]
    return [f"{code}: {lines.get(code, 'see the tier rules')}" for code in codes]


def cap(max_tier: str) -> str:
    """', caps at B' unless the cap is A (a flag only)."""
    return "" if max_tier == "A" else f", caps at {max_tier}"


def customer_row(con: Connection, customer_id: str, as_of: date) -> dict[str, Any]:
    """The customer's history row on `as_of`; ConfigError (exit 2) when there is none."""
    found = records(
        con,
        f"select * from {HISTORY} where customer_id = ? and as_of_date = ?",
        [customer_id, as_of],
    )
    if found:
        return found[0]
    first, last = con.execute(
        f"select min(as_of_date), max(as_of_date) from {HISTORY} where customer_id = ?",
        [customer_id],
    ).fetchone()
    if first is None:
        raise ConfigError(f"unknown customer {customer_id!r}: not in the published tier history")
    raise ConfigError(
        f"customer {customer_id!r} has no tier row as of {as_of} (it has rows between {first}"
        f" and {last}: a customer is tiered while it has sales, cost to serve or an open"
        " receivable in the window)"
    )


def header_lines(row: dict[str, Any], tiered: int) -> list[str]:
    """Who the customer is, its tiers, rank and shares, and the figures of its profile."""
    cut = row["cut_method"]
    other = OTHER_CUT.get(cut, "customer_count")
    where = ", ".join(str(part) for part in (row["region"], row["channel"]) if part)
    name = f" {row['customer_name']}" if row["customer_name"] else ""
    dso = None if row["dso_days"] is None else round(row["dso_days"])
    return [
        f"{row['customer_id']}{name} ({where or 'no region'}) as of {row['as_of_date']}",
        f"  tier {row['tier']} · plain ABC tier {row['abc_tier']}"
        f" · VIP level {row['vip_level'] or '—'}",
        f"  rank {number(row['contribution_rank'])} of {tiered} on {row['basis']}"
        f" · contribution {money(row['contribution'])} · share {percent(row['share'])}"
        f" · cumulative share {percent(row['cumulative_share'])}",
        f"  the {cut} cut (used) makes it {row[CUT_COLUMN.get(cut, 'share_cut_tier')]};"
        f" the {other} cut would make it {row[CUT_COLUMN[other]]}",
        f"  revenue {money(row['revenue'])} · gross profit {money(row['gross_profit'])}"
        f" · cost to serve {money(row['cost_to_serve'])}"
        f" · customer profit {money(row['customer_profit'])}"
        f" ({percent(row['customer_profit_rate'])})",
        f"  credit: open {money(row['open_balance'])} · overdue {money(row['overdue_balance'])}"
        f" · oldest invoice {number(row['worst_days_past_due'])} days past due"
        f" · credit limit {money(row['credit_limit'])} · DSO {number(dso)} days",
        f"  loyalty: {number(row['order_count'])} orders in {number(row['active_months'])}"
        f" active month(s) · last order {row['last_order_date'] or '—'}"
        f" ({number(row['days_since_last_order'])} day(s) earlier)",
    ]


def alert_lines(con: Connection, customer_id: str, as_of: date) -> list[str]:
    """The alerts holding for the customer, with their figure and threshold."""
    alerts = records(
        con,
        f"select alert_type, metric_value, threshold_value, alert_detail"
        f" from {PUBLISHED_SCHEMA}.customer_alerts where customer_id = ? and as_of_date = ?"
        f" order by {con.binary_order('alert_category')}, {con.binary_order('alert_type')}",
        [customer_id, as_of],
    )
    return [f"Alerts: {len(alerts)}" if alerts else "Alerts: none"] + [
        f"  {alert['alert_type']}: {alert['alert_detail']} ({alert_figure(alert['metric_value'])}"
        f" against {alert_figure(alert['threshold_value'])})"
        for alert in alerts
    ]


def transition_lines(con: Connection, customer_id: str, as_of: date) -> list[str]:
    """The customer's last promotions and demotions up to `as_of`."""
    moves = records(
        con,
        f"select as_of_date, from_tier, to_tier, transition_type, reason_codes"
        f" from {PUBLISHED_SCHEMA}.tier_transitions where customer_id = ? and as_of_date <= ?"
        f" order by as_of_date desc limit {TRANSITIONS}",
        [customer_id, as_of],
    )
    return ["Last transitions:" if moves else "Last transitions: none"] + [
        f"  {move['as_of_date']}  {move['from_tier']} → {move['to_tier']}"
        f"  {move['transition_type']}"
        + (f"  ({move['reason_codes']})" if move["reason_codes"] else "")
        for move in moves
    ]


def explain_lines(con: Connection, customer_id: str, as_of: date, rules: Rules) -> list[str]:
    """The explanation, one line each (indented lines belong to the heading above)."""
    row = customer_row(con, customer_id, as_of)
    tiered = con.execute(
        f"select count(*) from {HISTORY} where as_of_date = ?", [as_of]
    ).fetchone()[0]
    moved = rule_lines(row, rules)
    return [
        *header_lines(row, tiered),
        "Rules that moved or flagged it:" if moved else "Rules: none moved or flagged it",
        *[f"  {line}" for line in moved],
        *alert_lines(con, customer_id, as_of),
        *service_plan_lines(con, customer_id, as_of),
        *transition_lines(con, customer_id, as_of),
    ]


def service_plan_lines(con: Connection, customer_id: str, as_of: date) -> list[str]:
    """The service plan: published for the latest as-of date only, said so when it is
    another day than the one explained."""
    plans = records(
        con,
        f"select * from {PUBLISHED_SCHEMA}.customer_service_plan where customer_id = ?",
        [customer_id],
    )
    if not plans:
        return ["Service plan: none (the customer is not tiered on the latest published day)"]
    plan = plans[0]
    when = "" if plan["as_of_date"] == as_of else f", for tier {plan['tier']} on the latest day"
    return [
        f"Service plan (as of {plan['as_of_date']}{when}):",
        f"  samples budget {money(plan['yearly_sample_budget'])} a year (given"
        f" {money(plan['samples_cost_in_window'])} in the window) · training"
        f" {plan['training_cadence']} ({plan['trainings_per_year']}/year) · visits"
        f" {plan['visit_cadence']} ({plan['visits_per_year']}/year)",
    ]


def explain(settings: Settings, customer_id: str, as_of: date | None = None) -> list[str]:
    """The explanation of `customer_id` as of `as_of` (default: the latest published day)."""
    rules = effective_rules(settings.rules, dbt_var_defaults(DBT_PROJECT_DIR))
    with reading(settings, "explain") as con:
        day = resolve_as_of(con, as_of)
        return explain_lines(con, customer_id, day, rules)
