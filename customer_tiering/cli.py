"""Command line: `tiering run`, the same steps Airflow schedules, without Airflow.

Exit status: 0 done; 3 input refused (nothing loaded, batch quarantined); 2 usage or
configuration error; 1 any other failure. Schedulers retry 1, never 3.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from rich.console import Console

from customer_tiering.config import SOURCES, load_settings
from customer_tiering.errors import EXIT_FAILURE, EXIT_OK, ConfigError, TieringError


def iso_date(text: str) -> date:
    """argparse type for YYYY-MM-DD dates."""
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date in YYYY-MM-DD form") from exc


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tiering", description="Customer tiering pipeline for a goods distributor."
    )
    parser.add_argument(
        "--config", type=Path, help="settings file (default: $TIERING_CONFIG or ./tiering.yml)"
    )
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser(
        "run", help="pull, validate, load and build tiers for a day or a range"
    )
    when = run.add_mutually_exclusive_group(required=True)
    when.add_argument("--date", type=iso_date, help="one business day")
    when.add_argument("--start", type=iso_date, help="first business day of a range (with --end)")
    run.add_argument("--end", type=iso_date, help="last business day of the range, inclusive")
    run.add_argument("--source", choices=SOURCES, help="where the data comes from (default demo)")
    run.add_argument("--warehouse", type=Path, help="DuckDB file (default warehouse/tiers.duckdb)")
    run.add_argument("--landing", type=Path, help="landing folder of the files source")

    docs = commands.add_parser("docs", help="generate dbt docs (every model and column described)")
    docs.add_argument("--warehouse", type=Path, help="DuckDB file (default warehouse/tiers.duckdb)")
    return parser


def command_docs(args: argparse.Namespace, console: Console) -> None:
    from customer_tiering import transform

    settings = load_settings(args.config, warehouse=args.warehouse)
    target = transform.generate_docs(settings.warehouse)
    console.print(f"dbt docs written to {target / 'index.html'}")


def command_run(args: argparse.Namespace, console: Console) -> None:
    from customer_tiering import pipeline, publish

    if args.start is not None and args.end is None:
        raise ConfigError("--start needs --end")
    if args.date is not None and args.end is not None:
        raise ConfigError("--end goes with --start, not with --date")
    start, end = (args.date, args.date) if args.date else (args.start, args.end)
    if start > end:
        raise ConfigError(f"--start {start} is after --end {end}")
    settings = load_settings(
        args.config, source=args.source, warehouse=args.warehouse, landing=args.landing
    )
    pipeline.run(settings, start, end, console)
    publish.print_tier_summary(settings.warehouse, Console())


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    console = Console(stderr=True)
    try:
        if args.command == "run":
            command_run(args, console)
        elif args.command == "docs":
            command_docs(args, console)
    except TieringError as exc:
        console.print(f"[bold red]error:[/] {exc}", highlight=False)
        return exc.exit_code
    except Exception as exc:
        console.print_exception()
        console.print(f"[bold red]failed:[/] {exc}", highlight=False)
        return EXIT_FAILURE
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
