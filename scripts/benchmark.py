"""Benchmark: time the pipeline on demo data at a chosen scale and print one table.

    .venv/bin/python scripts/benchmark.py --customers 2000 --lines-per-day 3000 --years 1 --baseline

Steps, into a scratch warehouse (`--workdir`, default a new temp folder):
1. generate: the demo ERP writes every table of the period (plus the next day) as Parquet
   file drops (`sources/demo/drops.py`); the generator's own speed (issue 12, target 5).
   `--generate-only` stops here.
2. backfill start..end (every as-of date), a daily run of the next day, and the same
   daily run again with nothing changed: `pipeline.run` reading those drops (the files
   source, as a distributor's nightly export arrives), or with `--source demo` drawing
   the demo again for every pull.
3. with `--baseline`: the same ABC tiers (the configured basis and cut, `--basis`
   revenue unless told) for every as-of date of the warehouse computed (a) by one
   hand-written DuckDB query over the raw tables and (b) by a straightforward pandas loop
   over the dates (on a sample of dates when there are many lines; its time is then
   extrapolated to every date). Both are checked against `marts.customer_tier_history
   .abc_tier`; any disagreement fails the script (exit 1).

Each generation and pipeline run starts in a new interpreter, as `tiering run` does, so
one step's leftover heap never counts in the next. Peak RSS is of all processes together
(this one, the step's and its dbt children), sampled from /proc every 100 ms during each
step. Ratios compare a step with the baselines computing the same
as-of dates (all of them for the backfill, one for a daily run). Not part of the test
suite: speed is measured here, not asserted (tests/test_benchmark_smoke.py runs it tiny).
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, timedelta
from fractions import Fraction
from pathlib import Path
from typing import TypeVar

import duckdb
import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from customer_tiering import pipeline
from customer_tiering.config import DBT_PROJECT_DIR, DemoSettings, Settings
from customer_tiering.rules import Rules, dbt_var_defaults, effective_rules
from customer_tiering.sources.demo import DEMO_EPOCH, DemoSource
from customer_tiering.sources.demo.drops import write_parquet_drops

T = TypeVar("T")

_PANDAS_ALL_DATES_UP_TO = 2_000_000  # sales lines; above, pandas runs on a sample of dates


# --- memory of this process and its children ------------------------------------------
def _tree_rss_kb(root: int) -> int:
    """Resident memory of `root` and all its descendants, in kB (Linux /proc)."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended meanwhile
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        rss[pid] = int(fields[21]) * (os.sysconf("SC_PAGE_SIZE") // 1024)
    tree, frontier = {root}, [root]
    while frontier:
        children = [pid for pid, ppid in parents.items() if ppid in frontier]
        tree.update(children)
        frontier = children
    return sum(rss.get(pid, 0) for pid in tree)


class MemorySampler:
    """Peak summed RSS of this process tree between `start()` and `stop()`."""

    def __init__(self, interval: float = 0.1) -> None:
        self.interval = interval
        self.peak_kb = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_kb = max(self.peak_kb, _tree_rss_kb(os.getpid()))
            self._stop.wait(self.interval)

    def start(self) -> None:
        self.peak_kb, self._stop = _tree_rss_kb(os.getpid()), threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> float:
        """Stop sampling; the peak in MB."""
        self._stop.set()
        assert self._thread is not None
        self._thread.join()
        return self.peak_kb / 1024


def in_fresh_process(function: Callable[..., T], *args: object) -> T:
    """function(*args) in a new interpreter, as `tiering run` starts: the sampler sees
    each step's memory alone, not what an earlier step left in this process's heap."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(function, args)


@dataclass
class Step:
    name: str
    wall: float
    peak_mb: float
    detail: str = ""
    dates: int = 0  # as-of dates the step computes (for the ratios)


@dataclass
class Report:
    steps: list[Step] = field(default_factory=list)

    @contextmanager
    def step(self, name: str, dates: int = 0) -> Iterator[Step]:
        sampler = MemorySampler()
        sampler.start()
        began = time.perf_counter()
        step = Step(name, 0.0, 0.0, dates=dates)
        try:
            yield step
        finally:
            step.wall = time.perf_counter() - began
            step.peak_mb = sampler.stop()
            self.steps.append(step)


# --- the baselines ----------------------------------------------------------------------
def _basis_sql(basis: str) -> str:
    return {
        "revenue": "revenue",
        "gross_profit": "revenue - cogs",
        "customer_profit": "revenue - cogs - served",
    }[basis]


def baseline_query(rules: Rules, first: date, last: date) -> str:
    """One DuckDB query: ABC tiers per customer for every as-of date first..last over
    `w.raw`. Daily customer aggregates, a dense customer x day grid, trailing sums with a
    window frame, then rank and cumulative share per as-of date (STACK_NOTES.md)."""
    window = rules.window_days
    grid_start = first - timedelta(days=window - 1)
    return f"""
    with
    sold as (
        select customer_id, order_date as day, sum(net_amount) as revenue,
            sum(cost_amount) as cogs, count(*) as lines
        from w.raw.sales_lines
        where order_date between date '{grid_start}' and date '{last}'
        group by all
    ),
    served as (
        select customer_id, entry_date as day, sum(amount) as served
        from w.raw.cost_to_serve
        where entry_date between date '{grid_start}' and date '{last}'
        group by all
    ),
    customer_days as (
        select customer_id, day, coalesce(revenue, 0) as revenue, coalesce(cogs, 0) as cogs,
            coalesce(served, 0) as served, coalesce(lines, 0) as lines
        from sold full outer join served using (customer_id, day)
    ),
    calendar as (
        select cast(range as date) as day
        from range(date '{grid_start}', date '{last}' + interval 1 day, interval 1 day)
    ),
    customers as (select distinct customer_id from sold),
    grid as (
        select customers.customer_id, calendar.day,
            coalesce(revenue, 0) as revenue, coalesce(cogs, 0) as cogs,
            coalesce(served, 0) as served, coalesce(lines, 0) as lines
        from customers cross join calendar
        left join customer_days using (customer_id, day)
    ),
    windowed as (
        select customer_id, day as as_of_date,
            sum(revenue) over win as revenue, sum(cogs) over win as cogs,
            sum(served) over win as served, sum(lines) over win as lines
        from grid
        window win as (
            partition by customer_id order by day
            rows between {window - 1} preceding and current row
        )
    ),
    contributions as (
        select customer_id, as_of_date, {_basis_sql(rules.tier_basis)} as contribution
        from windowed
        where lines > 0 and as_of_date >= date '{first}'
    ),
    ranked as (
        select *,
            sum(case when contribution > 0 then contribution else 0 end)
                over (partition by as_of_date) as total,
            coalesce(sum(contribution) over (
                partition by as_of_date order by contribution desc, customer_id
                rows between unbounded preceding and 1 preceding), 0) as before
        from contributions
    )
    select customer_id, as_of_date,
        case
            when contribution <= 0 then 'D'
            when before < total * {rules.abc_a_cumulative_share} then 'A'
            when before < total * {rules.abc_b_cumulative_share} then 'B'
            else 'C'
        end as abc_tier
    from ranked
    """


def pandas_frames(warehouse: Path, last: date) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Sales lines and cost to serve from the warehouse, money in integer cents (exact)."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        lines = con.sql(
            "select customer_id, order_date as day, cast(net_amount * 100 as bigint) as revenue,"
            " cast(cost_amount * 100 as bigint) as cogs from raw.sales_lines"
            f" where order_date <= date '{last}'"
        ).df()
        served = con.sql(
            "select customer_id, entry_date as day, cast(amount * 100 as bigint) as served"
            f" from raw.cost_to_serve where entry_date <= date '{last}'"
        ).df()
    return lines, served


def pandas_tiers(
    rules: Rules, lines: pd.DataFrame, served: pd.DataFrame, as_of: date
) -> dict[str, str]:
    """ABC tiers on one as-of date the straightforward way: filter the window, group by
    customer, sort, cumulative sum (tests/conftest.py `oracle_tiers`, in cents)."""
    low = pd.Timestamp(as_of - timedelta(days=rules.window_days))
    high = pd.Timestamp(as_of)
    window = lines[(lines["day"] > low) & (lines["day"] <= high)]
    totals = window.groupby("customer_id")[["revenue", "cogs"]].sum()
    if rules.tier_basis == "revenue":
        contribution = totals["revenue"]
    else:
        contribution = totals["revenue"] - totals["cogs"]
        if rules.tier_basis == "customer_profit":
            costs = served[(served["day"] > low) & (served["day"] <= high)]
            per_customer = costs.groupby("customer_id")["served"].sum()
            contribution = contribution - per_customer.reindex(totals.index, fill_value=0)
    ranked = contribution.rename("contribution").reset_index()
    ranked = ranked.sort_values(["contribution", "customer_id"], ascending=[False, True])
    values = ranked["contribution"].to_numpy()
    before = np.cumsum(values) - values
    total = int(values[values > 0].sum())
    a = Fraction(str(rules.abc_a_cumulative_share))
    b = Fraction(str(rules.abc_b_cumulative_share))
    tier = np.where(
        before * a.denominator < total * a.numerator,
        "A",
        np.where(before * b.denominator < total * b.numerator, "B", "C"),
    )
    tier = np.where(values <= 0, "D", tier)
    return dict(zip(ranked["customer_id"], tier.tolist(), strict=True))


def run_baselines(
    report: Report, warehouse: Path, rules: Rules, first: date, last: date, workdir: Path
) -> list[str]:
    """Time both baselines on the backfill's dates first..last and on the daily run's date
    (last + 1), compare them with the published history; the disagreements found."""
    if rules.abc_cut_method != "cumulative_share":
        raise SystemExit("the baselines implement the cumulative_share cut only")
    days, next_day = (last - first).days + 1, last + timedelta(days=1)
    problems: list[str] = []
    scratch = workdir / "baseline.duckdb"
    scratch.unlink(missing_ok=True)
    with duckdb.connect(str(scratch)) as con:
        con.execute("set memory_limit = '4GB'")
        con.execute(f"set temp_directory = '{workdir / 'baseline.tmp'}'")
        con.execute(f"attach '{warehouse}' as w (read_only)")
        with report.step(f"baseline: one DuckDB query, {days} as-of dates", days):
            con.execute(f"create table tiers as {baseline_query(rules, first, last)}")
        with report.step("baseline: one DuckDB query, 1 as-of date", 1):
            con.execute(f"insert into tiers {baseline_query(rules, next_day, next_day)}")
        mismatches = con.execute(
            f"""
            select count(*) from tiers full outer join (
                -- Customers without a sales line in the window (debtors, cost only) are
                -- D rows the baselines, which cut sellers only, leave out.
                select customer_id, as_of_date, abc_tier from w.marts.customer_tier_history
                where as_of_date between date '{first}' and date '{next_day}' and line_count > 0
            ) as history using (customer_id, as_of_date)
            where tiers.abc_tier is distinct from history.abc_tier
            """
        ).fetchone()[0]
        rows = con.execute("select count(*) from tiers").fetchone()[0]
        if mismatches:
            problems.append(f"DuckDB query vs customer_tier_history: {mismatches} rows differ")

        with report.step(f"baseline: pandas loop, {days} as-of dates", days) as step:
            began = time.perf_counter()
            lines, served = pandas_frames(warehouse, next_day)
            read = time.perf_counter() - began
            sample = [first + timedelta(days=i) for i in range(days)]
            if len(lines) > _PANDAS_ALL_DATES_UP_TO:
                sample = [sample[int(i)] for i in np.linspace(0, days - 1, min(days, 30))]
            began = time.perf_counter()
            got = {day: pandas_tiers(rules, lines, served, day) for day in sample}
            per_date = (time.perf_counter() - began) / len(sample)
        # Reading the raw tables once, then the loop over every date (extrapolated from
        # the sample when only a sample was timed).
        step.wall = read + per_date * days
        step.detail = f"read {read:.1f} s + {per_date:.3f} s per date"
        if len(sample) < days:
            step.name += f" (loop timed on {len(sample)}, extrapolated)"
        with report.step("baseline: pandas loop, 1 as-of date", 1) as step:
            got[next_day] = pandas_tiers(rules, lines, served, next_day)
        step.wall += read
        step.detail = f"read {read:.1f} s + the date"

        dates = ", ".join(f"date '{day}'" for day in got)
        want = con.execute(
            f"select as_of_date, customer_id, abc_tier from tiers where as_of_date in ({dates})"
        ).df()
    by_day = {day: frame for day, frame in want.groupby(want["as_of_date"].dt.date)}
    for day, tiers in got.items():
        frame = by_day.get(day, want.iloc[:0])
        if tiers != dict(zip(frame["customer_id"], frame["abc_tier"], strict=True)):
            problems.append(f"pandas vs DuckDB query: tiers differ on {day}")
    print(f"baselines: {rows:,} tier rows; {len(got)} pandas dates checked", file=sys.stderr)
    return problems


# --- the run ----------------------------------------------------------------------------
def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--customers", type=int, default=400)
    parser.add_argument("--lines-per-day", type=int, default=300)
    parser.add_argument("--years", type=float, default=2.0, help="length (365-day years)")
    parser.add_argument("--start", type=date.fromisoformat, default=DEMO_EPOCH)
    parser.add_argument("--baseline", action="store_true", help="also the pandas and SQL tiers")
    parser.add_argument(
        "--basis",
        choices=("revenue", "gross_profit", "customer_profit"),
        default="revenue",
        help="tier_basis rule of the benchmark run (default revenue)",
    )
    parser.add_argument(
        "--source",
        choices=("files", "demo"),
        default="files",
        help="what the runs pull from: the generated file drops (default) or the demo itself",
    )
    parser.add_argument("--generate-only", action="store_true", help="time the generator only")
    parser.add_argument("--workdir", type=Path, help="keep everything here (default: temp)")
    return parser.parse_args(argv)


def print_table(report: Report, scale: str) -> None:
    """One table: scale, step, wall, peak RSS, ratios to the baselines of the same dates."""
    prefixes = {"pandas": "baseline: pandas", "DuckDB": "baseline: one DuckDB query"}
    references: dict[tuple[str, int], float] = {}
    for step in report.steps:
        for kind, prefix in prefixes.items():
            if step.name.startswith(prefix):
                references.setdefault((kind, step.dates), step.wall)
    table = Table(title=f"customer tiering benchmark: {scale}")
    for column in ("scale", "step", "wall s", "peak RSS MB", "x pandas", "x query", "detail"):
        justify = "right" if column[0] in "wpx" else "left"
        table.add_column(column, justify=justify, no_wrap=column != "detail")

    def ratio(kind: str, step: Step) -> str:
        reference = references.get((kind, step.dates))
        is_baseline = step.name.startswith("baseline")
        return f"{step.wall / reference:.2f}" if reference and not is_baseline else ""

    for step in report.steps:
        table.add_row(
            scale,
            step.name,
            f"{step.wall:.1f}",
            f"{step.peak_mb:,.0f}",
            ratio("pandas", step),
            ratio("DuckDB", step),
            step.detail,
        )
    Console(width=240).print(table)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    console = Console(stderr=True)
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="tiering-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    days = max(1, round(365 * args.years))
    end = args.start + timedelta(days=days - 1)
    next_day = end + timedelta(days=1)
    settings = Settings(
        source=args.source,
        landing=workdir / "landing",
        warehouse=workdir / "tiers.duckdb",
        quarantine=workdir / "quarantine",
        demo=DemoSettings(customers=args.customers, lines_per_day=args.lines_per_day),
        rules={"tier_basis": args.basis},
    )
    rules = effective_rules(settings.rules, dbt_var_defaults(DBT_PROJECT_DIR))
    scale = f"{args.customers:,} cust x {args.lines_per_day:,} lines/day x {days} d"
    report = Report()

    with report.step(f"generate: demo -> Parquet drops {args.start}..{next_day}") as step:
        demo = settings.demo
        source = DemoSource(demo.seed, demo.customers, demo.lines_per_day)
        files = in_fresh_process(
            write_parquet_drops, source, args.start, next_day, workdir / "landing"
        )
    with duckdb.connect() as con:
        pattern = str(workdir / "landing" / "sales_lines" / "*.parquet")
        lines = con.execute(f"select count(*) from read_parquet('{pattern}')").fetchone()[0]
    step.detail = f"{lines:,} sales lines, {files:,} files"

    if not args.generate_only:
        runs: list[tuple[str, date, date, int]] = [
            (f"backfill {args.start}..{end}", args.start, end, days),
            (f"daily run {next_day}", next_day, next_day, 1),
            (f"daily rerun {next_day} (no change)", next_day, next_day, 1),
        ]
        for label, first, last, dates in runs:
            with report.step(label, dates) as step:
                result = in_fresh_process(pipeline.run, settings, first, last)
            step.detail = " · ".join(f"{k} {v:.1f}" for k, v in result.timings.items())

    problems: list[str] = []
    if args.baseline and not args.generate_only:
        problems = run_baselines(report, settings.warehouse, rules, args.start, end, workdir)
    print_table(report, scale)
    load = os.getloadavg()
    console.print(
        f"workdir {workdir} · source {args.source} · basis {args.basis}"
        f" · load average {load[0]:.1f}"
    )
    for problem in problems:
        console.print(f"[red]DISAGREE[/red] {problem}")
    if args.baseline and not args.generate_only and not problems:
        console.print("the pipeline, the DuckDB query and pandas agree on every ABC tier checked")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
