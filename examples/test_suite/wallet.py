"""Stands for your app: code that talks to a bank's API. Here it splits a bill between
friends by transfers; the tests check what it does against a real (sandbox) bank.

It knows nothing of Sandbank's test helpers: it gets a gateway URL and a customer's token,
as your app would get them from its configuration and its login screen.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import httpx


@dataclass
class Outcome:
    payment_id: str
    status: str  # completed or failed
    reason: str | None


class Wallet:
    def __init__(self, gateway_url: str, access_token: str) -> None:
        self.http = httpx.Client(base_url=gateway_url, headers={"authorization": f"Bearer {access_token}"}, timeout=10)

    def pay(self, from_account: str, to_account: str, amount: str, wait_s: float = 30) -> Outcome:
        """Pay and wait for the bank's answer: a transfer is accepted at once (202) and
        settles a moment later, through the bank's own messaging."""
        r = self.http.post(
            "/v1/payments/transfers",
            json={"payer_account_id": from_account, "payee_account_id": to_account, "amount": amount},
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        r.raise_for_status()
        payment_id = r.json()["id"]
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            payment = self.http.get(f"/v1/payments/{payment_id}").json()
            if payment["status"] != "pending":
                return Outcome(payment_id, payment["status"], payment.get("reason"))
            time.sleep(0.1)
        raise TimeoutError(f"payment {payment_id} still pending after {wait_s}s")

    def split_bill(self, from_account: str, friends: dict[str, str], total: str) -> list[Outcome]:
        """Pay each friend's account an equal share of `total` (a decimal string, CNY)."""
        cents = round(float(total) * 100) // len(friends)
        share = f"{cents // 100}.{cents % 100:02d}"
        return [self.pay(from_account, account, share) for account in friends.values()]

    def close(self) -> None:
        self.http.close()
