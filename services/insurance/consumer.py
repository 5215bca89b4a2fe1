"""Which topics and message types the insurance service consumes: accounts' facts,
which advance its premium, payout and refund sagas."""

from services.insurance.handlers import Context, fact_handlers
from shared.events.topics import ACCOUNTS_COMMANDS, ACCOUNTS_EVENTS, INSURANCE_EVENTS
from shared.runtime import ConsumerSpec

# Created at start-up with their partition counts: what it publishes and consumes.
TOPICS = [ACCOUNTS_COMMANDS, ACCOUNTS_EVENTS, INSURANCE_EVENTS]
GROUP = "insurance"


def consumers(ctx: Context) -> list[ConsumerSpec]:
    return [ConsumerSpec(name=GROUP, topics=[ACCOUNTS_EVENTS], handlers=fact_handlers(ctx), replies_only=True)]
