"""Each process's schema under Alembic, on SQLite and PostgreSQL alike
(docs/adr/0008-migrations.md).

At start-up `migrate` brings the process's database to the newest revision:

- none of the process's tables yet: `create_all`, then stamp the head (no revision is
  replayed, so a fresh database starts as fast as before);
- an Alembic version: upgrade to the head;
- tables but no version (a database written before migrations existed): stamp the
  first revision, then upgrade to the head.

Each process keeps its revisions beside its store (`services/<name>/migrations/`,
`gateway/migrations/`); this package holds the one `env.py` and revision template they
share. Alembic's API is synchronous: it runs on the writer connection through
`run_sync`, in one transaction, before the process serves anything.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, MetaData, inspect, text

from shared.db import Database

log = logging.getLogger(__name__)

VERSION_TABLE = "alembic_version"
# One key for every Sandbank process: two replicas starting on one PostgreSQL database
# migrate one after the other (SQLite's BEGIN IMMEDIATE does the same there).
_PG_LOCK_KEY = 0x5A4D_B001
_ENVIRONMENT = Path(__file__).parent


@dataclass(frozen=True)
class Migrations:
    """A process's metadata and the folder of revisions that build it."""

    metadata: MetaData
    versions: Path

    def config(self, connection: Connection | None = None) -> Config:
        """Alembic's configuration for these revisions; `env.py` migrates `connection`."""
        config = Config(attributes={"connection": connection, "metadata": self.metadata})
        config.set_main_option("script_location", _ini(_ENVIRONMENT))
        config.set_main_option("version_locations", _ini(self.versions))
        config.set_main_option("path_separator", "os")
        # Date first, so a folder listing reads in the order revisions were written.
        config.set_main_option("file_template", "%%(year)d%%(month).2d%%(day).2d_%%(rev)s_%%(slug)s")
        return config

    def script(self) -> ScriptDirectory:
        return ScriptDirectory.from_config(self.config())

    @property
    def first(self) -> str:
        """The revision that creates the schema as it was before migrations existed."""
        bases = self.script().get_bases()
        if len(bases) != 1:
            raise RuntimeError(f"{self.versions} must have exactly one first revision, has {bases}")
        return bases[0]


# What `run` runs on the connection, inside its transaction.
Step = Callable[[Connection, Migrations], Any]


def _ini(path: Path) -> str:
    """A path as an Alembic option, which goes through ConfigParser's % interpolation."""
    return str(path).replace("%", "%%")


async def migrate(db: Database, migrations: Migrations) -> str:
    """Bring `db` to the head revision (module docstring); what it did, for the log."""
    started = time.perf_counter()
    done: str = await run(db, migrations, _to_head)
    log.info("database %s in %.0f ms", done, (time.perf_counter() - started) * 1000)
    return done


async def run(db: Database, migrations: Migrations, step: Step) -> Any:
    """`step(connection, migrations)` in one transaction on the writer connection, which
    carries the process's connection settings (a test's search_path, SQLite's pragmas)."""
    async with db.writer.connect() as connection:
        return await connection.run_sync(_in_transaction, migrations, step)


def _in_transaction(connection: Connection, migrations: Migrations, step: Step) -> Any:
    with _sqlite_foreign_keys_off(connection), connection.begin():
        if connection.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
        result = step(connection, migrations)
        if connection.dialect.name == "sqlite":
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"the migration leaves rows with dangling foreign keys: {broken[:5]}")
        return result


@contextmanager
def _sqlite_foreign_keys_off(connection: Connection) -> Iterator[None]:
    """SQLite applies ALTERs in batch mode (copy the table, drop the old one): with
    foreign keys on, dropping a referenced table would cascade or fail. The pragma only
    takes effect outside a transaction, so it goes straight to the driver."""
    if connection.dialect.name != "sqlite":
        yield
        return
    cursor = connection.connection.cursor()
    cursor.execute("PRAGMA foreign_keys=OFF")
    try:
        yield
    finally:
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()


def _to_head(connection: Connection, migrations: Migrations) -> str:
    heads = set(MigrationContext.configure(connection).get_current_heads())
    config = migrations.config(connection)
    if heads:
        target = set(migrations.script().get_heads())
        if heads == target:
            return "at head"
        command.upgrade(config, "head")
        return f"upgraded from {', '.join(sorted(heads))} to {', '.join(sorted(target))}"
    ours = set(migrations.metadata.tables) & set(inspect(connection).get_table_names())
    if not ours:
        migrations.metadata.create_all(connection)
        command.stamp(config, "head")
        return "created at head"
    first = migrations.first
    command.stamp(config, first)
    command.upgrade(config, "head")
    return f"adopted at {first} and upgraded to head"


def upgrade(revision: str) -> Step:
    """A step for `run`: `alembic upgrade <revision>`."""
    return lambda connection, migrations: command.upgrade(migrations.config(connection), revision)


def downgrade(revision: str) -> Step:
    """A step for `run`: `alembic downgrade <revision>`."""
    return lambda connection, migrations: command.downgrade(migrations.config(connection), revision)


def differences(connection: Connection, migrations: Migrations) -> list[Any]:
    """A step for `run`: what a new revision would have to change for the database to
    match the models (nothing, when the models and the revisions agree)."""
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, migrations.metadata))


def current(connection: Connection, _migrations: Migrations) -> tuple[str, ...]:
    """A step for `run`: the revisions the database is at."""
    return tuple(MigrationContext.configure(connection).get_current_heads())
