"""Benchmark: time the pipeline on demo data at a chosen scale and print the figures.

    .venv/bin/python scripts/benchmark.py --customers 2000 --lines-per-day 3000 --years 2

Runs, into a scratch warehouse: a backfill of the whole period in one pass (every as-of
date), then one daily run of the next business day, then the same daily run again
(nothing changed). Prints wall seconds per step, rows, and peak memory (this process and
the dbt child processes). Not part of the test suite: speed is measured here, not asserted.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import duckdb
from rich.console import Console
from rich.table import Table

from customer_tiering import pipeline
from customer_tiering.config import DemoSettings, Settings


def peak_rss_mb() -> tuple[float, float]:
    """Peak resident memory of this process and of its largest finished child, in MB."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, children


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=400)
    parser.add_argument("--lines-per-day", type=int, default=300)
    parser.add_argument("--years", type=int, default=2)
    parser.add_argument("--start", type=date.fromisoformat, default=date(2024, 1, 1))
    parser.add_argument("--workdir", type=Path, help="keep the warehouse here (default: temp)")
    args = parser.parse_args()

    console = Console(stderr=True)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="tiering-bench-"))
    settings = Settings(
        warehouse=workdir / "tiers.duckdb",
        quarantine=workdir / "quarantine",
        demo=DemoSettings(customers=args.customers, lines_per_day=args.lines_per_day),
    )
    end = args.start + timedelta(days=365 * args.years - 1)
    next_day = end + timedelta(days=1)
    figures: list[tuple[str, float, dict[str, float]]] = []
    for label, first, last in (
        (f"backfill {args.start}..{end}", args.start, end),
        (f"daily run {next_day}", next_day, next_day),
        (f"daily rerun {next_day} (no change)", next_day, next_day),
    ):
        began = time.perf_counter()
        result = pipeline.run(settings, first, last, console)
        figures.append((label, time.perf_counter() - began, result.timings))

    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        lines = con.execute("select count(*) from raw.sales_lines").fetchone()[0]
        history = con.execute("select count(*) from marts.customer_tier_history").fetchone()[0]
    size_mb = settings.warehouse.stat().st_size / 1e6
    own, children = peak_rss_mb()

    table = Table(
        title=f"customer tiering benchmark: {args.customers:,} customers, "
        f"{args.lines_per_day:,} lines/day, {args.years} year(s)"
    )
    steps = list(figures[0][2])
    for column in ("run", "wall s", *steps):
        table.add_column(column, justify="left" if column == "run" else "right")
    for label, wall, timings in figures:
        table.add_row(label, f"{wall:.1f}", *(f"{timings.get(step, 0):.1f}" for step in steps))
    Console().print(table)
    Console().print(
        f"sales lines {lines:,} · tier history rows {history:,} · warehouse {size_mb:,.0f} MB · "
        f"peak RSS pipeline {own:,.0f} MB, dbt {children:,.0f} MB · {workdir}"
    )


if __name__ == "__main__":
    main()
