"""Which topics and message types the securities service consumes: accounts' facts,
which advance the order and transfer sagas (facts about other services' holds,
credits and transfers are skipped by their id prefix)."""

from services.securities.handlers import Context, event_handlers
from shared.events.topics import ACCOUNTS_COMMANDS, ACCOUNTS_EVENTS, SECURITIES_EVENTS
from shared.runtime import ConsumerSpec

# Created at start-up: what we publish to, and what we consume.
TOPICS = [SECURITIES_EVENTS, ACCOUNTS_COMMANDS, ACCOUNTS_EVENTS]
GROUP = "securities"


def consumers(ctx: Context) -> list[ConsumerSpec]:
    return [ConsumerSpec(name=GROUP, topics=[ACCOUNTS_EVENTS], handlers=event_handlers(ctx), replies_only=True)]
