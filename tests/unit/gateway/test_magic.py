"""The magic-values table: one module, the same rows as docs/sandbox.md."""

from __future__ import annotations

from pathlib import Path

import httpx

from gateway.main import create_app
from gateway.sandbox import magic
from gateway.settings import Settings
from shared.settings import DbSettings

DOC = Path(__file__).resolve().parents[3] / "docs" / "sandbox.md"


def test_every_row_the_document_shows_is_served() -> None:
    _, only_in_doc = magic.differences(DOC.read_text())
    assert only_in_doc == [], "docs/sandbox.md has rows the module lacks: run `python -m gateway.sandbox.magic`"


def test_rows_are_complete_and_render_as_a_four_column_table() -> None:
    assert all(v.area and v.value and v.effect and v.source for v in magic.MAGIC_VALUES)
    table = magic.markdown().splitlines()
    assert table[0] == "| area | value or control | effect | source |"
    assert len(table) == len(magic.MAGIC_VALUES) + 2
    assert magic.documented_rows(magic.markdown()) == table[2:]
    assert len({magic.markdown_row(v) for v in magic.MAGIC_VALUES}) == len(magic.MAGIC_VALUES)


def app(tmp_path: Path, environment: str) -> httpx.AsyncClient:
    settings = Settings(
        service="gateway",
        environment=environment,
        db=DbSettings(url=f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}"),
    )
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(settings)), base_url="http://gateway")


async def test_the_endpoint_serves_the_table_without_a_login(tmp_path: Path) -> None:
    async with app(tmp_path, "sandbox") as client:
        r = await client.get("/v1/sandbox/magic-values")
    assert r.status_code == 200, r.text
    assert r.json()["items"] == magic.as_json()


async def test_outside_sandbox_mode_there_is_no_table(tmp_path: Path) -> None:
    async with app(tmp_path, "production") as client:
        r = await client.get("/v1/sandbox/magic-values")
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
