"""Testing an app against Sandbank: a client of a running stack as its operator (clock,
faults, reset, fresh customers), a receiver of its signed webhooks, and the pytest plugin
that starts one per test session (one per pytest-xdist worker).

Only httpx and the standard library: a suite that installs Sandbank loads this plugin at
every pytest start, so importing it must cost nothing and start nothing.
"""

from sandbank_testing.bank import Sandbank
from sandbank_testing.basics import SandbankError, SharedStackError, eventually, parse_duration
from sandbank_testing.clock import Clock
from sandbank_testing.customer import Customer
from sandbank_testing.webhooks import WebhookReceiver

__all__ = [
    "Clock",
    "Customer",
    "Sandbank",
    "SandbankError",
    "SharedStackError",
    "WebhookReceiver",
    "eventually",
    "parse_duration",
]
