"""Topic names: `<service>.events` carry facts, `<service>.commands` requests to one owner."""

ACCOUNTS_COMMANDS = "accounts.commands"
ACCOUNTS_EVENTS = "accounts.events"
PAYMENTS_EVENTS = "payments.events"
SECURITIES_EVENTS = "securities.events"
INSURANCE_EVENTS = "insurance.events"
GATEWAY_EVENTS = "gateway.events"

ALL = (
    ACCOUNTS_COMMANDS,
    ACCOUNTS_EVENTS,
    PAYMENTS_EVENTS,
    SECURITIES_EVENTS,
    INSURANCE_EVENTS,
    GATEWAY_EVENTS,
)


def dlq(topic: str) -> str:
    return f"{topic}.dlq"


def owner(topic: str) -> str:
    """The service a topic belongs to: `<service>.events`, `<service>.commands`."""
    return topic.split(".", 1)[0]
