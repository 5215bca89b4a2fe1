"""Products, quotes and policy purchases."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.insurance import domain, store
from services.insurance.handlers.common import Actor, Context, new_uuid, premium_hold_id, record, short_ref, start_saga
from shared.events import insurance as ev
from shared.kafka.messaging import UnitOfWork


@dataclass(frozen=True)
class PayingAccount:
    """The account a premium is paid from, as accounts' directory shows it (the API has
    checked that it is the customer's own)."""

    id: str
    kind: str
    currency: str


async def seed_products(ctx: Context, uow: UnitOfWork) -> None:
    """Write the code's catalogue into the product table (new products, new versions)."""
    now = ctx.clock.now()
    for product in domain.CATALOGUE:
        definition = product.to_dict()
        row = await uow.session.get(store.Product, product.code)
        if row is None:
            uow.session.add(
                store.Product(
                    code=product.code,
                    name=product.name,
                    version=product.version,
                    definition=definition,
                    created_at=now,
                    updated_at=now,
                )
            )
        elif row.definition != definition:
            row.name, row.version, row.definition, row.updated_at = product.name, product.version, definition, now


async def issue_quote(
    ctx: Context,
    uow: UnitOfWork,
    *,
    customer_id: str,
    product_code: str,
    age: int,
    term_days: int,
    sum_insured_minor: int,
) -> store.Quote:
    """Price a product for the customer; the price holds for 15 minutes of sandbox time."""
    product = await store.product(uow.session, product_code)
    premium = domain.premium_minor(product, age, term_days, sum_insured_minor)
    now = ctx.clock.now()
    quote = store.Quote(
        id=new_uuid(),
        customer_id=customer_id,
        product_code=product.code,
        product_version=product.version,
        age=age,
        term_days=term_days,
        sum_insured_minor=sum_insured_minor,
        premium_minor=premium,
        currency=product.currency,
        created_at=now,
        expires_at=domain.quote_expires_at(now),
    )
    uow.session.add(quote)
    uow.publish(
        ev.QuoteIssued(
            quote_id=quote.id,
            customer_id=customer_id,
            product_code=product.code,
            age=age,
            term_days=term_days,
            sum_insured_minor=sum_insured_minor,
            premium_minor=premium,
            currency=quote.currency,
            expires_at=quote.expires_at,
        )
    )
    return quote


async def find_purchase(session: AsyncSession, customer_id: str, idempotency_key: str) -> store.Policy | None:
    """The purchase a customer already started with this Idempotency-Key, if any."""
    return await session.scalar(
        select(store.Policy).where(
            store.Policy.customer_id == customer_id, store.Policy.idempotency_key == idempotency_key
        )
    )


def check_repeat(existing: store.Policy, *, quote_id: str, account_id: str) -> store.Policy:
    """A repeated Idempotency-Key must repeat the same purchase."""
    if (existing.quote_id, existing.account_id) != (quote_id, account_id):
        raise domain.IdempotencyKeyReused("this Idempotency-Key was already used to buy another policy")
    return existing


async def purchase_policy(
    ctx: Context,
    uow: UnitOfWork,
    *,
    customer_id: str,
    quote_id: str,
    account: PayingAccount,
    idempotency_key: str,
    starts_on: date | None = None,
    renewal_of: str | None = None,
    insured: domain.Person | None = None,
    beneficiaries: tuple[domain.Person, ...] = (),
) -> tuple[store.Policy, bool]:
    """Start buying the quoted policy: a pending policy and the premium saga's first step
    (reserve the premium on the paying account). Cover starts when the premium is paid, or
    on `starts_on` if that is later (up to 90 days ahead). Returns (policy, created); a
    repeated Idempotency-Key returns the purchase it started the first time."""
    session = uow.session
    existing = await find_purchase(session, customer_id, idempotency_key)
    if existing is not None:
        return check_repeat(existing, quote_id=quote_id, account_id=account.id), False
    quote = await session.get(store.Quote, quote_id)
    if quote is None or quote.customer_id != customer_id:
        raise domain.NotFound(f"quote {quote_id} was not found")
    now = ctx.clock.now()
    domain.check_start_date(starts_on, ctx.clock.bank_day())
    domain.check_quote_live(quote.expires_at, now)
    domain.check_paying_account(account.kind, account.currency, quote.currency)
    if insured is not None:
        domain.check_insured(insured, quote.age, ctx.clock.bank_day())
    domain.check_beneficiaries(beneficiaries, insured)
    product = await store.product(session, quote.product_code)
    policy_id = new_uuid()
    # One live purchase per quote; a failed purchase frees the quote again.
    taken = await session.execute(
        update(store.Quote)
        .where(store.Quote.id == quote.id, store.Quote.policy_id.is_(None))
        .values(policy_id=policy_id)
    )
    if taken.rowcount == 0:  # type: ignore[attr-defined]
        raise domain.QuoteUsed(f"quote {quote.id} was already used for policy {quote.policy_id}")
    policy = store.Policy(
        id=policy_id,
        number=f"{product.prefix}-{short_ref(policy_id)}",
        customer_id=customer_id,
        quote_id=quote.id,
        product_code=product.code,
        account_id=account.id,
        insured_age=quote.age,
        term_days=quote.term_days,
        waiting_days=product.waiting_days,
        sum_insured_minor=quote.sum_insured_minor,
        premium_minor=quote.premium_minor,
        currency=quote.currency,
        status=domain.PolicyStatus.PENDING,
        idempotency_key=idempotency_key,
        requested_starts_on=starts_on,
        cooling_off_days=product.cooling_off_days,
        renewal_of=renewal_of,
        insured=insured.to_dict() if insured else None,
        beneficiaries=[b.to_dict() for b in beneficiaries],
        created_at=now,
        updated_at=now,
    )
    session.add(policy)
    await session.flush()
    hold_id = premium_hold_id(policy_id)
    start_saga(
        ctx,
        uow,
        saga_id=hold_id,
        kind=domain.SagaKind.PREMIUM,
        policy_id=policy_id,
        account_id=account.id,
        amount_minor=policy.premium_minor,
        currency=policy.currency,
        description=f"Insurance premium {policy.number} ({product.name})",
    )
    await record(
        ctx,
        uow,
        aggregate="policy",
        aggregate_id=policy_id,
        action="purchase_requested",
        actor=Actor(customer_id, "customer"),
        event=ev.PolicyPurchaseRequested(
            policy_id=policy_id,
            customer_id=customer_id,
            quote_id=quote.id,
            product_code=product.code,
            account_id=account.id,
            hold_id=hold_id,
            premium_minor=policy.premium_minor,
            currency=policy.currency,
        ),
        to_status=policy.status,
        detail={
            "quote_id": quote.id,
            "account_id": account.id,
            "premium_minor": policy.premium_minor,
            "starts_on": starts_on.isoformat() if starts_on else None,
            "renewal_of": renewal_of,
        },
    )
    return policy, True
