"""insurance HTTP API: products and quotes, policy purchase, claims along the SOP, and
the adjusters' queue. Domain errors (`domain.InsuranceError`) become problem+json with
their own slug and the status `ERROR_STATUSES` gives them; nothing is changed by a
refused request, because every use case runs in one unit of work."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import Select
from starlette.datastructures import UploadFile

from services.insurance import domain, epolicy, handlers, store, views
from services.insurance.deps import AccountsDep, Adjuster, ContextDep, FlagReader, RuntimeDep, Staff
from shared import bodies
from shared.accounts_client import AccountsClient
from shared.auth import CurrentCustomer, Principal
from shared.errors import DomainError
from shared.idempotency import IdempotencyKey
from shared.money import InvalidAmount, to_minor
from shared.pagination import Page, PageDep, newest_first, next_keyset
from shared.problems import PROBLEM, Problem, malformed_json
from shared.runtime import Runtime
from shared.schemas.insurance import (
    DOCUMENT_BODY_BYTES,
    DOCUMENT_FILE,
    DOCUMENT_REFUSALS,
    DOCUMENT_UPLOAD,
    EPOLICY_FILE,
    MULTIPART,
    ClaimCreate,
    ClaimPage,
    ClaimPublic,
    ClaimStatusName,
    DecisionCreate,
    DocumentCreate,
    FraudRuleName,
    InsuranceQuoteCreate,
    InsuranceQuotePublic,
    PolicyCreate,
    PolicyPage,
    PolicyPublic,
    PolicyRenew,
    PolicyStatusName,
    ProductList,
    ProductPublic,
)

# A file refused for its size or type: answered by the upload's route alone, so the
# other routes do not document statuses they never give.
FILE_STATUSES: dict[type[DomainError], int] = {domain.DocumentTooLarge: 413, domain.UnsupportedDocumentType: 415}
# This API's one table from domain errors to HTTP statuses (others answer 422).
ERROR_STATUSES: dict[type[DomainError], int] = {
    domain.NotFound: 404,
    domain.OwnClaim: 403,
    domain.QuoteUsed: 409,
    domain.PolicyNotActive: 409,
    domain.InvalidTransition: 409,
    domain.AlreadyDecided: 409,
    domain.NotCancellable: 409,
    domain.PolicyHasClaims: 409,
    domain.NotRenewable: 409,
    domain.PolicyNotIssued: 409,
    domain.AlreadyRenewed: 409,
    domain.TooManyDocuments: 409,
}


customer = APIRouter(prefix="/v1/insurance", tags=["insurance"])
adjuster = APIRouter(prefix="/v1/adjuster", tags=["adjuster"])
admin = APIRouter(prefix="/v1/admin", tags=["adjuster"])

# --- files: a claim's documents and the e-policy ---------------------------------------------


def _file(content: bytes, media_type: str, filename: str, *, etag: str) -> Response:
    return Response(
        content,
        media_type=media_type,
        headers={
            "content-disposition": f'attachment; filename="{filename}"',
            "etag": f'"{etag}"',
            "cache-control": "private, no-store",
        },
    )


async def _own_account(accounts: AccountsClient, principal: Principal, account_id: str) -> handlers.PayingAccount:
    """One of the caller's accounts; another customer's, an internal or a missing one is
    the same 404."""
    account = await accounts.account(account_id)
    if account is None or account.customer_id != principal.customer_id:
        raise domain.NotFound(f"account {account_id} was not found")
    return handlers.PayingAccount(id=account.id, kind=account.kind, currency=account.currency)


def _minor(value: Any, field: str) -> int:
    try:
        return to_minor(value, domain.CURRENCY)
    except InvalidAmount as exc:
        raise Problem(422, "invalid-amount", f"{field}: {exc}") from None


# --- paging: newest first, by (created_at, id) -------------------------------------------------


# --- products and quotes --------------------------------------------------------------------


@customer.get("/products", response_model=ProductList, summary="The products on sale")
async def list_products(runtime: RuntimeDep) -> ProductList:
    """Every product with its premium rule (age bands, terms, sum insured), waiting period,
    exclusions and the documents each kind of claim needs. No login needed."""
    async with runtime.db.read() as session:
        return ProductList(items=[views.product_public(p) for p in await store.products(session)])


@customer.get("/products/{code}", response_model=ProductPublic, summary="One product")
async def get_product(code: str, runtime: RuntimeDep) -> ProductPublic:
    async with runtime.db.read() as session:
        return views.product_public(await store.product(session, code))


@customer.post("/quotes", status_code=201, response_model=InsuranceQuotePublic, summary="Price a policy")
async def create_quote(
    body: InsuranceQuoteCreate, principal: CurrentCustomer, runtime: RuntimeDep, ctx: ContextDep
) -> InsuranceQuotePublic:
    """A priced quote for a product, the insured's age, a term and a sum insured. It can
    be bought for 15 minutes (sandbox clock). An unknown product is a 404; an age, term or
    sum insured the product does not offer is a 422."""
    sum_insured = _minor(body.sum_insured, "sum_insured")
    async with runtime.unit_of_work() as uow:
        quote = await handlers.issue_quote(
            ctx,
            uow,
            customer_id=principal.customer_id,
            product_code=body.product_code,
            age=body.age,
            term_days=body.term_days,
            sum_insured_minor=sum_insured,
        )
    return views.quote_public(quote)


@customer.get("/quotes/{quote_id}", response_model=InsuranceQuotePublic, summary="One of your quotes")
async def get_quote(quote_id: str, principal: CurrentCustomer, runtime: RuntimeDep) -> InsuranceQuotePublic:
    async with runtime.db.read() as session:
        quote = await session.get(store.Quote, quote_id)
    if quote is None or quote.customer_id != principal.customer_id:
        raise domain.NotFound(f"quote {quote_id} was not found")
    return views.quote_public(quote)


# --- policies ---------------------------------------------------------------------------------


async def _policy_public(
    session: Any, ctx: handlers.Context, policy: store.Policy, *, with_history: bool
) -> PolicyPublic:
    claims = await store.claims_of_policy(session, policy.id)
    remaining = domain.remaining_sum_insured(policy.sum_insured_minor, (store.other_claim(c) for c in claims))
    saga = await session.get(store.Saga, handlers.premium_hold_id(policy.id))
    refund = await session.get(store.Saga, handlers.cancellation_refund_id(policy.id)) if policy.cancelled_at else None
    history = await store.history(session, "policy", policy.id) if with_history else None
    return views.policy_public(
        policy, today=ctx.clock.bank_day(), remaining_minor=remaining, saga=saga, refund=refund, history=history
    )


@customer.post(
    "/policies",
    status_code=202,
    response_model=PolicyPublic,
    summary="Buy the quoted policy",
)
async def buy_policy(
    body: PolicyCreate,
    principal: CurrentCustomer,
    runtime: RuntimeDep,
    ctx: ContextDep,
    accounts: AccountsDep,
    key: IdempotencyKey,
) -> JSONResponse:
    """Buy a quoted policy, paying the premium from one of your checking or savings
    accounts. Answers 202 with a pending policy: the premium is reserved on the account
    and captured into the insurer's premium account over Kafka, and the policy becomes
    active only once it is paid (or fails with the reason: no policy, nothing taken).
    With `starts_on` (up to 90 days ahead) a paid policy stays pending until that day.

    Send an `Idempotency-Key`: the same key returns the purchase it first started.
    An expired quote is a 422; another customer's account or quote a 404."""
    async with runtime.db.read() as session:
        existing = await handlers.find_purchase(session, principal.customer_id, key)
    if existing is not None:
        policy = handlers.check_repeat(existing, quote_id=body.quote_id, account_id=body.account_id)
    else:
        account = await _own_account(accounts, principal, body.account_id)
        try:
            policy = await _purchase(runtime, ctx, principal, body, account, key)
        except IntegrityError:
            # The same key raced in from a second request: answer with the first one's purchase.
            policy = await _purchase(runtime, ctx, principal, body, account, key)
    async with runtime.db.read() as session:
        public = await _policy_public(session, ctx, policy, with_history=False)
    return JSONResponse(public.model_dump(mode="json"), status_code=202, headers={"location": public.links["self"]})


async def _purchase(
    runtime: Runtime,
    ctx: handlers.Context,
    principal: Principal,
    body: PolicyCreate,
    account: handlers.PayingAccount,
    key: str,
) -> store.Policy:
    async with runtime.unit_of_work() as uow:
        policy, _created = await handlers.purchase_policy(
            ctx,
            uow,
            customer_id=principal.customer_id,
            quote_id=body.quote_id,
            account=account,
            idempotency_key=key,
            starts_on=body.starts_on,
            insured=domain.Person(**body.insured.model_dump()) if body.insured else None,
            beneficiaries=tuple(domain.Person(**b.model_dump()) for b in body.beneficiaries),
        )
    return policy


@customer.get("/policies", response_model=PolicyPage, summary="Your policies, newest first")
async def list_policies(
    principal: CurrentCustomer,
    runtime: RuntimeDep,
    ctx: ContextDep,
    page: PageDep,
    status: Annotated[PolicyStatusName | None, Query()] = None,
) -> PolicyPage:
    """Your policies; `?status=` selects by the status each has today on the sandbox clock."""
    query = select(store.Policy).where(store.Policy.customer_id == principal.customer_id)
    if status is not None:
        query = query.where(store.status_filter(status, ctx.clock.bank_day()))
    async with runtime.db.read() as session:
        rows = list(
            (await session.scalars(newest_first(query, store.Policy, page.cursor, page.limit, of="policies"))).all()
        )
        items = [await _policy_public(session, ctx, p, with_history=False) for p in rows[: page.limit]]
    return PolicyPage(items=items, next_cursor=next_keyset(rows, page.limit, of="policies"))


@customer.get("/policies/{policy_id}", response_model=PolicyPublic, summary="One of your policies with its history")
async def get_policy(policy_id: str, principal: CurrentCustomer, runtime: RuntimeDep, ctx: ContextDep) -> PolicyPublic:
    """The policy, its status today on the sandbox clock, its premium payment, any
    cancellation refund, and its history."""
    return await _read_policy(runtime, ctx, policy_id, principal.customer_id)


async def _read_policy(runtime: Runtime, ctx: handlers.Context, policy_id: str, customer_id: str) -> PolicyPublic:
    async with runtime.db.read() as session:
        policy = await session.get(store.Policy, policy_id)
        if policy is None or policy.customer_id != customer_id:
            raise domain.NotFound(f"policy {policy_id} was not found")
        return await _policy_public(session, ctx, policy, with_history=True)


@customer.post(
    "/policies/{policy_id}/cancel",
    response_model=PolicyPublic,
    summary="Cancel a policy and get the premium back (in full or pro rata)",
)
async def cancel_policy(
    policy_id: str, principal: CurrentCustomer, runtime: RuntimeDep, ctx: ContextDep
) -> PolicyPublic:
    """Cancel a pending (not started) or active policy that has no claim in progress or
    paid. Before the cover starts, or within the product's cooling-off period after issue
    (`cooling_off_until`), the whole premium is refunded; later, the share for the days of
    cover after today. The refund is credited from the insurer's premium account into the
    account that paid (`refund_payment`). An expired, cancelled or unpaid policy is a 409."""
    async with runtime.unit_of_work() as uow:
        await handlers.cancel_policy(ctx, uow, customer_id=principal.customer_id, policy_id=policy_id)
    return await _read_policy(runtime, ctx, policy_id, principal.customer_id)


@customer.post(
    "/policies/{policy_id}/renew",
    status_code=202,
    response_model=PolicyPublic,
    summary="Renew a policy for another term",
)
async def renew_policy(
    policy_id: str,
    body: PolicyRenew,
    principal: CurrentCustomer,
    runtime: RuntimeDep,
    ctx: ContextDep,
    accounts: AccountsDep,
    key: IdempotencyKey,
) -> JSONResponse:
    """Buy the next term of an active policy within 30 days of its end, or of an expired
    one within 30 days after it: the same product, age, term and sum insured at today's
    price, starting the day after the old cover ends (or today, if that has passed). Paid
    like a purchase: answers 202 with the new, pending policy. Too early, already renewed,
    or a policy that is not active or expired is a 409."""
    account = await _own_account(accounts, principal, body.account_id)
    async with runtime.unit_of_work() as uow:
        policy, _created = await handlers.renew_policy(
            ctx, uow, customer_id=principal.customer_id, policy_id=policy_id, account=account, idempotency_key=key
        )
    public = await _read_policy(runtime, ctx, policy.id, principal.customer_id)
    return JSONResponse(public.model_dump(mode="json"), status_code=202, headers={"location": public.links["self"]})


async def _epolicy(runtime: Runtime, ctx: handlers.Context, policy_id: str, customer_id: str | None) -> Response:
    async with runtime.db.read() as session:
        policy = await session.get(store.Policy, policy_id)
        if policy is None or (customer_id is not None and policy.customer_id != customer_id):
            raise domain.NotFound(f"policy {policy_id} was not found")
        if policy.status == domain.PolicyStatus.FAILED:
            raise domain.PolicyNotIssued(f"policy {policy.number} was never issued: its premium was not collected")
        public = await _policy_public(session, ctx, policy, with_history=False)
        product = await store.product(session, policy.product_code)
    content = epolicy.render(public, product, now=ctx.clock.now())
    return _file(content, "application/pdf", f"{policy.number}.pdf", etag=hashlib.sha256(content).hexdigest())


@customer.get(
    "/policies/{policy_id}/document",
    response_class=Response,
    responses=EPOLICY_FILE,
    summary="The e-policy of one of your policies (PDF)",
)
async def get_policy_document(
    policy_id: str, principal: CurrentCustomer, runtime: RuntimeDep, ctx: ContextDep
) -> Response:
    """The policy's document as a PDF, made from the policy as it is now: its number,
    product, insured person, beneficiaries, cover dates, premium, sum insured, deductible
    and cooling-off period. Another customer's policy is a 404."""
    return await _epolicy(runtime, ctx, policy_id, principal.customer_id)


# --- claims -----------------------------------------------------------------------------------


async def _claim_public(session: Any, claim: store.Claim, *, staff: bool) -> ClaimPublic:
    """The claim with its documents, decisions, history and payout; for `staff` with
    its fraud flags too."""
    return views.claim_public(
        claim,
        decisions=await store.decisions(session, claim.id),
        documents=await store.documents(session, claim.id),
        history=await store.history(session, "claim", claim.id),
        payout=await session.get(store.Saga, claim.payout_id) if claim.payout_id else None,
        fraud_flags=(await store.flags(session, [claim.id]))[claim.id] if staff else None,
    )


async def _claim_page(
    session: Any, query: Select[Any], cursor: str | None, limit: int, *, of: str, staff: bool = False
) -> ClaimPage:
    """A page of the claims list `of` (the customer's own, the adjusters' queue, the
    flagged ones): each list takes only its own cursors."""
    rows = list((await session.scalars(newest_first(query, store.Claim, cursor, limit, of=of))).all())
    page = rows[:limit]
    flags = await store.flags(session, [c.id for c in page]) if staff else {}
    decisions: dict[str, list[store.ClaimDecision]] = {c.id: [] for c in page}
    if page:
        found = await session.scalars(
            select(store.ClaimDecision)
            .where(store.ClaimDecision.claim_id.in_(list(decisions)))
            .order_by(store.ClaimDecision.id)
        )
        for d in found:
            decisions[d.claim_id].append(d)
    return ClaimPage(
        items=[views.claim_public(c, decisions=decisions[c.id], fraud_flags=flags.get(c.id)) for c in page],
        next_cursor=next_keyset(rows, limit, of=of),
    )


async def _read_claim(runtime: Runtime, claim_id: str, customer_id: str | None) -> ClaimPublic:
    async with runtime.db.read() as session:
        claim = await session.get(store.Claim, claim_id)
        if claim is None or (customer_id is not None and claim.customer_id != customer_id):
            raise domain.NotFound(f"claim {claim_id} was not found")
        return await _claim_public(session, claim, staff=customer_id is None)


@customer.post("/claims", status_code=201, response_model=ClaimPublic, summary="Report a claim")
async def report_claim(
    body: ClaimCreate, principal: CurrentCustomer, runtime: RuntimeDep, ctx: ContextDep, accounts: AccountsDep
) -> JSONResponse:
    """Report an incident on one of your active policies (SOP: reported). Then add the
    documents the product asks for and submit the claim for assessment. A claim above
    the sum insured, of a kind the product does not cover, or about a future date is a
    422; someone else's policy is a 404."""
    amount = _minor(body.amount, "amount")
    if body.payout_account_id is not None:
        payout = await _own_account(accounts, principal, body.payout_account_id)
        domain.check_payout_account(payout.kind, payout.currency)
    async with runtime.unit_of_work() as uow:
        claim = await handlers.report_claim(
            ctx,
            uow,
            customer_id=principal.customer_id,
            policy_id=body.policy_id,
            kind=body.kind,
            cause=body.cause,
            incident_date=body.incident_date,
            amount_minor=amount,
            description=body.description,
            payout_account_id=body.payout_account_id,
        )
    public = await _read_claim(runtime, claim.id, principal.customer_id)
    return JSONResponse(public.model_dump(mode="json"), status_code=201, headers={"location": public.links["self"]})


@customer.get("/claims", response_model=ClaimPage, summary="Your claims, newest first")
async def list_claims(
    principal: CurrentCustomer,
    runtime: RuntimeDep,
    page: PageDep,
    status: Annotated[ClaimStatusName | None, Query()] = None,
    policy_id: Annotated[str | None, Query(max_length=64)] = None,
) -> ClaimPage:
    query = select(store.Claim).where(store.Claim.customer_id == principal.customer_id)
    if status is not None:
        query = query.where(store.Claim.status == status)
    if policy_id is not None:
        query = query.where(store.Claim.policy_id == policy_id)
    async with runtime.db.read() as session:
        return await _claim_page(session, query, page.cursor, page.limit, of="claims")


@customer.get("/claims/{claim_id}", response_model=ClaimPublic, summary="One of your claims with its full history")
async def get_claim(claim_id: str, principal: CurrentCustomer, runtime: RuntimeDep) -> ClaimPublic:
    """The claim, its documents, the adjusters' decisions, the payout, and every step of
    its SOP: who did what, when."""
    return await _read_claim(runtime, claim_id, principal.customer_id)


BODY_LIMITS = {"/v1/insurance/claims/{claim_id}/documents": DOCUMENT_BODY_BYTES}
DOCUMENT_PROBLEMS: dict[int | str, dict[str, Any]] = {
    status: {**PROBLEM, "description": why} for status, why in DOCUMENT_REFUSALS.items()
}


@dataclass(frozen=True)
class Upload:
    kind: str
    name: str
    size_bytes: int
    checksum: str
    content: bytes | None = None
    content_type: str | None = None


def _missing(*fields: str) -> Problem:
    """422 naming the multipart fields missing (or of the wrong kind), as a JSON body's would."""
    items = [{"field": f, "message": "Field required"} for f in fields]
    return Problem(422, "validation-error", "; ".join(f"{f}: Field required" for f in fields), errors=items)


async def _upload(request: Request) -> Upload:
    """The multipart body's `kind` and `file`, the file checked (size, type by its bytes)."""
    try:
        async with request.form(max_files=1, max_fields=2, max_part_size=4096) as form:
            kind, file = form.get("kind"), form.get("file")
            # `kind` a non-empty text field, `file` a file part: anything else is missing.
            wrong = [
                n
                for n, ok in (("kind", isinstance(kind, str) and kind != ""), ("file", isinstance(file, UploadFile)))
                if not ok
            ]
            if wrong or not isinstance(kind, str) or not isinstance(file, UploadFile):
                raise _missing(*wrong)
            content = await file.read(domain.MAX_DOCUMENT_BYTES + 1)
            declared, filename = file.content_type, file.filename
    except HTTPException as exc:  # Starlette's word for a body that is not multipart
        raise Problem(400, "malformed-multipart", f"the body is not valid multipart/form-data: {exc.detail}") from None
    try:
        media_type = domain.check_file(declared, content)
    except (domain.DocumentTooLarge, domain.UnsupportedDocumentType) as exc:
        raise Problem(FILE_STATUSES[type(exc)], exc.code, exc.detail) from None
    return Upload(
        kind=kind,
        name=domain.safe_filename(filename, media_type),
        size_bytes=len(content),
        checksum=hashlib.sha256(content).hexdigest(),
        content=content,
        content_type=media_type,
    )


def _metadata(body: bytes) -> Upload:
    """A JSON body: a document's metadata only (the older way, kept for clients that use it),
    read as every JSON body is (shared/bodies.py)."""
    try:
        value = bodies.loads(body)
    except bodies.MalformedJson as exc:
        raise malformed_json(exc.detail) from None
    try:
        found = DocumentCreate.model_validate(value)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors()) from None
    return Upload(kind=found.kind, name=found.name, size_bytes=found.size_bytes, checksum=found.checksum)


@customer.post(
    "/claims/{claim_id}/documents",
    status_code=201,
    response_model=ClaimPublic,
    responses={
        200: {"model": ClaimPublic, "description": "The claim already had a document with this checksum"},
        **DOCUMENT_PROBLEMS,
    },
    openapi_extra=DOCUMENT_UPLOAD,
    summary="Add a document to a claim",
)
async def add_document(
    claim_id: str, request: Request, principal: CurrentCustomer, runtime: RuntimeDep, ctx: ContextDep
) -> JSONResponse:
    """Upload a document (multipart/form-data: `kind` and `file`) while the claim is
    reported, collecting documents or asked for more information: a PDF, JPEG or PNG of
    at most 5 MB, its type checked by its first bytes, up to 10 per claim. The file is
    kept with its SHA-256 and listed on the claim with a link to download it. The same
    file again adds nothing (200). A JSON body (`kind`, `name`, `size_bytes`, `checksum`)
    adds a document's metadata only, as older clients do."""
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type == MULTIPART:
        upload = await _upload(request)
    elif media_type == "application/json":
        upload = _metadata(await request.body())
    else:
        raise Problem(
            415, "unsupported-media-type", f"send {MULTIPART} (a file) or application/json, not {media_type or 'none'}"
        )
    async with runtime.unit_of_work() as uow:
        _claim, added = await handlers.add_document(
            ctx,
            uow,
            customer_id=principal.customer_id,
            claim_id=claim_id,
            kind=upload.kind,
            name=upload.name,
            size_bytes=upload.size_bytes,
            checksum=upload.checksum,
            content=upload.content,
            content_type=upload.content_type,
        )
    public = await _read_claim(runtime, claim_id, principal.customer_id)
    return JSONResponse(public.model_dump(mode="json"), status_code=201 if added else 200)


async def _document_content(runtime: Runtime, claim_id: str, document_id: str, customer_id: str | None) -> Response:
    async with runtime.db.read() as session:
        claim = await session.get(store.Claim, claim_id)
        document = await session.get(store.ClaimDocument, document_id)
        if (
            claim is None
            or (customer_id is not None and claim.customer_id != customer_id)
            or document is None
            or document.claim_id != claim.id
        ):
            raise domain.NotFound(f"document {document_id} of claim {claim_id} was not found")
        content = await session.get(store.ClaimDocumentContent, document_id)
    if content is None or document.content_type is None:
        raise domain.NotFound(f"document {document_id} was added as metadata only: it has no file")
    return _file(content.content, document.content_type, document.name, etag=document.checksum)


@customer.get(
    "/claims/{claim_id}/documents/{document_id}/content",
    response_class=Response,
    responses=DOCUMENT_FILE,
    summary="Download a document of one of your claims",
)
async def get_document_content(
    claim_id: str, document_id: str, principal: CurrentCustomer, runtime: RuntimeDep
) -> Response:
    """The uploaded file with its type, a safe file name (Content-Disposition) and its
    SHA-256 as the ETag. Another customer's claim, or a document added as metadata
    only, is a 404."""
    return await _document_content(runtime, claim_id, document_id, principal.customer_id)


@customer.post(
    "/claims/{claim_id}/submit",
    response_model=ClaimPublic,
    summary="Submit a claim for assessment",
)
async def submit_claim(claim_id: str, principal: CurrentCustomer, runtime: RuntimeDep, ctx: ContextDep) -> ClaimPublic:
    """The documents are in: assess the claim. The answer shows the outcome: approved
    (and being paid), rejected with the reasons, or waiting for one or two adjusters."""
    async with runtime.unit_of_work() as uow:
        await handlers.submit_claim(ctx, uow, customer_id=principal.customer_id, claim_id=claim_id)
    return await _read_claim(runtime, claim_id, principal.customer_id)


# --- adjusters ----------------------------------------------------------------------------------


@adjuster.get("/claims", response_model=ClaimPage, summary="Claims by status, for adjusters")
async def adjuster_claims(
    _adjuster: Adjuster,
    runtime: RuntimeDep,
    page: PageDep,
    status: Annotated[ClaimStatusName | None, Query()] = None,
    awaiting_adjuster: Annotated[bool | None, Query(description="Only claims waiting for a decision")] = None,
) -> ClaimPage:
    """Every customer's claims, newest first; `?status=under_assessment` (or
    `?awaiting_adjuster=true`) is the queue of claims waiting for a decision."""
    query = select(store.Claim)
    return await _staff_queue(runtime, query, page, status, awaiting_adjuster, of="claim-queue")


@adjuster.get("/claims/{claim_id}", response_model=ClaimPublic, summary="One claim with its history, for adjusters")
async def adjuster_claim(claim_id: str, _adjuster: Adjuster, runtime: RuntimeDep) -> ClaimPublic:
    return await _read_claim(runtime, claim_id, None)


@adjuster.post(
    "/claims/{claim_id}/decision",
    response_model=ClaimPublic,
    summary="Approve or reject a claim",
)
async def decide(
    claim_id: str, body: DecisionCreate, principal: Adjuster, runtime: RuntimeDep, ctx: ContextDep
) -> ClaimPublic:
    """Decide on a claim waiting for an adjuster. Above the four-eyes threshold two
    different adjusters must approve; one rejection (with a reason) rejects it. An approval
    may name a smaller `amount` (with a reason); the product's deductible is taken from the
    approved amount. `request_info` (with what is needed) returns the claim to the customer
    (`info_requested`), who adds documents and submits it again. Deciding on your own
    claim is a 403; on a claim not waiting for you (or twice) a 409."""
    if body.decision == "reject" and not body.reason:
        raise Problem(422, "reason-required", "a rejection needs a reason the customer can read")
    if body.decision == "request_info" and not body.reason:
        raise Problem(422, "reason-required", "say what the customer should send or answer")
    amount = _minor(body.amount, "amount") if body.amount is not None else None
    async with runtime.unit_of_work() as uow:
        await handlers.decide_claim(
            ctx,
            uow,
            adjuster_id=principal.subject,
            claim_id=claim_id,
            decision=domain.Decision(body.decision),
            reason=body.reason,
            amount_minor=amount,
        )
    return await _read_claim(runtime, claim_id, None)


@adjuster.get(
    "/claims/{claim_id}/documents/{document_id}/content",
    response_class=Response,
    responses=DOCUMENT_FILE,
    summary="Download a claim's document, for adjusters and operators",
)
async def adjuster_document_content(claim_id: str, document_id: str, _staff: Staff, runtime: RuntimeDep) -> Response:
    return await _document_content(runtime, claim_id, document_id, None)


@adjuster.get(
    "/policies/{policy_id}/document",
    response_class=Response,
    responses=EPOLICY_FILE,
    summary="A policy's e-policy (PDF), for adjusters and operators",
)
async def adjuster_policy_document(policy_id: str, _staff: Staff, runtime: RuntimeDep, ctx: ContextDep) -> Response:
    return await _epolicy(runtime, ctx, policy_id, None)


# --- the flagged-claims queue -------------------------------------------------------------------


@admin.get(
    "/claims/flagged",
    response_model=ClaimPage,
    summary="Claims the fraud rules flagged, for adjusters, operators and compliance",
)
async def flagged_claims(
    _reader: FlagReader,
    runtime: RuntimeDep,
    page: PageDep,
    rule: Annotated[FraudRuleName | None, Query(description="Only claims this rule flagged")] = None,
    status: Annotated[ClaimStatusName | None, Query()] = None,
    awaiting_adjuster: Annotated[bool | None, Query(description="Only claims waiting for a decision")] = None,
) -> ClaimPage:
    """Every claim a fraud rule flagged when it was submitted, newest first, each with its
    flags (rule, reason, evidence). Flagged claims need two different adjusters'
    approval whatever their amount."""
    flagged = select(store.ClaimFlag.claim_id)
    if rule is not None:
        flagged = flagged.where(store.ClaimFlag.rule == rule)
    query = select(store.Claim).where(store.Claim.id.in_(flagged))
    return await _staff_queue(runtime, query, page, status, awaiting_adjuster, of="flagged-claims")


async def _staff_queue(
    runtime: Runtime,
    query: Select[store.Claim],
    page: Page,
    status: str | None,
    awaiting_adjuster: bool | None,
    *,
    of: str,
) -> ClaimPage:
    """A page of the claims `query` selects for adjusters (the list `of`), of one status
    if asked, or only those waiting for a decision."""
    if status is not None:
        query = query.where(store.Claim.status == status)
    if awaiting_adjuster:
        query = query.where(
            store.Claim.status == domain.ClaimStatus.UNDER_ASSESSMENT, store.Claim.approvals_required > 0
        )
    async with runtime.db.read() as session:
        return await _claim_page(session, query, page.cursor, page.limit, of=of, staff=True)


routers = [customer, adjuster, admin]
