"""Alembic's environment for every Sandbank process. `shared.migrations` runs it on an
open connection inside its transaction, with the process's metadata; it never opens a
database of its own."""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy.types import TypeDecorator


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """A column of a project type (`UtcDateTime`) as the SQLAlchemy type it stores as, so
    a revision never imports project code that may change after it was written."""
    if type_ == "type" and isinstance(obj, TypeDecorator):
        return f"sa.{obj.impl!r}"
    return False


connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run Sandbank's migrations through shared.migrations, which passes the connection")
context.configure(
    connection=connection,
    target_metadata=context.config.attributes["metadata"],
    # SQLite has no ALTER for most changes: batch mode copies the table instead.
    render_as_batch=True,
    compare_type=True,
    render_item=render_item,
)
with context.begin_transaction():
    context.run_migrations()
