"""payments HTTP API for what an app shows around a payment: confirming a payee's name
before paying, the customer's saved payees, a completed payment's receipt and the day's
remaining limit."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from datetime import time as day_time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import PlainTextResponse
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from services.payments import domain, store
from services.payments.api import check_payable, new_device_day, paid_before, shown_payee_account, take_lookup
from services.payments.deps import AccountsDep, ContextDep, LookupsDep, RuntimeDep
from shared import payees
from shared.accounts_client import AccountsClient
from shared.auth import CurrentCustomer
from shared.clock import BANK_TZ
from shared.money import format_minor
from shared.pagination import SmallPageDep, newest_first, next_keyset
from shared.phone import normalise_phone
from shared.problems import PROBLEM, Problem, documents, not_found
from shared.saga.model import COMPLETED
from shared.schemas.payments import (
    NewDeviceLimitsPublic,
    PayeeLookup,
    PaymentLimits,
    PaymentReceipt,
    ReceiptParty,
    SavedPayeeCreate,
    SavedPayeePage,
    SavedPayeePublic,
)

router = APIRouter(prefix="/v1", tags=["payments"])


@documents({429: "too many payee look-ups: the allowance refills over a few minutes"})
async def _lookup_allowed(principal: CurrentCustomer, lookups: LookupsDep) -> None:
    take_lookup(lookups, principal.customer_id)


def _phone(text: str, slug: str) -> str:
    try:
        return normalise_phone(text)
    except ValueError as exc:
        raise Problem(422, slug, str(exc)) from None


async def _payee_account(directory: AccountsClient, account_id: str) -> tuple[str, str]:
    """(payee key, masked name) of a customer account that can take a CNY transfer: a
    securities cash account cannot (422, as a transfer into it answers)."""
    found = await directory.account(account_id)
    if found is None or found.customer_id is None or found.currency != "CNY":
        raise not_found("payee account", account_id)
    check_payable(found)
    return payees.account_payee(found.id), found.holder


async def _payee_phone(directory: AccountsClient, phone: str) -> tuple[str, str]:
    """(payee key, masked name) of the customer a transfer to `phone` pays."""
    customer = await directory.by_phone(phone)
    if customer is None or customer.default_account_id is None:
        raise Problem(404, "not-found", "no payee has this phone number: no Sandbank customer with a checking account")
    return payees.account_payee(customer.default_account_id), customer.holder


@router.get(
    "/payees/lookup",
    response_model=PayeeLookup,
    responses={404: PROBLEM, 422: PROBLEM},
    dependencies=[Depends(_lookup_allowed)],
)
async def look_up_payee(
    principal: CurrentCustomer,
    ctx: ContextDep,
    runtime: RuntimeDep,
    directory: AccountsDep,
    account_id: Annotated[str | None, Query(max_length=64)] = None,
    phone: Annotated[str | None, Query(max_length=30)] = None,
) -> PayeeLookup:
    """Confirm who a transfer would pay before sending it: the holder's masked name and
    whether you have paid them before, by `account_id` or by `phone` (exactly one). A phone
    look-up never shows the account behind the number. Each customer has a small allowance
    of look-ups (10 at once, then 2 a minute: `PAYMENTS_LOOKUP_BURST`,
    `PAYMENTS_LOOKUP_PER_MINUTE`), found or not; past it the answer is 429 with Retry-After."""
    if (account_id is None) == (phone is None):
        raise Problem(422, "invalid-payee", "give exactly one of account_id or phone")
    if phone is not None:
        number = _phone(phone, "invalid-payee")
        key, name = await _payee_phone(directory, number)
        found = PayeeLookup(kind="phone", name=name, phone=number, paid_before=False)
    else:
        key, name = await _payee_account(directory, account_id or "")
        found = PayeeLookup(kind="account", name=name, account_id=account_id, paid_before=False)
    found.paid_before = await paid_before(ctx, runtime, principal.customer_id, key)
    # The name is shown now: paying this payee next spends no second look-up.
    ctx.met_payees.remember(principal.customer_id, key)
    return found


# --- saved payees -------------------------------------------------------------------------------


def saved_public(p: store.SavedPayee) -> SavedPayeePublic:
    return SavedPayeePublic(
        id=p.id,
        nickname=p.nickname,
        kind=p.kind,  # type: ignore[arg-type]
        name=p.name,
        phone=p.phone,
        account_id=p.account_id,
        created_at=p.created_at,
        links={"self": f"/v1/payees/{p.id}"},
    )


@router.post(
    "/payees",
    status_code=201,
    response_model=SavedPayeePublic,
    responses={409: PROBLEM, 422: PROBLEM},
    # Saving answers a name too: it spends the same allowance as a look-up.
    dependencies=[Depends(_lookup_allowed)],
)
async def save_payee(
    body: SavedPayeeCreate, principal: CurrentCustomer, ctx: ContextDep, runtime: RuntimeDep, directory: AccountsDep
) -> Response:
    """Save a payee under a nickname: an account id or a phone number (exactly one), which
    must belong to a Sandbank customer who can be paid (422 `unknown-payee` otherwise). The
    same account or number saved twice is 409 `payee-exists`. A save spends one of the
    customer's payee look-ups (429 past the allowance)."""
    if (body.account_id is None) == (body.phone is None):
        raise Problem(422, "invalid-payee", "give exactly one of account_id or phone")
    nickname = body.nickname.strip()
    if not nickname:
        raise Problem(422, "invalid-nickname", "the nickname is blank")
    try:
        if body.phone is not None:
            kind, ident = "phone", _phone(body.phone, "invalid-payee")
            key, name = await _payee_phone(directory, ident)
        else:
            kind, ident = "account", body.account_id or ""
            key, name = await _payee_account(directory, ident)
    except Problem as exc:
        if exc.status != 404:
            raise
        raise Problem(422, "unknown-payee", str(exc)) from None
    payee = store.SavedPayee(
        id=str(uuid.uuid4()),
        customer_id=principal.customer_id,
        nickname=nickname,
        kind=kind,
        account_id=ident if kind == "account" else None,
        phone=ident if kind == "phone" else None,
        payee_ref=domain.saved_payee_ref(kind, ident),
        name=name,
        created_at=ctx.clock.now(),
    )
    try:
        async with runtime.unit_of_work() as uow:
            uow.session.add(payee)
    except IntegrityError:
        raise Problem(409, "payee-exists", f"this {kind} is already among your saved payees") from None
    ctx.met_payees.remember(principal.customer_id, key)
    public = saved_public(payee)
    return Response(
        public.model_dump_json(),
        status_code=201,
        media_type="application/json",
        headers={"location": public.links["self"]},
    )


@router.get("/payees", response_model=SavedPayeePage)
async def list_saved_payees(
    principal: CurrentCustomer,
    runtime: RuntimeDep,
    page: SmallPageDep,
) -> SavedPayeePage:
    """Your saved payees, newest first; follow `next_cursor` for older ones."""
    table = store.saved_payee_table
    query = select(store.SavedPayee).where(store.SavedPayee.customer_id == principal.customer_id)
    async with runtime.db.read() as session:
        rows = list((await session.scalars(newest_first(query, table.c, page.cursor, page.limit, of="payees"))).all())
    return SavedPayeePage(
        items=[saved_public(p) for p in rows[: page.limit]], next_cursor=next_keyset(rows, page.limit, of="payees")
    )


@router.get("/payees/{payee_id}", response_model=SavedPayeePublic, responses={404: PROBLEM})
async def get_saved_payee(payee_id: str, principal: CurrentCustomer, runtime: RuntimeDep) -> SavedPayeePublic:
    """One of your saved payees; another customer's is 404."""
    async with runtime.db.read() as session:
        payee = await store.saved_payee_of(session, principal.customer_id, payee_id)
    if payee is None:
        raise not_found("saved payee", payee_id)
    return saved_public(payee)


@router.delete("/payees/{payee_id}", status_code=204, responses={404: PROBLEM})
async def delete_saved_payee(payee_id: str, principal: CurrentCustomer, runtime: RuntimeDep) -> Response:
    """Remove a saved payee; another customer's is 404."""
    async with runtime.unit_of_work() as uow:
        payee = await store.saved_payee_of(uow.session, principal.customer_id, payee_id)
        if payee is None:
            raise not_found("saved payee", payee_id)
        await uow.session.delete(payee)
    return Response(status_code=204)


# --- receipts and limits ------------------------------------------------------------------------


def mask_account(account_id: str | None) -> str | None:
    """An account as a receipt shows it: its last four characters."""
    return None if not account_id else "****" + account_id[-4:]


@router.get("/payments/limits", response_model=PaymentLimits, responses={404: PROBLEM})
async def payment_limits(
    principal: CurrentCustomer, ctx: ContextDep, runtime: RuntimeDep, directory: AccountsDep
) -> PaymentLimits:
    """Your KYC class's limits: the most one payment may be, the most a bank day's
    payments out may add up to (classes II and III), what today has used (payments
    settled today plus those still holding funds) and what remains, on the bank's day
    (Beijing time). From a device signed in less than a day ago, `new_device` adds its
    lower limits, what today has left of them and until when they apply, and
    `payable_now` heeds them; on a trusted device `new_device` is null."""
    outflow = await directory.daily_outflow(principal.customer_id)
    if outflow is None:
        raise not_found("customer", principal.customer_id)
    # The per-payment limit follows the class the payments themselves are checked against.
    kyc_class = await store.payer_class_of(runtime.db, principal.customer_id) or outflow.kyc_class
    limits = domain.day_limits(kyc_class, outflow.daily_limit_minor, outflow.used_minor, ctx.saga.policy)
    new_device = await new_device_day(runtime, ctx, principal)
    payable_now = limits.payable_now_minor
    if new_device is not None:
        payable_now = min(m for m in (payable_now, new_device.payable_now_minor) if m is not None)

    def shown(minor: int | None) -> str | None:
        return None if minor is None else format_minor(minor)

    return PaymentLimits(
        kyc_class=limits.kyc_class,
        currency="CNY",
        day=outflow.day,
        per_payment=shown(limits.per_payment_minor),
        per_payment_minor=limits.per_payment_minor,
        daily=shown(limits.daily_minor),
        daily_minor=limits.daily_minor,
        used_today=format_minor(limits.used_minor),
        used_today_minor=limits.used_minor,
        remaining_today=shown(limits.remaining_minor),
        remaining_today_minor=limits.remaining_minor,
        payable_now=shown(payable_now),
        payable_now_minor=payable_now,
        resets_at=datetime.combine(outflow.day + timedelta(days=1), day_time(0), BANK_TZ),
        new_device=None if new_device is None else new_device_public(new_device),
    )


def new_device_public(day: domain.NewDeviceDay) -> NewDeviceLimitsPublic:
    return NewDeviceLimitsPublic(
        until=day.until,
        per_payment=format_minor(day.limits.per_payment_minor),
        per_payment_minor=day.limits.per_payment_minor,
        daily=format_minor(day.limits.daily_minor),
        daily_minor=day.limits.daily_minor,
        used_today=format_minor(day.used_minor),
        used_today_minor=day.used_minor,
        remaining_today=format_minor(day.remaining_minor),
        remaining_today_minor=day.remaining_minor,
    )


async def payer_name(p: domain.Payment, directory: AccountsClient) -> str:
    """The payer's masked name as the payment keeps it, or (a payment made before it was
    kept) as the accounts directory gives it now."""
    if p.payer_label:
        return p.payer_label
    payer = await directory.account(p.payer_account_id)
    return payer.holder if payer else ""


RECEIPT_AS_TEXT: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/plain": {"example": "Sandbank payment receipt\nPayment    e3b9c2d4-...\n..."}}},
    404: PROBLEM,
    409: PROBLEM,
}


def receipt_text(r: PaymentReceipt) -> str:
    """The receipt as lines to paste into a chat, times in Beijing time."""

    def at(moment: datetime) -> str:
        return moment.astimezone(BANK_TZ).strftime("%Y-%m-%d %H:%M:%S") + " (Beijing time)"

    def party(p: ReceiptParty) -> str:
        return f"{p.name}  {p.account}" if p.account else p.name

    lines = [
        "Sandbank payment receipt",
        f"Payment    {r.payment_id}",
        f"Kind       {r.kind}",
        f"Status     {r.status}",
        f"Amount     {r.amount} {r.currency}",
        f"From       {party(r.payer)}",
        f"To         {party(r.payee)}",
        *([f"Reference  {r.reference}"] if r.reference else []),
        *([f"Note       {r.note}"] if r.note else []),
        f"Entry      {r.entry_id}",
        f"Requested  {at(r.requested_at)}",
        f"Completed  {at(r.completed_at)}",
    ]
    return "\n".join(lines) + "\n"


@router.get("/payments/{payment_id}/receipt", response_model=PaymentReceipt, responses=RECEIPT_AS_TEXT)
async def payment_receipt(
    payment_id: str,
    principal: CurrentCustomer,
    runtime: RuntimeDep,
    directory: AccountsDep,
    format: Annotated[Literal["json", "text"], Query(description="`text`: plain lines to share")] = "json",
) -> Any:
    """A completed payment's receipt to share: amount, time, reference and the two
    parties by masked name and masked account, as JSON or (`?format=text`) plain text.
    The payer's (`direction` outgoing), and the payee's once the money has arrived
    (`incoming`, which shows the payee's own account masked and no account of the
    payer's, as the payment's incoming view does). Another customer's payment is 404, as
    is one paid to you that has not completed; your own payment not completed yet, or
    failed, has none (409)."""
    async with runtime.db.read() as session:
        p = await store.payment_by_id(session, payment_id)
    if p is None:
        raise not_found("payment", payment_id)
    outgoing = p.customer_id == principal.customer_id
    if not outgoing and not (p.payee_customer_id == principal.customer_id and p.outcome == COMPLETED):
        raise not_found("payment", payment_id)
    if domain.public_status(p) != "completed" or p.ended_at is None:
        raise Problem(409, "payment-not-completed", f"payment {payment_id} is {domain.public_status(p)}: no receipt")
    if outgoing:
        # A transfer to a phone number never shows the account the number pays into.
        payer_account, payee_account = p.payer_account_id, shown_payee_account(p)
    else:
        payer_account, payee_account = None, p.payee_account_id
    receipt = PaymentReceipt(
        payment_id=p.id,
        kind=p.kind,  # type: ignore[arg-type]
        status="completed",
        direction="outgoing" if outgoing else "incoming",
        amount=format_minor(p.amount_minor, p.currency),
        amount_minor=p.amount_minor,
        currency=p.currency,
        payer=ReceiptParty(name=await payer_name(p, directory), account=mask_account(payer_account)),
        payee=ReceiptParty(name=p.payee_label, account=mask_account(payee_account)),
        reference=p.reference,
        note=p.note,
        entry_id=p.entry_id or "",
        requested_at=p.created_at,
        completed_at=p.ended_at,
        links={"self": f"/v1/payments/{p.id}/receipt", "payment": f"/v1/payments/{p.id}"},
    )
    return PlainTextResponse(receipt_text(receipt)) if format == "text" else receipt


routers = [router]
