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
            prefetch=lambda uow, commands: store.prefetch(uow.session, commands, day=ctx.clock.bank_day()),
        )
    ]
