"""The AML module's consumer: the ledger's facts, carried by the ledger's own group member
(one member heartbeats for both, ADR 0019), applied one transaction per batch with its
working set (store.ComplianceBatch), its inbox dropping what it applied already."""

from __future__ import annotations

from services.accounts.compliance.handlers import Compliance, handlers
from services.accounts.compliance.store import ComplianceBatch
from shared.events.topics import ACCOUNTS_EVENTS
from shared.runtime import ConsumerSpec

# Its name in the inbox and the dead letters; the consumer group it had of its own until
# the ledger's member carried it.
GROUP = "accounts-compliance"


def consumer(c: Compliance, *, group: str, gather_s: float = 0.0) -> ConsumerSpec:
    """The module's consumer, its messages brought by the member of `group` (the ledger's),
    gathered for up to `gather_s` into one transaction."""
    return ConsumerSpec(
        name=GROUP,
        topics=[ACCOUNTS_EVENTS],
        handlers=handlers(c),
        batch=lambda uow: ComplianceBatch(uow, c.tables),
        group=group,
        gather_s=gather_s,
    )
