"""The plainest bank: what `make bench` holds Sandbank against.

One FastAPI process under uvicorn, one SQLite file, no broker, no services: a transfer is
one SQLite transaction (check the payer's balance, debit, credit, write the transfer),
answered when it has committed. It takes the same `POST /v1/payments/transfers` body as
the gateway and answers in the same shape (202, a payment whose status is `completed`, or
`failed` with the reason `insufficient_funds`), honouring `Idempotency-Key` per customer,
so `bench.transfers` drives both with one load generator (`--against-plain`).

It is what a user could write in an afternoon instead of Sandbank: a bearer token per
customer, account ownership checked, money in minor units, problem+json errors. It has
none of Sandbank's outbox, inbox, sagas, signatures, traces or separate ledgers; the
ratio of the two CPU-per-transfer figures is the price of those, and of everything else.

    python -m bench.plainbank --db /tmp/plain.sqlite --port 8099
"""

from __future__ import annotations

import argparse
import secrets
import sqlite3
import uuid
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

SCHEMA = """
CREATE TABLE IF NOT EXISTS accounts (
    id TEXT PRIMARY KEY, owner TEXT NOT NULL, balance_minor INTEGER NOT NULL, opened_minor INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS transfers (
    id TEXT PRIMARY KEY, owner TEXT NOT NULL, idempotency_key TEXT NOT NULL,
    payer TEXT NOT NULL, payee TEXT NOT NULL, amount_minor INTEGER NOT NULL, status TEXT NOT NULL,
    reason TEXT, note TEXT NOT NULL, created_at TEXT NOT NULL,
    UNIQUE (owner, idempotency_key)
);
"""
AccountId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9:._-]{1,64}$")]


class TransferIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    payer_account_id: AccountId
    payee_account_id: AccountId
    amount: str = Field(pattern=r"^\d{1,12}(\.\d{1,2})?$")
    currency: str = Field(default="CNY", max_length=3)
    note: str = Field(default="", max_length=140)


class CustomerIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    balance: str = Field(default="0.00", pattern=r"^\d{1,12}(\.\d{1,2})?$")


def problem(status: int, title: str, detail: str) -> JSONResponse:
    return JSONResponse(
        {"type": "about:blank", "title": title, "status": status, "detail": detail},
        status_code=status,
        media_type="application/problem+json",
    )


def minor(amount: str) -> int:
    try:
        return int(Decimal(amount) * 100)
    except InvalidOperation as exc:
        raise ValueError(amount) from exc


def money(amount_minor: int) -> str:
    return f"{amount_minor // 100}.{amount_minor % 100:02d}"


def payment(row: sqlite3.Row | tuple[Any, ...]) -> dict[str, Any]:
    """A transfer in the gateway's payment shape (shared.schemas.payments.PaymentPublic)."""
    pid, payer, payee, amount_minor, status, reason, note, created = row
    return {
        "id": pid,
        "kind": "transfer",
        "status": status,
        "stage": status,
        "amount": money(amount_minor),
        "amount_minor": amount_minor,
        "currency": "CNY",
        "direction": "outgoing",
        "payer_account_id": payer,
        "payer_label": "",
        "payee": {"account_id": payee},
        "note": note,
        "reason": reason,
        "detail": None,
        "created_at": created,
        "updated_at": created,
        "completed_at": created if status == "completed" else None,
        "links": {"self": f"/v1/payments/{pid}"},
    }


class PlainBank:
    """One SQLite connection, used from the event loop only: each request's transaction
    runs to its commit without awaiting, so no two interleave."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        # The same durability Sandbank's SQLite runs with (shared/db.py).
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)
        self.tokens: dict[str, str] = {}  # bearer token -> customer

    def customer(self, authorization: str | None) -> str | None:
        scheme, _, token = (authorization or "").partition(" ")
        return self.tokens.get(token) if scheme.lower() == "bearer" else None

    def open_account(self, balance_minor: int) -> dict[str, str]:
        owner, token, account = str(uuid.uuid4()), secrets.token_urlsafe(24), str(uuid.uuid4())
        self.db.execute(
            "INSERT INTO accounts (id, owner, balance_minor, opened_minor) VALUES (?, ?, ?, ?)",
            (account, owner, balance_minor, balance_minor),
        )
        self.tokens[token] = owner
        return {"access_token": token, "account_id": account}

    def transfer(self, owner: str, key: str, body: TransferIn, amount_minor: int) -> tuple[int, dict[str, Any]]:
        db = self.db
        db.execute("BEGIN IMMEDIATE")
        try:
            seen = db.execute(
                "SELECT id, payer, payee, amount_minor, status, reason, note, created_at FROM transfers "
                "WHERE owner = ? AND idempotency_key = ?",
                (owner, key),
            ).fetchone()
            if seen is not None:
                db.execute("COMMIT")
                return 202, payment(seen)
            payer = db.execute(
                "SELECT balance_minor FROM accounts WHERE id = ? AND owner = ?", (body.payer_account_id, owner)
            ).fetchone()
            payee = db.execute("SELECT 1 FROM accounts WHERE id = ?", (body.payee_account_id,)).fetchone()
            if payer is None or payee is None:
                db.execute("ROLLBACK")
                return 404, {"detail": "no such account of yours" if payer is None else "no such payee account"}
            status, reason = "completed", None
            if payer[0] < amount_minor:
                status, reason = "failed", "insufficient_funds"
            else:
                db.execute(
                    "UPDATE accounts SET balance_minor = balance_minor - ? WHERE id = ?",
                    (amount_minor, body.payer_account_id),
                )
                db.execute(
                    "UPDATE accounts SET balance_minor = balance_minor + ? WHERE id = ?",
                    (amount_minor, body.payee_account_id),
                )
            row = (
                str(uuid.uuid4()),
                body.payer_account_id,
                body.payee_account_id,
                amount_minor,
                status,
                reason,
                body.note,
                datetime.now(UTC).isoformat(),
            )
            db.execute(
                "INSERT INTO transfers (id, owner, idempotency_key, payer, payee, amount_minor, status, reason, "
                "note, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (row[0], owner, key, *row[1:]),
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return 202, payment(row)

    def ledger(self) -> dict[str, Any]:
        """Money adds up: what the accounts hold is what they were opened with, and none is
        below zero."""
        held, opened, negative = self.db.execute(
            "SELECT COALESCE(SUM(balance_minor), 0), COALESCE(SUM(opened_minor), 0), "
            "COALESCE(SUM(balance_minor < 0), 0) FROM accounts"
        ).fetchone()
        violations = []
        if held != opened:
            violations.append(f"accounts hold {held} but were opened with {opened}")
        if negative:
            violations.append(f"{negative} accounts below zero")
        return {"ok": not violations, "violations": violations}


def build(path: Path) -> FastAPI:
    app = FastAPI(title="The plainest bank", openapi_url=None, docs_url=None, redoc_url=None)
    bank = PlainBank(path)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return problem(422, "Unprocessable Entity", f"{where}: {first.get('msg', 'invalid')}")

    @app.post("/v1/plain/customers", status_code=201)
    async def open_customer(body: CustomerIn) -> dict[str, str]:
        """A customer with one funded account and a bearer token (the bench's setup)."""
        return bank.open_account(minor(body.balance))

    @app.post("/v1/payments/transfers", status_code=202, response_model=None)
    async def create_transfer(
        body: TransferIn,
        authorization: Annotated[str | None, Header()] = None,
        idempotency_key: Annotated[str | None, Header(max_length=128)] = None,
    ) -> JSONResponse | dict[str, Any]:
        owner = bank.customer(authorization)
        if owner is None:
            return problem(401, "Unauthorized", "log in first")
        if not idempotency_key:
            return problem(400, "Bad Request", "an Idempotency-Key header is required")
        amount_minor = minor(body.amount)
        if amount_minor <= 0:
            return problem(422, "Unprocessable Entity", "the amount must be above zero")
        status, answer = bank.transfer(owner, idempotency_key, body, amount_minor)
        if status != 202:
            return problem(status, "Not Found", answer["detail"])
        return JSONResponse(answer, status_code=202)

    @app.get("/v1/plain/ledger")
    async def ledger() -> dict[str, Any]:
        return bank.ledger()

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099)
    args = parser.parse_args(argv)
    uvicorn.run(build(args.db), host=args.host, port=args.port, access_log=False, log_level="warning")


if __name__ == "__main__":
    main()
