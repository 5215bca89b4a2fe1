"""The services' endpoints the gateway passes through, one row each (gateway/routing/routes.py
says what a row means). Operator views of the same kind are rows of gateway/ops/api.py."""

from __future__ import annotations

from functools import partial
from typing import Annotated, Any, Literal

from fastapi import Path, Query
from pydantic import BaseModel

from gateway.routing.routes import PassThrough
from shared.listing import FromDay, ToDay
from shared.pagination import NEXT_CURSOR_DOC
from shared.problems import PROBLEM, PROBLEM_JSON
from shared.schemas.accounts import KIND_FILTER_DOC, AccountCreate, AccountList, AccountPublic, TransactionPage
from shared.schemas.insurance import (
    DOCUMENT_BODY_BYTES,
    DOCUMENT_FILE,
    DOCUMENT_REFUSALS,
    DOCUMENT_UPLOAD,
    EPOLICY_FILE,
    ClaimCreate,
    ClaimPage,
    ClaimPublic,
    ClaimStatusName,
    DecisionCreate,
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
from shared.schemas.payments import (
    DIRECTION_QUERY_DOC,
    BillCreate,
    BillerList,
    DepositCreate,
    DepositPublic,
    MerchantList,
    PayeeLookup,
    PaymentDirection,
    PaymentKindName,
    PaymentLimits,
    PaymentPage,
    PaymentPublic,
    PaymentReceipt,
    PaymentStatusName,
    QrCreate,
    SavedPayeeCreate,
    SavedPayeePage,
    SavedPayeePublic,
    ScheduleCreate,
    SchedulePage,
    SchedulePublic,
    TopupCreate,
    TransferCreate,
)
from shared.schemas.securities import (
    BankTransferCreate,
    BankTransferPage,
    BankTransferPublic,
    BarList,
    InstrumentList,
    MarketCalendar,
    OrderCreate,
    OrderPage,
    OrderPublic,
    OrderStatusFilter,
    PermissionCreate,
    PermissionList,
    PositionList,
    PriceSet,
    QuoteList,
    QuotePublic,
    RealisedPnl,
    SecuritiesCash,
    TickList,
    TradePage,
    TradePublic,
)
from shared.schemas.statements import LineKind


def page(limit_max: int, limit_default: int) -> dict[str, tuple[object, object]]:
    """`?limit=&cursor=` of a list the service pages (a cursor as long as the services take)."""
    return {
        "limit": (Annotated[int, Query(ge=1, le=limit_max)], limit_default),
        "cursor": (Annotated[str | None, Query(max_length=200, description=NEXT_CURSOR_DOC)], None),
    }


Symbol = Annotated[str, Path(min_length=1, max_length=12, pattern=r"^[A-Za-z0-9.]+$")]
ResourceId = Annotated[str, Path(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")]
# `?from=&to=`: bank days, as the services read them (shared/listing.py).
DAYS: dict[str, tuple[object, object]] = {"from": (FromDay, None), "to": (ToDay, None)}
SYMBOLS = (Annotated[str | None, Query(max_length=600, description="Comma-separated; all when omitted")], None)

# --- accounts -----------------------------------------------------------------------------------

accounts = partial(PassThrough, service="accounts", tags=("accounts",))
ACCOUNT_PROBLEMS = (401, 404)

ACCOUNTS_ROUTES = (
    accounts(
        "GET",
        "/v1/accounts",
        name="list_accounts",
        response=AccountList,
        problems=ACCOUNT_PROBLEMS,
        doc="The customer's accounts with ledger and available balances.",
    ),
    accounts(
        "POST",
        "/v1/accounts",
        name="open_account",
        body=AccountCreate,
        status=201,
        response=AccountPublic,
        problems=(*ACCOUNT_PROBLEMS, 409, 422),
        doc="Open a checking, savings or securities cash account (CNY, zero balance): at most 20, one of them "
        "securities cash (`409 securities-account-exists`: the brokerage trades from that one).",
    ),
    accounts(
        "GET",
        "/v1/accounts/{account_id}",
        name="get_account",
        response=AccountPublic,
        problems=ACCOUNT_PROBLEMS,
        doc="One of the customer's accounts. Another customer's account answers 404.",
    ),
    accounts(
        "GET",
        "/v1/accounts/{account_id}/transactions",
        name="list_transactions",
        response=TransactionPage,
        problems=ACCOUNT_PROBLEMS,
        query={
            **page(200, 50),
            "kind": (Annotated[LineKind | None, Query(description=KIND_FILTER_DOC)], None),
            **DAYS,
        },
        doc="The statement, newest first; follow `next_cursor` for older lines. `kind` and the "
        "bank days `from`..`to` (Beijing time, sandbox clock, both included) narrow it.",
    ),
)

# --- payments -----------------------------------------------------------------------------------

payments = partial(PassThrough, service="payments", tags=("payments",))
PAYMENT_PROBLEMS = (400, 401, 404, 409, 422)

MONEY_MOVING_DOC = (
    "Requires an `Idempotency-Key` header: the same key and body replay the first answer as it "
    "was (a payment still `pending` there), marked `Idempotent-Replayed: true` and with the "
    "payment's `Location`: GET it for the state now; "
    "the same key with another body is refused (422), and a repeat while the first is still "
    "running gets 409. Answers 202: the payment runs as a saga; follow `links.self`.\n\n"
    "**Step-up**: above 5,000.00 CNY (`AUTH_STEPUP_AMOUNT_MINOR`), or for a transfer above "
    "1,000.00 CNY (`AUTH_STEPUP_NEW_PAYEE_MINOR`) to a payee you have never paid, the answer is "
    "401 `step-up-required` with a `challenge_id`, once the payment is otherwise valid (a refused "
    "payment answers its 422 and costs no code); the six-digit code is sent to your phone by SMS (in "
    "the sandbox: `GET /v1/sandbox/inbox`). "
    "Approve it with `POST /v1/auth/challenges/{challenge_id}` and send this request again with "
    "the same Idempotency-Key."
)
STEP_UP_REQUIRED = {
    401: {
        "description": "Not logged in, or `step-up-required` (see above)",
        "content": {
            PROBLEM_JSON: {
                "example": {
                    "type": "https://sandbank.dev/problems/step-up-required",
                    "title": "Step-up authentication required",
                    "status": 401,
                    "detail": "a payment above 5000.00 CNY needs a one-time code: it was sent to your phone by SMS",
                    "challenge_id": "0b6f3f0e-8d0c-4a59-9a57-3c1e4f0f1c11",
                    "reason": "amount",
                    "expires_at": "2026-11-25T14:05:00+00:00",
                    "links": {
                        "approve": "/v1/auth/challenges/0b6f3f0e-8d0c-4a59-9a57-3c1e4f0f1c11",
                        "notifications": "/v1/notifications",
                    },
                }
            }
        },
    }
}
TRANSFER_DOC = (
    MONEY_MOVING_DOC + "\n\n**Payee look-ups**: a payee you have not paid, looked up or saved before (or no "
    "customer at all) spends one of your payee look-ups, as `GET /v1/payees/lookup` does; past the "
    "allowance the answer is 429 with Retry-After."
)
# A payment: 202 with the pending payment, under an Idempotency-Key, maybe behind a one-time code.
payment = partial(
    payments,
    status=202,
    response=PaymentPublic,
    problems=PAYMENT_PROBLEMS,
    responses=STEP_UP_REQUIRED,
    doc=MONEY_MOVING_DOC,
    idempotent=True,
)

PAYMENTS_ROUTES = (
    payment(
        "POST",
        "/v1/payments/transfers",
        name="create_transfer",
        body=TransferCreate,
        step_up=True,
        doc=TRANSFER_DOC,
    ),
    payment("POST", "/v1/payments/bills", name="create_bill_payment", body=BillCreate, step_up=True),
    payment("POST", "/v1/payments/qr", name="create_qr_payment", body=QrCreate, step_up=True),
    payment("POST", "/v1/payments/topups", name="create_topup", body=TopupCreate, step_up=True),
    payments(
        "GET",
        "/v1/payments",
        name="list_payments",
        response=PaymentPage,
        problems=PAYMENT_PROBLEMS,
        query={
            "direction": (Annotated[PaymentDirection | None, Query(description=DIRECTION_QUERY_DOC)], None),
            **page(100, 20),
            "status": (Annotated[PaymentStatusName | None, Query()], None),
            "kind": (Annotated[PaymentKindName | None, Query()], None),
            **DAYS,
        },
        doc="The customer's payments, newest first: those you made, and the completed transfers paid to you "
        "(`direction: incoming`, without the payer's account); follow `next_cursor`. `status`, `kind` and the "
        "bank days `from`..`to` (Beijing time, sandbox clock, both included) narrow the list.",
    ),
    payments(
        "GET",
        "/v1/payments/{payment_id}",
        name="get_payment",
        response=PaymentPublic,
        problems=PAYMENT_PROBLEMS,
        doc="One payment: `status` is pending, completed or failed (with `reason`). The payee of a completed "
        "transfer opens it too (the id its `payment_received` notification names), in its incoming view.",
    ),
    payments(
        "GET",
        "/v1/billers",
        name="list_billers",
        response=BillerList,
        problems=PAYMENT_PROBLEMS,
        doc="Billers and the shape of their bill references.",
    ),
    payments(
        "GET",
        "/v1/merchants",
        name="list_merchants",
        response=MerchantList,
        problems=PAYMENT_PROBLEMS,
        doc="Seeded merchants, each with an example QR payload.",
    ),
)

# --- securities: market data (any logged-in user), orders, positions and transfers -------------

market = partial(PassThrough, service="securities", who="session", tags=("market",))
# Market data a phone polls: an ETag, and 304 when it has not changed (gateway/routing/conditional.py).
market_data = partial(market, revalidate=True)
securities = partial(PassThrough, service="securities", tags=("securities",))
SECURITIES_PROBLEMS = (401, 404)
# Securities' POSTs that move money: 202, an Idempotency-Key required; 200 for a key's repeat
# the service answers itself.
securities_money = partial(securities, status=202, problems=(*SECURITIES_PROBLEMS, 400, 409, 422), idempotent=True)


def replayed(model: type[BaseModel], why: str) -> dict[int | str, dict[str, Any]]:
    """The 200 a 202 route gives when nothing new was started."""
    return {200: {"model": model, "description": why}}


SECURITIES_ROUTES = (
    market_data(
        "GET",
        "/v1/market/instruments",
        name="list_instruments",
        response=InstrumentList,
        problems=(401,),
        doc="The simulated listings: board, daily limit, tick and lot size.",
    ),
    market_data(
        "GET",
        "/v1/market/quotes",
        name="list_quotes",
        response=QuoteList,
        problems=(401, 422),
        query={"symbols": SYMBOLS},
        doc="Quotes for `symbols` (e.g. `600519,000001`), or for every listing.",
    ),
    market_data(
        "GET",
        "/v1/market/quotes/{symbol}",
        name="get_market_quote",
        response=QuotePublic,
        problems=(401, 404),
        params={"symbol": Symbol},
        doc="Last price, change, best bid and ask, the day's limit prices and volume.",
    ),
    market_data(
        "GET",
        "/v1/market/{symbol}/ticks",
        name="list_market_ticks",
        response=TickList,
        problems=(401, 404, 422),
        params={"symbol": Symbol},
        query={"limit": (Annotated[int, Query(ge=1, le=5_000)], 500)},
        doc="Today's trades of a symbol (sandbox clock), oldest first: time, price, shares.",
    ),
    market_data(
        "GET",
        "/v1/market/{symbol}/bars",
        name="list_market_bars",
        response=BarList,
        problems=(401, 404, 422),
        params={"symbol": Symbol},
        query={
            "period": (Annotated[Literal["day"], Query()], "day"),
            "limit": (Annotated[int, Query(ge=1, le=750)], 250),
        },
        doc="""Daily bars (open, high, low, close, volume, turnover) kept across sandbox days,
        oldest first; today's is last with `complete: false`.""",
    ),
    market_data(
        "GET",
        "/v1/market/calendar",
        name="get_market_calendar",
        response=MarketCalendar,
        problems=(401, 422),
        query=DAYS,
        volatile=("now",),
        doc="""Trading days (weekends and exchange holidays closed) and sessions on the sandbox
        clock, from `from` (default today) to `to` (default 30 days on, at most 366 days);
        whether orders are taken now and when the next session opens.""",
    ),
    market(
        "GET",
        "/v1/market/stream",
        name="stream_quotes",
        response=None,
        problems=(401, 422),
        responses={200: {"content": {"text/event-stream": {}}, "description": "`event: quote` messages"}},
        query={"symbols": SYMBOLS, "heartbeat_s": (Annotated[float, Query(ge=0.1, le=60)], 15.0)},
        stream=True,
        doc="""Live quotes as Server-Sent Events: a snapshot per symbol, then `event: quote`
        with the quote as JSON on every change; a comment line every `heartbeat_s`.""",
    ),
    PassThrough(
        "POST",
        "/v1/market/sandbox/{symbol}/price",
        service="securities",
        upstream="/internal/market/{symbol}/price",
        name="set_price",
        who="operator",
        body=PriceSet,
        response=QuotePublic,
        tags=("market", "sandbox"),
        problems=(401, 403, 404, 422),
        params={"symbol": Symbol},
        doc="""Sandbox control (operators): trade a symbol at a price inside today's limits and
        pin it there, so a test can make a limit order fill or an alert fire on purpose.
        `pinned: false` hands the symbol back to the random walk.""",
    ),
    securities_money(
        "POST",
        "/v1/securities/orders",
        name="place_order",
        body=OrderCreate,
        response=OrderPublic,
        problems=(*SECURITIES_PROBLEMS, 400, 403, 409, 422),
        responses=replayed(OrderPublic, "The order this Idempotency-Key already placed"),
        doc="""Place a market or limit order (Idempotency-Key required). Answers 202 with the
        order: a buy is `pending` until its cash is held, then `accepted`; `filling` once
        executed, `filled` once accounts has settled the cash.""",
    ),
    securities(
        "GET",
        "/v1/securities/orders",
        name="list_orders",
        response=OrderPage,
        problems=SECURITIES_PROBLEMS,
        query={
            "status": (OrderStatusFilter | None, None),
            "symbol": (Annotated[str | None, Query(max_length=12)], None),
            **page(200, 50),
        },
        doc="The customer's orders, newest first (`status=open` for those not yet final).",
    ),
    securities(
        "GET",
        "/v1/securities/orders/{order_id}",
        name="get_order",
        response=OrderPublic,
        problems=SECURITIES_PROBLEMS,
        params={"order_id": ResourceId},
        doc="One order. Another customer's order answers 404.",
    ),
    securities(
        "DELETE",
        "/v1/securities/orders/{order_id}",
        name="cancel_order",
        status=202,
        response=OrderPublic,
        problems=(*SECURITIES_PROBLEMS, 409),
        params={"order_id": ResourceId},
        doc="""Cancel an open order. Always 202 with the order: a sell `cancelled` at once, a
        buy `cancelling` until its hold is released. A filled order answers 409.""",
    ),
    securities(
        "GET",
        "/v1/securities/positions",
        name="list_positions",
        response=PositionList,
        problems=SECURITIES_PROBLEMS,
        doc="Holdings with quantity, T+1 sellable quantity, average cost, market value and P&L.",
    ),
    securities(
        "GET",
        "/v1/securities/permissions",
        name="list_board_permissions",
        response=PermissionList,
        problems=(401,),
        doc="The restricted boards (STAR, ChiNext, ST) and whether the customer may buy there.",
    ),
    securities(
        "POST",
        "/v1/securities/permissions",
        name="enable_board",
        body=PermissionCreate,
        response=PermissionList,
        problems=(*SECURITIES_PROBLEMS, 409, 422),
        doc="""Enable a restricted board (权限开通). Sandbox rule: accepting the board's risk
        disclosure (`risk_disclosure_accepted: true`) enables it at once; the exchanges'
        asset and experience thresholds are not checked.""",
    ),
    securities(
        "GET",
        "/v1/securities/trades",
        name="list_trades",
        response=TradePage,
        problems=(*SECURITIES_PROBLEMS, 422),
        query={
            "symbol": (Annotated[str | None, Query(max_length=12)], None),
            "side": (Annotated[Literal["buy", "sell"] | None, Query()], None),
            **DAYS,
            **page(200, 50),
        },
        doc="""Trade confirmations (contract notes), newest first: one per settled fill with
        price, gross, commission, stamp duty, transfer fee, net and a sell's realised P&L.""",
    ),
    securities(
        "GET",
        "/v1/securities/trades/{trade_id}",
        name="get_trade",
        response=TradePublic,
        problems=SECURITIES_PROBLEMS,
        params={"trade_id": ResourceId},
        doc="One trade confirmation. Another customer's answers 404.",
    ),
    securities(
        "GET",
        "/v1/securities/pnl",
        name="get_realised_pnl",
        response=RealisedPnl,
        problems=(*SECURITIES_PROBLEMS, 422),
        query={"symbol": (Annotated[str | None, Query(max_length=12)], None), **DAYS},
        doc="Realised P&L of the sell trades in a range of bank days, per symbol, held or not.",
    ),
    securities(
        "GET",
        "/v1/securities/cash",
        name="get_securities_cash",
        response=SecuritiesCash,
        problems=(*SECURITIES_PROBLEMS, 409),
        doc="""The securities cash account: `tradable` (可用, today's sale proceeds included) and
        `withdrawable` (可取, without them until the next bank day, T+1).""",
    ),
    securities_money(
        "POST",
        "/v1/securities/transfers",
        name="create_bank_securities_transfer",
        body=BankTransferCreate,
        response=BankTransferPublic,
        responses=replayed(BankTransferPublic, "The transfer this Idempotency-Key already made"),
        doc="""Bank-securities transfer (Idempotency-Key required): `from: bank` moves cash from
        the checking account to the securities cash account, `from: securities` back.""",
    ),
    securities(
        "GET",
        "/v1/securities/transfers",
        name="list_transfers",
        response=BankTransferPage,
        problems=SECURITIES_PROBLEMS,
        query=page(200, 50),
    ),
    securities(
        "GET",
        "/v1/securities/transfers/{transfer_id}",
        name="get_transfer",
        response=BankTransferPublic,
        problems=SECURITIES_PROBLEMS,
        params={"transfer_id": ResourceId},
    ),
)

# --- insurance: products (no login), quotes, policies, claims, and the adjusters' queue ---------

insurance = partial(PassThrough, service="insurance", tags=("insurance",))
INSURANCE_PROBLEMS = (401, 404, 422)
adjuster = partial(PassThrough, service="insurance", who="adjuster", tags=("adjuster",))
ADJUSTER_PROBLEMS = (*INSURANCE_PROBLEMS, 403)

INSURANCE_ROUTES = (
    insurance(
        "GET",
        "/v1/insurance/products",
        name="list_products",
        who="anyone",
        response=ProductList,
        problems=INSURANCE_PROBLEMS,
        doc="""The products on sale with their premium rules, waiting periods, exclusions and the
        documents each kind of claim needs. No login needed.""",
    ),
    insurance(
        "GET",
        "/v1/insurance/products/{code}",
        name="get_product",
        who="anyone",
        response=ProductPublic,
        problems=INSURANCE_PROBLEMS,
        doc="One product.",
    ),
    insurance(
        "POST",
        "/v1/insurance/quotes",
        name="create_quote",
        body=InsuranceQuoteCreate,
        status=201,
        response=InsuranceQuotePublic,
        problems=(*INSURANCE_PROBLEMS, 409),
        doc="""Price a policy: `{product_code, age, term_days, sum_insured}`. The quote can be
        bought for 15 minutes. Unknown product: 404; age, term or sum insured not offered: 422.""",
    ),
    insurance(
        "GET",
        "/v1/insurance/quotes/{quote_id}",
        name="get_insurance_quote",
        response=InsuranceQuotePublic,
        problems=INSURANCE_PROBLEMS,
        doc="One of your quotes.",
    ),
    insurance(
        "POST",
        "/v1/insurance/policies",
        name="buy_policy",
        body=PolicyCreate,
        status=202,
        response=PolicyPublic,
        problems=(*INSURANCE_PROBLEMS, 400, 409),
        idempotent=True,
        doc="""Buy a quoted policy: `{quote_id, account_id, starts_on?}` with an `Idempotency-Key` header.
        Answers 202 with a pending policy; it becomes active once the premium is captured
        from the account, or fails with the reason (and nothing is taken).""",
    ),
    insurance(
        "GET",
        "/v1/insurance/policies",
        name="list_policies",
        response=PolicyPage,
        problems=INSURANCE_PROBLEMS,
        query={"status": (PolicyStatusName | None, None), **page(200, 50)},
        doc="Your policies, newest first (`?status=`, `?limit=`, `?cursor=`).",
    ),
    insurance(
        "GET",
        "/v1/insurance/policies/{policy_id}",
        name="get_policy",
        response=PolicyPublic,
        problems=INSURANCE_PROBLEMS,
        doc="One of your policies, with its premium payment and its history.",
    ),
    insurance(
        "POST",
        "/v1/insurance/policies/{policy_id}/cancel",
        name="cancel_policy",
        response=PolicyPublic,
        problems=(*INSURANCE_PROBLEMS, 409),
        doc="""Cancel a pending or active policy with no live claim: the whole premium back before
        the cover starts or within the cooling-off period, else the unexpired days' share.""",
    ),
    insurance(
        "POST",
        "/v1/insurance/policies/{policy_id}/renew",
        name="renew_policy",
        body=PolicyRenew,
        status=202,
        response=PolicyPublic,
        problems=(*INSURANCE_PROBLEMS, 400, 409),
        idempotent=True,
        doc="""Renew a policy from 30 days before its end until 30 days after it: `{account_id}`
        with an `Idempotency-Key`. A new term from the day after the old one ends, paid like a purchase.""",
    ),
    insurance(
        "GET",
        "/v1/insurance/policies/{policy_id}/document",
        name="get_policy_document",
        response=None,
        file=True,
        responses=EPOLICY_FILE,
        problems=(*INSURANCE_PROBLEMS, 409),
        doc="""The e-policy (PDF) of one of your policies, made from the policy as it is now:
        number, product, insured person, beneficiaries, cover dates, premium, sum insured,
        deductible and cooling-off period. A policy whose premium was never collected
        (`failed`) has none: `409 policy-not-issued`.""",
    ),
    insurance(
        "POST",
        "/v1/insurance/claims",
        name="report_claim",
        body=ClaimCreate,
        status=201,
        response=ClaimPublic,
        problems=(*INSURANCE_PROBLEMS, 409),
        doc="""Report a claim on one of your active policies:
        `{policy_id, kind, incident_date, amount, description?, cause?, payout_account_id?}`.""",
    ),
    insurance(
        "GET",
        "/v1/insurance/claims",
        name="list_claims",
        response=ClaimPage,
        problems=INSURANCE_PROBLEMS,
        query={
            "status": (ClaimStatusName | None, None),
            "policy_id": (Annotated[str | None, Query(max_length=64)], None),
            **page(200, 50),
        },
        doc="Your claims, newest first (`?status=`, `?policy_id=`, `?limit=`, `?cursor=`).",
    ),
    insurance(
        "GET",
        "/v1/insurance/claims/{claim_id}",
        name="get_claim",
        response=ClaimPublic,
        problems=INSURANCE_PROBLEMS,
        doc="One of your claims with its documents, decisions, payout and full history.",
    ),
    insurance(
        "POST",
        "/v1/insurance/claims/{claim_id}/documents",
        name="add_document",
        status=201,
        response=ClaimPublic,
        responses={
            **replayed(ClaimPublic, "The claim already had a document with this checksum"),
            **{status: {**PROBLEM, "description": why} for status, why in DOCUMENT_REFUSALS.items()},
        },
        problems=(*INSURANCE_PROBLEMS, 400, 409, 413, 415),
        upload=DOCUMENT_UPLOAD,
        body_limit=DOCUMENT_BODY_BYTES,
        doc="""Upload a document to a claim as multipart/form-data: `kind` and `file`, a PDF,
        JPEG or PNG of at most 5 MB whose first bytes match its type, up to 10 per claim. The
        claim lists it with its SHA-256 and a `content` link to download it. The same file
        again adds nothing (200). A JSON body `{kind, name, size_bytes, checksum}` adds a
        document's metadata only, as older clients do.""",
    ),
    insurance(
        "GET",
        "/v1/insurance/claims/{claim_id}/documents/{document_id}/content",
        name="get_document_content",
        response=None,
        file=True,
        responses=DOCUMENT_FILE,
        problems=INSURANCE_PROBLEMS,
        doc="""A document of one of your claims as it was uploaded, with its type, a safe file
        name (Content-Disposition) and its SHA-256 as the ETag. Another customer's claim, or a
        document added as metadata only, is a 404.""",
    ),
    insurance(
        "POST",
        "/v1/insurance/claims/{claim_id}/submit",
        name="submit_claim",
        response=ClaimPublic,
        problems=(*INSURANCE_PROBLEMS, 409),
        doc="Submit a claim for assessment: approved (and paid), rejected, or sent to adjusters.",
    ),
    adjuster(
        "GET",
        "/v1/adjuster/claims",
        name="adjuster_claims",
        response=ClaimPage,
        problems=ADJUSTER_PROBLEMS,
        query={
            "status": (ClaimStatusName | None, None),
            "awaiting_adjuster": (
                Annotated[bool | None, Query(description="Only claims waiting for a decision")],
                None,
            ),
            **page(200, 50),
        },
        doc="Claims by status for adjusters (`?status=under_assessment`, `?awaiting_adjuster=true`).",
    ),
    adjuster(
        "GET",
        "/v1/adjuster/claims/{claim_id}",
        name="adjuster_claim",
        response=ClaimPublic,
        problems=ADJUSTER_PROBLEMS,
        doc="One claim with its full history, for adjusters.",
    ),
    adjuster(
        "GET",
        "/v1/adjuster/claims/{claim_id}/documents/{document_id}/content",
        name="adjuster_document_content",
        response=None,
        file=True,
        responses=DOCUMENT_FILE,
        problems=ADJUSTER_PROBLEMS,
        who="session",  # adjusters and operators: insurance checks the role (403 for others)
        doc="A claim's uploaded document as it was sent, for adjusters and operators.",
    ),
    adjuster(
        "GET",
        "/v1/adjuster/policies/{policy_id}/document",
        name="adjuster_policy_document",
        response=None,
        file=True,
        responses=EPOLICY_FILE,
        problems=(*ADJUSTER_PROBLEMS, 409),
        who="session",  # adjusters and operators: insurance checks the role (403 for others)
        doc="A policy's e-policy (PDF), for adjusters and operators.",
    ),
    adjuster(
        "POST",
        "/v1/adjuster/claims/{claim_id}/decision",
        name="decide",
        body=DecisionCreate,
        response=ClaimPublic,
        problems=(*ADJUSTER_PROBLEMS, 409),
        doc="""Approve or reject a claim waiting for an adjuster: `{decision: approve|reject, reason}`.
        Above the four-eyes threshold two different adjusters must approve.""",
    ),
    adjuster(
        "GET",
        "/v1/admin/claims/flagged",
        name="flagged_claims",
        response=ClaimPage,
        problems=ADJUSTER_PROBLEMS,
        who="session",  # adjusters, operators and compliance: insurance checks the role (403 for others)
        tags=("adjuster", "compliance"),
        query={
            "rule": (Annotated[FraudRuleName | None, Query(description="Only claims this rule flagged")], None),
            "status": (ClaimStatusName | None, None),
            "awaiting_adjuster": (
                Annotated[bool | None, Query(description="Only claims waiting for a decision")],
                None,
            ),
            **page(200, 50),
        },
        doc="""Claims the fraud rules flagged when they were submitted (a document seen on another
        claim, an incident early in the cover, frequent claims on one policy, a claim near the
        sum insured), newest first, each with its `fraud_flags`: rule, reason, evidence. A
        flagged claim needs two different adjusters' approval whatever its amount.""",
    ),
)

# --- sandbox deposits: a saga of payments, the service that moves customers' money ----------

deposit = partial(PassThrough, service="payments", tags=("sandbox",), response=DepositPublic)
DEPOSIT_PROBLEMS = (400, 401, 404)

DEPOSIT_ROUTES = (
    deposit(
        "POST",
        "/v1/sandbox/deposits",
        name="create_deposit",
        body=DepositCreate,
        status=202,
        problems=(*DEPOSIT_PROBLEMS, 409, 422),
        idempotent=True,
        key_optional=True,
        doc="""Fund one of your accounts from the sandbox's external cash-in account.

        Answers 202 with a pending deposit: the credit travels to accounts as a
        `accounts.CreditAccount` command and the deposit completes (or fails, e.g. above
        a class III balance cap) when accounts replies. An `Idempotency-Key` header makes
        retries safe: the same key and body replay the first answer.""",
    ),
    deposit(
        "GET",
        "/v1/sandbox/deposits/{deposit_id}",
        name="get_deposit",
        problems=DEPOSIT_PROBLEMS,
        doc="A deposit's status: pending, completed, or failed with the reason.",
    ),
)

# --- scheduled transfers and standing orders: payments' runner makes each run a payment ------

schedules = partial(payments, response=SchedulePublic, problems=PAYMENT_PROBLEMS)

SCHEDULE_ROUTES = (
    schedules(
        "POST",
        "/v1/payments/schedules",
        name="create_schedule",
        body=ScheduleCreate,
        status=201,
        idempotent=True,
        doc="""Schedule a transfer to an account (by `payee_account_id` or `payee_phone`) on a later
        bank day (Beijing time, on the sandbox clock): once (`repeat: none`) or as a standing
        order, `daily`, `weekly` or `monthly` (the first run's day of the month, or the
        month's last day when it is shorter), until `end_on` (the last day it may run) or for
        `count` runs. Each run is an ordinary payment, notified like any other; a run that
        fails (e.g. insufficient funds) is recorded with its reason and the order carries on.
        Runs missed while the clock jumped are each made once, oldest first.

        Requires an `Idempotency-Key` header. Limited to amounts that need no one-time code:
        above the step-up thresholds the answer is 422 `schedule-needs-step-up`. A device signed in
        less than a day ago cannot set one up (422 `schedule-needs-trusted-device`); it can cancel one.
        A payee not paid, looked up or saved before spends a payee look-up (429 past the allowance).""",
    ),
    schedules(
        "GET",
        "/v1/payments/schedules",
        name="list_schedules",
        response=SchedulePage,
        query=page(100, 20),
        doc="The customer's scheduled transfers and standing orders, newest first; follow `next_cursor`.",
    ),
    schedules(
        "GET",
        "/v1/payments/schedules/{schedule_id}",
        name="get_schedule",
        doc="One schedule: `next_run_on` and its runs, newest first, each with the payment it made.",
    ),
    schedules(
        "DELETE",
        "/v1/payments/schedules/{schedule_id}",
        name="cancel_schedule",
        doc="Cancel a schedule: no further runs are made. Another customer's schedule answers 404.",
    ),
)

# --- payees, receipts and limits: what an app shows around a payment ---------------------------

PAYEES_ROUTES = (
    payments(
        "GET",
        "/v1/payees/lookup",
        name="look_up_payee",
        response=PayeeLookup,
        problems=(401, 404, 422),
        query={
            "account_id": (Annotated[str | None, Query(max_length=64)], None),
            "phone": (Annotated[str | None, Query(max_length=30)], None),
        },
        doc="""Confirm who a transfer would pay before sending it: the holder's masked name and
        whether you have paid them before, by `account_id` or by `phone` (exactly one). A phone
        look-up never shows the account behind the number; an unknown payee is 404. Each
        customer has a small allowance of look-ups (10 at once, then 2 a minute), found or
        not: past it the answer is 429 with Retry-After.""",
    ),
    payments(
        "POST",
        "/v1/payees",
        name="save_payee",
        body=SavedPayeeCreate,
        status=201,
        response=SavedPayeePublic,
        problems=(401, 409, 422),
        doc="""Save a payee under a nickname: an account id or a phone number (exactly one) of a
        Sandbank customer who can be paid (422 `unknown-payee` otherwise). The same account or
        number saved twice is 409 `payee-exists`. A save spends one of the customer's payee
        look-ups (429 past the allowance).""",
    ),
    payments(
        "GET",
        "/v1/payees",
        name="list_saved_payees",
        response=SavedPayeePage,
        problems=(400, 401),
        query=page(100, 20),
        doc="Your saved payees, newest first; follow `next_cursor` for older ones.",
    ),
    payments(
        "GET",
        "/v1/payees/{payee_id}",
        name="get_saved_payee",
        response=SavedPayeePublic,
        problems=(401, 404),
        params={"payee_id": ResourceId},
        doc="One of your saved payees; another customer's is 404.",
    ),
    payments(
        "DELETE",
        "/v1/payees/{payee_id}",
        name="delete_saved_payee",
        status=204,
        response=None,
        problems=(401, 404),
        params={"payee_id": ResourceId},
        doc="Remove a saved payee; another customer's is 404.",
    ),
    payments(
        "GET",
        "/v1/payments/limits",
        name="payment_limits",
        response=PaymentLimits,
        problems=(401, 404),
        doc="""Your KYC class's limits: the most one payment may be, the most a bank day's payments
        out may add up to (classes II and III), what today has used (payments settled today plus
        those still holding funds) and what remains, on the bank's day (Beijing time). From a
        device signed in less than a day ago, `new_device` adds its lower limits, what today has
        left of them and until when they apply, and `payable_now` heeds them; on a trusted device
        `new_device` is null.""",
    ),
    payments(
        "GET",
        "/v1/payments/{payment_id}/receipt",
        name="payment_receipt",
        response=PaymentReceipt,
        problems=(401, 404, 409),
        responses={200: {"content": {"text/plain": {"example": "Sandbank payment receipt\nPayment    e3b9c2d4-..."}}}},
        query={
            "format": (Annotated[Literal["json", "text"], Query(description="`text`: plain lines to share")], "json")
        },
        doc="""A completed payment's receipt to share: amount, time, reference and the two parties
        by masked name and masked account, as JSON or (`?format=text`) plain text. The payer's
        (`direction` outgoing), and the payee's once the money has arrived (`incoming`, which
        shows the payee's own account masked and no account of the payer's, as the payment's
        incoming view does). Another customer's payment is 404, as is one paid to you that has
        not completed; your own payment not completed yet, or failed, has none (409).""",
    ),
)

# Schedules and payees before payments: /v1/payments/schedules and /v1/payments/limits are
# not a payment's id.
ROUTES: tuple[PassThrough, ...] = (
    ACCOUNTS_ROUTES + SCHEDULE_ROUTES + PAYEES_ROUTES + PAYMENTS_ROUTES + SECURITIES_ROUTES + INSURANCE_ROUTES
)
