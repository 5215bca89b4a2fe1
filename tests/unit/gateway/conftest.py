from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fastapi import FastAPI

from gateway.bootstrap import Overrides
from gateway.main import create_app
from gateway.settings import Settings
from shared.settings import DbSettings
from tests.unit.gateway.fakes import FakeUpstreams


@pytest.fixture
def upstreams() -> FakeUpstreams:
    return FakeUpstreams()


@pytest.fixture
async def app(tmp_path: Path, upstreams: FakeUpstreams) -> AsyncIterator[FastAPI]:
    """The gateway on fake upstreams, its lifespan not run: for what it answers before the
    database or a service is asked."""
    settings = Settings(service="gateway", db=DbSettings(url=f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}"))
    app = create_app(settings, overrides=Overrides(upstreams=upstreams))
    yield app
    await upstreams.close()
