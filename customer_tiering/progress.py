"""How a dbt invocation is shown: a progress bar of models built and tests passed, with
dbt's full log in a file, or (`--verbose`) dbt's log streamed as it comes.

dbt runs as a child process (customer_tiering.transform) with `--log-format json`: one
JSON event per stdout line. Every event's text goes to `<state>/logs/<command>.log`
(overwritten per invocation, so it holds exactly the last build); the console gets either
a rich progress bar fed by the node events (LogStartLine, LogModelResult, LogTestResult,
...) or, verbose, each event's text as dbt itself would print it. A make demo that used
to print 116 lines of dbt log now prints one bar and one line; the failing nodes and the
first lines of their errors are named by the TransformError the caller raises.

The choice is the command line's (`tiering run --verbose`), or `TIERING_DBT_LOG=stream`
for callers without one (an Airflow task log that should hold dbt's log).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

STREAM_ENV = "TIERING_DBT_LOG"
_STREAM: ContextVar[bool | None] = ContextVar("stream_dbt_log", default=None)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
# Events that finish a node (its "N of M" line); LogStartLine begins one.
_RESULT_EVENTS = {
    "LogModelResult",
    "LogTestResult",
    "LogSeedResult",
    "LogSnapshotResult",
    "LogNodeResult",
    "LogNodeNoOpResult",
    "SkippingDetails",
}
# How many error lines of dbt's own (not of a node's result) a failure keeps: the first.
KEEP_ERROR_LINES = 20


@contextmanager
def streaming(enabled: bool) -> Iterator[None]:
    """Within the block, dbt's log is streamed (True) or shown as progress (False)."""
    token = _STREAM.set(enabled)
    try:
        yield
    finally:
        _STREAM.reset(token)


def is_streaming() -> bool:
    """Whether dbt's log is streamed: the command line's choice, else TIERING_DBT_LOG."""
    chosen = _STREAM.get()
    if chosen is not None:
        return chosen
    return os.environ.get(STREAM_ENV, "").lower() == "stream"


def plain(text: str) -> str:
    """Text without ANSI colours (dbt colours its status words)."""
    return _ANSI.sub("", text)


@dataclass
class Tally:
    """What the event stream said, for the closing line and a failure message."""

    models: int = 0
    seeds: int = 0
    tests: int = 0
    failed: list[str] = field(default_factory=list)
    skipped: int = 0
    errors: list[str] = field(default_factory=list)

    def count(self, name: str, data: dict[str, Any]) -> bool:
        """Count one node-finishing event; True when the node failed."""
        status = str(data.get("status", "")).lower()
        if name == "SkippingDetails":
            self.skipped += 1
        elif status in ("error", "fail", "runtime error"):
            self.failed.append(node_name(data))
            return True
        elif name == "LogTestResult":
            self.tests += 1
        elif name == "LogSeedResult":
            self.seeds += 1
        elif name != "LogNodeNoOpResult":
            self.models += 1
        return False

    def progress(self) -> str:
        """'26 models built · 92 tests passed', as the bar shows it so far."""
        failed = f" · {len(self.failed)} failed" if self.failed else ""
        return f"{self.models + self.seeds} built · {self.tests} tests passed{failed}"

    def line(self, seconds: float) -> str:
        """'26 models and 1 seed built, 92 tests passed, 1 failed (...) in 35 s'."""
        built = f"{self.models} models" + (f" and {self.seeds} seeds" if self.seeds else "")
        parts = [f"{built} built", f"{self.tests} tests passed"]
        if self.failed:
            parts.append(f"{len(self.failed)} failed ({', '.join(self.failed)})")
        if self.skipped:
            parts.append(f"{self.skipped} skipped")
        return f"{', '.join(parts)} in {seconds:.0f} s"


def node_name(data: dict[str, Any]) -> str:
    """The node an event is about, as the log names it."""
    info = data.get("node_info") or {}
    return str(info.get("node_name") or data.get("name") or data.get("description") or "?")


def parse(line: str) -> tuple[str, str, str, dict[str, Any]]:
    """(event name, level, text, data) of one stdout line; a line that is not a dbt event
    (a Python warning or traceback) is text at level 'error' when it looks like one."""
    try:
        event = json.loads(line)
        info = event["info"]
        return info["name"], info["level"], info["msg"], event.get("data") or {}
    except (ValueError, KeyError, TypeError):
        text = line.rstrip("\n")
        level = "error" if re.search(r"error|exception|traceback", text, re.I) else "info"
        return "", level, text, {}


def start_logged(command: list[str], env: dict[str, str], **popen: Any) -> subprocess.Popen[str]:
    """Start dbt's `command`, its stdout (JSON events, stderr with it) for run_logged."""
    return subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **popen
    )


def run_logged(
    command: list[str] | subprocess.Popen[str],
    env: dict[str, str],
    log_file: Path,
    console: Console | None = None,
) -> tuple[int, Tally]:
    """Run the dbt `command` (which logs JSON to stdout), or follow one started already,
    writing its log to `log_file` and showing progress or the streamed log; return its
    exit code and the tally."""
    console = console or Console(stderr=True)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    stream = is_streaming()
    tally = Tally()
    began = time.monotonic()
    started = command if isinstance(command, subprocess.Popen) else start_logged(command, env)
    with log_file.open("w", encoding="utf-8") as log, started as process:
        assert process.stdout is not None
        if stream:
            follow(process.stdout, log, tally, echo=sys.stdout)
        else:
            with bar(console) as progress:
                task = progress.add_task("parsing the project", total=None, done="")
                follow(process.stdout, log, tally, progress=(progress, task))
        code = process.wait()
    if not stream:
        mark = "[green]✓[/]" if code == 0 else "[bold red]✗[/]"
        done = tally.line(time.monotonic() - began)
        console.log(f"{mark} dbt: {escape(done)}; log {escape(str(log_file))}")
    return code, tally


def bar(console: Console) -> Progress:
    """The progress bar: models built and tests passed, nodes done of all, time, and
    what runs now (last, so its changing width never moves the bar)."""
    return Progress(
        TextColumn("[bold]dbt[/] {task.fields[done]}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
        console=console,
        transient=True,
        disable=not console.is_terminal,  # a log file or a pipe gets the closing line only
    )


def follow(
    lines: IO[str],
    log: IO[str],
    tally: Tally,
    echo: IO[str] | None = None,
    progress: tuple[Progress, Any] | None = None,
) -> None:
    """Read dbt's events to the end: log each, count the nodes, echo or advance the bar."""
    for line in lines:
        name, level, text, data = parse(line)
        stamp = time.strftime("%H:%M:%S")
        log.write(f"{stamp} {plain(text)}\n")
        if echo is not None:
            echo.write(f"{stamp}  {text}\n")
            echo.flush()
        if level == "error" and name not in _RESULT_EVENTS:
            tally.errors = [*tally.errors, *plain(text).splitlines()][:KEEP_ERROR_LINES]
        failed = name in _RESULT_EVENTS and tally.count(name, data)
        if progress is None:
            continue
        bar_, task = progress
        if name == "LogStartLine":
            what = str(data.get("description", "")).rsplit(" ", 1)[-1]
            bar_.update(task, total=data.get("total"), description=escape(what))
        elif name in _RESULT_EVENTS:
            bar_.update(task, advance=1, done=tally.progress())
            if failed:
                bar_.console.print(f"[bold red]✗ {escape(plain(text).strip())}[/]")
    log.flush()
