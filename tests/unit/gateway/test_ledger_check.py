"""The gateway's ledger check: accounts' rules, plus the sagas behind the active holds as
their owners tell them (gateway/ops/holds.py, pure); and the route that gathers both,
and every service's stuck sagas, from fake upstreams."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from fastapi import FastAPI

from gateway.ops.holds import HAS_SAGA, SAGA_NOT_ENDED, SAGA_WITHIN_DEADLINE, hold_violations, owned_holds
from gateway.routing.upstream import UpstreamResponse
from shared.auth import ROLE_OPERATOR
from shared.errors import ServiceUnavailable
from shared.schemas.accounts import ActiveHold
from shared.schemas.sagas import HeldSagas, SagaState
from tests.unit.gateway.fakes import FakeUpstreams, logged_in

NOW = datetime(2025, 6, 2, 9, 35, tzinfo=UTC)
GRACE = timedelta(seconds=5)


def hold(hold_id: str = "h-1", reserved_by: str | None = "payments") -> ActiveHold:
    return ActiveHold(
        id=hold_id,
        account_id="acc-1",
        reserved_by=reserved_by,
        reference=f"payment transfer {hold_id}",
        amount_minor=100,
        currency="CNY",
        created_at=NOW - timedelta(seconds=30),
        expires_at=None,
    )


def saga(hold_id: str = "h-1", **row: Any) -> SagaState:
    fields: dict[str, Any] = {
        "kind": "transfer",
        "id": hold_id,
        "step": "capture",
        "attempts": 1,
        "deadline_at": NOW + timedelta(seconds=3),
        "overdue_s": None,
        "created_at": NOW - timedelta(seconds=30),
        "correlation_id": "req-1",
        "hold_id": hold_id,
    }
    return SagaState(**(fields | row))


def answer(*sagas: SagaState, at: datetime = NOW) -> HeldSagas:
    return HeldSagas(service="payments", checked_at=at, items=list(sagas))


@pytest.mark.parametrize(
    ("sagas", "rules"),
    [
        pytest.param(answer(saga()), [], id="live-and-on-time"),
        pytest.param(answer(saga(deadline_at=NOW - timedelta(seconds=4))), [], id="overdue-within-the-grace"),
        pytest.param(
            answer(saga(deadline_at=NOW - timedelta(seconds=60))), [SAGA_WITHIN_DEADLINE], id="overdue-past-the-grace"
        ),
        pytest.param(
            answer(saga(step=None, deadline_at=None, outcome="failed", ended_at=NOW - timedelta(seconds=60))),
            [SAGA_NOT_ENDED],
            id="ended-long-before-accounts-listed-the-hold",
        ),
        pytest.param(
            answer(saga(step=None, deadline_at=None, outcome="completed", ended_at=NOW - timedelta(seconds=1))),
            [],
            id="ended-as-accounts-listed-the-hold",
        ),
        pytest.param(answer(), [HAS_SAGA], id="no-saga-at-its-owner"),
        pytest.param(answer(saga("h-2")), [HAS_SAGA], id="only-another-holds-saga"),
        pytest.param(None, [], id="owner-not-answering"),
    ],
)
def test_a_holds_saga_is_judged_by_its_owners_answer(sagas: HeldSagas | None, rules: list[str]) -> None:
    found = hold_violations([hold()], NOW, {"payments": sagas}, GRACE)

    assert [v.rule for v in found] == rules
    assert all("h-1" in v.detail and v.account_id == "acc-1" for v in found)


def test_a_hold_made_before_owners_were_kept_is_left_to_the_age_rule() -> None:
    assert hold_violations([hold(reserved_by=None)], NOW, {"payments": answer()}, GRACE) == []


def test_holds_are_asked_of_the_services_that_reserved_them() -> None:
    holds = [hold("h-1"), hold("h-2", "insurance"), hold("h-3"), hold("h-4", None), hold("h-5", "elsewhere")]

    assert owned_holds(holds, ["payments", "insurance"]) == {"payments": ["h-1", "h-3"], "insurance": ["h-2"]}


# --- the routes, on fake upstreams ---------------------------------------------------------


class ByPath(FakeUpstreams):
    """Answers each (service, path) from `answers`; a service in `down` does not answer."""

    def __init__(self) -> None:
        super().__init__()
        self.answers: dict[tuple[str, str], Any] = {}
        self.down: tuple[str, ...] = ()

    async def _request(
        self, service: str, method: str, path: str, *, headers: dict[str, str], body: bytes | None, params: Any
    ) -> UpstreamResponse:
        self.asked.append(
            {"service": service, "path": path, "body": orjson.loads(body) if body else None, "params": params}
        )
        if service in self.down:
            raise ServiceUnavailable(service)
        return UpstreamResponse(service, 200, orjson.dumps(self.answers[(service, path)]), {})


@pytest.fixture
def upstreams() -> ByPath:
    """The gateway app of tests/unit/gateway/conftest.py calls these."""
    return ByPath()


ACCOUNTS_CHECK = {
    "ok": False,
    "checked_at": NOW.isoformat(),
    "accounts_checked": 3,
    "entries_checked": 7,
    "active_holds": 2,
    "totals_minor": {"CNY": 0},
    "violations": [{"rule": "entry_balanced", "detail": "entry e-1 CNY lines sum to 1", "account_id": None}],
}


async def test_the_ledger_check_adds_the_rules_on_the_sagas_behind_the_holds(app: FastAPI, upstreams: ByPath) -> None:
    overdue = saga(deadline_at=NOW - timedelta(seconds=60))
    upstreams.down = ("insurance",)
    upstreams.answers = {
        ("accounts", "/v1/admin/ledger/check"): ACCOUNTS_CHECK,
        ("accounts", "/internal/holds/active"): {
            "checked_at": NOW.isoformat(),
            "total": 2,
            "items": [hold("h-1").model_dump(mode="json"), hold("ins-1", "insurance").model_dump(mode="json")],
        },
        ("payments", "/internal/sagas/holds"): answer(overdue).model_dump(mode="json"),
    }
    async with logged_in(app, ROLE_OPERATOR) as client:
        r = await client.get("/v1/admin/ledger/check", params={"stale_after_s": 60})

    assert r.status_code == 200, r.text
    check = r.json()
    assert [v["rule"] for v in check["violations"]] == ["entry_balanced", SAGA_WITHIN_DEADLINE]
    assert check["ok"] is False
    assert (check["holds_with_saga_checked"], check["owners_unavailable"], check["saga_grace_s"]) == (
        1,
        ["insurance"],
        5.0,
    )
    asked = {(a["service"], a["path"]): a["body"] for a in upstreams.asked}
    assert asked[("payments", "/internal/sagas/holds")] == {"hold_ids": ["h-1"]}
    assert asked[("insurance", "/internal/sagas/holds")] == {"hold_ids": ["ins-1"]}


def stuck(service: str, total: int) -> dict[str, Any]:
    items = [saga(f"{service}-{i}", overdue_s=60.0).model_dump(mode="json") for i in range(total)]
    kinds = [{"kind": "transfer", "total": total, "items": items}] if total else []
    return {"service": service, "checked_at": NOW.isoformat(), "grace_s": 5.0, "total": total, "kinds": kinds}


async def test_stuck_sagas_are_gathered_from_every_service_that_answers(app: FastAPI, upstreams: ByPath) -> None:
    path = "/internal/sagas/stuck"
    upstreams.down = ("insurance",)
    upstreams.answers = {
        ("accounts", path): stuck("accounts", 0),
        ("payments", path): stuck("payments", 2),
        ("securities", path): stuck("securities", 1),
    }
    async with logged_in(app, ROLE_OPERATOR) as client:
        r = await client.get("/v1/admin/sagas/stuck", params={"grace_s": 2, "limit": 10, "min_attempts": 6})

    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["total"], body["unavailable"]) == (3, ["insurance"])
    assert [s["service"] for s in body["services"]] == ["accounts", "payments", "securities"]
    assert {str(a["params"]) for a in upstreams.asked} == {str({"grace_s": 2.0, "limit": 10, "min_attempts": 6})}
