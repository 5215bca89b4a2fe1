"""Testing an app against Sandbank: a client of a running stack as its operator (clock,
faults, reset, fresh customers) and the pytest plugin that starts one per test session.

Only httpx and the standard library: a suite that installs Sandbank loads this plugin at
every pytest start, so importing it must cost nothing and start nothing.
"""

from sandbank_testing.bank import (
    Customer,
    Sandbank,
    SandbankError,
    eventually,
    parse_duration,
)

__all__ = ["Customer", "Sandbank", "SandbankError", "eventually", "parse_duration"]
