"""A-share trading rules as plain functions: prices and ticks, daily limits, lots,
fees, T+1 and trading hours. No I/O.

Units: prices in milli-yuan (0.001 CNY) so share ticks (0.01) and fund ticks
(0.001) are both integers; money in fen. Every rounding to the fen is half up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum
from zoneinfo import ZoneInfo

from services.securities.domain.calendar import CLOSE, TradingCalendar
from services.securities.domain.instruments import Instrument
from shared.errors import DomainError

MILLI_PER_FEN = 10
MAX_ORDER_QUANTITY = 1_000_000


# --- errors ---------------------------------------------------------------------------


class OrderError(DomainError):
    """A rule an order breaks; `code` is the stable problem type the API answers with."""

    code = "order-invalid"


class UnknownSymbol(OrderError):
    code = "unknown-symbol"


class InvalidQuantity(OrderError):
    code = "invalid-quantity"


class OddLot(OrderError):
    code = "odd-lot"


class InvalidPrice(OrderError):
    code = "invalid-price"


class OffTick(OrderError):
    code = "off-tick-price"


class PriceOutsideLimits(OrderError):
    code = "price-outside-limits"


class NotEnoughSellable(OrderError):
    code = "insufficient-sellable-shares"


class ProceedsBelowFees(OrderError):
    code = "proceeds-below-fees"


class MarketClosed(OrderError):
    code = "market-closed"


# --- arithmetic -----------------------------------------------------------------------


def div_half_up(numerator: int, denominator: int) -> int:
    """numerator / denominator rounded half up (away from zero for the non-negative
    values this module uses)."""
    if numerator < 0:
        return -div_half_up(-numerator, denominator)
    return (2 * numerator + denominator) // (2 * denominator)


def round_half_up(value: Decimal) -> int:
    return int(value.to_integral_value(rounding=ROUND_HALF_UP))


# --- prices ---------------------------------------------------------------------------


def parse_price(value: Decimal | str, instrument: Instrument) -> int:
    """A decimal price to milli-yuan, refusing one that is not a whole number of ticks."""
    try:
        price = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except InvalidOperation:
        raise InvalidPrice(f"price {value!r} is not a decimal number") from None
    if not price.is_finite() or price <= 0:
        raise InvalidPrice('price must be a positive decimal such as "12.34"')
    if price > Decimal(10**7):
        raise InvalidPrice("price is implausibly large")
    milli = price.scaleb(3)
    if milli != milli.to_integral_value() or int(milli) % instrument.tick_milli:
        raise OffTick(
            f"{instrument.symbol} trades in ticks of {format_price(instrument.tick_milli, instrument)} CNY; "
            f"{price} is not on a tick"
        )
    return int(milli)


def format_price(milli: int, instrument: Instrument | None = None, places: int | None = None) -> str:
    """Milli-yuan as a decimal string with the instrument's price precision."""
    digits = places if places is not None else (instrument.price_places if instrument else 3)
    sign = "-" if milli < 0 else ""
    whole, frac = divmod(abs(milli), 1000)
    text = f"{frac:03d}"[:digits]
    return f"{sign}{whole}.{text}" if digits else f"{sign}{whole}"


@dataclass(frozen=True)
class Band:
    """The day's price limits (limit-down and limit-up), inclusive."""

    down: int
    up: int

    def __contains__(self, price: int) -> bool:
        return self.down <= price <= self.up


def price_band(prev_close_milli: int, instrument: Instrument) -> Band:
    """prev close x (1 -/+ limit), rounded half up to the tick (the exchanges' rule)."""
    tick, bp = instrument.tick_milli, instrument.limit_bp
    up = div_half_up(prev_close_milli * (10_000 + bp), 10_000 * tick) * tick
    down = div_half_up(prev_close_milli * (10_000 - bp), 10_000 * tick) * tick
    return Band(down=max(down, tick), up=up)


def check_price_in_band(price_milli: int, band: Band, instrument: Instrument) -> None:
    if price_milli not in band:
        raise PriceOutsideLimits(
            f"{instrument.symbol} may trade today between {format_price(band.down, instrument)} and "
            f"{format_price(band.up, instrument)} CNY (+/-{instrument.limit_bp // 100}% of the previous close)"
        )


def change_bp(last_milli: int, prev_close_milli: int) -> int:
    """Change from the previous close in basis points, truncated toward zero."""
    diff = (last_milli - prev_close_milli) * 10_000
    return diff // prev_close_milli if diff >= 0 else -((-diff) // prev_close_milli)


# --- quantities -----------------------------------------------------------------------


def check_buy_quantity(quantity: int, instrument: Instrument) -> None:
    if quantity <= 0 or quantity > MAX_ORDER_QUANTITY:
        raise InvalidQuantity(f"quantity must be between 1 and {MAX_ORDER_QUANTITY} shares")
    if quantity % instrument.lot_size:
        raise OddLot(f"buy in whole lots of {instrument.lot_size} shares; {quantity} is not a multiple")


def check_sell_quantity(
    quantity: int, sellable: int, instrument: Instrument, *, frozen: int = 0, bought_today: int = 0
) -> None:
    """Sells go in lots too, except that an odd remainder is sold all at once. A sell of
    more than is sellable is told why the rest is not: promised to open sell orders
    (`frozen`), bought today (T+1), or not held at all."""
    if quantity <= 0 or quantity > MAX_ORDER_QUANTITY:
        raise InvalidQuantity(f"quantity must be between 1 and {MAX_ORDER_QUANTITY} shares")
    if quantity > sellable:
        why = []
        if frozen:
            why.append(f"{frozen} are promised to open sell orders")
        if bought_today:
            why.append(f"{bought_today} were bought today and become sellable on the next trading day (T+1)")
        held = sellable + frozen + bought_today
        if quantity > held:
            why.append(f"{held} are held in all")
        raise NotEnoughSellable(f"only {sellable} shares of {instrument.symbol} can be sold now: " + "; ".join(why))
    if quantity % instrument.lot_size and quantity != sellable:
        raise OddLot(
            f"sell in lots of {instrument.lot_size} shares, or the whole sellable quantity of {sellable} at once"
        )


# --- fees -----------------------------------------------------------------------------


def trade_value_minor(price_milli: int, quantity: int) -> int:
    """price x quantity in fen, half up (only fund prices can leave a fraction)."""
    return div_half_up(price_milli * quantity, MILLI_PER_FEN)


@dataclass(frozen=True)
class Fees:
    commission_minor: int
    stamp_duty_minor: int

    @property
    def total_minor(self) -> int:
        return self.commission_minor + self.stamp_duty_minor


@dataclass(frozen=True)
class FeeSchedule:
    """Commission on both sides with a minimum; stamp duty on share sells only."""

    commission_rate: Decimal = Decimal("0.00025")
    min_commission_minor: int = 500
    stamp_duty_rate: Decimal = Decimal("0.0005")

    def commission(self, gross_minor: int) -> int:
        return max(self.min_commission_minor, round_half_up(Decimal(gross_minor) * self.commission_rate))

    def stamp_duty(self, side: str, gross_minor: int, instrument: Instrument) -> int:
        if side != "sell" or instrument.stamp_duty_exempt:
            return 0
        return round_half_up(Decimal(gross_minor) * self.stamp_duty_rate)

    def for_trade(self, side: str, gross_minor: int, instrument: Instrument) -> Fees:
        return Fees(self.commission(gross_minor), self.stamp_duty(side, gross_minor, instrument))


# --- trading hours --------------------------------------------------------------------


class HoursMode(StrEnum):
    ALWAYS_OPEN = "always_open"  # the sandbox default: trade at any hour
    A_SHARE = "a_share"  # continuous trading sessions, Beijing time, weekdays


# Beijing time: the A-share sessions and the bank day (shared.clock.BANK_TZ).
MARKET_TZ = ZoneInfo("Asia/Shanghai")


def market_open(mode: HoursMode, local: datetime, calendar: TradingCalendar | None = None) -> bool:
    """`local` is Beijing time: in `a_share` mode, a trading day of the calendar (no
    weekend, no exchange holiday) inside a continuous session."""
    if mode is HoursMode.ALWAYS_OPEN:
        return True
    return (calendar or TradingCalendar()).in_session(local)


def session_end(mode: HoursMode, day: date) -> datetime:
    """When a day order placed on `day` lapses: the close in `a_share` mode, else the end
    of the bank day."""
    if mode is HoursMode.A_SHARE:
        return datetime.combine(day, CLOSE, tzinfo=MARKET_TZ)
    return datetime.combine(day + timedelta(days=1), time(0), tzinfo=MARKET_TZ)


def closed_detail(local: datetime, calendar: TradingCalendar | None = None) -> str:
    cal = calendar or TradingCalendar()
    why = ", an exchange holiday" if cal.closed_because(local.date()) == "holiday" else ""
    return (
        "the A-share market trades 09:30-11:30 and 13:00-15:00 Beijing time on trading days; "
        f"it is now {local:%a %H:%M} ({local:%Y-%m-%d}{why}); it opens next at {cal.next_open(local):%a %Y-%m-%d %H:%M}"
    )
