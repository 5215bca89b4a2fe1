"""The sandbox's magic values and controls: one table, served by
`GET /v1/sandbox/magic-values` and printed as the Markdown table of docs/sandbox.md.

    python -m gateway.sandbox.magic            # the Markdown table
    python -m gateway.sandbox.magic --check    # exit 1 if docs/sandbox.md lacks a row or has another

Each row names where the rule lives (`source`), so a change there is a change here.
"""

from __future__ import annotations

import re
import sys
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class MagicValue:
    area: str
    value: str
    effect: str
    source: str


MAGIC_VALUES: tuple[MagicValue, ...] = (
    # --- logins and money in -----------------------------------------------------------------
    MagicValue(
        "login",
        "`+8613800000001` / `sandbank-demo-1`",
        "Li Wei, customer, KYC class I: checking 50,000.00, savings 200,000.00, securities cash 20,000.00 "
        "(fixed ids `5a0e1d3c-0000-4000-8000-000000000101` … `103`)",
        "`shared/sandbox.py`",
    ),
    MagicValue(
        "login",
        "`+8613800000002` / `sandbank-demo-2`",
        "Wang Fang, customer, class II: checking 8,000.00, securities cash 0.00 (`…0201`, `…0202`)",
        "`shared/sandbox.py`",
    ),
    MagicValue(
        "login",
        "`+8613900000000` / `sandbank-operator`",
        "operator: ledger check, sandbox clock, payments summary",
        "`shared/sandbox.py`",
    ),
    MagicValue(
        "login",
        "`+8613900000101` / `sandbank-adjuster-1`, `+8613900000102` / `sandbank-adjuster-2`",
        "insurance claims adjusters (two, for the four-eyes rule)",
        "`shared/sandbox.py`",
    ),
    MagicValue(
        "login",
        "`POST /v1/auth/registrations {phone}`, then `POST /v1/auth/register {phone, code, password, name}`",
        "the six-digit code arrives in the sandbox inbox (below); a new customer is KYC class II with no "
        "accounts. A number that already has an account is sent a note instead of a code and gets the same "
        "`202`, and the same `400 registration-code-invalid` as a wrong or expired code",
        "`gateway/identity/registration.py`, `gateway/identity/api.py` (`NEW_CUSTOMER_CLASS`)",
    ),
    MagicValue(
        "login",
        "a new password shorter than 10 or longer than 128 characters, one character repeated, containing the "
        "phone number, or on the common-passwords list (`12345678`, `password`, `qwertyuiop`, `sandbank123` …)",
        "`422 weak-password` with `rule`: `min_length`, `max_length`, `repeated_character`, `phone_number` or `common`",
        "`gateway/identity/passwords.py`, `gateway/identity/common_passwords.txt`",
    ),
    MagicValue(
        "inbox",
        "`GET /v1/sandbox/inbox` (a session: its own number's messages; an operator: any number's, `?phone=`)",
        "the text messages the bank sent, newest first: `registration_code` and `step_up_code`, each with its "
        "`code`. Outside sandbox mode codes go nowhere the API can read, and this is a 404",
        "`gateway/sandbox/inbox.py`",
    ),
    MagicValue(
        "push",
        "`PUT /v1/me/push-tokens/{device_id} {platform, token}` (the device logged in on), then "
        "`GET /v1/sandbox/push-deliveries` (a customer: their own; an operator: any customer's, `?customer_id=`)",
        'newest first, each notification "pushed" (with its `notification_id`) to each registered device its '
        "customer is logged in on, unless they muted its kind (`PUT /v1/me/notification-preferences`; "
        "`stepup_code` cannot be muted). "
        "Any token of 8+ URL-safe characters is taken; nothing leaves the bank. Outside sandbox mode no push "
        "is logged, and this is a 404",
        "`gateway/notifications/store.py` (`pushes`), `gateway/sandbox/store.py` (`SandboxPush`)",
    ),
    MagicValue(
        "login",
        "5 wrong passwords in a row for one phone number (`AUTH_LOCKOUT_FAILURES=5`)",
        "its login is locked for `AUTH_LOCKOUT_S=300` s by the sandbox clock: `429 login-locked` with "
        "`Retry-After`, even with the right password; a good login clears the count. Unregistered numbers lock "
        "the same way",
        "`gateway/identity/sessions.py`, `shared/settings.py`",
    ),
    MagicValue(
        "money in",
        "`POST /v1/sandbox/deposits {account_id, amount, currency}`",
        "credits the account from `internal:cash-in`: a deposit saga of payments (202, settles from Kafka; "
        "`Idempotency-Key` optional)",
        "`services/payments/handlers.py` (`request_deposit`), `services/payments/api.py`",
    ),
    MagicValue(
        "clock",
        '`POST /v1/sandbox/clock {"advance_s": 86400}` or `{"offset_s": …}` (operator)',
        "moves the sandbox clock forward in the gateway and every service: daily limits reset on the next "
        "Beijing day, T+1 and waiting periods pass. Only forward of real time; each process keeps its offset in "
        "its database (`sandbox_clock`), so a process that restarts comes back on the clock it was on, and its "
        "sagas' deadlines, written on that clock, still fall due; a reset puts it back at real time. "
        "`GET /v1/sandbox/clock` (customers too) "
        "reads it. Every time a customer sees is on it, notifications' `event_at` included (a message's "
        "envelope `time` is its sender's sandbox clock); only token expiry and rate limits run on real time",
        "`gateway/sandbox/api.py` (`set_clock`, `read_clock`), `shared/clock.py`, `Runtime.set_clock_offset`",
    ),
    # --- payments ----------------------------------------------------------------------------
    MagicValue(
        "transfer",
        "amount exactly `666.66`",
        "after the hold: risk rejects (`rule: sandbox_magic_amount`), the hold is released, the payment fails "
        "`risk_rejected`. Transfers only, not bills, QR or top-ups",
        "`services/payments/domain.py` (`RISK_MAGIC_AMOUNT`)",
    ),
    MagicValue(
        "bill",
        "biller `SANDBOX-FAIL`, any reference of 1–40 characters",  # noqa: RUF001 (as docs/sandbox.md writes it)
        'after the hold: risk approves, then the biller "refuses", the hold is released, the payment fails '
        "`payee_unavailable`. The risk rules still run first",
        "`services/payments/domain.py` (`SANDBOX_FAIL_BILLER`)",
    ),
    MagicValue(
        "bill",
        "billers `SH-WATER` (10 digits), `SG-ELEC` (10–13 digits), `TG-GAS` (2 letters + 8 digits), "  # noqa: RUF001
        "`CM-PHONE` (11-digit mobile `1[3-9]…`)",
        "succeed; a reference of the wrong shape is refused at request time (`invalid-bill-reference`); an "
        "unknown code too (`unknown-biller`)",
        "`services/payments/domain.py` (`BILLERS`), `GET /v1/billers`",
    ),
    MagicValue(
        "QR",
        "`sandbank://qr/v1?m=<merchant>&a=<amount>&r=<ref>`",
        "the QR payload format; `a` (amount) and `r` (merchant reference, 64 chars kept) are optional; without "
        "`a` the request must send `amount`. Not this scheme/host/path: `malformed-qr`; an amount different "
        "from `a`: `amount-mismatch`",
        "`services/payments/domain.py` (`parse_qr`)",
    ),
    MagicValue(
        "QR",
        "merchants `M100001` Lanzhou Noodle House, `M100002` Sunrise Convenience Store, `M100003` Xi'an "
        "Dumpling Bar, `M100004` Pearl River Coffee",
        "succeed; any other merchant id is refused at request time (`unknown-merchant`)",
        "`services/payments/domain.py` (`MERCHANTS`), `GET /v1/merchants`",
    ),
    MagicValue(
        "top-up",
        "amount above `500.00`",
        "refused at request time (`limit-exceeded`)",
        "`services/payments/domain.py` (`TOPUP_MAX_MINOR`)",
    ),
    MagicValue(
        "risk",
        "per payment: class I 50,000.00, II 10,000.00, III 2,000.00",
        "a larger single payment is refused at request time (`limit-exceeded`); fixed, no env var",
        "`services/payments/domain.py` (`RiskPolicy.per_payment_minor`)",
    ),
    MagicValue(
        "risk",
        "velocity: `PAYMENTS_VELOCITY_MAX=20` payments in `PAYMENTS_VELOCITY_WINDOW_S=60` s",
        "the 21st payment a customer starts within 60 s fails after the hold (`rule: velocity`)",
        "`shared/settings.py`, `domain.assess`",
    ),
    MagicValue(
        "payees",
        "look-ups: `PAYMENTS_LOOKUP_BURST=10` at once, then `PAYMENTS_LOOKUP_PER_MINUTE=2`, per customer",
        "`GET /v1/payees/lookup` spends one, and so does a transfer or schedule to a payee the customer has not "
        "paid, looked up or saved (or to no customer); past the allowance `429 rate-limited` with `Retry-After`. "
        "A suite that pays many new payees from one customer raises the burst",
        "`services/payments/api.py` (`named_payee`), `domain.LookupAllowance`",
    ),
    MagicValue(
        "risk",
        "new payee: `PAYMENTS_NEW_PAYEE_THRESHOLD_MINOR=500000` (5,000.00)",
        "a first payment above it to a payee with no completed payment from this customer fails after the "
        "hold (`rule: new_payee_threshold`). Own accounts are always known; for bills the payee is biller + "
        "reference",
        "`shared/settings.py`, `domain.assess`",
    ),
    MagicValue(
        "step-up",
        "a payment above `AUTH_STEPUP_AMOUNT_MINOR=500000` (5,000.00), or a transfer above "
        "`AUTH_STEPUP_NEW_PAYEE_MINOR=100000` (1,000.00) to a payee this customer has never paid (own accounts "
        "excepted)",
        "answered `401 step-up-required` with a `challenge_id`; the six-digit code is sent by SMS: a "
        "`step_up_code` in the sandbox inbox (a `stepup_code` notification only says it was sent, never the "
        "code). `POST /v1/auth/challenges/{id} {code}`, "
        "then repeat the request with the same `Idempotency-Key`. The code is bound to the amount, payee, "
        "paying account and key (the same request from another of the customer's accounts is challenged "
        "again), expires after 5 minutes of the sandbox clock and locks after 5 wrong tries",
        "`gateway/identity/stepup.py`, `shared/settings.py`",
    ),
    MagicValue(
        "saga",
        "`PAYMENTS_STEP_TIMEOUT_S=5.0`, `PAYMENTS_MAX_RESERVE_ATTEMPTS=6`",
        "an unanswered step is re-sent (`PaymentStepRetried`), waiting 5, 10, 15, 20, 20 … s; a reservation "
        "unanswered after 6 tries is released and fails `timed_out`",
        "`shared/settings.py`, `services/payments/domain.py` (`Timeouts`)",
    ),
    MagicValue(
        "KYC",
        "daily outflow: class I none, II 10,000.00, III 2,000.00 per customer per Beijing day",
        "a reservation beyond it is rejected (`limit_exceeded`, payment reason `class_limit_exceeded`); active "
        "holds count as spent; moves between one's own accounts do not count",
        "`services/accounts/domain.py` (`ClassLimits`)",
    ),
    MagicValue(
        "KYC",
        "balance cap: class III 2,000.00 (I and II none)",
        "a credit or capture above it is rejected (`balance_cap_exceeded`): a deposit fails, a payment to that "
        "account fails `payee_unavailable` after the hold. No customer gets class III through the gateway today",
        "`services/accounts/domain.py` (`ClassLimits`)",
    ),
    # --- securities --------------------------------------------------------------------------
    MagicValue(
        "market",
        '`POST /v1/market/sandbox/{symbol}/price {"price": "1700.00", "pinned": true}` (operator)',
        'trades the symbol at that price now and pins it until `{"pinned": false}`: alerts fire and resting '
        "limit orders the new book crosses fill at their limit, up to the shares it shows (in parts if it "
        "shows fewer). The price must be on the tick and inside today's limits",
        "`services/securities` (`POST /internal/market/{symbol}/price`)",
    ),
    MagicValue(
        "market",
        "`SECURITIES_MARKET_SEED=20240601`, `SECURITIES_TICK_INTERVAL_MS=500`",
        "the same seed walks the same price path; `0` stops the ticker (prices move only by the price "
        "control). `SECURITIES_HOURS_MODE=a_share` trades 09:30-11:30 and 13:00-15:00 Beijing time only "
        "(`409 market-closed` outside)",
        "`services/securities/settings.py`",
    ),
    MagicValue(
        "market",
        "the sandbox clock one bank day on",
        "shares bought today become sellable (T+1), yesterday's last price becomes the previous close (limits "
        "move), unfilled day orders expire with their holds released (an `order_expired` notification), and "
        "yesterday's sale proceeds become withdrawable (`GET /v1/securities/cash`: `withdrawable`)",
        "`services/securities` (docs/securities.md)",
    ),
    MagicValue(
        "market",
        "the price control at a symbol's `limit_up` (or `limit_down`)",
        "the market is sealed: the quote has no `ask` (no `bid`); a market buy (sell) is `cancelled` with reason "
        "`no_opposite_side` and its hold released (shares unfrozen); a limit order at that price rests until the "
        "price control moves off the limit",
        "`services/securities` (docs/securities.md, Sealed limits)",
    ),
    MagicValue(
        "securities",
        '`POST /v1/securities/permissions {"board": "star", "risk_disclosure_accepted": true}` (customer)',
        "enables buying on the STAR Market (`star`), ChiNext (`chinext`) or risk-warning shares (`st`) at once; "
        "without it a buy there answers `403 not-enabled-for-board`. The exchanges' asset and experience "
        "thresholds are not checked",
        "`services/securities` (docs/securities.md, Investor suitability)",
    ),
    MagicValue(
        "securities cash",
        'sell shares, then `POST /v1/securities/transfers {"from": "securities"}` the same bank day',
        "more than `withdrawable` (available less today's sale proceeds) answers `422 not-withdrawable-yet` with "
        "the amounts; the proceeds buy shares at once",
        "`services/securities`",
    ),
    MagicValue(
        "price alert",
        "a move of 5% from the previous close (`SECURITIES_ALERT_THRESHOLDS_PCT=[5]`)",
        "`PriceAlerted` once per crossing (re-armed after falling back `SECURITIES_ALERT_REARM_PCT=0.5`); "
        "customers with the symbol on their watchlist (`PUT /v1/watchlist`) get a `price_alert` notification",
        "`services/securities`, `gateway/notifications/consumer.py`",
    ),
    # --- insurance ---------------------------------------------------------------------------
    MagicValue(
        "claim",
        "amount exactly `888.88`",
        "passes the rules but is flagged `sandbox_review` and always waits for one adjuster, although it is "
        "below the automatic threshold (for two if a fraud rule flags it too)",
        "`services/insurance/domain/claims.py` (`MAGIC_REVIEW_AMOUNT_MINOR`)",
    ),
    MagicValue(
        "claim",
        "below `1000.00` / from `10000.00`",
        "approved automatically / needs two different adjusters (four eyes); in between one adjuster "
        "(`INSURANCE_AUTO_APPROVE_BELOW_MINOR=100000`, `INSURANCE_FOUR_EYES_FROM_MINOR=1000000`). A claim a "
        "fraud rule flags (below) needs two adjusters whatever its amount",
        "`services/insurance/settings.py`",
    ),
    MagicValue(
        "claim fraud",
        "a description containing `#sandbox-flag:<rule>`, `<rule>` one of `shared_document`, `early_claim`, "
        "`frequent_claims`, `near_sum_insured`",
        "on submit the claim is flagged by that rule (`forced: true`, no evidence) whatever the facts: two "
        "adjusters must approve it; it is listed in `GET /v1/admin/claims/flagged` and an "
        "`insurance.ClaimFlagged` event is published",
        "`services/insurance/domain/fraud.py` (`MAGIC_MARKER`)",
    ),
    MagicValue(
        "claim fraud",
        "a document whose bytes (SHA-256) were already sent with another claim, any customer's",
        "flagged `shared_document`, with the other claim's and document's ids as evidence",
        "`services/insurance/domain/fraud.py`",
    ),
    MagicValue(
        "claim fraud",
        "a claim of 95% of the sum insured or more; with `INSURANCE_FRAUD_EARLY_CLAIM_DAYS=30` set, an "
        "`incident_date` in the cover's first 30 days (day 0 = `starts_on`; not on a renewal); with "
        "`INSURANCE_FRAUD_FREQUENT_CLAIMS=3` set, the 3rd claim on one policy reported within 90 days",
        "flagged `near_sum_insured` / `early_claim` / `frequent_claims` (the other claims' ids as evidence). "
        "The early and frequent claim rules are off (0) by default, so a claim just after buying is judged "
        "on its amount alone; `INSURANCE_FRAUD_FREQUENT_CLAIMS_DAYS=90`, "
        "`INSURANCE_FRAUD_NEAR_SUM_INSURED_PCT=95` (0 turns it off)",
        "`services/insurance/settings.py`, `services/insurance/domain/fraud.py`",
    ),
    MagicValue(
        "claim",
        "a `short_term_health` claim about its first 30 days (e.g. `incident_date` = `starts_on`)",
        "rejected `waiting_period` (move the sandbox clock to get past it)",
        "`services/insurance/domain/claims.py`",
    ),
    MagicValue(
        "claim",
        "`cause` = one of the product's exclusions (e.g. `extreme_sports`)",
        "rejected `excluded_cause`",
        "`services/insurance/domain/products.py`",
    ),
    MagicValue(
        "claim",
        "a `short_term_health` or `phone_screen` claim of `100.00` or less (the deductible)",
        "rejected `below_deductible`; above it, the payout is the approved amount less 100.00",
        "`services/insurance/domain/products.py` (`deductible_minor`)",
    ),
    MagicValue(
        "claim",
        "an `incident_date` before the policy's `starts_on` or after its `ends_on`",
        "refused when reported: 422 `incident-outside-cover` with the dates",
        "`services/insurance/domain/policies.py`",
    ),
    MagicValue(
        "policy",
        "`starts_on` up to 90 days ahead at purchase",
        "paid but `pending` until that day; move the clock to see `active`, then `expired` after `ends_on` and "
        "`lapsed` 30 days later unless renewed (notifications for each)",
        "`services/insurance/domain/policies.py`",
    ),
    MagicValue(
        "policy",
        "cancel within `cooling_off_until` (15 days: personal accident, health; 7: phone screen; travel: only "
        "before the start)",
        "the whole premium back; later the unexpired days' share, rounded down to the fen",
        "`services/insurance/domain/policies.py`",
    ),
    MagicValue(
        "claim",
        "a payout to a class III account that would exceed its 2,000.00 balance cap",
        "accounts refuses the credit: the claim stays `approved` with its payout `failed` "
        "(`balance_cap_exceeded`, `ClaimPayoutFailed`)",
        "`services/insurance` (docs/insurance.md)",
    ),
    # --- controls ----------------------------------------------------------------------------
    MagicValue(
        "faults",
        '`POST /v1/sandbox/faults {"service": "accounts", "mode": "duplicate", "duration_s": 30}` (operator)',
        "delays, drops or duplicates that service's outgoing Kafka messages for a while (`mode: none` ends it): "
        "sagas retry, consumers apply each message once",
        "`gateway/sandbox/api.py`, `shared/kafka/faults.py`",
    ),
    # --- anti-money-laundering (services/accounts/compliance, docs/compliance.md) ----------------
    MagicValue(
        "AML",
        "an amount ending in `.71` (a deposit of `100.71`)",
        "a `large_cash` alert (large-value report) for the customer, `forced: true`, whatever the day's sum",
        "`services/accounts/compliance/rules.py` (`MAGIC_FEN`)",
    ),
    MagicValue(
        "AML",
        "an amount ending in `.72`",
        "a `large_transfer` alert (large-value report), `forced: true`",
        "`services/accounts/compliance/rules.py` (`MAGIC_FEN`)",
    ),
    MagicValue(
        "AML",
        "an amount ending in `.73`",
        "a `structuring` alert (suspicious), `forced: true`",
        "`services/accounts/compliance/rules.py` (`MAGIC_FEN`)",
    ),
    MagicValue(
        "AML",
        "an amount ending in `.74`",
        "a `rapid_in_out` alert (suspicious), `forced: true`",
        "`services/accounts/compliance/rules.py` (`MAGIC_FEN`)",
    ),
    MagicValue(
        "AML",
        "an amount ending in `.75`",
        "a `dormant` alert (suspicious), `forced: true`",
        "`services/accounts/compliance/rules.py` (`MAGIC_FEN`)",
    ),
    MagicValue(
        "AML",
        "an amount ending in `.76`",
        "a `many_payers` alert (suspicious), `forced: true`. For `.71` to `.75` a transfer between two customers "
        "raises on the payer, for `.76` on the payee; a deposit, payment or payout raises on its customer",
        "`services/accounts/compliance/rules.py` (`MAGIC_FEN`, `forced_rule`)",
    ),
    MagicValue(
        "AML",
        "`COMPLIANCE_LARGE_CASH_MINOR=5000000`, `COMPLIANCE_LARGE_TRANSFER_MINOR=50000000`, "
        "`COMPLIANCE_STRUCTURING_*`, `COMPLIANCE_RAPID_*`, `COMPLIANCE_DORMANT_*`, `COMPLIANCE_MANY_PAYERS_*`",
        "the thresholds of each rule (defaults and sources in docs/compliance.md); the queue is "
        "`GET /v1/admin/compliance/alerts` for the compliance role, which the sandbox operator has",
        "`services/accounts/compliance/settings.py`",
    ),
    MagicValue(
        "KYC",
        "`POST /v1/me/kyc/upgrade` with ID number `110101199003079999` (its checksum is valid)",
        "the application is refused at once (`status: refused`, `reason: sandbox_magic_id`) whatever the face "
        "match; the customer keeps class II and gets a `kyc_decided` notification",
        "`services/accounts/kyc_rules.py` (`MAGIC_REFUSED_ID`)",
    ),
    MagicValue(
        "KYC",
        "`face_match_score` 0.9 or more / below 0.9, with the customer's registered name as `legal_name` (e.g. "
        "`11010519491231002X`, GB 11643's own example number)",
        "approved at once by the sandbox rule (class I, its limits for the next payment) / `pending` in the "
        "compliance queue `GET /v1/admin/kyc/applications?status=pending` until an officer decides it",
        "`services/accounts/kyc_rules.py` (`AUTO_APPROVE_SCORE`, `decide`)",
    ),
    MagicValue(
        "KYC",
        "a `legal_name` other than the customer's registered name (compared without case, spaces or full-width "
        "forms: `\uff37\uff21\uff2e\uff27\u3000fang` is `Wang Fang`)",
        "`pending` with `reason: legal_name_mismatch` whatever the face match, in the compliance queue until an "
        "officer decides it",
        "`services/accounts/kyc_rules.py` (`same_name`, `decide`)",
    ),
    MagicValue(
        "KYC",
        "an ID number an approved application already bound to another customer (e.g. `11010519491231002X` once "
        "one customer was approved with it)",
        "`409 id-number-in-use`, nothing recorded: one number vouches for one customer. A refused or waiting "
        "application binds nothing, so its customer may apply again with the same number; an officer's approval "
        "of a number bound meanwhile is the same 409. `POST /v1/sandbox/reset` frees every number. Give each test "
        "customer its own valid number, e.g. `110105198001010016`, `110105199002150023`, `440305198511200036`, "
        "`310115199207030041`",
        "`services/accounts/kyc.py`, `services/accounts/kyc_rules.py` (`IdNumberInUse`)",
    ),
    MagicValue(
        "devices",
        "a customer's login from a `device_id` starting with `trusted-`, `pytest`, `sandbank-` or `unknown-device` "
        "(the id a login without one gets), or any login of a seeded demo customer",
        "the device is bound trusted at once, never challenged, never under the new-device limits: the project's "
        "harnesses (tests, `sandbank_testing`, `sandbank listen`) log in unchallenged. Any other id the customer has "
        "not used is challenged by a `step_up_code` SMS (their first device excepted) and is new for 24 h",
        "`gateway/identity/devices.py` (`SANDBOX_TRUSTED_PREFIXES`, `sandbox_trusted`)",
    ),
    MagicValue(
        "devices",
        "`AUTH_DEVICE_NEW_S=86400`, `AUTH_NEW_DEVICE_PER_PAYMENT_MINOR=100000`, `AUTH_NEW_DEVICE_DAILY_MINOR=500000`",
        "for a day of sandbox time after it was bound a new device's payments are refused at request time "
        "(`422 new-device-limit`) above 1,000.00 each, or when the customer's payments today would pass 5,000.00, "
        "and it sets up no schedule (`422 schedule-needs-trusted-device`); `GET /v1/payments/limits` shows both caps "
        "and until when in `new_device`; "
        'move the clock (`POST /v1/sandbox/clock {"advance_s": 86400}`) to trust it',
        "`shared/settings.py` (`AuthSettings`), `services/payments/domain.py` (`check_new_device_limits`)",
    ),
    MagicValue(
        "reset",
        "`POST /v1/sandbox/reset` (operator)",
        "every service empties its tables and seeds again; the gateway forgets logins, sessions, keys and "
        "notifications except the demo users",
        "`gateway/sandbox/api.py`",
    ),
    MagicValue(
        "abuse",
        "`GATEWAY_RATE_IP_PER_S=2000` (burst 4000) per client IP, `GATEWAY_RATE_CUSTOMER_PER_S=200` (burst 400) "
        "per customer",
        "beyond them `429 rate-limited` with `Retry-After`; bodies above `HTTP_MAX_BODY_BYTES=65536` are a `413`",
        "`gateway/ratelimit.py`, `shared/settings.py`",
    ),
    MagicValue(
        "abuse",
        "wrong passwords: 20 per client address, then one per 20 s (`GATEWAY_RATE_LOGIN_IP_PER_S=0.05`, "
        "`_BURST=20`), and 10 per number, then one per 100 s (`GATEWAY_RATE_LOGIN_PHONE_*`); registration "
        "codes asked for: 10 per address (`GATEWAY_RATE_REGISTER_IP_*`), 3 per number, then one per 200 s "
        "(`GATEWAY_RATE_REGISTER_PHONE_*`)",
        "beyond them `429 rate-limited` with `Retry-After` (a good password gives its try back); more than 8 "
        "password checks waiting for the 2 hashing threads (`GATEWAY_PASSWORD_MAX_WAITING`, "
        "`GATEWAY_PASSWORD_WORKERS`) is a `503 busy` at once",
        "`gateway/ratelimit.py` (`AttemptLimits`), `gateway/identity/passwords.py`, `gateway/settings.py`",
    ),
)


HEADER = "| area | value or control | effect | source |\n|---|---|---|---|"


def markdown_row(v: MagicValue) -> str:
    return f"| {v.area} | {v.value} | {v.effect} | {v.source} |"


def markdown() -> str:
    return "\n".join([HEADER, *(markdown_row(v) for v in MAGIC_VALUES)])


def as_json() -> list[dict[str, str]]:
    return [asdict(v) for v in MAGIC_VALUES]


_ROW = re.compile(r"^\|(?!---)(.+)\|\s*$")


def documented_rows(text: str) -> list[str]:
    """The four-column table rows of a Markdown document, header rows left out."""
    rows = []
    for line in text.splitlines():
        match = _ROW.match(line.strip())
        if match and len(match.group(1).split(" | ")) == 4 and not line.startswith("| area |"):
            rows.append(line.strip())
    return rows


def differences(doc: str) -> tuple[list[str], list[str]]:
    """(rows only in the module, rows only in the document)."""
    ours = [markdown_row(v) for v in MAGIC_VALUES]
    theirs = documented_rows(doc)
    return [r for r in ours if r not in theirs], [r for r in theirs if r not in ours]


def main(argv: list[str]) -> int:
    if "--check" in argv:
        doc = Path(__file__).resolve().parents[2] / "docs" / "sandbox.md"
        missing, extra = differences(doc.read_text())
        for row in missing:
            print(f"not in {doc.name}: {row}")
        for row in extra:
            print(f"only in {doc.name}: {row}")
        return 1 if missing or extra else 0
    print(markdown())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
