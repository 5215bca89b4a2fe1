"""Every process's migrations on a throwaway database of their own: a SQLite file, and
a fresh PostgreSQL schema of the test database when SANDBANK_TEST_PG_URL names one (the
test role may not create databases). No app, no broker."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from shared.db import Database
from tests.integration.pg import drop_schema, fresh_schema

PG_URL = os.environ.get("SANDBANK_TEST_PG_URL")
BACKENDS = [
    "sqlite",
    pytest.param(
        "postgresql",
        marks=pytest.mark.skipif(not PG_URL, reason="SANDBANK_TEST_PG_URL is not set (CI sets it: .ci/run)"),
    ),
]


@pytest.fixture(autouse=True)
def ledger_stays_balanced() -> None:
    """No accounts app runs here, so the integration tier's ledger check has nothing to check."""


async def throwaway(backend: str, directory: Path, name: str) -> AsyncIterator[Database]:
    if backend == "sqlite":
        db = Database(f"sqlite+aiosqlite:///{directory / f'{name}.db'}")
        try:
            yield db
        finally:
            await db.dispose()
        return
    assert PG_URL
    schema = f"migrations_{name}_{uuid.uuid4().hex[:8]}"
    await fresh_schema(PG_URL, schema)
    db = Database(PG_URL, schema=schema)
    try:
        yield db
    finally:
        await db.dispose()
        await drop_schema(PG_URL, schema)


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def database(backend: str, tmp_path: Path) -> AsyncIterator[Database]:
    async for db in throwaway(backend, tmp_path, "service"):
        yield db
