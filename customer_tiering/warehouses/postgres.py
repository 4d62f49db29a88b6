"""A Postgres database as the warehouse (`target: postgres`), the universal BI target.

The connection URL comes from the environment variable TIERING_PG_URL
(`postgresql://user[:password]@host[:port]/database`), never from a committed file; dbt gets
the same connection as TIERING_PG_HOST, _PORT, _USER, _PASSWORD and _DATABASE, which the
`postgres` output of dbt_project/profiles.yml reads.

Local files: the `warehouse` setting still names a local path, but no warehouse file is
written there. Its folder holds what belongs to this machine: dbt's state (`.<name>_dbt/`),
the Airflow run folders (`.runs/`), the validation reports (`reports/validation/`), the
HTML tier report (`reports/tiers/`, read from schema marts), the Parquet export
(`exports/`, customer_tiering.exports) and the lock file; quarantine keeps its own
setting. There is no BI snapshot file: BI tools read schema `marts` directly as members
of the read-only role `tiering_reader` (Postgres readers see the last committed publish
and never block a build; a query still running when a publish commits delays the publish,
whose DROP TABLE waits for it).

Reader role: each publish makes sure the role exists (`create role tiering_reader nologin`
when missing; the pipeline's user then needs CREATEROLE, or a DBA creates the role once)
and, in the publish transaction, grants it USAGE on `marts` and SELECT on every table
there (replaced tables lose their grants, so the grant is renewed each time). It gets
nothing on raw, staging, intermediate, seeds or marts_build. It cannot log in: a DBA grants
it to the login roles of BI tools (`grant tiering_reader to metabase`), whose passwords the
pipeline never sees.

Locking: the file lock of customer_tiering.lock only sees processes sharing this machine's
folder; two hosts (Airflow workers, a laptop) pointing at one database would not see each
other. So runs also take a Postgres advisory lock (exclusive or shared, like the file
lock) on a connection held for the block; the server releases it when that session ends,
so a killed run leaves no stale lock.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import psycopg
import pyarrow as pa

from customer_tiering.errors import ConfigError, TieringError, WarehouseBusy
from customer_tiering.warehouses import Connection, Warehouse, pg_arrow

URL_ENV = "TIERING_PG_URL"
DBT_ENV = ("TIERING_PG_HOST", "TIERING_PG_PORT", "TIERING_PG_USER", "TIERING_PG_PASSWORD")
DATABASE_ENV = "TIERING_PG_DATABASE"
READER_ROLE = "tiering_reader"
URL_FORM = "postgresql://user[:password]@host[:port]/database"
# The advisory lock of the warehouse: two int4 keys ("TIER", 1), one per database.
LOCK_KEY = (0x54494552, 1)
POLL_SECONDS = 0.5
# Rows per piece written to COPY: bounds the CSV text held in memory.
COPY_ROWS = 100_000
# Contract types Postgres spells otherwise (ids are TEXT).
PG_TYPES = {"VARCHAR": "text"}


@dataclass(frozen=True)
class PgParams:
    """Where the warehouse database is; the password is never shown."""

    host: str
    port: int
    user: str
    password: str
    database: str

    @classmethod
    def from_url(cls, url: str | None) -> PgParams:
        """Parse TIERING_PG_URL; ConfigError naming the variable (never its value, which
        may hold a password) when missing or malformed."""
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        if not url:
            raise ConfigError(
                f"target postgres needs the environment variable {URL_ENV} ({URL_FORM})"
            )
        try:
            parsed = make_url(url)
            port = parsed.port or 5432
        except (ArgumentError, ValueError):
            # from None: the parser's message would repeat the URL, password and all
            raise ConfigError(
                f"{URL_ENV} is not a URL: expected {URL_FORM} (value not shown)"
            ) from None
        backend = parsed.get_backend_name()
        problem = (
            f"is a {backend} URL, not postgresql"
            if backend not in ("postgresql", "postgres")
            else "needs a user, a host and a database"
            if not (parsed.host and parsed.username and parsed.database)
            else "has query options, which dbt's profile cannot pass on"
            if parsed.query
            else None
        )
        if problem:
            raise ConfigError(f"{URL_ENV} {problem}: expected {URL_FORM} (value not shown)")
        return cls(parsed.host, port, parsed.username, parsed.password or "", parsed.database)

    def connect(self, application_name: str) -> psycopg.Connection[Any]:
        """An autocommit connection (transactions are explicit) that binds parameters on
        the client, so they work in DDL too (create table as select ...)."""
        try:
            return psycopg.connect(
                host=self.host,
                port=self.port,
                user=self.user,
                password=self.password or None,
                dbname=self.database,
                autocommit=True,
                cursor_factory=psycopg.ClientCursor,
                application_name=application_name[:63],
            )
        except psycopg.OperationalError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise TieringError(f"cannot connect to the Postgres warehouse {self}: {first}") from exc

    def __str__(self) -> str:
        return f"{self.user}@{self.host}:{self.port}/{self.database}"


class PgResult:
    """The rows of one statement, read the way DuckDB's results are."""

    def __init__(self, cursor: psycopg.Cursor[Any]) -> None:
        self.cursor = cursor

    def fetchall(self) -> list[Any]:
        return self.cursor.fetchall()

    def fetchone(self) -> Any:
        return self.cursor.fetchone()

    def df(self) -> pd.DataFrame:
        names = [column.name for column in self.cursor.description or []]
        return pd.DataFrame(self.cursor.fetchall(), columns=names)


def placeholders(sql: str, params: Sequence[Any] | None) -> str:
    """DuckDB's `?` placeholders as psycopg's `%s` (a literal % doubled)."""
    return sql if params is None else sql.replace("%", "%%").replace("?", "%s")


class PostgresConnection(Connection):
    kind = "postgres"

    def __init__(self, pg: psycopg.Connection[Any]) -> None:
        self.pg = pg

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> PgResult:
        return PgResult(self.pg.execute(placeholders(sql, params), params))

    @contextmanager
    def transaction(self) -> Iterator[None]:
        with self.pg.transaction():
            yield

    def arrow(self, sql: str, params: Sequence[Any] | None = None) -> pa.Table:
        """Each column typed from its Postgres type (customer_tiering.warehouses.pg_arrow),
        not inferred from the values."""
        return pg_arrow.table(self.pg.execute(placeholders(sql, params), params))

    def stage(self, name: str, frame: pd.DataFrame, types: dict[str, str]) -> None:
        """COPY `frame` as CSV into a new temp table typed `types`: Postgres parses each
        value into its column type as a cast from text would."""
        columns = list(types)
        defined = ", ".join(f"{column} {self.sql_type(kind)}" for column, kind in types.items())
        self.pg.execute(f"drop table if exists {name}")
        self.pg.execute(f"create temp table {name} ({defined})")
        copy_sql = f"copy {name} ({', '.join(columns)}) from stdin (format csv, null '\\N')"
        with self.pg.cursor() as cursor, cursor.copy(copy_sql) as copy:
            for start in range(0, len(frame), COPY_ROWS):
                piece = frame.iloc[start : start + COPY_ROWS][columns]
                copy.write(piece.to_csv(index=False, header=False, na_rep="\\N"))

    def replace_table(
        self, name: str, select: str, params: Sequence[Any] | None = None, temp: bool = False
    ) -> None:
        self.pg.execute(f"drop table if exists {name}")
        created = f"create {'temp ' if temp else ''}table {name} as {select}"
        self.pg.execute(placeholders(created, params), params)

    def sql_type(self, contract_type: str) -> str:
        return PG_TYPES.get(contract_type, contract_type)

    def row_checksum(self, columns: str) -> str:
        """The sum of the first 64 bits of each row's md5 (of its typed values as a record's
        text), as numeric so it cannot overflow."""
        digest = f"('x' || substr(md5(row({columns})::text), 1, 16))::bit(64)::bigint"
        return f"cast(coalesce(sum({digest}::numeric), 0) as varchar)"

    def binary_order(self, expression: str) -> str:
        """The "C" collation (byte order, which is code point order in UTF-8); the
        database's default (en_US.UTF-8, say) would ignore punctuation and case first."""
        return f'({expression}) collate "C"'

    def columns(self, schema: str, table: str) -> dict[str, str]:
        rows = self.execute(
            "select a.attname, format_type(a.atttypid, a.atttypmod) from pg_attribute as a"
            " join pg_class as c on c.oid = a.attrelid"
            " join pg_namespace as n on n.oid = c.relnamespace"
            " where n.nspname = ? and c.relname = ? and a.attnum > 0 and not a.attisdropped"
            " order by a.attnum",
            [schema, table],
        ).fetchall()
        return dict(rows)

    def create_like(self, source_schema: str, target_schema: str, table: str) -> None:
        self.pg.execute(
            f"create table {target_schema}.{table} (like {source_schema}.{table} including all)"
        )

    def grant_readers(self, schema: str) -> None:
        """Create the reader role if missing (NOLOGIN: a DBA grants it to BI logins), then
        grant it `schema` and every table in it."""
        exists = self.execute("select count(*) from pg_roles where rolname = ?", [READER_ROLE])
        if not exists.fetchone()[0]:
            try:
                self.pg.execute(f"create role {READER_ROLE} nologin")
            except psycopg.errors.InsufficientPrivilege as exc:
                raise ConfigError(
                    f"role {READER_ROLE} does not exist and the pipeline's user may not create"
                    f" it: grant it CREATEROLE, or have a DBA run `create role {READER_ROLE}"
                    " nologin` once"
                ) from exc
        self.pg.execute(f"grant usage on schema {schema} to {READER_ROLE}")
        self.pg.execute(f"grant select on all tables in schema {schema} to {READER_ROLE}")

    def checkpoint(self) -> None:
        """Nothing: a commit is durable once the server acknowledged it."""

    @contextmanager
    def consistent_read(self) -> Iterator[None]:
        """A REPEATABLE READ, READ ONLY transaction: one snapshot for every statement.
        (It does not guard against a publish meanwhile: a table dropped and re-created
        after the snapshot was taken reads as empty in it. Readers that must not see
        that hold the warehouse lock, customer_tiering.published.reading_lock.)"""
        with self.pg.transaction():
            self.pg.execute("set transaction isolation level repeatable read, read only")
            yield

    def write_parquet(self, select: str, path: Path, partition_by: str | None = None) -> int:
        """Stream the rows through a server-side cursor (in a transaction: a savepoint
        inside consistent_read) into DuckDB's writer, a batch or one partition at a time;
        partitioned, the server sorts the rows by the partition column."""
        query = (
            select
            if partition_by is None
            else (f"select * from ({select}) as exported order by {partition_by}")
        )
        with self.pg.transaction(), self.pg.cursor(name="tiering_parquet") as cursor:
            cursor.execute(query)
            return pg_arrow.write_parquet(cursor, path, partition_by)


class PostgresWarehouse(Warehouse):
    """A Postgres database; `local` names the folder for this machine's files."""

    kind = "postgres"

    def __init__(self, params: PgParams, local: Path) -> None:
        self.params = params
        self.local = local

    @classmethod
    def from_environment(cls, local: Path) -> PostgresWarehouse:
        return cls(PgParams.from_url(os.environ.get(URL_ENV)), local)

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[PostgresConnection]:
        """A connection for the block. `read_only` changes nothing: MVCC readers never
        block a writer, and readers still create temp tables (staging, checks)."""
        pg = self.params.connect("customer_tiering")
        try:
            yield PostgresConnection(pg)
        finally:
            pg.close()

    def exists(self) -> bool:
        with self.connect(read_only=True) as con:
            return con.table_exists("raw", "_batches")

    def dbt_env(self) -> dict[str, str]:
        params = self.params
        values = (params.host, str(params.port), params.user, params.password)
        return {**dict(zip(DBT_ENV, values, strict=True)), DATABASE_ENV: params.database}

    @contextmanager
    def lock(
        self,
        exclusive: bool,
        timeout: float,
        purpose: str,
        on_wait: Callable[[str], None] | None = None,
    ) -> Iterator[None]:
        """Hold the warehouse's advisory lock for the block, waiting up to `timeout` s for
        a conflicting holder (named once to `on_wait`), then WarehouseBusy (exit 1)."""
        pg = self.params.connect(f"tiering: {purpose}, pid {os.getpid()} on {socket.gethostname()}")
        try:
            take = "pg_try_advisory_lock" if exclusive else "pg_try_advisory_lock_shared"
            deadline = time.monotonic() + timeout
            told = False
            while not pg.execute(f"select {take}(%s, %s)", LOCK_KEY).fetchone()[0]:  # type: ignore[index]
                if time.monotonic() >= deadline:
                    raise WarehouseBusy(
                        f"Postgres warehouse {self.params} is busy: {self.holders(pg)} holds it;"
                        f" {purpose} waited {timeout:g} s (lock_timeout_seconds) and changed"
                        " nothing"
                    )
                if on_wait is not None and not told:
                    on_wait(f"waiting for the Postgres warehouse: {self.holders(pg)} holds it")
                    told = True
                time.sleep(POLL_SECONDS)
            yield
        finally:
            # Released before the session ends: closing alone releases the lock only when
            # the server process has exited, and a lock taken at once may still find it.
            with suppress(psycopg.Error):  # a broken connection: the server ends it anyway
                pg.execute("select pg_advisory_unlock_all()")
            pg.close()

    def holders(self, pg: psycopg.Connection[Any]) -> str:
        """Who holds the advisory lock, from the application name of its session."""
        rows = pg.execute(
            "select a.application_name, a.pid, a.backend_start from pg_locks as l"
            " join pg_stat_activity as a on a.pid = l.pid"
            " where l.locktype = 'advisory' and l.granted and l.classid = %s and l.objid = %s"
            " and l.objsubid = 2 and l.database = (select oid from pg_database"
            " where datname = current_database())",
            LOCK_KEY,
        ).fetchall()
        found = [
            f"{name} (server pid {pid}, since {since:%Y-%m-%d %H:%M:%S})"
            for name, pid, since in rows
        ]
        return "; ".join(found) or "another session"

    def published(self) -> PostgresWarehouse:
        return self

    def describe(self) -> str:
        return f"postgres {self.params}"
