"""Every revision of every process walks up, down and up again one step at a time, and the
head it reaches is exactly what the models declare. A model changed without a revision
fails here (`make migration` writes the revision)."""

from __future__ import annotations

import pytest

from shared.db import Database
from shared.migrations import current, differences, downgrade, run, upgrade
from tools.migration import MIGRATIONS

pytestmark = pytest.mark.parametrize("service", sorted(MIGRATIONS))


def test_one_head(service: str) -> None:
    """Revisions written on two branches leave two heads: the later one must follow the other
    (ADR 0008)."""
    assert len(MIGRATIONS[service].script().get_heads()) == 1


async def test_every_revision_goes_up_down_and_up_again(service: str, database: Database) -> None:
    migrations = MIGRATIONS[service]
    revisions = list(migrations.script().walk_revisions("base", "heads"))
    revisions.reverse()
    for revision in revisions:
        await run(database, migrations, upgrade(revision.revision))
        await run(database, migrations, downgrade("-1"))
        await run(database, migrations, upgrade(revision.revision))
        assert await run(database, migrations, current) == (revision.revision,)


async def test_the_revisions_build_what_the_models_declare(service: str, database: Database) -> None:
    migrations = MIGRATIONS[service]
    await run(database, migrations, upgrade("head"))
    found = await run(database, migrations, differences)
    assert not found, f"models and newest revision differ (make migration SERVICE={service}): {found}"
