"""`tiering whatif --set NAME=VALUE ... [--date D]`: the tiers as of D under changed rules,
beside the published ones, with nothing published changed.

A business changes its policy only after seeing what it does. dbt builds the tiers as of
D with the changed rules somewhere readers never look (`scratch_build`), and the built
`marts_build` rows are compared with the published `marts` rows by the same query on both
targets. On DuckDB that is a copy of the warehouse file (taken under the shared warehouse
lock, so never mid-build) in a scratch folder beside the warehouse's dbt state
(`.<name>_dbt/whatif/`), its `marts` being the warehouse's. On Postgres it is schemas
`tiering_whatif_*` of the warehouse database, built from the real raw tables and published
history while the warehouse lock is held shared (a run waits for the whatif, as for an
export). The copy or the schemas are removed afterwards (dbt's log of the last whatif
stays in the scratch folder); the published tables, the BI snapshot and the reports are
only read.

The build covers D and, when hysteresis is on, the hysteresis_evaluations - 1 days before
it, so the held tier of D is computed from days under the changed rules too (earlier days
are read from the published history, as any build does).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table

from customer_tiering import lock, transform
from customer_tiering.config import DBT_PROJECT_DIR, Settings, describe_error
from customer_tiering.errors import ConfigError
from customer_tiering.publish import BUILD_SCHEMA, HISTORY_TABLE, PUBLISHED_SCHEMA
from customer_tiering.published import TIERS, frame, reading, reading_lock, resolve_as_of
from customer_tiering.rules import dbt_var_defaults, effective_rules
from customer_tiering.warehouses import Warehouse, open_warehouse
from customer_tiering.warehouses.duckdb_file import DuckDBWarehouse
from customer_tiering.warehouses.postgres import PostgresWarehouse

NOT_TIERED = "not tiered"
ORDER = [*TIERS, NOT_TIERED]
# Movers printed, largest first.
MOVERS = 10
COLUMNS = "customer_id, customer_name, tier, abc_tier, basis"
COLUMNS += ", cast(contribution as double precision) as contribution, share, reason_codes"
# Before each schema a whatif's dbt build makes on Postgres (transform.SCHEMA_PREFIX_ENV).
SCRATCH_PREFIX = "tiering_whatif_"


@dataclass(frozen=True)
class WhatIf:
    """The published tiers (`before`) and the recomputed ones (`after`) as of one day."""

    as_of: date
    changes: dict[str, Any]
    before: pd.DataFrame
    after: pd.DataFrame

    def joined(self) -> pd.DataFrame:
        """One row per customer in either: `<column>_before`, `<column>_after`."""
        both = self.before.merge(
            self.after, on="customer_id", how="outer", suffixes=("_before", "_after")
        )
        for side in ("before", "after"):
            both[f"tier_{side}"] = both[f"tier_{side}"].fillna(NOT_TIERED)
            both[f"customer_name_{side}"] = both[f"customer_name_{side}"].fillna("")
        both["customer_name"] = both["customer_name_before"].where(
            both["customer_name_before"] != "", both["customer_name_after"]
        )
        return both


def parse_sets(pairs: list[str]) -> dict[str, Any]:
    """NAME=VALUE pairs, each VALUE read as YAML (as tiering.yml would hold it)."""
    changes: dict[str, Any] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name.strip():
            raise ConfigError(f"whatif --set {pair!r}: expected NAME=VALUE, e.g. window_days=180")
        try:
            changes[name.strip()] = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"whatif --set {pair!r}: the value is not valid YAML") from exc
    return changes


def checked_rules(settings: Settings, changes: dict[str, Any]) -> dict[str, Any]:
    """The rules of tiering.yml with `changes` over them, checked like tiering.yml (exit 2
    with one line per problem)."""
    rules = {**settings.rules, **changes}
    try:
        Settings.model_validate({"rules": rules})
    except ValidationError as exc:
        where = "whatif --set"
        raise ConfigError(
            "\n".join(describe_error(error, where, set(rules)) for error in exc.errors())
        ) from exc
    return rules


def recompute(
    settings: Settings,
    changes: dict[str, Any],
    as_of: date | None = None,
    console: Console | None = None,
) -> WhatIf:
    """Tiers as of `as_of` (default: the latest published day) under the rules with
    `changes`, built apart from the warehouse (`scratch_build`), compared with the
    published rows in one query for both sides."""
    console = console or Console(stderr=True)
    rules = checked_rules(settings, changes)
    with reading(settings, "whatif") as con:
        day = resolve_as_of(con, as_of)
    hysteresis = effective_rules(rules, dbt_var_defaults(DBT_PROJECT_DIR)).hysteresis_evaluations
    scratch = scratch_dir(settings.warehouse)
    scratch.mkdir(parents=True, exist_ok=True)
    local = scratch / settings.warehouse.name
    # One whatif at a time per warehouse folder: they share the scratch folder (and on
    # Postgres the scratch schemas).
    with (
        lock.warehouse_lock(
            local,
            exclusive=True,
            timeout=settings.lock_timeout_seconds,
            purpose="whatif",
            on_wait=console.log,
        ),
        scratch_build(settings, local, console) as built,
    ):
        console.log(f"whatif: recomputing tiers as of {day} in {built.describe}")
        transform.build(
            built.warehouse,
            day,
            day - timedelta(days=hysteresis - 1),
            rules,
            schema_prefix=built.schema_prefix,
        )
        query = f"select {COLUMNS} from {{}}.{HISTORY_TABLE} where as_of_date = ?"
        with built.warehouse.connect(read_only=True) as con:
            before = frame(con, query.format(PUBLISHED_SCHEMA), [day])
            after = frame(con, query.format(built.schema_prefix + BUILD_SCHEMA), [day])
    return WhatIf(day, changes, before, after)


@dataclass(frozen=True)
class Scratch:
    """Where a whatif's dbt build runs: `warehouse` (whose local path keeps the scratch
    build's dbt state), the built schemas' prefix, and what to call it in the log."""

    warehouse: Warehouse
    schema_prefix: str
    describe: str


@contextmanager
def scratch_build(settings: Settings, local: Path, console: Console) -> Iterator[Scratch]:
    """A place to build the tiers under changed rules that readers never see, removed
    afterwards. On DuckDB a copy of the warehouse file (`local`), taken under the shared
    warehouse lock: dbt needs the file's write lock, which the warehouse's readers and
    builds would fight over. On Postgres the warehouse database itself, dbt building into
    schemas named with SCRATCH_PREFIX beside the real ones (reading raw and the published
    history from the real schemas) under the warehouse lock held shared for the whole
    build, so no publish changes what it reads; the scratch schemas are dropped before
    (a killed whatif's) and after."""
    warehouse = open_warehouse(settings)
    if not isinstance(warehouse, PostgresWarehouse):
        try:
            copy_warehouse(settings, local, console)
            yield Scratch(DuckDBWarehouse(local), "", f"a scratch copy {local}")
        finally:
            for leftover in (local, wal_of(local)):
                leftover.unlink(missing_ok=True)
        return
    with reading_lock(settings, warehouse, "whatif (building beside the warehouse)"):
        drop_scratch_schemas(warehouse)
        try:
            where = f"schemas {SCRATCH_PREFIX}* of {warehouse.describe()}"
            yield Scratch(PostgresWarehouse(warehouse.params, local), SCRATCH_PREFIX, where)
        finally:
            drop_scratch_schemas(warehouse)


def drop_scratch_schemas(warehouse: Warehouse) -> None:
    """Drop every schema a Postgres whatif builds (SCRATCH_PREFIX...), with its tables."""
    with warehouse.connect() as con:
        names = con.execute(
            "select nspname from pg_namespace where left(nspname, ?) = ?",
            [len(SCRATCH_PREFIX), SCRATCH_PREFIX],
        ).fetchall()
        for (name,) in names:
            con.execute(f'drop schema "{name}" cascade')


def scratch_dir(warehouse: Path) -> Path:
    """Where whatif builds: beside the warehouse's dbt state, so dbt's log of the last
    whatif stays readable (`logs/` there) after the copy is removed."""
    return transform.state_dir(warehouse) / "whatif"


def wal_of(path: Path) -> Path:
    return path.with_name(path.name + ".wal")


def copy_warehouse(settings: Settings, copy: Path, console: Console) -> None:
    """Copy the warehouse file under the shared warehouse lock: never in the middle of a
    build (which holds it exclusively from load to publish)."""
    with lock.warehouse_lock(
        settings.warehouse,
        exclusive=False,
        timeout=settings.lock_timeout_seconds,
        purpose="whatif (copying the warehouse)",
        on_wait=console.log,
    ):
        shutil.copyfile(settings.warehouse, copy)
        if wal_of(settings.warehouse).exists():  # uncommitted work DuckDB drops on open
            shutil.copyfile(wal_of(settings.warehouse), wal_of(copy))


def matrix(result: WhatIf) -> pd.DataFrame:
    """Customers by (published tier, recomputed tier), every tier in both axes."""
    both = result.joined()
    return (
        pd.crosstab(both["tier_before"], both["tier_after"])
        .reindex(index=ORDER, columns=ORDER, fill_value=0)
        .astype(int)
    )


def movers(result: WhatIf, limit: int = MOVERS) -> pd.DataFrame:
    """Customers whose tier would change: the widest moves first, then the largest
    contribution."""
    both = result.joined()
    moved = both[both["tier_before"] != both["tier_after"]].copy()
    steps = moved["tier_after"].map(ORDER.index) - moved["tier_before"].map(ORDER.index)
    moved["steps"] = steps.abs()
    moved["weight"] = moved[["contribution_before", "contribution_after"]].abs().max(axis=1)
    ordered = moved.sort_values(["steps", "weight", "customer_id"], ascending=[False, False, True])
    return ordered.head(limit)


def per_tier(result: WhatIf) -> pd.DataFrame:
    """Customers and contribution per tier, published and recomputed, and the change."""
    sides = []
    for side, rows in (("before", result.before), ("after", result.after)):
        grouped = rows.groupby("tier").agg(
            **{f"customers_{side}": ("customer_id", "count")},
            **{f"contribution_{side}": ("contribution", "sum")},
        )
        sides.append(grouped)
    table = pd.concat(sides, axis=1).reindex(list(TIERS)).fillna(0)
    table["change"] = table["contribution_after"] - table["contribution_before"]
    return table.reset_index(names="tier")


def text(value: Any) -> str:
    return "" if value is None or (isinstance(value, float) and pd.isna(value)) else str(value)


def money(value: Any) -> str:
    return "—" if value is None or pd.isna(value) else f"{value:,.2f}"


def print_result(result: WhatIf, console: Console) -> None:
    """The matrix, the largest movers with why, and the contribution per tier."""
    changes = ", ".join(f"{name}={value}" for name, value in result.changes.items())
    both = result.joined()
    changed = int((both["tier_before"] != both["tier_after"]).sum())
    console.print(f"[bold]What if {changes}[/] (as of {result.as_of})")
    console.print(f"{changed} of {len(both)} customers would change tier.")
    grid = Table(title="Published tier (rows) → tier under the changed rules (columns)")
    grid.add_column("from \\ to")
    for tier in ORDER:
        grid.add_column(tier, justify="right")
    for tier, row in matrix(result).iterrows():
        grid.add_row(str(tier), *[str(value) if value else "·" for value in row])
    console.print(grid)
    moved = movers(result)
    if not moved.empty:
        top = Table(title=f"Largest movers (up to {MOVERS})")
        for column in ("customer", "name", "tier", "plain ABC", "contribution", "reasons"):
            top.add_column(column, justify="right" if column == "contribution" else "left")
        for row in moved.itertuples():
            top.add_row(
                row.customer_id,
                row.customer_name,
                f"{row.tier_before} → {row.tier_after}",
                arrow(text(row.abc_tier_before), text(row.abc_tier_after)),
                arrow(money(row.contribution_before), money(row.contribution_after)),
                arrow(text(row.reason_codes_before), text(row.reason_codes_after)),
            )
        console.print(top)
    bases = f"{basis(result.before)} → {basis(result.after)}"
    tiers = Table(title=f"Contribution per tier (basis {bases})")
    for column in ("tier", "customers", "contribution published", "under the change", "change"):
        tiers.add_column(column, justify="left" if column == "tier" else "right")
    for row in per_tier(result).itertuples():
        tiers.add_row(
            row.tier,
            f"{int(row.customers_before)} → {int(row.customers_after)}",
            money(row.contribution_before),
            money(row.contribution_after),
            f"{row.change:+,.2f}",
        )
    console.print(tiers)
    console.print("Nothing published was changed (recomputed in a scratch copy, now removed).")


def arrow(before: str, after: str) -> str:
    """'before → after', or the one value when the change left it as it was."""
    before, after = before or "—", after or "—"
    return before if before == after else f"{before} → {after}"


def basis(rows: pd.DataFrame) -> str:
    """The contribution basis of a set of tier rows."""
    return str(rows["basis"].iloc[0]) if not rows.empty else "—"
