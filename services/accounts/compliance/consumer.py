"""The AML module's consumer: its own group on the ledger's facts, one transaction per
batch with its working set (store.ComplianceBatch), its inbox dropping what it applied
already."""

from __future__ import annotations

from services.accounts.compliance.handlers import Compliance, handlers
from services.accounts.compliance.store import ComplianceBatch
from shared.events.topics import ACCOUNTS_EVENTS
from shared.runtime import ConsumerSpec

GROUP = "accounts-compliance"


def consumer(c: Compliance) -> ConsumerSpec:
    return ConsumerSpec(
        name=GROUP,
        topics=[ACCOUNTS_EVENTS],
        handlers=handlers(c),
        batch=lambda uow: ComplianceBatch(uow, c.tables),
    )
