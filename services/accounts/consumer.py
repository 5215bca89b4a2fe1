"""Which topics and message types the accounts service consumes."""

from services.accounts import store
from services.accounts.handlers import Context, command_handlers
from shared.events.topics import ACCOUNTS_COMMANDS, ACCOUNTS_EVENTS
from shared.runtime import ConsumerSpec

TOPICS = [ACCOUNTS_COMMANDS, ACCOUNTS_EVENTS]


def consumers(ctx: Context) -> list[ConsumerSpec]:
    return [
        ConsumerSpec(
            name="accounts",
            topics=[ACCOUNTS_COMMANDS],
            handlers=command_handlers(ctx),
            # Each transaction's commands share one ledger batch, for the bank day it runs on.
            batch=lambda uow: store.LedgerBatch(uow, day=ctx.clock.bank_day()),
        )
    ]
