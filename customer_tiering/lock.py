"""The warehouse lock: one run at a time touches the warehouse, whatever starts them.

Airflow can start a scheduled run beside a backfill, two manual triggers at once, or a
command-line run beside the DAG; DuckDB itself only refuses a second writer, and a
one-slot pool serializes tasks, not runs. So every step that opens the warehouse takes
this lock: the build (load → dbt build → publish) exclusively, the steps that only read
it (prepare, validate) shared. It is an `flock` on a file beside the warehouse, so the
operating system releases it when the holding process dies: a killed run never leaves a
stale lock. A run that cannot get the lock within `lock_timeout_seconds` fails with exit 1
(a scheduler retries it) and a message naming the holder; nothing is changed.

Locks are re-entrant within a process (pipeline.run holds the exclusive lock for the whole
run and calls the same steps the DAG runs one per process).

A warehouse that other machines can reach (Postgres) adds its own lock (`server`, taken
inside the file lock, customer_tiering.warehouses.postgres): the file lock guards this
machine's folder (dbt state, run folders), the server lock the database.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path

from customer_tiering.errors import WarehouseBusy

# Held locks of this process: lock file -> (file descriptor, exclusive, depth).
_HELD: dict[Path, tuple[int, bool, int]] = {}
POLL_SECONDS = 0.5


def lock_path(warehouse: Path) -> Path:
    """`.<warehouse name>.lock` beside the warehouse file."""
    return warehouse.resolve().parent / f".{warehouse.name}.lock"


def holder(path: Path) -> str:
    """Who holds the lock, as its holder wrote it (best effort: the file may be empty)."""
    try:
        info = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return "another process"
    if not info:
        return "another process"
    return (
        f"{info.get('purpose', 'a run')} (pid {info.get('pid')} on {info.get('host')},"
        f" since {info.get('since')})"
    )


@contextmanager
def warehouse_lock(
    warehouse: Path,
    *,
    exclusive: bool,
    timeout: float,
    purpose: str,
    on_wait: Callable[[str], None] | None = None,
    server: AbstractContextManager[None] | None = None,
) -> Iterator[None]:
    """Hold the warehouse lock (exclusive for writers, shared for readers) for the block,
    and `server` (the warehouse's own lock, same mode) inside it when the block is not
    nested in another hold of this lock.

    Waits up to `timeout` seconds for a conflicting holder, telling `on_wait` once who it
    waits for, then raises WarehouseBusy."""
    path = lock_path(warehouse)
    held = _HELD.get(path)
    if held is not None:
        fd, held_exclusive, depth = held
        if exclusive and not held_exclusive:
            raise RuntimeError("cannot upgrade a shared warehouse lock to an exclusive one")
        _HELD[path] = (fd, held_exclusive, depth + 1)
        try:
            yield
        finally:
            _HELD[path] = (fd, held_exclusive, depth)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        acquire(fd, path, exclusive, timeout, purpose, on_wait)
        if exclusive:
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(describe(purpose)).encode(), 0)
        _HELD[path] = (fd, exclusive, 0)
        try:
            with server or nullcontext():
                yield
        finally:
            del _HELD[path]
            if exclusive:
                os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def acquire(
    fd: int,
    path: Path,
    exclusive: bool,
    timeout: float,
    purpose: str,
    on_wait: Callable[[str], None] | None,
) -> None:
    """Poll for the lock until `timeout`; raise WarehouseBusy naming the holder."""
    mode = (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB
    deadline = time.monotonic() + timeout
    told = False
    while True:
        try:
            fcntl.flock(fd, mode)
            return
        except BlockingIOError:
            if time.monotonic() >= deadline:
                raise WarehouseBusy(
                    f"warehouse {path.parent} is busy: {holder(path)} holds it; {purpose}"
                    f" waited {timeout:g} s (lock_timeout_seconds) and changed nothing"
                ) from None
            if on_wait is not None and not told:
                on_wait(f"waiting for the warehouse: {holder(path)} holds it")
                told = True
            time.sleep(POLL_SECONDS)


def describe(purpose: str) -> dict[str, str | int]:
    """What the holder writes into the lock file, for the message of whoever waits."""
    return {
        "purpose": purpose,
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "since": datetime.now(UTC).isoformat(timespec="seconds"),
    }
