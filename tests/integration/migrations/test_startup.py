"""What a process does with its database at start-up (shared/migrations.py): create an
empty one at the head, upgrade one with a version, adopt one written before migrations
existed. Shown on two revisions written here, the second an ALTER that SQLite can only do
by copying a table that other rows point at."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import Column, Connection, ForeignKey, Integer, MetaData, String, Table, text

from shared.db import NAMING_CONVENTION, Database
from shared.migrations import VERSION_TABLE, Migrations, current, migrate, run, upgrade
from tests.integration.migrations.conftest import throwaway
from tools.migration import MIGRATIONS

FIRST = """
import sqlalchemy as sa
from alembic import op

revision = "first"
down_revision = None


def upgrade():
    op.create_table("parent", sa.Column("id", sa.Integer(), primary_key=True), sa.Column("label", sa.String(20)))
    op.create_table(
        "child",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("parent_id", sa.Integer(), sa.ForeignKey("parent.id"), nullable=False),
    )


def downgrade():
    op.drop_table("child")
    op.drop_table("parent")
"""
SECOND = """
import sqlalchemy as sa
from alembic import op

revision = "second"
down_revision = "first"


def upgrade():
    with op.batch_alter_table("parent") as batch:
        batch.alter_column("label", existing_type=sa.String(20), type_=sa.String(200))
        batch.add_column(sa.Column("note", sa.String(40)))


def downgrade():
    with op.batch_alter_table("parent") as batch:
        batch.drop_column("note")
        batch.alter_column("label", existing_type=sa.String(200), type_=sa.String(20))
"""


@pytest.fixture
def family(tmp_path: Path) -> Migrations:
    """Two revisions and the models they arrive at."""
    versions = tmp_path / "versions"
    versions.mkdir()
    (versions / "1_first.py").write_text(FIRST)
    (versions / "2_second.py").write_text(SECOND)
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    Table(
        "parent",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("label", String(200)),
        Column("note", String(40)),
    )
    Table(
        "child",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("parent_id", ForeignKey("parent.id"), nullable=False),
    )
    return Migrations(metadata, versions)


def _add_a_family(connection: Connection, _migrations: Migrations) -> None:
    connection.execute(text("INSERT INTO parent (id, label) VALUES (1, 'kept')"))
    connection.execute(text("INSERT INTO child (id, parent_id) VALUES (1, 1)"))


def _drop_version_table(connection: Connection, _migrations: Migrations) -> None:
    connection.execute(text(f"DROP TABLE {VERSION_TABLE}"))


def _family(connection: Connection, _migrations: Migrations) -> list[tuple[object, ...]]:
    return [
        tuple(row)
        for row in connection.execute(text("SELECT p.label, c.id FROM parent p JOIN child c ON c.parent_id = p.id"))
    ]


async def test_an_empty_database_is_created_at_the_head(family: Migrations, database: Database) -> None:
    assert await migrate(database, family) == "created at head"
    assert await run(database, family, current) == ("second",)


async def test_a_database_at_the_head_is_left_as_it_is(family: Migrations, database: Database) -> None:
    await migrate(database, family)
    assert await migrate(database, family) == "at head"


async def test_a_database_at_an_older_revision_is_upgraded_with_its_rows(
    family: Migrations, database: Database
) -> None:
    await run(database, family, upgrade("first"))
    await run(database, family, _add_a_family)
    assert await migrate(database, family) == "upgraded from first to second"
    assert await run(database, family, _family) == [("kept", 1)]


async def test_a_database_from_before_migrations_is_adopted_and_upgraded(
    family: Migrations, database: Database
) -> None:
    await run(database, family, upgrade("first"))
    await run(database, family, _add_a_family)
    await run(database, family, _drop_version_table)
    assert await migrate(database, family) == "adopted at first and upgraded to head"
    assert await run(database, family, current) == ("second",)
    assert await run(database, family, _family) == [("kept", 1)]


@pytest.fixture
async def service_database(backend: str, tmp_path: Path, service: str) -> AsyncIterator[Database]:
    async for db in throwaway(backend, tmp_path, service):
        yield db


@pytest.mark.parametrize("service", sorted(MIGRATIONS))
async def test_a_service_database_from_before_migrations_is_adopted(service: str, service_database: Database) -> None:
    """A `.data/` folder of `make run` from before migrations holds what the first revision
    builds (then `create_all`), with no version: stamped there, then upgraded."""
    migrations = MIGRATIONS[service]
    await run(service_database, migrations, upgrade(migrations.first))
    await run(service_database, migrations, _drop_version_table)
    assert await migrate(service_database, migrations) == f"adopted at {migrations.first} and upgraded to head"
    assert await run(service_database, migrations, current) == tuple(migrations.script().get_heads())
