"""Pipeline settings: one YAML file (`tiering.yml`), overridable from the command line.

Business-rule thresholds (window, tier basis, cut shares, ...) are dbt vars with their
defaults in `dbt_project/dbt_project.yml`; the `rules:` section of this file overrides
them, so a user edits one file to change both how the pipeline runs and what it decides.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from customer_tiering.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"
CONFIG_ENV = "TIERING_CONFIG"
DEFAULT_CONFIG_FILE = Path("tiering.yml")
SOURCES = ("demo", "files", "sql")
FILE_FORMATS = ("csv", "parquet", "xlsx")  # file drops of the files source


@dataclass
class DemoSettings:
    """Scale knobs of the demo ERP."""

    seed: int = 42
    customers: int = 400
    lines_per_day: int = 300


@dataclass
class ValidationSettings:
    """Tolerances of the money checks (customer_tiering/money.py). A sales line passes when
    |net_amount - (quantity * unit_price - discount_amount)| <= max(net_amount_tolerance,
    net_amount_relative_tolerance * |quantity * unit_price|), compared in decimals."""

    net_amount_tolerance: float = 0.01  # currency units; one cent off is ERP rounding
    net_amount_relative_tolerance: float = 0.0  # fraction of |quantity * unit_price|; 0 = off

    def __post_init__(self) -> None:
        if not self.net_amount_tolerance >= 0:
            raise ConfigError("validation: net_amount_tolerance must be zero or positive")
        if not 0 <= self.net_amount_relative_tolerance < 1:
            raise ConfigError("validation: net_amount_relative_tolerance must be in [0, 1)")


@dataclass
class Settings:
    """Everything a run needs to know that is not a business rule."""

    source: str = "demo"
    warehouse: Path = Path("warehouse/tiers.duckdb")
    landing: Path | None = None
    quarantine: Path = Path("quarantine")
    # Days already loaded that a daily run pulls again to pick up late corrections.
    lookback_days: int = 7
    # Name of the environment variable holding the ERP database URL (never the URL itself).
    sql_url_env: str = "TIERING_SQL_URL"
    # Query per input table overriding the sql source's default (binds :start and :end).
    sql_queries: dict[str, str] = field(default_factory=dict)
    # Great Expectations suites, one JSON file per input table.
    expectations: Path = EXPECTATIONS_DIR
    demo: DemoSettings = field(default_factory=DemoSettings)
    validation: ValidationSettings = field(default_factory=ValidationSettings)
    rules: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ConfigError(f"source must be one of {', '.join(SOURCES)}, not {self.source!r}")
        if self.lookback_days < 0:
            raise ConfigError("lookback_days must be zero or positive")
        run_dates = sorted({"as_of_date", "history_start_date"} & set(self.rules))
        if run_dates:
            raise ConfigError(
                f"rules: {', '.join(run_dates)} is set by each run (--date/--start/--end), not here"
            )


def load_settings(path: Path | None = None, **overrides: Any) -> Settings:
    """Read settings from `path`, $TIERING_CONFIG or ./tiering.yml (in that order), then
    apply non-None `overrides` (command-line options win over the file)."""
    path = path or (Path(os.environ[CONFIG_ENV]) if CONFIG_ENV in os.environ else None)
    if path is None and DEFAULT_CONFIG_FILE.exists():
        path = DEFAULT_CONFIG_FILE
    raw: dict[str, Any] = {}
    if path is not None:
        if not path.exists():
            raise ConfigError(f"config file {path} does not exist")
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as exc:
            raise ConfigError(f"config file {path} is not valid YAML: {exc}") from exc
        if not isinstance(raw, dict):
            raise ConfigError(f"config file {path} must hold a mapping")
    raw.update({key: value for key, value in overrides.items() if value is not None})
    known = {f.name for f in fields(Settings)}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(
            f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    try:
        demo = DemoSettings(**(raw.pop("demo", None) or {}))
    except TypeError as exc:
        raise ConfigError(f"demo settings: {exc}") from exc
    try:
        validation = ValidationSettings(**(raw.pop("validation", None) or {}))
    except TypeError as exc:
        raise ConfigError(f"validation settings: {exc}") from exc
    for key in ("warehouse", "landing", "quarantine", "expectations"):
        if raw.get(key) is not None:
            raw[key] = Path(raw[key])
    return Settings(demo=demo, validation=validation, **raw)
