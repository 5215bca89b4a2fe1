"""Anti-money-laundering monitoring: a module of the accounts process with its own tables,
its own consumer group on `accounts.events` and its own routes (docs/adr/0016).

It learns of money only through the ledger's facts, never through accounts' ledger
code, so it could move to a process of its own (docs/compliance.md)."""
