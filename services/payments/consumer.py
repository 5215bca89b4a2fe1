"""Which topics and message types the payments service consumes."""

from services.payments.handlers import Context, event_handlers
from shared.events.topics import ACCOUNTS_COMMANDS, ACCOUNTS_EVENTS, PAYMENTS_EVENTS
from shared.runtime import ConsumerSpec

TOPICS = [ACCOUNTS_COMMANDS, PAYMENTS_EVENTS]


def consumers(ctx: Context) -> list[ConsumerSpec]:
    return [
        ConsumerSpec(
            name="payments",
            topics=[ACCOUNTS_EVENTS],
            handlers=event_handlers(ctx),
            batch=ctx.batch,
            replies_only=True,
        )
    ]
