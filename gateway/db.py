"""The gateway's one database: one declarative base, on whose metadata each feature
package's `store` defines its tables, and the gateway's own outbox / inbox.
gateway/store.py gathers every table and the schema revisions."""

from __future__ import annotations

from sqlalchemy.orm import DeclarativeBase

from shared.db import naming_metadata
from shared.kafka.messaging import messaging_tables


class Base(DeclarativeBase):
    metadata = naming_metadata()


messaging = messaging_tables(Base.metadata)
