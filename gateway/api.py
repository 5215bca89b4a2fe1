"""The mobile client's API: auth, accounts, sandbox deposits and operator checks.

Account queries pass through to the accounts service, which verifies the token
itself; the gateway adds session checks, idempotency and the deposit flow.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from gateway import store
from gateway.idempotency import Claim, Idempotency, fingerprint, read_key
from gateway.schemas import (
    DepositCreate,
    DepositPublic,
    LoginRequest,
    MeResponse,
    RefreshRequest,
    RegisterRequest,
    RegisterResponse,
    TokenPair,
)
from gateway.sessions import Authenticated, Sessions
from gateway.upstream import UpstreamResponse, Upstreams, raise_for_problem
from shared.auth import ROLE_CUSTOMER, ROLE_OPERATOR, Principal
from shared.events import accounts as ev
from shared.money import InvalidAmount, format_minor, to_minor
from shared.phone import normalise_phone
from shared.problems import PROBLEM_JSON, Problem, not_found
from shared.runtime import Runtime
from shared.schemas.accounts import (
    AccountCreate,
    AccountList,
    AccountPublic,
    LedgerCheck,
    TransactionPage,
)

CASH_IN = "internal:cash-in"
NEW_CUSTOMER_CLASS = "II"

PROBLEM = {"content": {PROBLEM_JSON: {}}, "description": "Problem details (RFC 9457)"}


async def _sessions(request: Request) -> Sessions:
    return request.app.state.sessions  # type: ignore[no-any-return]


async def _upstreams(request: Request) -> Upstreams:
    return request.app.state.upstreams  # type: ignore[no-any-return]


SessionsDep = Annotated[Sessions, Depends(_sessions)]
UpstreamsDep = Annotated[Upstreams, Depends(_upstreams)]


async def customer(principal: Authenticated) -> Principal:
    if not principal.has(ROLE_CUSTOMER):
        raise Problem(403, "forbidden", "this operation is for customers")
    return principal


async def operator(principal: Authenticated) -> Principal:
    if not principal.has(ROLE_OPERATOR):
        raise Problem(403, "forbidden", "this operation needs the operator role")
    return principal


Customer = Annotated[Principal, Depends(customer)]
Operator = Annotated[Principal, Depends(operator)]

auth = APIRouter(prefix="/v1", tags=["auth"], responses={400: PROBLEM, 401: PROBLEM, 422: PROBLEM})


@auth.post("/auth/register", status_code=201, response_model=RegisterResponse, responses={409: PROBLEM})
async def register(
    body: RegisterRequest, request: Request, sessions: SessionsDep, upstreams: UpstreamsDep
) -> RegisterResponse:
    """Register a customer with a phone number and password. New customers start at
    KYC class II (remote-opened: daily payment limits apply)."""
    if await sessions.phone_taken(body.phone):
        raise _phone_taken()
    # Derived from the phone so a registration interrupted between accounts and the
    # gateway can simply be repeated (accounts creates customers idempotently by id).
    customer_id = str(uuid.uuid5(request.app.state.id_namespace, body.phone))
    response = await upstreams.call(
        "accounts",
        "POST",
        "/internal/customers",
        token=request.app.state.service_token(),
        json={"customer_id": customer_id, "phone": body.phone, "name": body.name, "kyc_class": NEW_CUSTOMER_CLASS},
    )
    if response.status_code == 409:
        raise _phone_taken()
    raise_for_problem(response)
    try:
        await sessions.add_user(
            user_id=customer_id, phone=body.phone, name=body.name, password=body.password, roles=[ROLE_CUSTOMER]
        )
    except IntegrityError:
        raise _phone_taken() from None
    return RegisterResponse(customer_id=customer_id, phone=body.phone, name=body.name, kyc_class=NEW_CUSTOMER_CLASS)


def _phone_taken() -> Problem:
    return Problem(409, "phone-taken", "a customer with this phone number is already registered")


@auth.post("/auth/login", response_model=TokenPair)
async def login(body: LoginRequest, sessions: SessionsDep) -> dict[str, object]:
    """Log in on a device. Returns a short-lived access token and a refresh token
    bound to a new session for `device_id`."""
    try:
        phone = normalise_phone(body.phone)
    except ValueError:
        phone = body.phone
    return await sessions.login(phone, body.password, body.device_id)


@auth.post("/auth/refresh", response_model=TokenPair)
async def refresh(body: RefreshRequest, sessions: SessionsDep) -> dict[str, object]:
    """Trade a refresh token for a new pair. Each refresh token works once; using one
    twice revokes the session."""
    return await sessions.refresh(body.refresh_token)


@auth.post("/auth/logout", status_code=204, response_class=Response)
async def logout(principal: Authenticated, sessions: SessionsDep) -> Response:
    """End the current session: its access and refresh tokens stop working."""
    assert principal.session_id is not None
    await sessions.revoke(principal.session_id, "logout")
    return Response(status_code=204)


@auth.get("/me", response_model=MeResponse)
async def me(principal: Authenticated, sessions: SessionsDep, upstreams: UpstreamsDep) -> MeResponse:
    """Who is logged in, with roles and (for customers) the KYC class."""
    user = await sessions.user(principal.subject)
    if user is None:
        raise not_found("user", principal.subject)
    kyc_class = None
    if principal.has(ROLE_CUSTOMER):
        profile = await upstreams.call("accounts", "GET", "/v1/customers/me", token=principal.token)
        if profile.status_code == 200:
            kyc_class = profile.json().get("kyc_class")
    return MeResponse(
        id=user.id,
        phone=user.phone,
        name=user.name,
        roles=list(user.roles),
        kyc_class=kyc_class,
        session_id=principal.session_id,
    )


accounts = APIRouter(prefix="/v1", tags=["accounts"], responses={401: PROBLEM, 404: PROBLEM})


@accounts.get("/accounts", response_model=AccountList)
async def list_accounts(request: Request, principal: Customer, upstreams: UpstreamsDep) -> Response:
    """The customer's accounts with ledger and available balances."""
    return await upstreams.forward("accounts", request, "/v1/accounts", token=principal.token)


@accounts.post("/accounts", status_code=201, response_model=AccountPublic, responses={422: PROBLEM, 409: PROBLEM})
async def open_account(
    _body: AccountCreate, request: Request, principal: Customer, upstreams: UpstreamsDep
) -> Response:
    """Open a checking, savings or securities cash account (CNY, zero balance)."""
    return await upstreams.forward("accounts", request, "/v1/accounts", token=principal.token)


@accounts.get("/accounts/{account_id}", response_model=AccountPublic)
async def get_account(account_id: str, request: Request, principal: Customer, upstreams: UpstreamsDep) -> Response:
    """One of the customer's accounts. Another customer's account answers 404."""
    return await upstreams.forward("accounts", request, f"/v1/accounts/{account_id}", token=principal.token)


@accounts.get("/accounts/{account_id}/transactions", response_model=TransactionPage)
async def list_transactions(
    account_id: str,
    request: Request,
    principal: Customer,
    upstreams: UpstreamsDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=40)] = None,
) -> Response:
    """The statement, newest first; follow `next_cursor` for older lines."""
    return await upstreams.forward(
        "accounts", request, f"/v1/accounts/{account_id}/transactions", token=principal.token
    )


admin = APIRouter(prefix="/v1/admin", tags=["operator"], responses={401: PROBLEM, 403: PROBLEM})


@admin.get("/ledger/check", response_model=LedgerCheck)
async def ledger_check(request: Request, principal: Operator, upstreams: UpstreamsDep) -> Response:
    """Run the ledger invariant check (operators only): balances sum to zero per
    currency, every entry balances, no available balance below zero, no stale hold."""
    return await upstreams.forward("accounts", request, "/v1/admin/ledger/check", token=principal.token)


sandbox = APIRouter(prefix="/v1/sandbox", tags=["sandbox"], responses={400: PROBLEM, 401: PROBLEM, 404: PROBLEM})


async def _sandbox_only(request: Request) -> None:
    if not request.app.state.settings.sandbox:
        raise Problem(404, "not-found", "sandbox controls are off: the stack is not in sandbox mode")


def _deposit_public(d: store.Deposit) -> DepositPublic:
    return DepositPublic(
        id=d.id,
        account_id=d.account_id,
        amount=format_minor(d.amount_minor, d.currency),
        amount_minor=d.amount_minor,
        currency=d.currency,
        status=d.status,  # type: ignore[arg-type]
        reason=d.reason,
        detail=d.detail,
        created_at=d.created_at,
        links={"self": f"/v1/sandbox/deposits/{d.id}", "account": f"/v1/accounts/{d.account_id}"},
    )


@sandbox.post(
    "/deposits",
    status_code=202,
    response_model=DepositPublic,
    dependencies=[Depends(_sandbox_only)],
    responses={409: PROBLEM, 422: PROBLEM},
)
async def create_deposit(
    body: DepositCreate, request: Request, principal: Customer, upstreams: UpstreamsDep
) -> Response:
    """Fund one of your accounts from the sandbox's external cash-in account.

    Answers 202 with a pending deposit: the credit travels to accounts as a
    `accounts.CreditAccount` command and the deposit completes (or fails, e.g. above
    a class III balance cap) when accounts replies. An `Idempotency-Key` header makes
    retries safe: the same key and body replay the first answer."""
    key = read_key(request, required=False)
    if body.currency != "CNY":
        raise Problem(422, "unsupported-currency", f"currency {body.currency!r} is not supported; use CNY")
    try:
        amount_minor = to_minor(body.amount, body.currency)
    except InvalidAmount as exc:
        raise Problem(422, "invalid-amount", str(exc)) from None
    runtime: Runtime = request.app.state.runtime
    idempotency: Idempotency = request.app.state.idempotency
    claim: Claim | None = None
    if key is not None:
        outcome = await idempotency.begin(principal.subject, key, fingerprint(request, await request.body()))
        if isinstance(outcome, Response):
            return outcome
        claim = outcome
    try:
        account = await upstreams.call("accounts", "GET", f"/v1/accounts/{body.account_id}", token=principal.token)
        raise_for_problem(account)
        now = request.app.state.clock.now()
        deposit = store.Deposit(
            id=str(uuid.uuid4()),
            customer_id=principal.subject,
            account_id=body.account_id,
            amount_minor=amount_minor,
            currency=body.currency,
            status="pending",
            created_at=now,
            updated_at=now,
        )
        public = _deposit_public(deposit)
        content = public.model_dump_json().encode()
        headers = {"location": public.links["self"], "content-type": "application/json"}
        async with runtime.unit_of_work() as uow:
            uow.session.add(deposit)
            uow.publish(
                ev.CreditAccount(
                    account_id=body.account_id,
                    credit_id=deposit.id,
                    source_account_id=CASH_IN,
                    amount_minor=amount_minor,
                    currency=body.currency,
                    description="Sandbox deposit",
                )
            )
            if claim is not None:
                await Idempotency.finish(uow.session, claim, 202, content, headers)
    except Problem as problem:
        if claim is not None:
            if problem.status < 500:
                await idempotency.complete(
                    claim, problem.status, orjson.dumps(problem.body()), {"content-type": PROBLEM_JSON}
                )
            else:
                await idempotency.abandon(claim)
        raise
    except BaseException:
        if claim is not None:
            await idempotency.abandon(claim)
        raise
    return Response(content, status_code=202, headers=headers)


@sandbox.get("/deposits/{deposit_id}", response_model=DepositPublic, dependencies=[Depends(_sandbox_only)])
async def get_deposit(deposit_id: str, request: Request, principal: Customer) -> DepositPublic:
    """A deposit's status: pending, completed, or failed with the reason."""
    runtime: Runtime = request.app.state.runtime
    async with runtime.db.read() as session:
        deposit = await session.scalar(
            select(store.Deposit).where(store.Deposit.id == deposit_id, store.Deposit.customer_id == principal.subject)
        )
    if deposit is None:
        raise not_found("deposit", deposit_id)
    return _deposit_public(deposit)


class ClockChange(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"advance_s": 86400}]})
    advance_s: float | None = Field(default=None, ge=0, le=365 * 86400, description="Move the clock forward")
    offset_s: float | None = Field(default=None, ge=0, le=10 * 365 * 86400, description="Set the offset outright")


CLOCK_PUBLIC_EXAMPLE = {
    "offset_s": 86400.0,
    "now": "2025-06-03T09:30:00.123456+00:00",
    "services": {"accounts": "ok", "payments": "ok", "securities": "ok", "insurance": "ok"},
}


class ClockPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [CLOCK_PUBLIC_EXAMPLE]})

    offset_s: float
    now: str
    services: dict[str, str]


SERVICES = ("accounts", "payments", "securities", "insurance")


@sandbox.post("/clock", response_model=ClockPublic, dependencies=[Depends(_sandbox_only)])
async def set_clock(body: ClockChange, request: Request, _operator: Operator, upstreams: UpstreamsDep) -> ClockPublic:
    """Advance or set the sandbox clock that T+1 settlement, waiting periods and daily
    limits read, in the gateway and every service (operators only). The clock only
    moves forward from real time: `offset_s` is how far ahead it runs."""
    clock = request.app.state.clock
    if (body.advance_s is None) == (body.offset_s is None):
        raise Problem(422, "validation-error", "give exactly one of advance_s or offset_s")
    token = request.app.state.service_token()
    if body.offset_s is not None:
        offset = body.offset_s
    else:
        # Advance from the furthest clock in the stack (a restarted process starts at real
        # time), so no clock ever moves backwards.
        current = await asyncio.gather(
            *(upstreams.call(s, "GET", "/internal/clock", token=token) for s in SERVICES), return_exceptions=True
        )
        offsets = [clock.offset.total_seconds()] + [
            float(r.json()["offset_s"]) for r in current if isinstance(r, UpstreamResponse) and r.status_code == 200
        ]
        offset = max(offsets) + (body.advance_s or 0)
    results = await asyncio.gather(
        *(upstreams.call(s, "PUT", "/internal/clock", token=token, json={"offset_s": offset}) for s in SERVICES),
        return_exceptions=True,
    )
    services = {
        s: "ok" if isinstance(r, UpstreamResponse) and r.status_code == 200 else "unavailable"
        for s, r in zip(SERVICES, results, strict=True)
    }
    clock.offset = timedelta(seconds=offset)
    return ClockPublic(offset_s=offset, now=clock.now().isoformat(), services=services)


routers = [auth, accounts, admin, sandbox]
