"""`make chaos`: a Jepsen-style chaos suite for the whole local Sandbank.

Clients drive mixed traffic through the gateway of a `sandbank run` while a nemesis
injects one fault at a time; after a quiet period the checker compares what the bank
acknowledged (the model) with what its ledger, statements and sagas say.

    model     the operations and their outcomes, and the money each one must move
    workload  the clients: registration, then transfers, bills, deposits, orders ...
    nemesis   the faults: kills, SIGSTOP, broker loss, message faults, clock, restarts
    target    the stack under test (`sandbank run` as a subprocess) and its operator views
    checker   the pure comparison of the model with what the stack shows once drained
    report    the JSON report, the timeline plot and the printed summary
    cli       `sandbank chaos` / `make chaos`: profiles, flags, the run itself
"""
