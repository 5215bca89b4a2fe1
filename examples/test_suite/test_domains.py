"""Customers ready for each domain: an investor with securities cash, a policyholder
with an active policy who claims and is paid."""

from __future__ import annotations

import hashlib
import uuid

from sandbank_testing import Customer, eventually


def test_an_investor_moves_cash_back_to_the_bank(sandbank_investor: Customer) -> None:
    assert sandbank_investor.balance(sandbank_investor.securities) == 5_000_00

    r = sandbank_investor.client.post(
        "/v1/securities/transfers",
        json={"from": "securities", "amount": "1200.00"},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    assert r.status_code == 202, r.text

    def settled() -> dict | None:
        body = sandbank_investor.client.get(f"/v1/securities/transfers/{r.json()['id']}").json()
        return body if body["status"] != "pending" else None

    assert eventually(settled)["status"] == "completed"
    assert sandbank_investor.balance(sandbank_investor.securities) == 3_800_00
    assert sandbank_investor.balance() == 10_000_00 - 5_000_00 + 1_200_00


def test_a_small_claim_is_paid_automatically(sandbank_policyholder: Customer) -> None:
    policy, client = sandbank_policyholder.policy, sandbank_policyholder.client
    before = sandbank_policyholder.balance()
    claim = {"policy_id": policy["id"], "kind": "accidental_injury", "amount": "500.00"}
    r = client.post("/v1/insurance/claims", json={**claim, "incident_date": policy["starts_on"]})
    assert r.status_code == 201, r.text
    claim_id = r.json()["id"]
    for kind in ("accident_report", "medical_invoice"):
        document = {"kind": kind, "name": f"{kind}.jpg", "size_bytes": 182_004}
        document["checksum"] = hashlib.sha256(f"{claim_id}/{kind}".encode()).hexdigest()
        assert client.post(f"/v1/insurance/claims/{claim_id}/documents", json=document).status_code == 201

    assert client.post(f"/v1/insurance/claims/{claim_id}/submit").json()["status"] == "approved"

    def closed() -> dict | None:
        body = client.get(f"/v1/insurance/claims/{claim_id}").json()
        return body if body["status"] == "closed" else None

    eventually(closed, timeout_s=20)
    assert sandbank_policyholder.balance() == before + 500_00
