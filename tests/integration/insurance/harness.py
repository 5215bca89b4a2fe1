"""The insurance service under test beside accounts: customers and money set up through
accounts, quotes, purchases and claims through insurance's HTTP API, and the story
watched on insurance.events."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import select

from services.insurance import store
from services.insurance.handlers import Context
from shared.events import Envelope
from tests.integration.harness import AccountHolder, Bank, Tap, eventually

PREMIUMS = "internal:insurance-premiums"
CLAIMS = "internal:insurance-claims"
SETTLE_TIMEOUT_S = 20.0
# The documents each kind of claim needs (the catalogue's rule, restated for the tests).
DOCUMENTS = {
    "accidental_injury": ("accident_report", "medical_invoice"),
    "accidental_disability": ("accident_report", "disability_assessment"),
    "outpatient": ("medical_invoice",),
    "hospitalisation": ("discharge_summary", "medical_invoice"),
    "screen_damage": ("device_photo", "repair_quote"),
}


@dataclass(frozen=True)
class Insured(AccountHolder):
    account_id: str


def checksum() -> str:
    return hashlib.sha256(uuid.uuid4().bytes).hexdigest()


@dataclass
class Insurer:
    """insurance (its HTTP API and insurance.events) with the accounts `Bank` it is paid through."""

    backend: str
    app: Any
    http: httpx.AsyncClient
    bank: Bank
    tap: Tap  # insurance.events
    involved: list[str] = field(default_factory=list)

    @property
    def ctx(self) -> Context:
        return self.app.state.ctx  # type: ignore[no-any-return]

    async def unfinished_sagas(self) -> list[str]:
        async with self.app.state.runtime.db.read() as session:
            return list((await session.scalars(select(store.Saga.id).where(store.Saga.outcome.is_(None)))).all())

    async def faults(self, mode: str, duration_s: float = 60) -> dict[str, Any]:
        """The sandbox's fault on insurance's outgoing messages, as the gateway sets it."""
        token = self.bank.tokens.service_token("gateway")
        r = await self.http.put(
            "/internal/faults",
            json={"mode": mode, "duration_s": duration_s},
            headers={"authorization": f"Bearer {token}"},
        )
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    # --- people -------------------------------------------------------------------------

    async def customer(self, amount_minor: int = 100_000_00, *, kyc_class: str = "I") -> Insured:
        customer, account_id = await self.bank.funded_account(amount_minor, kyc_class=kyc_class)
        self.involved.append(account_id)
        return Insured(customer, account_id)

    def adjuster(self, adjuster_id: str | None = None, roles: tuple[str, ...] = ("adjuster",)) -> dict[str, str]:
        token = self.bank.tokens.issue(adjuster_id or f"adjuster-{uuid.uuid4().hex[:8]}", list(roles))
        return {"authorization": f"Bearer {token}"}

    async def balance(self, account_id: str) -> int:
        return int((await self.bank.account(account_id))["balance_minor"])

    # --- quotes and policies ---------------------------------------------------------------

    async def quote(
        self,
        who: Insured,
        product: str = "personal_accident",
        *,
        age: int = 30,
        term_days: int = 365,
        sum_insured: str = "100000.00",
    ) -> dict[str, Any]:
        r = await self.http.post(
            "/v1/insurance/quotes",
            json={"product_code": product, "age": age, "term_days": term_days, "sum_insured": sum_insured},
            headers=who.headers,
        )
        assert r.status_code == 201, r.text
        return r.json()  # type: ignore[no-any-return]

    async def purchase(
        self, who: Insured, quote_id: str, *, account_id: str | None = None, key: str | None = None
    ) -> httpx.Response:
        return await self.http.post(
            "/v1/insurance/policies",
            json={"quote_id": quote_id, "account_id": account_id or who.account_id},
            headers={**who.headers, "Idempotency-Key": key or str(uuid.uuid4())},
        )

    async def policy(self, who: Insured, policy_id: str) -> dict[str, Any]:
        r = await self.http.get(f"/v1/insurance/policies/{policy_id}", headers=who.headers)
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    async def settled_policy(self, who: Insured, policy_id: str) -> dict[str, Any]:
        async def probe() -> dict[str, Any] | None:
            policy = await self.policy(who, policy_id)
            return policy if policy["status"] != "pending" else None

        return await eventually(probe, f"policy {policy_id} settled")  # type: ignore[no-any-return]

    async def active_policy(self, who: Insured, product: str = "personal_accident", **quote: Any) -> dict[str, Any]:
        """Quote, buy and wait: a policy the customer holds."""
        q = await self.quote(who, product, **quote)
        r = await self.purchase(who, q["id"])
        assert r.status_code == 202, r.text
        policy = await self.settled_policy(who, r.json()["id"])
        assert policy["status"] == "active", policy
        return policy

    # --- claims --------------------------------------------------------------------------------

    async def report(
        self, who: Insured, policy: dict[str, Any], kind: str, amount: str, **extra: Any
    ) -> httpx.Response:
        body = {"policy_id": policy["id"], "kind": kind, "amount": amount, "incident_date": policy["starts_on"]}
        return await self.http.post("/v1/insurance/claims", json=body | extra, headers=who.headers)

    async def add_document(self, who: Insured, claim_id: str, kind: str, digest: str | None = None) -> httpx.Response:
        return await self.http.post(
            f"/v1/insurance/claims/{claim_id}/documents",
            json={"kind": kind, "name": f"{kind}.pdf", "size_bytes": 48_213, "checksum": digest or checksum()},
            headers=who.headers,
        )

    async def submit(self, who: Insured, claim_id: str) -> httpx.Response:
        return await self.http.post(f"/v1/insurance/claims/{claim_id}/submit", headers=who.headers)

    async def file(
        self,
        who: Insured,
        policy: dict[str, Any],
        kind: str,
        amount: str,
        *,
        documents: tuple[str, ...] | None = None,
        **extra: Any,
    ) -> dict[str, Any]:
        """Report a claim, add its documents (the required ones unless told) and submit it."""
        r = await self.report(who, policy, kind, amount, **extra)
        assert r.status_code == 201, r.text
        claim_id = r.json()["id"]
        for doc in DOCUMENTS[kind] if documents is None else documents:
            added = await self.add_document(who, claim_id, doc)
            assert added.status_code == 201, added.text
        r = await self.submit(who, claim_id)
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    async def claim(self, who: Insured, claim_id: str) -> dict[str, Any]:
        r = await self.http.get(f"/v1/insurance/claims/{claim_id}", headers=who.headers)
        assert r.status_code == 200, r.text
        return r.json()  # type: ignore[no-any-return]

    async def claim_reaches(self, who: Insured, claim_id: str, status: str) -> dict[str, Any]:
        async def probe() -> dict[str, Any] | None:
            claim = await self.claim(who, claim_id)
            return claim if claim["status"] == status else None

        return await eventually(probe, f"claim {claim_id} {status}")  # type: ignore[no-any-return]

    async def decide(
        self, headers: dict[str, str], claim_id: str, decision: str, reason: str | None = None
    ) -> httpx.Response:
        body = {"decision": decision} | ({"reason": reason} if reason else {})
        return await self.http.post(f"/v1/adjuster/claims/{claim_id}/decision", json=body, headers=headers)

    # --- insurance.events ------------------------------------------------------------------------

    async def story(self, subject: str, last: str) -> list[Envelope]:
        """insurance.events about one policy or claim, up to the event of type `last`."""
        await self.tap.wait_for(
            lambda s: s.envelope is not None and s.envelope.subject == subject and s.envelope.type == last,
            what=f"{last} for {subject}",
            timeout_s=SETTLE_TIMEOUT_S,
        )
        return [s.envelope for s in self.tap.seen if s.envelope is not None and s.envelope.subject == subject]


def types(envelopes: list[Envelope]) -> list[str]:
    return [e.type.removeprefix("insurance.") for e in envelopes]


def actions(resource: dict[str, Any]) -> list[str]:
    return [h["action"] for h in resource["history"]]
