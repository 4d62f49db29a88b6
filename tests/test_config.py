"""Settings and rules are checked against one schema before a run does anything.

The rule schema (customer_tiering.rules) declares types and ranges only; the defaults
stay in dbt_project.yml, so the first test ties the two lists of names together.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from customer_tiering import config
from customer_tiering.config import DBT_PROJECT_DIR, Settings, load_settings
from customer_tiering.errors import ConfigError
from customer_tiering.rules import Rules, dbt_var_defaults, effective_rules


def test_every_dbt_var_has_a_constraint_and_every_constraint_a_var() -> None:
    dbt_vars = set(dbt_var_defaults(DBT_PROJECT_DIR))
    constrained = set(Rules.model_fields)
    assert dbt_vars - constrained == set(), "dbt vars without a constraint in rules.py"
    assert constrained - dbt_vars == set(), "constraints in rules.py without a dbt var"
    # The defaults themselves pass the schema, cross-field checks included.
    effective_rules({}, dbt_var_defaults(DBT_PROJECT_DIR))


def test_the_defaults_are_read_from_dbt_project_yml() -> None:
    project = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text("utf-8"))
    assert dbt_var_defaults(DBT_PROJECT_DIR) == project["vars"]
    rules = effective_rules({"window_days": 180}, dbt_var_defaults(DBT_PROJECT_DIR))
    assert rules.window_days == 180
    assert rules.tier_basis == project["vars"]["tier_basis"]


@pytest.mark.parametrize(
    "defaults,message",
    [
        ({"brand_new_rule": 1}, "vars.brand_new_rule: a var without a constraint"),
        ({"window_days": None}, "vars.window_days: has a constraint in"),
    ],
)
def test_a_var_and_its_constraint_drifting_apart_fails_every_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, defaults: dict, message: str
) -> None:
    drifted = {**dbt_var_defaults(DBT_PROJECT_DIR), **defaults}
    drifted = {name: value for name, value in drifted.items() if value is not None}
    monkeypatch.setattr(config, "dbt_var_defaults", lambda _project_dir: drifted)
    with pytest.raises(ConfigError, match=message):
        load_settings(write(tmp_path, "source: demo\n"))


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "tiering.yml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "text,message",
    [
        (
            "rules: {window_day: 180}",
            "tiering.yml: rules.window_day: unknown rule (did you mean window_days?)",
        ),
        (
            "rules: {window_days: abc}",
            "tiering.yml: rules.window_days: must be a whole number of days >= 1, got 'abc'",
        ),
        ("rules: {window_days: 0}", "rules.window_days: must be a whole number of days >= 1"),
        ("rules: {window_days: '180'}", "rules.window_days: must be a whole number"),
        ("rules: {dso_days: 1.5}", "rules.dso_days: must be a whole number of days >= 1, got 1.5"),
        ("rules: {hysteresis_evaluations: 0}", "rules.hysteresis_evaluations: must be a whole"),
        (
            "rules: {price_exception_tolerance: abc}",
            "rules.price_exception_tolerance: must be a fraction >= 0 and <= 1, got 'abc'",
        ),
        ("rules: {churn_drop_ratio: 1.5}", "rules.churn_drop_ratio: must be a fraction"),
        ("rules: {credit_cap_min_amount: -1}", "rules.credit_cap_min_amount: must be an amount"),
        ("rules: {credit_cap_min_amount: .inf}", "rules.credit_cap_min_amount: must be an amou"),
        (
            "rules: {abc_b_cumulative_share: 0.8}",
            "rules.abc_b_cumulative_share: must be greater than abc_a_cumulative_share (0.8),"
            " got 0.8",
        ),
        (
            "rules: {abc_a_cumulative_share: 0.97}",
            "rules.abc_a_cumulative_share: must be less than abc_b_cumulative_share (0.95)",
        ),
        (
            "rules: {abc_a_cumulative_share: 0.9, abc_b_cumulative_share: 0.85}",
            "rules.abc_b_cumulative_share: must be greater than abc_a_cumulative_share (0.9)",
        ),
        ("rules: {vip_gold_share: 0.4}", "rules.vip_gold_share: must be greater than vip_diam"),
        ("rules: {window_days: 20}", "rules.window_days: must be greater than churn_recent_days"),
        (
            "rules: {abc_a_customer_share: 0.8}",
            "rules.abc_a_customer_share: must be at most 1 - abc_b_customer_share (0.3) = 0.7",
        ),
        (
            "rules: {one_off_max_tier: X}",
            "rules.one_off_max_tier: must be one of A, B, C, D, got 'X'",
        ),
        (
            "rules: {tier_basis: revenu}",
            "rules.tier_basis: must be one of revenue, gross_profit, customer_profit"
            " (did you mean revenue?), got 'revenu'",
        ),
        ("rules: {abc_cut_method: count}", "rules.abc_cut_method: must be one of cumulative_sh"),
        ("rules: {as_of_date: 2024-01-01}", "rules.as_of_date: is set by each run"),
        ("rules: {history_start_date: 2024-01-01}", "rules.history_start_date: is set by each"),
        ("rules: [window_days]", "tiering.yml: rules: must be a mapping"),
        ("sourse: demo", "tiering.yml: sourse: unknown setting (did you mean source?)"),
        ("source: ftp", "tiering.yml: source: must be one of demo, files, sql, got 'ftp'"),
        ("lookback_days: -1", "lookback_days: must be a whole number of days >= 0, got -1"),
        ("lock_timeout_seconds: soon", "lock_timeout_seconds: must be a number of seconds >= 0"),
        ("lock_timeout_seconds: -5", "lock_timeout_seconds: must be a number of seconds >= 0"),
        ("demo: {custmers: 60}", "tiering.yml: demo.custmers: unknown setting (did you mean cu"),
        ("demo: {customers: 5}", "demo.customers: must be a whole number of customers >= 20"),
        ("demo: 5", "tiering.yml: demo: must be a mapping, got 5"),
        (
            "validation: {net_amount_tolerance: -0.01}",
            "validation.net_amount_tolerance: must be an amount >= 0, got -0.01",
        ),
        (
            "validation: {net_amount_relative_tolerance: 1}",
            "validation.net_amount_relative_tolerance: must be a fraction >= 0 and < 1, got 1",
        ),
        ("validation: {tolerance: 0.1}", "validation.tolerance: unknown setting"),
        ("sql_queries: {sales_line: select 1}", "unknown input table (did you mean sales_lines?)"),
    ],
)
def test_bad_settings_name_the_key_the_value_and_what_is_allowed(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(write(tmp_path, text + "\n"))
    assert message in str(refused.value)


def test_every_problem_is_reported_one_line_each(tmp_path: Path) -> None:
    path = write(tmp_path, "sourse: demo\nrules: {window_day: 180, dso_days: abc}\n")
    with pytest.raises(ConfigError) as refused:
        load_settings(path)
    lines = str(refused.value).splitlines()
    assert len(lines) == 3
    assert all(line.startswith(f"{path}: ") for line in lines)


def test_an_env_var_name_that_looks_like_a_url_is_refused_without_echoing_it(
    tmp_path: Path,
) -> None:
    with pytest.raises(ConfigError) as refused:
        load_settings(write(tmp_path, "sql_url_env: 'postgresql://erp:s3cret@db/erp'\n"))
    assert "sql_url_env: must be the name of an environment variable" in str(refused.value)
    assert "s3cret" not in str(refused.value)


def test_a_valid_file_with_overrides(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "source: files\n"
        "landing: drops\n"
        "warehouse: from_file.duckdb\n"
        "lookback_days: 3\n"
        "lock_timeout_seconds: 60\n"
        "demo: {seed: 1}\n"
        "validation: {net_amount_relative_tolerance: 0.0001}\n"
        "sql_queries: {customers: select * from customers}\n"
        "rules: {window_days: 180, tier_basis: revenue, credit_cap_max_tier: C}\n",
    )
    settings = load_settings(path, warehouse=tmp_path / "cli.duckdb", landing=None)
    assert settings.warehouse == tmp_path / "cli.duckdb"  # the command line wins
    assert settings.landing == Path("drops")  # None means "not given on the command line"
    assert settings.source == "files" and settings.lookback_days == 3
    assert settings.lock_timeout_seconds == 60
    assert (settings.demo.seed, settings.demo.customers) == (1, 400)  # file, then default
    assert settings.validation.net_amount_tolerance == 0.01
    assert settings.validation.net_amount_relative_tolerance == 0.0001
    assert settings.sql_queries == {"customers": "select * from customers"}
    # Only the user's overrides, as written: dbt keeps its own defaults for the rest.
    assert settings.rules == {
        "window_days": 180,
        "tier_basis": "revenue",
        "credit_cap_max_tier": "C",
    }


def test_defaults_without_a_file_and_empty_sections(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(config.CONFIG_ENV, raising=False)
    settings = load_settings()
    assert settings == Settings()
    assert settings.warehouse == Path("warehouse/tiers.duckdb")
    assert settings.lock_timeout_seconds == 3600
    assert (settings.validation.net_amount_tolerance, settings.rules) == (0.01, {})
    # A section whose entries are all commented out is YAML null: empty, not an error.
    assert load_settings(write(tmp_path, "rules:\ndemo:\nvalidation:\n")) == Settings()


def test_the_shipped_tiering_yml_is_valid() -> None:
    assert load_settings(config.PROJECT_ROOT / "tiering.yml") == Settings()
