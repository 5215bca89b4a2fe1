"""The gateway's one database: one declarative base, on whose metadata each feature
package's `store` defines its tables, and the gateway's own outbox / inbox."""

from __future__ import annotations

from shared.db import new_base
from shared.kafka.messaging import messaging_tables

Base = new_base()
messaging = messaging_tables(Base.metadata)
