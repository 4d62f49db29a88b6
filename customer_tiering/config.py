"""Pipeline settings: one YAML file (`tiering.yml`), overridable from the command line.

The whole file is checked against one schema before a run pulls anything: unknown keys
(with the close match suggested), wrong types and out-of-range values are a ConfigError
(exit 2) naming the key, the value and what is allowed, never a silent default or a dbt
error after raw data was loaded.

Business-rule thresholds (window, tier basis, cut shares, ...) are dbt vars with their
defaults in `dbt_project/dbt_project.yml`; the `rules:` section of this file overrides
them, so a user edits one file to change both how the pipeline runs and what it decides.
Their types and ranges are in `customer_tiering.rules`.
"""

from __future__ import annotations

import difflib
import os
from datetime import date
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from pydantic.fields import FieldInfo
from pydantic_core import ErrorDetails

from customer_tiering.contract import TABLES
from customer_tiering.errors import ConfigError
from customer_tiering.rules import Rules, dbt_var_defaults, effective_rules
from customer_tiering.warehouses import TargetName
from customer_tiering.window import ChunkSize

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"
EXPECTATIONS_DIR = PROJECT_ROOT / "expectations"
# Where the rule defaults live, as error messages name it.
DBT_PROJECT_FILE = Path("dbt_project/dbt_project.yml")
CONFIG_ENV = "TIERING_CONFIG"
DEFAULT_CONFIG_FILE = Path("tiering.yml")
SourceName = Literal["demo", "files", "sql"]
SOURCES: tuple[str, ...] = get_args(SourceName)
FILE_FORMATS = ("csv", "parquet", "xlsx")  # file drops of the files source
# The demo ERP plants its archetype customers among the first ones; it needs this many.
DEMO_MIN_CUSTOMERS = 20

InputTable = Literal[tuple(TABLES)]  # type: ignore[valid-type]


class _Section(BaseModel):
    """A mapping of tiering.yml: unknown keys refused, assignments checked too."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


class DemoSettings(_Section):
    """Scale knobs of the demo ERP."""

    seed: int = Field(42, strict=True, ge=0, description="a whole number")
    customers: int = Field(
        400, strict=True, ge=DEMO_MIN_CUSTOMERS, description="a whole number of customers"
    )
    lines_per_day: int = Field(300, strict=True, ge=1, description="a whole number of lines")


class ValidationSettings(_Section):
    """Tolerances of the input checks: how far a sales line's net_amount may be from
    quantity x unit_price - discount_amount and still pass (inclusive)."""

    # In the currency: one cent covers an ERP that rounds each component to cents.
    net_amount_tolerance: float = Field(0.01, strict=True, ge=0, description="an amount")
    # A fraction of the line amount, for ERPs that round unit prices to more decimals (0 = off).
    net_amount_relative_tolerance: float = Field(
        0.0, strict=True, ge=0, lt=1, description="a fraction"
    )


class Settings(_Section):
    """Everything a run needs to know that is not a business rule, plus the rule overrides."""

    source: SourceName = "demo"
    # Where the warehouse is (customer_tiering.warehouses): the DuckDB file `warehouse`, or
    # the Postgres database of $TIERING_PG_URL (then `warehouse` names only the local folder
    # for dbt state and reports), or spark (refused: only the dbt models run on Spark, by dbt).
    target: TargetName = "duckdb"
    warehouse: Path = Field(Path("warehouse/tiers.duckdb"), description="a file path")
    landing: Path | None = Field(None, description="a folder path")
    quarantine: Path = Field(Path("quarantine"), description="a folder path")
    # Days already loaded that a daily run pulls again to pick up late corrections.
    lookback_days: int = Field(7, strict=True, ge=0, description="a whole number of days")
    # How a long run is cut for pull -> validate -> load (customer_tiering.window): one
    # calendar month per piece, or a whole number of days; memory grows with the piece.
    chunk: ChunkSize = Field("month", description="month or a whole number of days >= 1")
    # Name of the environment variable holding the ERP database URL (never the URL itself).
    sql_url_env: str = Field(
        "TIERING_SQL_URL",
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="the name of an environment variable (letters, digits, _)",
    )
    # Query per input table overriding the sql source's default (binds :start and :end).
    sql_queries: dict[InputTable, str] = Field(
        default_factory=dict, description="a mapping of input table to SQL"
    )
    # Great Expectations suites, one JSON file per input table.
    expectations: Path = Field(EXPECTATIONS_DIR, description="a folder path")
    # How long a run waits for another run that holds the warehouse.
    lock_timeout_seconds: float = Field(
        3600.0, strict=True, ge=0, description="a number of seconds"
    )
    # A Parquet copy of every published table in `exports/` beside the warehouse after each
    # publish (customer_tiering.exports); `tiering export` writes one on demand either way.
    parquet_export: bool = Field(True, strict=True, description="true or false")
    demo: DemoSettings = Field(default_factory=DemoSettings, description="a mapping")
    validation: ValidationSettings = Field(
        default_factory=ValidationSettings, description="a mapping"
    )
    # The user's overrides of the dbt vars, passed to dbt as given; checked as a whole
    # with the dbt defaults (see customer_tiering.rules), even when there are none.
    rules: dict[str, Any] = Field(
        default_factory=dict, validate_default=True, description="a mapping of rule to value"
    )

    @field_validator("sql_queries", "demo", "validation", "rules", mode="before")
    @classmethod
    def _empty_section(cls, value: Any) -> Any:
        """`rules:` with every entry commented out is YAML null: an empty section."""
        return {} if value is None else value

    @field_validator("chunk", mode="before")
    @classmethod
    def _chunk_size(cls, value: Any) -> Any:
        """One rule for both forms, so the error names them together."""
        if value == "month" or (type(value) is int and value >= 1):
            return value
        raise ValueError("month or a whole number of days >= 1")

    @field_validator("rules")
    @classmethod
    def _check_rules(cls, overrides: dict[str, Any]) -> dict[str, Any]:
        effective_rules(overrides, dbt_var_defaults(DBT_PROJECT_DIR))
        return overrides


def load_settings(path: Path | None = None, **overrides: Any) -> Settings:
    """Read settings from `path`, $TIERING_CONFIG or ./tiering.yml (in that order), then
    apply non-None `overrides` (command-line options win over the file), and check them
    all. Raises ConfigError listing every problem, one line each."""
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
    try:
        return Settings.model_validate(raw)
    except ValidationError as exc:
        user_rules = raw.get("rules") if isinstance(raw.get("rules"), dict) else {}
        where = str(path) if path is not None else "settings"
        raise ConfigError(
            "\n".join(describe_error(error, where, set(user_rules)) for error in exc.errors())
        ) from exc


# --- Error messages: "<file>: <key>: <what is allowed>, got <value>" ----------------------

# Bounds as pydantic keeps them in a field's metadata (annotated_types.Ge(ge=1), ...).
_BOUNDS = (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<"))


# What the keys of a section name, for "unknown ..." (top level and demo/validation: settings).
_KEY_KINDS = {"rules": "rule", "sql_queries": "input table"}
# Values never repeated in a message: someone may have put the URL itself here.
_NOT_ECHOED = {("sql_url_env",)}


def describe_error(error: ErrorDetails, where: str, user_rules: set[str]) -> str:
    """One pydantic error as a line a person can act on. `user_rules` are the rules the
    file sets: any other rule's value is a dbt default, so its error points there."""
    loc: tuple[Any, ...] = tuple(error["loc"])
    ctx: dict[str, Any] = error.get("ctx") or {}
    value = error["input"]
    if "key" in ctx:  # our own checks (customer_tiering.rules) name the rule themselves
        loc, value = (*loc, ctx["key"]), ctx["value"]
    is_key = bool(loc) and loc[-1] == "[key]"  # a bad key of a mapping (sql_queries)
    if is_key:
        loc = loc[:-1]
    label = f"{where}: {'.'.join(map(str, loc))}"
    from_dbt = len(loc) == 2 and loc[0] == "rules" and loc[1] not in user_rules
    if from_dbt:
        label = f"{DBT_PROJECT_FILE}: vars.{loc[1]}"
    container, field = _field_at(loc)
    kind = error["type"]
    if from_dbt and kind == "extra_forbidden":
        return f"{label}: a var without a constraint in customer_tiering/rules.py"
    if from_dbt and kind == "missing":
        return f"{label}: has a constraint in customer_tiering/rules.py but no var"
    if is_key or kind == "extra_forbidden":
        known = _choices(_key_type(loc)) if is_key else list(container.model_fields)
        what = _KEY_KINDS.get(loc[0] if len(loc) > 1 else None, "setting")
        hint = _suggestion(loc[-1], known)
        if not hint and what == "rule":  # too many to list; they are documented there
            hint = f" (the rules are the vars of {DBT_PROJECT_FILE})"
        elif not hint and known:
            hint = f" (known: {', '.join(known)})"
        return f"{label}: unknown {what}{hint}"
    if "key" in ctx or field is None:
        allowed = error["msg"][:1].lower() + error["msg"][1:]
    else:
        allowed = _allowed(field)
        if kind == "literal_error":
            allowed += _suggestion(value, _choices(field.annotation))
    if loc in _NOT_ECHOED:
        return f"{label}: {allowed} (the value is not shown: it may be a secret)"
    return f"{label}: {allowed}, got {_shown(value)}"


def _field_at(loc: tuple[Any, ...]) -> tuple[type[BaseModel], FieldInfo | None]:
    """The model holding the last key of `loc`, and that key's field (None if unknown or
    below a plain mapping). The rules are a plain dict of Settings checked as `Rules`."""
    model: type[BaseModel] = Settings
    field = None
    for depth, part in enumerate(loc):
        field = model.model_fields.get(str(part))
        if field is None or depth == len(loc) - 1:
            break
        if model is Settings and part == "rules":
            model = Rules
        elif isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel):
            model = field.annotation
        else:
            return model, None
    return model, field


def _key_type(loc: tuple[Any, ...]) -> Any:
    """The key type of the mapping at loc[:-1] (e.g. sql_queries: an input table)."""
    _, field = _field_at(loc[:-1])
    return get_args(field.annotation)[0] if field is not None else None


def _choices(annotation: Any) -> list[str]:
    """The values a Literal allows, as text."""
    return (
        [str(choice) for choice in get_args(annotation)]
        if get_origin(annotation) is Literal
        else []
    )


def _allowed(field: FieldInfo) -> str:
    """'must be <noun> <bounds>' from the field's description and constraints."""
    choices = _choices(field.annotation)
    if choices:
        return f"must be one of {', '.join(choices)}"
    bounds = [
        f"{symbol} {getattr(constraint, attr):g}"
        for constraint in field.metadata
        for attr, symbol in _BOUNDS
        if getattr(constraint, attr, None) is not None
    ]
    return " ".join(["must be", field.description or "valid", " and ".join(bounds)]).rstrip()


def _suggestion(word: Any, known: list[str]) -> str:
    """' (did you mean X?)' for the closest of `known`, if any is close."""
    close = difflib.get_close_matches(str(word), known, n=1)
    return f" (did you mean {close[0]}?)" if close else ""


def _shown(value: Any) -> str:
    """The offending value as YAML spells it (text quoted), cut short: a whole SQL query
    is not worth repeating."""
    if isinstance(value, bool) or value is None:
        text = {True: "true", False: "false", None: "null"}[value]
    elif isinstance(value, date):
        text = value.isoformat()
    else:
        text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
