"""Customers to develop and tiers at risk (issue 16): the outlook alerts of customer_alerts
and the flags of customer_service_plan.

The pure logic (every develop condition met at its threshold and missed by one step, cut
points, projected tier, shortfall, peers per tier and per date) is in the dbt unit tests
tier_outlooks_develop_conditions and tier_outlooks_projection_and_peers
(tests/test_dbt_unit.py). Here: one real build through `pipeline.run` on hand-worked frames
(the run-rate period's edge, the figures in customer_alerts, as-of correctness), and the
demo ERP's planted growers and churners caught before their tier changes.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from customer_tiering import pipeline
from customer_tiering.config import Settings
from tests.conftest import FrameSource, customers_frame, sales_frame

AS_OF = date(2024, 6, 30)
START, END = AS_OF - timedelta(days=400), AS_OF + timedelta(days=40)

# customer -> sales (days before AS_OF, amount); cost 0, so contribution = revenue. On AS_OF
# (window AS_OF-364..AS_OF, run rate = the last 90 days AS_OF-89..AS_OF x 365/90):
#   BIG     10000, A; 1800 on day -89 (inside): run rate 7300, at the A cut point 6000 or above
#   SLIDER   6000, A, the A cut point; its 2000 on day -90 is one day outside: run rate 0, D
#   MID      2000, B; 180 recent: run rate 730, below the B cut point 1000 (SMALL): C
#   SMALL    1000, B, the B cut point; 270 recent: run rate 1095, stays B
#   TINY      500, C (never at risk)
# Shares of 19500: BIG starts at 0%, SLIDER 51% (A), MID 82%, SMALL 92% (B), TINY 97% (C).
# After AS_OF SLIDER buys 3000 (day +10): that must not reach any alert of AS_OF.
SALES = {
    "BIG": [(300, 4000.0), (200, 4200.0), (89, 1800.0)],
    "SLIDER": [(300, 2000.0), (200, 2000.0), (90, 2000.0), (-10, 3000.0)],
    "MID": [(300, 1000.0), (200, 820.0), (60, 180.0)],
    "SMALL": [(300, 400.0), (200, 330.0), (30, 270.0)],
    "TINY": [(300, 200.0), (200, 200.0), (20, 100.0)],
}
EXPECTED_AT_RISK = {  # customer -> (tier, run rate, cut point, projected tier, shortfall)
    "SLIDER": ("A", 0.0, 6000.0, "D", 6000.0),
    "MID": ("B", 730.0, 1000.0, "C", 270.0),
}


def at(days_before: int) -> pd.Timestamp:
    return pd.Timestamp(AS_OF - timedelta(days=days_before))


@pytest.fixture(scope="module")
def outlook_marts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, pd.DataFrame]:
    """One real build START..END on the frames; the published marts read back."""
    rows = [
        (customer, AS_OF - timedelta(days=days), amount, 0.0)
        for customer, sales in SALES.items()
        for days, amount in sales
    ]
    frames = {"sales_lines": sales_frame(rows), "customers": customers_frame(list(SALES))}
    tmp = tmp_path_factory.mktemp("outlook")
    # One chunk for the whole window (chunking is tests/test_pipeline_chunks.py's subject).
    settings = Settings(
        warehouse=tmp / "tiers.duckdb",
        quarantine=tmp / "quarantine",
        chunk=(END - START).days + 1,
    )
    pipeline.run(settings, START, END, source=FrameSource(frames))
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        return {
            table: con.execute(f"select * from marts.{table}").df()
            for table in ("customer_tier_history", "customer_alerts", "customer_service_plan")
        }


def outlook_alerts(marts: dict[str, pd.DataFrame], day: pd.Timestamp) -> pd.DataFrame:
    alerts = marts["customer_alerts"]
    return alerts[
        (alerts["as_of_date"] == day) & (alerts["alert_category"] == "outlook")
    ].set_index("customer_id")


def test_tiers_on_the_as_of_date_are_as_worked_by_hand(outlook_marts) -> None:
    history = outlook_marts["customer_tier_history"]
    day = history[history["as_of_date"] == at(0)].set_index("customer_id")
    assert day["tier"].to_dict() == {
        "BIG": "A",
        "SLIDER": "A",
        "MID": "B",
        "SMALL": "B",
        "TINY": "C",
    }
    recent = {"BIG": 1800.0, "SLIDER": 0.0, "MID": 180.0, "SMALL": 270.0, "TINY": 100.0}
    assert day["recent_contribution"].astype(float).to_dict() == recent


def test_tier_at_risk_rows_carry_the_figures(outlook_marts) -> None:
    """Exactly SLIDER and MID are at risk on AS_OF, with the figures worked out above; data
    dated after AS_OF (SLIDER's purchase on day +10, loaded in the same build) changes none."""
    alerts = outlook_alerts(outlook_marts, at(0))
    assert set(alerts["alert_type"]) == {"tier_at_risk"}
    actual = {
        customer: (
            row["tier"],
            row["run_rate_contribution"],
            row["threshold_value"],
            row["projected_tier"],
            row["tier_shortfall"],
        )
        for customer, row in alerts.iterrows()
    }
    assert actual == EXPECTED_AT_RISK
    assert (alerts["metric_value"] == alerts["run_rate_contribution"]).all()
    assert alerts.loc["SLIDER", "alert_detail"] == (
        "run rate (last 90 days x 365/90) 0.00 below the A cut point 6000.00; projects D"
    )
    others = outlook_marts["customer_alerts"]
    others = others[others["alert_category"] != "outlook"]
    assert others[["projected_tier", "run_rate_contribution", "tier_shortfall"]].isna().all().all()


def test_run_rate_period_edge_raises_the_alert_on_the_day(outlook_marts) -> None:
    """On AS_OF-1 SLIDER's sale of day -90 is still inside the 90 days (run rate 8111): not
    at risk; on AS_OF it is one day outside. Ten days later its new purchase clears it."""
    assert "SLIDER" not in outlook_alerts(outlook_marts, at(1)).index
    assert "SLIDER" in outlook_alerts(outlook_marts, at(0)).index
    assert "SLIDER" not in outlook_alerts(outlook_marts, at(-10)).index


def test_service_plan_flags_the_latest_day(outlook_marts) -> None:
    """On END (AS_OF + 40) BIG's and MID's recent sales have left the 90 days; SLIDER's
    purchase of day +10 projects it A."""
    plan = outlook_marts["customer_service_plan"].set_index("customer_id")
    assert set(plan["as_of_date"]) == {pd.Timestamp(END)}
    assert plan["is_tier_at_risk"].to_dict() == {
        "BIG": True,
        "SLIDER": False,
        "MID": True,
        "SMALL": False,
        "TINY": False,
    }
    assert plan.loc[["BIG", "MID", "SLIDER"], "projected_tier"].tolist() == ["D", "D", "A"]
    assert not plan["is_develop_candidate"].any()  # no year-ago sales: no yoy growth


# --- the demo ERP's planted archetypes ----------------------------------------------------

GROWERS, CHURNERS = ["C00012", "C00013"], ["C00010", "C00011"]


def query(warehouse: Path, sql: str) -> pd.DataFrame:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute(sql).df()


def test_demo_growers_are_development_candidates_before_their_promotion(
    demo_warehouse: Path,
) -> None:
    """The growers (+10%/month) are develop candidates before they are promoted to A, and
    C00012 before its lasting promotion from C to B."""
    alerts = query(
        demo_warehouse,
        "select customer_id, min(as_of_date) as first_alert from marts.customer_alerts"
        " where alert_type = 'develop_candidate' group by all",
    ).set_index("customer_id")["first_alert"]
    promotions = query(
        demo_warehouse,
        "select customer_id, as_of_date, from_tier, to_tier from marts.tier_transitions"
        " where transition_type = 'promotion'",
    )
    for customer in GROWERS:
        to_a = promotions[(promotions["customer_id"] == customer) & (promotions["to_tier"] == "A")]
        assert len(to_a) > 0 and alerts[customer] < to_a["as_of_date"].min()
    to_b = promotions[(promotions["customer_id"] == "C00012") & (promotions["to_tier"] == "B")]
    assert alerts["C00012"] < to_b["as_of_date"].max()


def test_demo_churners_are_at_risk_before_their_demotion(demo_warehouse: Path) -> None:
    """The demo has no separate decliner: its churners are A customers whose buying fades
    from 2025-04-01 to silence on 2025-06-01. Their 365-day tier holds A for months; the
    90-day run rate puts them at risk first: at least two months ahead, and every day of
    those two months."""
    alerts = query(
        demo_warehouse,
        "select customer_id, as_of_date, tier, projected_tier, tier_shortfall"
        " from marts.customer_alerts where alert_type = 'tier_at_risk'",
    )
    demotions = query(
        demo_warehouse,
        "select customer_id, min(as_of_date) as demoted from marts.tier_transitions"
        " where transition_type = 'demotion' and from_tier = 'A' and as_of_date >= '2025-04-01'"
        " group by all",
    ).set_index("customer_id")["demoted"]
    for customer in CHURNERS:
        rows = alerts[alerts["customer_id"] == customer]
        warned_from = demotions[customer] - pd.Timedelta(days=60)
        assert pd.Timestamp("2025-04-01") < rows["as_of_date"].min() <= warned_from
        before = rows[rows["as_of_date"].between(warned_from, demotions[customer], "left")]
        assert len(before) == 60  # every day until the demotion
        assert (before["tier"] == "A").all() and (before["tier_shortfall"] > 0).all()
        assert set(before["projected_tier"]) <= {"B", "C", "D"}
    steady_big = alerts[alerts["customer_id"].isin(["C00001", "C00002", "C00003"])]
    assert steady_big.empty
