"""The saga primitive every money flow runs on (DESIGN.md section 4, ADR 0008).

`shared.saga.model` is the pure half (what a saga is, how its decisions and timeouts
read), importable by domain modules; `shared.saga.store` is the persistent half (the
row's columns, the sweeper that acts on deadlines)."""
