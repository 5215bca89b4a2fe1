"""Public request and response bodies of the securities API; the gateway serves the
same shapes. Prices and money are decimal strings, money also as integer fen
(`*_minor`).

Pure pydantic: the value lists and limits below copy the securities domain's, and
tests/unit/securities/test_schemas_match_domain.py keeps them equal."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema

from shared.money import AmountIn, decimal_string
from shared.schemas import Whole

# --- the domain's value lists and limits ---------------------------------------------------------

SideName = Literal["buy", "sell"]
OrderTypeName = Literal["market", "limit"]
OrderStatusName = Literal[
    "pending", "accepted", "partially_filled", "filling", "filled", "cancelling", "cancelled", "rejected"
]
# What `GET /v1/securities/orders?status=` takes: a status, or `open` for any not yet final.
OrderStatusFilter = Literal[
    "pending", "accepted", "partially_filled", "filling", "filled", "cancelling", "cancelled", "rejected", "open"
]
ExchangeName = Literal["SH", "SZ"]
BoardName = Literal["main", "chinext", "star", "etf"]
TransferDirectionName = Literal["bank_to_securities", "securities_to_bank"]
TransferStatusName = Literal["pending", "completed", "failed"]
RestrictedBoardName = Literal["star", "chinext", "st"]
MAX_ORDER_QUANTITY = 1_000_000
LOT_SIZE = 100

# Li Wei's accounts (shared/sandbox.py), for the examples.
DEMO_CHECKING = "5a0e1d3c-0000-4000-8000-000000000101"
DEMO_SAVINGS = "5a0e1d3c-0000-4000-8000-000000000102"
DEMO_SECURITIES_CASH = "5a0e1d3c-0000-4000-8000-000000000103"


# Prices share the amount's shape (a JSON string, no sign, exponent, spaces or leading
# zeros) with up to six decimal places: whether one is on the tick is the exchange's rule,
# answered as `off-tick-price`.
PRICE_PATTERN = r"^(0|[1-9][0-9]{0,7})(\.[0-9]{1,6})?$"

PriceIn = Annotated[
    Decimal,
    decimal_string(PRICE_PATTERN, "price", 6, "invalid_price", "no A-share is priced at 100000000.00 or more"),
    PlainSerializer(lambda d: str(d), return_type=str),
    WithJsonSchema({"type": "string", "pattern": PRICE_PATTERN, "maxLength": 15, "examples": ["1688.00", "3.862"]}),
]


# --- orders and positions -----------------------------------------------------------------------


class OrderCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"symbol": "600519", "side": "buy", "type": "limit", "quantity": 100, "price": "1688.00"},
                {"symbol": "000001", "side": "sell", "type": "market", "quantity": 200},
                {"symbol": "510300", "side": "buy", "type": "limit", "quantity": 1000, "price": "3.862"},
            ]
        },
    )
    symbol: str = Field(min_length=1, max_length=12, description="Six-digit code, e.g. 600519 (or 600519.SH)")
    side: SideName
    type: OrderTypeName = Field(description="market: fill at the current price; limit: at `price` or better")
    quantity: Whole = Field(gt=0, le=MAX_ORDER_QUANTITY, description=f"Shares; buys in lots of {LOT_SIZE}")
    price: PriceIn | None = Field(default=None, description="Limit price (limit orders only), on the tick")


ORDER_EXAMPLE: dict[str, Any] = {
    "id": "4d8f2a61-9e3b-4c7d-a5f0-1b6e8c2d9a43",
    "symbol": "600519",
    "name": "Kweichow Moutai",
    "side": "buy",
    "type": "limit",
    "quantity": 100,
    "price": "1688.00",
    "status": "filled",
    "reason": None,
    "detail": None,
    "account_id": DEMO_SECURITIES_CASH,
    "reserved": "0.00",
    "reserved_minor": 0,
    "filled_quantity": 100,
    "remaining_quantity": 0,
    "filled_price": "1688.00",
    "gross": "168800.00",
    "gross_minor": 16880000,
    "commission": "42.20",
    "commission_minor": 4220,
    "stamp_duty": "0.00",
    "stamp_duty_minor": 0,
    "amount": "168842.20",
    "amount_minor": 16884220,
    "realised_pnl": None,
    "realised_pnl_minor": None,
    "bank_day": "2025-06-02",
    "created_at": "2025-06-02T01:45:00Z",
    "updated_at": "2025-06-02T01:45:01Z",
    "filled_at": "2025-06-02T01:45:01Z",
    "links": {
        "self": "/v1/securities/orders/4d8f2a61-9e3b-4c7d-a5f0-1b6e8c2d9a43",
        "quote": "/v1/market/quotes/600519",
    },
}


class OrderPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [ORDER_EXAMPLE]})

    id: str
    symbol: str
    name: str
    side: SideName
    type: OrderTypeName
    quantity: int
    price: str | None = Field(description="The limit price (null for market orders)")
    status: OrderStatusName
    reason: str | None = Field(description="Why it was rejected or cancelled")
    detail: str | None
    account_id: str
    reserved: str = Field(
        description="Cash the buy holds now: price x quantity + fees while it is open (a market buy at the "
        "day's limit-up), 0 once it has ended (filled, cancelled or rejected)"
    )
    reserved_minor: int
    filled_quantity: int = Field(description="Shares filled and settled so far (an order can fill in parts)")
    remaining_quantity: int = Field(description="Shares still open: resting, or being held again; 0 once it ended")
    filled_price: str | None = Field(
        description="Average price of the fills (成交均价), at the tick or to 0.001 CNY between ticks"
    )
    gross: str | None = Field(description="Price x quantity")
    gross_minor: int | None
    commission: str | None
    commission_minor: int | None
    stamp_duty: str | None
    stamp_duty_minor: int | None
    amount: str | None = Field(description="Cash paid (buy, fees included) or received (sell, fees deducted)")
    amount_minor: int | None
    realised_pnl: str | None
    realised_pnl_minor: int | None
    bank_day: str
    created_at: datetime
    updated_at: datetime
    filled_at: datetime | None
    links: dict[str, str]


ORDER_PAGE_EXAMPLE: dict[str, Any] = {"items": [ORDER_EXAMPLE], "next_cursor": None}


class OrderPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [ORDER_PAGE_EXAMPLE]})

    items: list[OrderPublic]
    next_cursor: str | None


TRADE_EXAMPLE: dict[str, Any] = {
    "id": "9b1e7c20-5d4a-4f3e-8a61-2c7d9e0f1a35",
    "order_id": "7c2e9f14-3a6b-4d8e-b1f0-5e9a2c4d6b81",
    "symbol": "600519",
    "name": "Kweichow Moutai",
    "side": "sell",
    "quantity": 100,
    "price": "1750.00",
    "gross": "175000.00",
    "gross_minor": 17500000,
    "commission": "43.75",
    "commission_minor": 4375,
    "stamp_duty": "87.50",
    "stamp_duty_minor": 8750,
    "transfer_fee": "0.00",
    "transfer_fee_minor": 0,
    "net": "174868.75",
    "net_minor": 17486875,
    "realised_pnl": "6026.55",
    "realised_pnl_minor": 602655,
    "account_id": DEMO_SECURITIES_CASH,
    "trade_day": "2025-06-03",
    "traded_at": "2025-06-03T02:10:00Z",
    "settled_at": "2025-06-03T02:10:01Z",
    "links": {
        "self": "/v1/securities/trades/9b1e7c20-5d4a-4f3e-8a61-2c7d9e0f1a35",
        "order": "/v1/securities/orders/7c2e9f14-3a6b-4d8e-b1f0-5e9a2c4d6b81",
    },
}


class TradePublic(BaseModel):
    """A trade confirmation (contract note): one settled fill, kept after the position
    it opened or closed is gone."""

    model_config = ConfigDict(json_schema_extra={"examples": [TRADE_EXAMPLE]})

    id: str
    order_id: str
    symbol: str
    name: str
    side: SideName
    quantity: int
    price: str = Field(description="Execution price at the instrument's tick (2 decimals, ETFs 3)")
    gross: str = Field(description="Price x quantity")
    gross_minor: int
    commission: str
    commission_minor: int
    stamp_duty: str = Field(description="Share sells only; ETFs are exempt")
    stamp_duty_minor: int
    transfer_fee: str = Field(description="Transfer fee (guohu fei): not modelled by the sandbox, always 0.00")
    transfer_fee_minor: int
    net: str = Field(description="Cash paid (buy: gross + fees) or received (sell: gross - fees)")
    net_minor: int
    realised_pnl: str | None = Field(description="A sell's proceeds less the average cost of the shares sold")
    realised_pnl_minor: int | None
    account_id: str
    trade_day: str = Field(description="The bank day it traded (Beijing time)")
    traded_at: datetime = Field(description="When the market matched it (sandbox clock)")
    settled_at: datetime = Field(description="When accounts settled its cash and the position changed")
    links: dict[str, str]


class TradePage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [TRADE_EXAMPLE], "next_cursor": None}]})

    items: list[TradePublic]
    next_cursor: str | None


PNL_EXAMPLE: dict[str, Any] = {
    "items": [
        {
            "symbol": "600519",
            "name": "Kweichow Moutai",
            "sells": 1,
            "quantity_sold": 100,
            "realised_pnl": "6026.55",
            "realised_pnl_minor": 602655,
        }
    ],
    "total": "6026.55",
    "total_minor": 602655,
}


class SymbolPnl(BaseModel):
    symbol: str
    name: str
    sells: int = Field(description="Sell trades in the period")
    quantity_sold: int
    realised_pnl: str
    realised_pnl_minor: int


class RealisedPnl(BaseModel):
    """Realised P&L from the sell trades in a period, per symbol (held or not)."""

    model_config = ConfigDict(json_schema_extra={"examples": [PNL_EXAMPLE]})

    items: list[SymbolPnl]
    total: str
    total_minor: int


POSITION_EXAMPLE: dict[str, Any] = {
    "symbol": "600519",
    "name": "Kweichow Moutai",
    "quantity": 100,
    "sellable_quantity": 100,
    "frozen_quantity": 0,
    "bought_today_quantity": 0,
    "average_cost": "1688.422",
    "cost": "168842.20",
    "cost_minor": 16884220,
    "last_price": "1700.00",
    "market_value": "170000.00",
    "market_value_minor": 17000000,
    "unrealised_pnl": "1157.80",
    "unrealised_pnl_minor": 115780,
    "unrealised_pnl_pct": "0.69",
    "realised_pnl": "0.00",
    "realised_pnl_minor": 0,
}


class PositionPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [POSITION_EXAMPLE]})

    symbol: str
    name: str
    quantity: int
    sellable_quantity: int = Field(description="What can be sold now: T+1, less shares in open sell orders")
    frozen_quantity: int = Field(description="Shares promised to open sell orders")
    bought_today_quantity: int
    average_cost: str = Field(description="Cost per share, buy fees included (3 decimals)")
    cost: str
    cost_minor: int
    last_price: str
    market_value: str
    market_value_minor: int
    unrealised_pnl: str
    unrealised_pnl_minor: int
    unrealised_pnl_pct: str
    realised_pnl: str
    realised_pnl_minor: int


PORTFOLIO_TOTALS_EXAMPLE: dict[str, Any] = {
    "market_value": "170000.00",
    "market_value_minor": 17000000,
    "cost": "168842.20",
    "cost_minor": 16884220,
    "unrealised_pnl": "1157.80",
    "unrealised_pnl_minor": 115780,
}


class PortfolioTotals(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [PORTFOLIO_TOTALS_EXAMPLE]})

    market_value: str
    market_value_minor: int
    cost: str
    cost_minor: int
    unrealised_pnl: str
    unrealised_pnl_minor: int


POSITION_LIST_EXAMPLE: dict[str, Any] = {"items": [POSITION_EXAMPLE], "totals": PORTFOLIO_TOTALS_EXAMPLE}


class PositionList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [POSITION_LIST_EXAMPLE]})

    items: list[PositionPublic]
    totals: PortfolioTotals


# --- market data --------------------------------------------------------------------------------


QUOTE_EXAMPLE: dict[str, Any] = {
    "symbol": "600519",
    "name": "Kweichow Moutai",
    "exchange": "SH",
    "board": "main",
    "st": False,
    "currency": "CNY",
    "last": "1700.00",
    "prev_close": "1688.00",
    "change": "12.00",
    "change_pct": "0.71",
    "bid": "1699.99",
    "ask": "1700.01",
    "limit_up": "1856.80",
    "limit_down": "1519.20",
    "limit_pct": 10,
    "open": "1690.00",
    "high": "1705.50",
    "low": "1686.20",
    "volume": 1234500,
    "turnover": "2096181000.00",
    "turnover_minor": 209618100000,
    "tick_size": "0.01",
    "lot_size": 100,
    "pinned": False,
    "market_open": True,
    "bank_day": "2025-06-02",
    "seq": 4821,
    "bids": [
        {"price": "1699.99", "quantity": 1200},
        {"price": "1699.98", "quantity": 300},
        {"price": "1699.97", "quantity": 5400},
        {"price": "1699.96", "quantity": 800},
        {"price": "1699.95", "quantity": 2100},
    ],
    "asks": [
        {"price": "1700.01", "quantity": 900},
        {"price": "1700.02", "quantity": 4300},
        {"price": "1700.03", "quantity": 100},
        {"price": "1700.04", "quantity": 2600},
        {"price": "1700.05", "quantity": 700},
    ],
}


class DepthLevel(BaseModel):
    price: str
    quantity: int = Field(description="Shares resting at this price")


class QuotePublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [QUOTE_EXAMPLE]})

    symbol: str
    name: str
    exchange: ExchangeName
    board: BoardName
    st: bool
    currency: str = "CNY"
    last: str
    prev_close: str
    change: str
    change_pct: str
    bid: str | None = Field(description="Best bid; null at limit-down")
    ask: str | None = Field(description="Best ask; null at limit-up")
    limit_up: str
    limit_down: str
    limit_pct: int
    open: str
    high: str
    low: str
    volume: int = Field(description="Shares traded today")
    turnover: str
    turnover_minor: int
    tick_size: str
    lot_size: int
    pinned: bool = Field(description="Held at a price by the sandbox price control")
    market_open: bool
    bank_day: str | None
    seq: int
    bids: list[DepthLevel] = Field(
        description="五档: five simulated resting bids, best first (none at limit-down); sizes are simulated"
    )
    asks: list[DepthLevel] = Field(description="Five simulated resting asks, best first (none at limit-up)")


QUOTE_LIST_EXAMPLE: dict[str, Any] = {"items": [QUOTE_EXAMPLE]}

TICKS_EXAMPLE: dict[str, Any] = {
    "symbol": "600519",
    "bank_day": "2025-06-02",
    "items": [
        {"at": "2025-06-02T01:30:00.500Z", "price": "1688.50", "volume": 700},
        {"at": "2025-06-02T01:30:01Z", "price": "1689.20", "volume": 1200},
    ],
}


class TickPublic(BaseModel):
    at: datetime = Field(description="When it traded (sandbox clock)")
    price: str
    volume: int = Field(description="Shares")


class TickList(BaseModel):
    """Today's trades of one symbol, oldest first."""

    model_config = ConfigDict(json_schema_extra={"examples": [TICKS_EXAMPLE]})

    symbol: str
    bank_day: str | None
    items: list[TickPublic]


BARS_EXAMPLE: dict[str, Any] = {
    "symbol": "600519",
    "period": "day",
    "items": [
        {
            "day": "2025-06-02",
            "open": "1688.00",
            "high": "1705.50",
            "low": "1686.20",
            "close": "1700.00",
            "volume": 1234500,
            "turnover": "2096181000.00",
            "turnover_minor": 209618100000,
            "complete": True,
        }
    ],
}


class BarPublic(BaseModel):
    day: str = Field(description="The bank day (Beijing time)")
    open: str
    high: str
    low: str
    close: str = Field(description="The last price of the day (today's: the last price so far)")
    volume: int
    turnover: str
    turnover_minor: int
    complete: bool = Field(description="False for today's bar, which still moves")


class BarList(BaseModel):
    """Daily bars (OHLC, volume, turnover), oldest first, today's last."""

    model_config = ConfigDict(json_schema_extra={"examples": [BARS_EXAMPLE]})

    symbol: str
    period: Literal["day"]
    items: list[BarPublic]


CALENDAR_EXAMPLE: dict[str, Any] = {
    "hours_mode": "a_share",
    "timezone": "Asia/Shanghai",
    "now": "2026-10-08T10:15:00+08:00",
    "open_now": True,
    "next_open": "2026-10-08T13:00:00+08:00",
    "sessions": [{"start": "09:30", "end": "11:30"}, {"start": "13:00", "end": "15:00"}],
    "days": [
        {"day": "2026-10-07", "trading": False, "closed": "holiday"},
        {"day": "2026-10-08", "trading": True, "closed": None},
    ],
}


class SessionPublic(BaseModel):
    start: str = Field(description="Beijing time, HH:MM")
    end: str


class CalendarDay(BaseModel):
    day: str
    trading: bool
    closed: Literal["weekend", "holiday"] | None = Field(description="Why there is no trading that day")


class MarketCalendar(BaseModel):
    """Trading days and sessions on the sandbox clock (Asia/Shanghai)."""

    model_config = ConfigDict(json_schema_extra={"examples": [CALENDAR_EXAMPLE]})

    hours_mode: Literal["always_open", "a_share"] = Field(
        description="a_share: orders and transfers only in sessions on trading days; always_open: any time"
    )
    timezone: str
    now: datetime = Field(description="The sandbox clock, Beijing time")
    open_now: bool = Field(description="Whether orders are taken now, in this hours mode")
    next_open: datetime = Field(description="When the next continuous session starts (trading days only)")
    sessions: list[SessionPublic]
    days: list[CalendarDay] = Field(description="Each day from `from` to `to`, both included")


class QuoteList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [QUOTE_LIST_EXAMPLE]})

    items: list[QuotePublic]


INSTRUMENT_EXAMPLE: dict[str, Any] = {
    "symbol": "600519",
    "name": "Kweichow Moutai",
    "exchange": "SH",
    "board": "main",
    "st": False,
    "tick_size": "0.01",
    "lot_size": 100,
    "limit_pct": 10,
    "stamp_duty_exempt": False,
}


class InstrumentPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [INSTRUMENT_EXAMPLE]})

    symbol: str
    name: str
    exchange: ExchangeName
    board: BoardName
    st: bool
    tick_size: str
    lot_size: int
    limit_pct: int
    stamp_duty_exempt: bool


INSTRUMENT_LIST_EXAMPLE: dict[str, Any] = {"items": [INSTRUMENT_EXAMPLE]}


class InstrumentList(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [INSTRUMENT_LIST_EXAMPLE]})

    items: list[InstrumentPublic]


class PriceSet(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"price": "1700.00", "pinned": True}, {"price": "1688.00", "pinned": False}]},
    )
    price: PriceIn = Field(description="Inside today's limit band and on the tick")
    pinned: bool = Field(
        default=True, strict=True, description="Keep the price there (the random walk skips the symbol)"
    )


# --- bank-securities transfers ------------------------------------------------------------------
# Named BankTransfer*: the gateway serves payments' TransferCreate too, and OpenAPI
# components are keyed by class name.


class BankTransferCreate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {"from": "bank", "amount": "5000.00", "currency": "CNY"},
                {"from": "securities", "amount": "1200.00", "bank_account_id": DEMO_SAVINGS},
            ]
        },
    )
    from_: Literal["bank", "securities"] = Field(
        alias="from", description="bank: checking -> securities cash; securities: the way back"
    )
    amount: AmountIn
    currency: Literal["CNY"] = "CNY"
    bank_account_id: str | None = Field(
        default=None, max_length=64, description="A checking or savings account; the first checking one by default"
    )


BANK_TRANSFER_EXAMPLE: dict[str, Any] = {
    "id": "a9c3e7f1-2b5d-4e8a-b6c0-3f1d7e9a2c58",
    "direction": "bank_to_securities",
    "from_account_id": DEMO_CHECKING,
    "to_account_id": DEMO_SECURITIES_CASH,
    "amount": "5000.00",
    "amount_minor": 500000,
    "currency": "CNY",
    "status": "completed",
    "reason": None,
    "detail": None,
    "created_at": "2025-06-02T01:40:00Z",
    "updated_at": "2025-06-02T01:40:01Z",
    "links": {"self": "/v1/securities/transfers/a9c3e7f1-2b5d-4e8a-b6c0-3f1d7e9a2c58"},
}


class BankTransferPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [BANK_TRANSFER_EXAMPLE]})

    id: str
    direction: TransferDirectionName
    from_account_id: str
    to_account_id: str
    amount: str
    amount_minor: int
    currency: str
    status: TransferStatusName
    reason: str | None
    detail: str | None
    created_at: datetime
    updated_at: datetime
    links: dict[str, str]


BANK_TRANSFER_PAGE_EXAMPLE: dict[str, Any] = {"items": [BANK_TRANSFER_EXAMPLE], "next_cursor": None}


class BankTransferPage(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [BANK_TRANSFER_PAGE_EXAMPLE]})

    items: list[BankTransferPublic]
    next_cursor: str | None


CASH_EXAMPLE: dict[str, Any] = {
    "account_id": DEMO_SECURITIES_CASH,
    "currency": "CNY",
    "balance": "205026.55",
    "balance_minor": 20502655,
    "held": "0.00",
    "held_minor": 0,
    "tradable": "205026.55",
    "tradable_minor": 20502655,
    "withdrawable": "30157.80",
    "withdrawable_minor": 3015780,
    "proceeds_today": "174868.75",
    "proceeds_today_minor": 17486875,
    "bank_day": "2025-06-03",
}


class SecuritiesCash(BaseModel):
    """The securities cash account as a brokerage shows it: 可用 (tradable) and 可取
    (withdrawable)."""

    model_config = ConfigDict(json_schema_extra={"examples": [CASH_EXAMPLE]})

    account_id: str
    currency: str
    balance: str = Field(description="Ledger balance")
    balance_minor: int
    held: str = Field(description="Held by open buy orders")
    held_minor: int
    tradable: str = Field(
        description="可用: available to buy with (balance less holds), today's sale proceeds included"
    )
    tradable_minor: int
    withdrawable: str = Field(
        description="可取: what may move to the bank now: tradable less today's sale proceeds (withdrawable from the "
        "next bank day, T+1)"
    )
    withdrawable_minor: int
    proceeds_today: str = Field(
        description="Sale proceeds not yet withdrawable: today's (in `a_share` mode, on a weekend or holiday, "
        "the last trading day's too)"
    )
    proceeds_today_minor: int
    bank_day: str


PERMISSION_CREATE_EXAMPLE: dict[str, Any] = {"board": "star", "risk_disclosure_accepted": True}


class PermissionCreate(BaseModel):
    """Enable a restricted board (权限开通)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [PERMISSION_CREATE_EXAMPLE]})

    board: RestrictedBoardName = Field(description="star (STAR Market), chinext (ChiNext) or st (risk-warning shares)")
    risk_disclosure_accepted: bool = Field(
        default=False,
        strict=True,
        description="The customer read and accepted the board's risk disclosure (the sandbox's rule): JSON's "
        'true, not `"yes"`, `1` or `"on"`',
    )


PERMISSION_EXAMPLE: dict[str, Any] = {
    "board": "star",
    "name": "the STAR Market",
    "enabled": True,
    "enabled_at": "2025-06-02T01:40:00Z",
}


class PermissionPublic(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [PERMISSION_EXAMPLE]})

    board: RestrictedBoardName
    name: str
    enabled: bool
    enabled_at: datetime | None


class PermissionList(BaseModel):
    """Every restricted board and whether the customer may buy there."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [PERMISSION_EXAMPLE]}]})

    items: list[PermissionPublic]
