"""Command line: `tiering run`, the same steps Airflow schedules, without Airflow; and
`report`, `explain`, `whatif` for the people who act on the tiers.

Exit status: 0 done; 3 input refused (nothing of it loaded, nothing published, batch
quarantined); 2 usage or configuration error; 1 any other failure. Schedulers retry 1, never 3.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path

from rich.console import Console
from rich.markup import escape

from customer_tiering.config import FILE_FORMATS, SOURCES, Settings, load_settings
from customer_tiering.errors import EXIT_FAILURE, EXIT_OK, ConfigError, TieringError
from customer_tiering.warehouses import TARGETS


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
    run.add_argument(
        "--warehouse",
        type=Path,
        help="DuckDB file (default warehouse/tiers.duckdb); on postgres the local folder's path",
    )
    add_target_option(run)
    run.add_argument("--landing", type=Path, help="landing folder of the files source")
    run.add_argument(
        "--full-refresh",
        action="store_true",
        help="recompute tier history from the first loaded day (after a change of rules)",
    )
    run.add_argument(
        "--verbose", action="store_true", help="stream dbt's log instead of a progress bar"
    )

    demo = commands.add_parser("demo", help="the embedded demo ERP")
    demo_commands = demo.add_subparsers(dest="demo_command", required=True)
    export = demo_commands.add_parser(
        "export", help="write the demo ERP's data in the file-drop layout (for --source files)"
    )
    export.add_argument("--start", type=iso_date, required=True, help="first business day")
    export.add_argument("--end", type=iso_date, required=True, help="last business day")
    export.add_argument("--out", type=Path, required=True, help="landing folder to write")
    export.add_argument("--format", choices=FILE_FORMATS, default="csv", help="file format (csv)")

    quarantined = commands.add_parser("quarantine", help="refused input batches")
    quarantine_commands = quarantined.add_subparsers(dest="quarantine_command", required=True)
    listing = quarantine_commands.add_parser("list", help="what was refused, when and why")
    listing.add_argument("--quarantine", type=Path, help="quarantine folder (default quarantine)")

    published = commands.add_parser(
        "export", help="write every published table into a folder (the exports/ layout)"
    )
    published.add_argument("--format", choices=("parquet",), default="parquet", help="(parquet)")
    published.add_argument("--out", type=Path, required=True, help="folder to write")
    published.add_argument(
        "--warehouse",
        type=Path,
        help="DuckDB file (default warehouse/tiers.duckdb); on postgres the local folder's path",
    )
    add_target_option(published)

    docs = commands.add_parser("docs", help="generate dbt docs (every model and column described)")
    docs.add_argument(
        "--warehouse",
        type=Path,
        help="DuckDB file (default warehouse/tiers.duckdb); on postgres the local folder's path",
    )
    add_target_option(docs)
    add_people_commands(commands)
    return parser


def add_target_option(command: argparse.ArgumentParser) -> None:
    """--target of every command that reads or writes the warehouse (run, docs, export,
    report, explain, whatif)."""
    command.add_argument(
        "--target",
        choices=TARGETS,
        help=(
            "warehouse engine (default duckdb); postgres connects to $TIERING_PG_URL; spark"
            " runs dbt on a local Spark session from .venv-spark (make spark-env)"
        ),
    )


def add_people_commands(commands: argparse._SubParsersAction) -> None:
    """report, explain and whatif: the tiers for the people who act on them."""
    date_help = "as-of date (default: the latest published)"
    warehouse_help = (
        "DuckDB file (default warehouse/tiers.duckdb); on postgres the local folder's path"
    )
    report = commands.add_parser("report", help="write the HTML tier report for an as-of date")
    explain = commands.add_parser("explain", help="why a customer has its tier")
    explain.add_argument("customer_id", help="the customer's ERP code")
    whatif = commands.add_parser(
        "whatif", help="tiers under changed rules, beside the published ones (changes nothing)"
    )
    whatif.add_argument(
        "--set",
        dest="changes",
        action="append",
        required=True,
        metavar="NAME=VALUE",
        help="a rule and its value as in tiering.yml rules: (repeatable), e.g. window_days=180",
    )
    whatif.add_argument(
        "--verbose", action="store_true", help="stream dbt's log instead of a progress bar"
    )
    for command in (report, explain, whatif):
        command.add_argument("--date", type=iso_date, help=date_help)
        command.add_argument("--warehouse", type=Path, help=warehouse_help)
        add_target_option(command)


def reader_settings(args: argparse.Namespace) -> Settings:
    """Settings for a command that reads the published tables (report, explain, whatif),
    on the target of --target or tiering.yml; a target that cannot run (spark) or a bad
    Postgres URL is exit 2 before anything is read."""
    from customer_tiering.warehouses import open_warehouse

    settings = load_settings(args.config, warehouse=args.warehouse, target=args.target)
    open_warehouse(settings)
    return settings


def command_report(args: argparse.Namespace, console: Console) -> None:
    from customer_tiering.report import write_report

    files = write_report(reader_settings(args), args.date)
    print(f"tier report as of {files.as_of}: {files.page}")
    if files.latest is not None:
        print(f"latest: {files.latest}")


def command_explain(args: argparse.Namespace, console: Console) -> None:
    from customer_tiering.explain import explain

    settings = reader_settings(args)
    print("\n".join(explain(settings, args.customer_id, args.date)))


def command_whatif(args: argparse.Namespace, console: Console) -> None:
    from customer_tiering import progress, whatif

    settings = reader_settings(args)
    changes = whatif.parse_sets(args.changes)
    with progress.streaming(args.verbose):
        result = whatif.recompute(settings, changes, args.date, console)
    whatif.print_result(result, Console())


def command_docs(args: argparse.Namespace, console: Console) -> None:
    from customer_tiering import transform
    from customer_tiering.warehouses import open_warehouse

    settings = load_settings(args.config, warehouse=args.warehouse, target=args.target)
    target = transform.generate_docs(open_warehouse(settings))
    console.print(f"dbt docs written to {target / 'index.html'}")


def command_demo_export(args: argparse.Namespace, console: Console) -> None:
    from customer_tiering.sources import files
    from customer_tiering.sources.demo import DemoSource

    if args.start > args.end:
        raise ConfigError(f"--start {args.start} is after --end {args.end}")
    demo = load_settings(args.config).demo
    source = DemoSource(seed=demo.seed, customers=demo.customers, lines_per_day=demo.lines_per_day)
    count = files.export(source, args.start, args.end, args.out, args.format)
    console.print(
        f"wrote {count} files to {args.out} (try: tiering run --source files"
        f" --landing {args.out} --start {args.start} --end {args.end})"
    )


def command_export(args: argparse.Namespace, console: Console) -> None:
    """One line per table written, then the total. On either target: from the BI snapshot
    on DuckDB, from schema marts on Postgres (customer_tiering.exports)."""
    from customer_tiering import exports

    settings = load_settings(args.config, warehouse=args.warehouse, target=args.target)
    exported = exports.export(settings, args.out)
    for table in exported.tables:
        unit = "partitions" if table.mode == "as_of_partitions" else "file"
        print(f"{table.name}\t{table.files} {unit}\t{table.rows} rows")
    print(exported)


def command_quarantine_list(args: argparse.Namespace, console: Console) -> None:
    """One tab-separated line per quarantined table-day (oldest first), for people and grep."""
    from customer_tiering import quarantine

    root = load_settings(args.config, quarantine=args.quarantine).quarantine
    entries = quarantine.list_entries(root)
    if not entries:
        print(f"nothing quarantined in {root}")
        return
    print("table\tbusiness_day\trefused_at\twhy\tfolder")
    for entry in entries:
        why = "; ".join(entry.reasons)
        print(f"{entry.table}\t{entry.day}\t{entry.refused_at}\t{why}\t{entry.path}")


def command_run(args: argparse.Namespace, console: Console) -> None:
    from customer_tiering import pipeline, progress, summary
    from customer_tiering.report import LATEST, report_dir
    from customer_tiering.warehouses import open_warehouse

    if args.start is not None and args.end is None:
        raise ConfigError("--start needs --end")
    if args.date is not None and args.end is not None:
        raise ConfigError("--end goes with --start, not with --date")
    start, end = (args.date, args.date) if args.date else (args.start, args.end)
    if start > end:
        raise ConfigError(f"--start {start} is after --end {end}")
    settings = load_settings(
        args.config,
        source=args.source,
        warehouse=args.warehouse,
        landing=args.landing,
        target=args.target,
    )
    warehouse = open_warehouse(settings)  # a bad target or Postgres URL: exit 2 at once
    with progress.streaming(args.verbose):
        pipeline.run(settings, start, end, console, full_refresh=args.full_refresh)
    # Where people read: on DuckDB the BI snapshot (the warehouse may already be another run's).
    summary.print_tier_summary(warehouse.published(), Console())
    if (report_dir(settings.warehouse) / LATEST).exists():
        print(f"tier report: {report_dir(settings.warehouse) / LATEST}")


# Each verb's handler, by the subcommand name build_parser gives it.
COMMANDS: dict[str, Callable[[argparse.Namespace, Console], None]] = {
    "run": command_run,
    "demo": command_demo_export,
    "quarantine": command_quarantine_list,
    "export": command_export,
    "docs": command_docs,
    "report": command_report,
    "explain": command_explain,
    "whatif": command_whatif,
}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    console = Console(stderr=True)
    try:
        COMMANDS[args.command](args, console)
    except TieringError as exc:
        console.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False)
        return exc.exit_code
    except Exception as exc:
        console.print_exception()
        console.print(f"[bold red]failed:[/] {escape(str(exc))}", highlight=False)
        return EXIT_FAILURE
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
