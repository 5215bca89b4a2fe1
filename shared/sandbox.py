"""Seed data every Sandbank starts with in sandbox mode: demo customers with funded
accounts and an operator. Ids are fixed so seeding is idempotent and a test suite
can name them."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class DemoAccount:
    id: str
    kind: str
    opening_minor: int


@dataclass(frozen=True)
class DemoUser:
    id: str
    phone: str
    password: str
    name: str
    roles: tuple[str, ...]
    kyc_class: str = "I"
    accounts: tuple[DemoAccount, ...] = field(default_factory=tuple)


DEMO_CUSTOMERS = (
    DemoUser(
        id="9b1c7a2e-0000-4000-8000-000000000001",
        phone="+8613800000001",
        password="sandbank-demo-1",
        name="Li Wei",
        roles=("customer",),
        kyc_class="I",
        accounts=(
            DemoAccount("5a0e1d3c-0000-4000-8000-000000000101", "checking", 50_000_00),
            DemoAccount("5a0e1d3c-0000-4000-8000-000000000102", "savings", 200_000_00),
            DemoAccount("5a0e1d3c-0000-4000-8000-000000000103", "securities_cash", 20_000_00),
        ),
    ),
    DemoUser(
        id="9b1c7a2e-0000-4000-8000-000000000002",
        phone="+8613800000002",
        password="sandbank-demo-2",
        name="Wang Fang",
        roles=("customer",),
        kyc_class="II",
        accounts=(
            DemoAccount("5a0e1d3c-0000-4000-8000-000000000201", "checking", 8_000_00),
            DemoAccount("5a0e1d3c-0000-4000-8000-000000000202", "securities_cash", 0),
        ),
    ),
)

OPERATOR = DemoUser(
    id="9b1c7a2e-0000-4000-8000-00000000f001",
    phone="+8613900000000",
    password="sandbank-operator",
    name="Sandbank Operator",
    roles=("operator", "compliance"),
)

# Insurance claims adjusters: the four-eyes rule needs two different ones.
ADJUSTERS = (
    DemoUser(
        id="9b1c7a2e-0000-4000-8000-00000000a001",
        phone="+8613900000101",
        password="sandbank-adjuster-1",
        name="Chen Jing (adjuster)",
        roles=("adjuster",),
    ),
    DemoUser(
        id="9b1c7a2e-0000-4000-8000-00000000a002",
        phone="+8613900000102",
        password="sandbank-adjuster-2",
        name="Zhao Lei (adjuster)",
        roles=("adjuster",),
    ),
)

DEMO_USERS = (*DEMO_CUSTOMERS, OPERATOR, *ADJUSTERS)
