"""A real PostgreSQL server for tests, on loopback.

`postgres_server()` installs PostgreSQL with apt-get if it is missing, starts a private
server on a free port in a temporary data folder (as the `postgres` user when run as
root) and stops and removes it afterwards. Tests are skipped only when PostgreSQL is
missing and apt-get cannot install it. Import the `postgres_url` fixture from here.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import apt_lock


def postgres_bin() -> Path | None:
    """The newest installed PostgreSQL server's bin folder (Debian layout), if any."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return found[-1].parent if found else None


def install_postgres() -> Path:
    """PostgreSQL's bin folder, installing the server with apt-get when missing."""
    with apt_lock():
        if postgres_bin() is None:
            if shutil.which("apt-get") is None or os.geteuid() != 0:
                pytest.skip("PostgreSQL is not installed and apt-get cannot install it here")
            env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
            for command in (["apt-get", "update"], ["apt-get", "install", "-y", "postgresql"]):
                subprocess.run(command, check=True, env=env, capture_output=True, timeout=600)
    found = postgres_bin()
    assert found is not None, "apt-get installed postgresql but no initdb was found"
    return found


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def postgres_server() -> Iterator[str]:
    """A running throw-away server; its SQLAlchemy URL (user postgres, trust auth).
    Stopped and removed afterwards."""
    bin_dir = install_postgres()
    as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    folder = Path(tempfile.mkdtemp(prefix="tiering-pg-"))
    if as_user:
        shutil.chown(folder, "postgres")
    data, port = folder / "data", free_port()
    subprocess.run(
        [*as_user, str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust"],
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
    pg_ctl = [*as_user, str(bin_dir / "pg_ctl"), "-D", str(data)]
    subprocess.run(
        [*pg_ctl, "-o", options, "-l", str(folder / "log"), "-w", "start"],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*pg_ctl, "-m", "immediate", "-w", "stop"], check=False)
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def postgres_url() -> Iterator[str]:
    """A throw-away server for the module's tests; its SQLAlchemy URL."""
    with postgres_server() as url:
        yield url
