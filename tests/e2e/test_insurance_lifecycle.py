"""A policy's life through the gateway of a running stack, on the sandbox clock: a trip
policy bought for next week (pending, then active, expired, lapsed, each with a
notification), claims refused when the incident lies outside the cover or the payout
would go into a securities account, cancellation with the whole premium back in the
cooling-off period and a pro-rata share later (refund sagas through accounts), and
renewal for the next term.

The sandbox clock only moves forward, so it is left where a test moved it (as
test_app_schedules.py does): every other test reads "today" from the clock."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any

import httpx
import pytest

from shared.clock import BANK_TZ
from tests.e2e.phone import Phone, eventually
from tests.e2e.test_insurance import adjusters, assert_problem, claim_reaches, funded

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("ledger_balanced")]
DAY = 86_400
__all__ = ["adjusters"]  # the seeded adjusters' fixture, shared with test_insurance.py


async def move_clock(gateway: httpx.AsyncClient, operator_headers: dict[str, str], days: int) -> date:
    """Move every process's sandbox clock forward; the bank day it now is."""
    r = await gateway.post("/v1/sandbox/clock", json={"advance_s": days * DAY}, headers=operator_headers)
    assert r.status_code == 200, r.text
    assert r.json()["services"]["insurance"] == "ok", r.json()
    return datetime.fromisoformat(r.json()["now"]).astimezone(BANK_TZ).date()


async def today(phone: Phone) -> date:
    return date.fromisoformat((await phone.get("/v1/sandbox/clock")).json()["bank_day"])


async def quoted(phone: Phone, product: str = "personal_accident", **quote: Any) -> str:
    body = {"product_code": product, "age": 30, "term_days": 365, "sum_insured": "100000.00"} | quote
    r = await phone.post("/v1/insurance/quotes", json=body)
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


async def buying(phone: Phone, quote_id: str, account_id: str, **extra: Any) -> httpx.Response:
    buy = {"quote_id": quote_id, "account_id": account_id} | extra
    return await phone.post("/v1/insurance/policies", json=buy, headers={"Idempotency-Key": str(uuid.uuid4())})


async def purchase(
    phone: Phone, account_id: str, product: str = "personal_accident", starts_on: date | None = None, **quote: Any
) -> dict[str, Any]:
    """Buy a policy and wait until its premium is paid (or the purchase failed)."""
    extra = {"starts_on": starts_on.isoformat()} if starts_on else {}
    r = await buying(phone, await quoted(phone, product, **quote), account_id, **extra)
    assert r.status_code == 202, r.text
    return await paid(phone, r.json()["id"])


async def paid(phone: Phone, policy_id: str) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        policy: dict[str, Any] = (await phone.get(f"/v1/insurance/policies/{policy_id}")).json()
        return policy if policy["premium_payment"]["step"] in ("done", "failed") else None

    return await eventually(probe)  # type: ignore[no-any-return]


async def policy_reads(phone: Phone, policy_id: str, status: str, action: str | None = None) -> dict[str, Any]:
    """The policy once it reads `status` (and, if named, its history has `action`)."""

    async def probe() -> dict[str, Any] | None:
        policy: dict[str, Any] = (await phone.get(f"/v1/insurance/policies/{policy_id}")).json()
        done = policy["status"] == status and (action is None or action in [h["action"] for h in policy["history"]])
        return policy if done else None

    return await eventually(probe)  # type: ignore[no-any-return]


async def notified(phone: Phone, kind: str, policy_id: str, **data: Any) -> dict[str, Any]:
    """The customer's notification of `kind` about the policy (with these data)."""

    async def probe() -> dict[str, Any] | None:
        items = (await phone.get("/v1/notifications", params={"limit": 100})).json()["items"]
        wanted = {"policy_id": policy_id} | data
        return next((n for n in items if n["kind"] == kind and wanted.items() <= n["data"].items()), None)

    return await eventually(probe)  # type: ignore[no-any-return]


def claim_about(policy: dict[str, Any], day: date | str, **extra: Any) -> dict[str, Any]:
    incident = day if isinstance(day, str) else day.isoformat()
    return {"policy_id": policy["id"], "kind": "medical_abroad", "amount": "100.00", "incident_date": incident} | extra


async def test_a_trip_policy_for_next_week_is_pending_then_active_expired_and_lapsed(
    customer: Phone, gateway: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    account_id = await funded(customer)
    day = await today(customer)
    trip = day + timedelta(days=7)

    policy = await purchase(customer, account_id, "travel", starts_on=trip, term_days=7, sum_insured="300000.00")

    assert (policy["status"], policy["starts_on"], policy["ends_on"]) == (
        "pending",
        str(trip),
        str(trip + timedelta(6)),
    )
    assert policy["requested_starts_on"] == str(trip) and policy["premium_minor"] == 60_00
    assert await customer.balance(account_id) == 1_000_00 - 60_00
    pending = (await customer.get("/v1/insurance/policies", params={"status": "pending"})).json()["items"]
    assert [p["id"] for p in pending] == [policy["id"]]
    r = await customer.post("/v1/insurance/claims", json=claim_about(policy, day))
    body = assert_problem(r, 422, "incident-outside-cover")
    assert str(trip) in body["detail"] and str(trip + timedelta(6)) in body["detail"]

    await move_clock(gateway, operator_headers, 7)
    assert (await customer.get(f"/v1/insurance/policies/{policy['id']}")).json()["status"] == "active"
    started = await notified(customer, "policy_status_changed", policy["id"], status="active")
    assert started["title"] == "Cover started" and str(trip) in started["body"]
    r = await customer.post("/v1/insurance/claims", json=claim_about(policy, trip))
    assert r.status_code == 201, r.text

    await move_clock(gateway, operator_headers, 7)
    expired = await policy_reads(customer, policy["id"], "expired", "expired")
    assert expired["history"][-1]["actor_role"] == "system"
    note = await notified(customer, "policy_status_changed", policy["id"], status="expired")
    assert str(trip + timedelta(6)) in note["body"]
    # An expired policy still answers for what happened while it ran, and nothing after.
    r = await customer.post("/v1/insurance/claims", json=claim_about(policy, trip + timedelta(6), kind="baggage_loss"))
    assert r.status_code == 201, r.text
    r = await customer.post("/v1/insurance/claims", json=claim_about(policy, trip + timedelta(7)))
    assert_problem(r, 422, "incident-outside-cover")

    await move_clock(gateway, operator_headers, 31)
    lapsed = await policy_reads(customer, policy["id"], "lapsed", "lapsed")
    assert [h["action"] for h in lapsed["history"]][-2:] == ["expired", "lapsed"]
    await notified(customer, "policy_status_changed", policy["id"], status="lapsed")
    mine = (await customer.get("/v1/insurance/policies", params={"status": "lapsed"})).json()["items"]
    assert [p["id"] for p in mine] == [policy["id"]]
    assert_problem(await customer.post(f"/v1/insurance/policies/{policy['id']}/cancel"), 409, "policy-not-cancellable")


async def test_a_claim_is_checked_against_the_cover_and_paid_only_into_a_bank_account(customer: Phone) -> None:
    account_id = await funded(customer)
    cash = await customer.open_account("securities_cash")
    policy = await purchase(customer, account_id)
    starts_on = date.fromisoformat(policy["starts_on"])
    claim = {"policy_id": policy["id"], "kind": "accidental_injury", "amount": "100.00"}

    r = await customer.post("/v1/insurance/claims", json=claim | {"incident_date": str(starts_on - timedelta(1))})
    body = assert_problem(r, 422, "incident-outside-cover")
    assert policy["starts_on"] in body["detail"] and policy["ends_on"] in body["detail"]
    r = await customer.post(
        "/v1/insurance/claims", json=claim | {"incident_date": policy["starts_on"], "payout_account_id": cash["id"]}
    )
    assert "securities_cash" in assert_problem(r, 422, "unsuitable-account")["detail"]

    assert (await customer.get("/v1/insurance/claims")).json()["items"] == []
    r = await customer.post(
        "/v1/insurance/claims", json=claim | {"incident_date": policy["starts_on"], "payout_account_id": account_id}
    )
    assert r.status_code == 201, r.text
    assert await customer.balance(cash["id"]) == 0


async def test_cancelling_in_the_cooling_off_period_refunds_the_whole_premium_later_pro_rata(
    customer: Phone, gateway: httpx.AsyncClient, operator_headers: dict[str, str]
) -> None:
    account_id = await funded(customer)
    first = await purchase(customer, account_id)
    second = await purchase(customer, account_id)
    assert first["status"] == second["status"] == "active"
    assert await customer.balance(account_id) == 1_000_00 - 2 * 60_00
    assert first["cooling_off_until"] == str(date.fromisoformat(first["starts_on"]) + timedelta(15))

    r = await customer.post(f"/v1/insurance/policies/{first['id']}/cancel")

    assert r.status_code == 200, r.text
    cancelled = r.json()
    assert (cancelled["status"], cancelled["refund"], cancelled["refund_basis"]) == (
        "cancelled",
        "60.00",
        "cooling_off",
    )
    await eventually(lambda: _refund_done(customer, first["id"]))
    assert await customer.balance(account_id) == 1_000_00 - 60_00
    await notified(customer, "premium_refunded", first["id"], reason="cancelled")
    await notified(customer, "policy_status_changed", first["id"], status="cancelled")
    assert_problem(await customer.post(f"/v1/insurance/policies/{first['id']}/cancel"), 409, "policy-not-cancellable")
    r = await customer.post(
        "/v1/insurance/claims",
        json={
            "policy_id": first["id"],
            "kind": "accidental_injury",
            "amount": "10.00",
            "incident_date": first["starts_on"],
        },
    )
    assert_problem(r, 409, "policy-not-active")

    day = await move_clock(gateway, operator_headers, 16)
    r = await customer.post(f"/v1/insurance/policies/{second['id']}/cancel")

    assert r.status_code == 200, r.text
    unexpired = (date.fromisoformat(second["ends_on"]) - day).days
    expected = 60_00 * unexpired // 365
    assert (r.json()["refund_minor"], r.json()["refund_basis"]) == (expected, "pro_rata")
    assert 0 < expected < 60_00
    await eventually(lambda: _refund_done(customer, second["id"]))
    assert await customer.balance(account_id) == 1_000_00 - 60_00 + expected  # the first came back whole
    statement = (await customer.get(f"/v1/accounts/{account_id}/transactions")).json()["items"]
    assert (statement[0]["amount_minor"], statement[0]["counterparty_account_id"]) == (
        expected,
        "internal:insurance-premiums",
    )


async def _refund_done(phone: Phone, policy_id: str) -> bool:
    policy = (await phone.get(f"/v1/insurance/policies/{policy_id}")).json()
    payment = policy["refund_payment"]
    return bool(
        payment and payment["step"] == "done" and "premium_refunded" in [h["action"] for h in policy["history"]]
    )


async def test_a_policy_with_a_claim_is_not_cancelled(customer: Phone) -> None:
    account_id = await funded(customer)
    policy = await purchase(customer, account_id)
    claim = {
        "policy_id": policy["id"],
        "kind": "accidental_injury",
        "amount": "10.00",
        "incident_date": policy["starts_on"],
    }
    claim_id = (await customer.post("/v1/insurance/claims", json=claim)).json()["id"]

    assert_problem(await customer.post(f"/v1/insurance/policies/{policy['id']}/cancel"), 409, "policy-has-claims")
    assert (await customer.get(f"/v1/insurance/policies/{policy['id']}")).json()["status"] == "active"
    assert (await claim_reaches(customer, claim_id, "reported"))["policy_id"] == policy["id"]
    assert await customer.balance(account_id) == 1_000_00 - 60_00


async def test_a_policy_near_its_end_is_renewed_for_the_next_term(customer: Phone) -> None:
    account_id = await funded(customer)
    year = await purchase(customer, account_id)
    trip = await purchase(customer, account_id, "travel", term_days=7, sum_insured="300000.00")
    renew = {"account_id": account_id}

    r = await customer.post(
        f"/v1/insurance/policies/{year['id']}/renew", json=renew, headers={"Idempotency-Key": str(uuid.uuid4())}
    )
    assert "renewal opens on" in assert_problem(r, 409, "policy-not-renewable")["detail"]
    key = str(uuid.uuid4())
    r = await customer.post(f"/v1/insurance/policies/{trip['id']}/renew", json=renew, headers={"Idempotency-Key": key})
    again = await customer.post(
        f"/v1/insurance/policies/{trip['id']}/renew", json=renew, headers={"Idempotency-Key": key}
    )

    assert r.status_code == again.status_code == 202, r.text
    assert again.json()["id"] == r.json()["id"]
    renewal = await paid(customer, r.json()["id"])
    next_day = str(date.fromisoformat(trip["ends_on"]) + timedelta(1))
    assert (renewal["status"], renewal["starts_on"], renewal["renewal_of"]) == ("pending", next_day, trip["id"])
    assert renewal["premium_payment"]["step"] == "done" and renewal["premium_minor"] == trip["premium_minor"]
    assert (await customer.get(f"/v1/insurance/policies/{trip['id']}")).json()["renewed_by"] == renewal["id"]
    r = await customer.post(
        f"/v1/insurance/policies/{trip['id']}/renew", json=renew, headers={"Idempotency-Key": str(uuid.uuid4())}
    )
    assert_problem(r, 409, "already-renewed")
    assert await customer.balance(account_id) == 1_000_00 - 60_00 - 2 * trip["premium_minor"]
    await notified(customer, "policy_issued", renewal["id"])


def resident_id(born: date, seq: str) -> str:
    """A resident ID number with a valid check digit (GB 11643, ISO 7064 MOD 11-2)."""
    first17 = "110105" + born.strftime("%Y%m%d") + seq
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return first17 + "10X98765432"[sum(int(d) * w for d, w in zip(first17, weights, strict=True)) % 11]


async def test_a_policy_names_its_insured_person_and_beneficiaries(customer: Phone) -> None:
    account_id = await funded(customer)
    day = await today(customer)
    insured_id = resident_id(date(day.year - 30, 1, 1), "123")  # 30 years old today, as quoted
    insured = {"name": "Li Wei", "id_type": "resident_id", "id_number": insured_id, "relationship": "self"}
    spouse = {"name": "Wang Fang", "id_type": "resident_id", "id_number": resident_id(date(1994, 5, 6), "224")}
    child = {"name": "Li Xiao", "id_type": "passport", "id_number": "E12345678", "relationship": "child"}
    beneficiaries = [spouse | {"relationship": "spouse", "share_pct": 60}, child | {"share_pct": 40}]
    quote_id = await quoted(customer)

    short = [beneficiaries[0], child | {"share_pct": 30}]
    body = assert_problem(
        await buying(customer, quote_id, account_id, insured=insured, beneficiaries=short), 422, "beneficiary-shares"
    )
    assert "90%" in body["detail"]
    wrong = insured | {"id_number": insured_id[:17] + ("0" if insured_id[17] != "0" else "1")}
    assert_problem(await buying(customer, quote_id, account_id, insured=wrong), 422, "invalid-insured-person")
    older = insured | {"id_number": resident_id(date(day.year - 41, 1, 1), "123")}
    r = await buying(customer, quote_id, account_id, insured=older)
    assert "age of 41" in assert_problem(r, 422, "invalid-insured-person")["detail"]
    assert (await customer.get("/v1/insurance/policies")).json()["items"] == []

    r = await buying(customer, quote_id, account_id, insured=insured, beneficiaries=beneficiaries)
    assert r.status_code == 202, r.text
    policy = await paid(customer, r.json()["id"])

    assert policy["status"] == "active"
    assert policy["insured"] == insured | {"id_number": insured_id[:3] + "*" * 11 + insured_id[-4:], "share_pct": None}
    assert [(b["name"], b["relationship"], b["share_pct"]) for b in policy["beneficiaries"]] == [
        ("Wang Fang", "spouse", 60),
        ("Li Xiao", "child", 40),
    ]
    assert policy["beneficiaries"][1]["id_number"] == "E12**5678"
    assert await customer.balance(account_id) == 1_000_00 - 60_00


async def test_an_adjuster_asks_for_more_then_approves_less_and_the_deductible_is_taken(
    customer: Phone, gateway: httpx.AsyncClient, operator_headers: dict[str, str], adjusters: list[dict[str, str]]
) -> None:
    account_id = await funded(customer)
    policy = await purchase(customer, account_id, "short_term_health")
    assert policy["premium_minor"] == 300_00
    day = await move_clock(gateway, operator_headers, 31)  # past the 30-day waiting period
    body = {"policy_id": policy["id"], "kind": "outpatient", "amount": "1500.00", "incident_date": str(day)}
    claim_id = (await customer.post("/v1/insurance/claims", json=body)).json()["id"]
    invoice = {"kind": "medical_invoice", "name": "invoice.pdf", "size_bytes": 48_213, "checksum": "a" * 64}
    assert (await customer.post(f"/v1/insurance/claims/{claim_id}/documents", json=invoice)).status_code == 201
    claim = (await customer.post(f"/v1/insurance/claims/{claim_id}/submit")).json()
    assert (claim["status"], claim["approvals_required"], claim["deductible"]) == ("under_assessment", 1, "100.00")
    decision = f"/v1/adjuster/claims/{claim_id}/decision"

    no_reason = await customer.client.post(decision, json={"decision": "request_info"}, headers=adjusters[0])
    assert_problem(no_reason, 422, "reason-required")
    ask = {"decision": "request_info", "reason": "Please add the itemised invoice from the clinic."}
    r = await customer.client.post(decision, json=ask, headers=adjusters[0])

    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["info_request"]) == ("info_requested", ask["reason"])
    note = await eventually(lambda: _claim_note(customer, claim_id, "info_requested"))
    assert ask["reason"] in note["body"]
    r = await customer.client.post(decision, json={"decision": "approve"}, headers=adjusters[0])
    assert_problem(r, 409, "invalid-transition")
    itemised = invoice | {"kind": "other", "name": "itemised.pdf", "checksum": "b" * 64}
    assert (await customer.post(f"/v1/insurance/claims/{claim_id}/documents", json=itemised)).status_code == 201
    assert (await customer.post(f"/v1/insurance/claims/{claim_id}/submit")).json()["status"] == "under_assessment"

    less = {"decision": "approve", "amount": "1200.00"}
    assert_problem(await customer.client.post(decision, json=less, headers=adjusters[0]), 422, "reason-required")
    more = {"decision": "approve", "amount": "1500.01", "reason": "x"}
    assert_problem(
        await customer.client.post(decision, json=more, headers=adjusters[0]), 422, "invalid-approved-amount"
    )
    r = await customer.client.post(
        decision, json=less | {"reason": "The massage sessions are not covered"}, headers=adjusters[0]
    )

    assert r.status_code == 200, r.text
    approved = r.json()
    assert (approved["status"], approved["approved_amount"], approved["deductible"], approved["payout_amount"]) == (
        "approved",
        "1200.00",
        "100.00",
        "1100.00",
    )
    closed = await claim_reaches(customer, claim_id, "closed")
    actions = [h["action"] for h in closed["history"]]
    assert actions.count("assessment_started") == 2 and "info_requested" in actions
    assert await customer.balance(account_id) == 1_000_00 - 300_00 + 1_100_00
    note = await eventually(lambda: _claim_note(customer, claim_id, "approved"))
    assert "1200.00" in note["body"] and "100.00" in note["body"] and "1100.00" in note["body"]
    policy = (await customer.get(f"/v1/insurance/policies/{policy['id']}")).json()
    assert policy["remaining_sum_insured_minor"] == 100_000_00 - 1_100_00


async def _claim_note(phone: Phone, claim_id: str, status: str) -> dict[str, Any] | None:
    items = (await phone.get("/v1/notifications", params={"limit": 100})).json()["items"]
    wanted = {"claim_id": claim_id, "status": status}
    return next((n for n in items if n["kind"] == "claim_status_changed" and wanted.items() <= n["data"].items()), None)
