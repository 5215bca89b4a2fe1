"""insurance tables. The service's own tables arrive with its issue; the outbox, inbox
and dead-letter tables are here from the start so it joins the stack like the others."""

from shared.db import new_base
from shared.kafka.messaging import messaging_tables

Base = new_base()
messaging = messaging_tables(Base.metadata)
