"""The schema of the business rules: what type and range each dbt var may take.

The rules are dbt vars, and their defaults live in one place only: `vars:` of
`dbt_project/dbt_project.yml`, read here at run time. This module declares types and
constraints, never defaults, so the two cannot drift: the effective rules are the dbt
defaults overridden by `tiering.yml` `rules:`, validated as a whole (cross-field checks
see the defaults too), and a var without a field here (or a field without a var) fails
every run and a test.

A field's `description` is the noun of its error message ("must be a fraction >= 0 and
<= 1"), so each alias below says in words what its constraints allow.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal, NoReturn

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, model_validator
from pydantic_core import PydanticCustomError

# Set by each run from --date/--start/--end (environment variables to dbt), never a rule.
RUN_DATES = ("as_of_date", "history_start_date")

Days = Annotated[int, Field(ge=1, description="a whole number of days")]
DaysOrZero = Annotated[int, Field(ge=0, description="a whole number of days")]
Count = Annotated[int, Field(ge=0, description="a whole number")]
PositiveCount = Annotated[int, Field(ge=1, description="a whole number")]
Share = Annotated[float, Field(ge=0, le=1, description="a fraction")]
PositiveShare = Annotated[float, Field(gt=0, le=1, description="a fraction")]
ProfitRate = Annotated[float, Field(ge=-1, le=1, description="a profit rate")]
Ratio = Annotated[float, Field(gt=0, description="a ratio")]
Deviation = Annotated[float, Field(ge=0, description="a fraction")]
Factor = Annotated[float, Field(gt=0, description="a multiple")]
Money = Annotated[float, Field(ge=0, description="an amount of money")]
Growth = Annotated[float, Field(ge=-1, description="a growth rate")]
Tier = Literal["A", "B", "C", "D"]


class Rules(BaseModel):
    """Every dbt var of `dbt_project.yml`, one field each, meaning documented there.

    Strict: YAML already gives numbers and text their own types, and the values go to dbt
    exactly as written, so `"180"` or `yes` for a number is refused rather than coerced.
    """

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    # 1. Contribution and ABC
    window_days: Days
    tier_basis: Literal["revenue", "gross_profit", "customer_profit"]
    abc_cut_method: Literal["cumulative_share", "customer_count"]
    abc_a_cumulative_share: PositiveShare
    abc_b_cumulative_share: PositiveShare
    abc_a_customer_share: PositiveShare
    abc_b_customer_share: Share
    # Tier rules
    hysteresis_evaluations: PositiveCount
    one_off_min_active_months: Count
    one_off_max_tier: Tier
    chicken_rib_top_revenue_share: Share
    chicken_rib_max_profit_rate: ProfitRate
    chicken_rib_max_tier: Tier
    price_chaser_max_tier: Tier
    credit_cap_days_past_due: DaysOrZero
    credit_cap_min_amount: Money
    credit_cap_max_tier: Tier
    credit_drop_days_past_due: DaysOrZero
    credit_drop_min_amount: Money
    # VIP levels inside A
    vip_diamond_share: PositiveShare
    vip_gold_share: PositiveShare
    # 2. Profit and rebates
    rebate_rate_ceiling: Share
    # 3. Credit
    dso_days: Days
    credit_utilisation_warning: Ratio
    # 4. Loyalty and growth
    growth_mom_days: Days
    growth_yoy_days: Days
    growth_year_lag_days: Days
    # 4b. Outlook: customers to develop and tiers at risk
    outlook_run_rate_days: Days
    develop_min_active_months: Count
    develop_min_yoy_growth: Growth
    develop_min_mom_growth: Growth
    develop_growth_top_share: PositiveShare
    develop_min_on_time_share: Share
    # 5. Price chasers, churn and the monthly baseline
    price_chaser_min_list_discount: Share
    price_chaser_min_peer_discount: Share
    price_chaser_peer_days: Days
    price_chaser_min_volume_share: Share
    price_chaser_min_orders: Count
    churn_recent_days: Days
    churn_drop_ratio: Share
    churn_min_baseline_days: DaysOrZero
    churn_min_baseline_orders: Count
    churn_silence_factor: Factor
    churn_min_silence_days: DaysOrZero
    activity_baseline_months: PositiveCount
    activity_deviation_threshold: Deviation
    # 6. Uniform supply price
    price_exception_tolerance: Share
    # 7. New customers
    repeat_buyer_days: Days
    # 8. How figures are computed
    window_timeline: Literal["auto", "as_of_rows", "change_points"]

    @model_validator(mode="before")
    @classmethod
    def _no_run_dates(cls, data: Any) -> Any:
        """The run dates are dbt vars too, but each run sets them (--date/--start/--end)."""
        for name in RUN_DATES:
            if isinstance(data, Mapping) and name in data:
                raise PydanticCustomError(
                    "run_date",
                    "is set by each run (--date/--start/--end), not here",
                    {"key": name, "value": data[name]},
                )
        return data

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> Rules:
        """Rules that only make sense together. The error names the rule the user set
        rather than the default it clashes with."""
        overridden = set((info.context or {}).get("overrides", ()))

        def blame(usual: str, other: str) -> tuple[str, str]:
            """(the rule to name, the other one): `usual` unless only `other` was set."""
            if other in overridden and usual not in overridden:
                return other, usual
            return usual, other

        def fail(kind: str, message: str, key: str, other: str, **extra: Any) -> NoReturn:
            raise PydanticCustomError(
                kind,
                message,
                {
                    "key": key,
                    "value": getattr(self, key),
                    "other": other,
                    "other_value": getattr(self, other),
                    **extra,
                },
            )

        for low, high in (
            ("abc_a_cumulative_share", "abc_b_cumulative_share"),
            ("vip_diamond_share", "vip_gold_share"),
            ("churn_recent_days", "window_days"),  # the churn baseline is the rest of it
            ("outlook_run_rate_days", "window_days"),  # a whole-window run rate is no outlook
        ):
            if getattr(self, low) >= getattr(self, high):
                key, other = blame(high, low)
                relation = "greater" if key == high else "less"
                fail(
                    "rule_order", f"must be {relation} than {{other}} ({{other_value}})", key, other
                )
        if self.abc_a_customer_share + self.abc_b_customer_share > 1:
            key, other = blame("abc_a_customer_share", "abc_b_customer_share")
            limit = round(1 - getattr(self, other), 10)
            fail(
                "rule_sum",
                "must be at most 1 - {other} ({other_value}) = {limit}",
                key,
                other,
                limit=limit,
            )
        return self


def dbt_var_defaults(project_dir: Path) -> dict[str, Any]:
    """The `vars:` of the dbt project: the rule names and their defaults (a copy)."""
    return dict(_project_vars(project_dir))


@cache
def _project_vars(project_dir: Path) -> dict[str, Any]:
    """Read once per process: every Settings validation needs them."""
    project = yaml.safe_load((project_dir / "dbt_project.yml").read_text(encoding="utf-8"))
    return dict(project.get("vars") or {})


def effective_rules(overrides: Mapping[str, Any], defaults: Mapping[str, Any]) -> Rules:
    """The rules a run uses (dbt defaults overridden by `overrides`), checked as a whole.
    Raises pydantic's ValidationError (inside a Settings validator, pydantic nests its
    errors under `rules`)."""
    return Rules.model_validate({**defaults, **overrides}, context={"overrides": set(overrides)})
