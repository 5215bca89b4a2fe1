"""Testing an app against Sandbank: a client of a running stack as its operator (clock,
faults, reset, fresh customers) and the pytest plugin that starts one per test session.

Only httpx and the standard library: a suite that installs Sandbank loads this plugin at
every pytest start, so importing it must cost nothing and start nothing.
"""

from sandbank_testing.bank import Sandbank
from sandbank_testing.basics import SandbankError, eventually, parse_duration
from sandbank_testing.clock import Clock
from sandbank_testing.customer import Customer

__all__ = ["Clock", "Customer", "Sandbank", "SandbankError", "eventually", "parse_duration"]
