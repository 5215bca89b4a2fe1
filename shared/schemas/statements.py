"""What a statement line is, as the app shows it: the line kinds and the kinds of business
object a line points back to. Defined once here; the accounts commands carry them and
`GET /v1/accounts/{id}/transactions` serves them (docs/statements.md)."""

from __future__ import annotations

from enum import StrEnum


class LineKind(StrEnum):
    """What a statement line is, from the account holder's side of it."""

    TRANSFER_OUT = "transfer_out"  # a transfer this account sent to another customer
    TRANSFER_IN = "transfer_in"  # a transfer this account received
    BILL = "bill"  # a utility bill paid
    QR_PAYMENT = "qr_payment"  # a merchant paid by QR code
    TOPUP = "topup"  # a mobile phone topped up
    DEPOSIT = "deposit"  # cash in (the sandbox's deposits)
    OPENING_BALANCE = "opening_balance"  # a demo customer's first money
    SECURITIES_BUY = "securities_buy"  # an order to buy shares, settled
    SECURITIES_SELL = "securities_sell"  # an order to sell shares, its proceeds
    SECURITIES_TRANSFER = "securities_transfer"  # between one's bank and securities cash accounts
    INSURANCE_PREMIUM = "insurance_premium"  # a policy's premium
    INSURANCE_CLAIM_PAYOUT = "insurance_claim_payout"  # a claim paid out
    INSURANCE_REFUND = "insurance_refund"  # a premium given back
    FEE = "fee"  # a charge by the bank
    OTHER = "other"  # a line from before kinds were recorded that no rule recognises


class ReferenceKind(StrEnum):
    """The business object behind a line; its id is the line's `reference_id`."""

    PAYMENT = "payment"  # GET /v1/payments/{id}
    DEPOSIT = "deposit"  # GET /v1/sandbox/deposits/{id}
    ORDER = "order"  # GET /v1/securities/orders/{id}
    BANK_TRANSFER = "bank_transfer"  # GET /v1/securities/transfers/{id}
    POLICY = "policy"  # GET /v1/insurance/policies/{id}
    CLAIM = "claim"  # GET /v1/insurance/claims/{id}
    OPENING = "opening"  # a demo account's opening balance


LINE_KINDS = tuple(k.value for k in LineKind)
