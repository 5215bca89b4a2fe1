"""The simulated market: a seeded random walk of prices inside each day's limit band,
quotes, sandbox price controls and price alerts. Pure: the service's ticker calls
`step()`; the same seed always walks the same path.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime

from services.securities.domain.instruments import INSTRUMENTS, Instrument, normalise_symbol
from services.securities.domain.rules import Band, change_bp, check_price_in_band, price_band, trade_value_minor
from shared.errors import DomainError

# Each step pulls the price back toward the previous close by this share of the gap,
# so a long-running sandbox wanders without pinning every symbol at its limits.
MEAN_REVERSION = 0.001


DEPTH_LEVELS = 5  # 五档: five price levels each side, as Chinese trading apps show
BID, ASK = 0, 1  # the sides of the simulated book
_MASK64 = (1 << 64) - 1


def _mix(*parts: int) -> int:
    """A 64-bit hash of integers (splitmix64 steps): cheap, and the same in every process."""
    h = 0x9E3779B97F4A7C15
    for part in parts:
        h = (h ^ (part & _MASK64)) * 0xBF58476D1CE4E5B9 & _MASK64
        h = (h ^ (h >> 31)) * 0x94D049BB133111EB & _MASK64
    return h ^ (h >> 29)


@dataclass(frozen=True)
class Level:
    """A price level of the simulated book: the shares resting there."""

    price: int
    quantity: int


@dataclass(frozen=True)
class Quote:
    instrument: Instrument
    day: date | None
    prev_close: int
    last: int
    open: int
    high: int
    low: int
    volume: int  # shares traded today
    turnover_minor: int
    band: Band
    pinned: bool
    seq: int  # bumps on every change, so a stream can tell new from old
    seed: int = 0  # the market's seed, which the simulated depth is drawn from
    book: int = 0  # which simulated book is showing: drawn afresh when the price moves
    taken: tuple[tuple[int, int, int], ...] = ()  # (side, price, shares) customers' fills took from it

    @property
    def symbol(self) -> str:
        return self.instrument.symbol

    @property
    def change(self) -> int:
        return self.last - self.prev_close

    @property
    def change_bp(self) -> int:
        return change_bp(self.last, self.prev_close)

    @property
    def bid(self) -> int | None:
        """Best bid: a tick under the last price; none at limit-down (sellers only)."""
        if self.last <= self.band.down:
            return None
        return max(self.band.down, self.last - self.instrument.tick_milli)

    @property
    def ask(self) -> int | None:
        """Best ask: a tick over the last price; none at limit-up (buyers only)."""
        if self.last >= self.band.up:
            return None
        return min(self.band.up, self.last + self.instrument.tick_milli)

    def depth(self) -> tuple[list[Level], list[Level]]:
        """Five levels of simulated resting bids (best first, falling) and asks (rising),
        a tick apart from the best bid and ask and never outside the day's band: a sealed
        side has none. Sizes are whole lots, the same for the same seed, symbol and book,
        less what customers' orders have taken from this book (a level taken whole is gone)."""
        tick, lot = self.instrument.tick_milli, self.instrument.lot_size
        code = int(self.symbol) if self.symbol.isdigit() else sum(map(ord, self.symbol))
        taken = {(side, price): shares for side, price, shares in self.taken}

        def levels(best: int | None, step: int, side: int) -> list[Level]:
            out: list[Level] = []
            price, drawn = best, 0
            while price is not None and drawn < DEPTH_LEVELS and price in self.band:
                lots = 1 + _mix(self.seed, code, self.book, side, drawn) % 300
                left = lots * lot - taken.get((side, price), 0)
                if left > 0:
                    out.append(Level(price, left))
                price += step
                drawn += 1
            return out

        return levels(self.bid, -tick, BID), levels(self.ask, tick, ASK)

    def opposite(self, buying: bool) -> list[Level]:
        """The side an order trades against, best first: asks for a buy, bids for a sell."""
        bids, asks = self.depth()
        return asks if buying else bids


UNSAVED_KEPT = 100_000  # ticks awaiting the history writer; a stalled writer loses the oldest
TICKS_KEPT = 5_000  # per symbol and day: the newest; a long always-open day walks far more
BARS_KEPT = 750  # per symbol: about three years of trading days


@dataclass(frozen=True)
class Tick:
    """A trade of the simulated market: when (sandbox clock), at what price, how many shares."""

    at: datetime
    price: int
    volume: int


@dataclass(frozen=True)
class Bar:
    """A day's open, high, low and close (the last price), volume and turnover."""

    day: date
    open: int
    high: int
    low: int
    close: int
    volume: int
    turnover_minor: int
    complete: bool  # False for today's bar, still moving


@dataclass(frozen=True)
class Alert:
    instrument: Instrument
    direction: str  # "up" | "down"
    threshold_bp: int
    change_bp: int
    last: int
    prev_close: int
    day: date | None


@dataclass
class _State:
    instrument: Instrument
    rng: random.Random
    prev_close: int
    last: int = 0
    open: int = 0
    high: int = 0
    low: int = 0
    volume: int = 0
    turnover_minor: int = 0
    band: Band = field(default_factory=lambda: Band(0, 0))
    pinned: bool = False
    alert_level: int = 0
    seq: int = 0
    book: int = 0  # the simulated book's draw: a new one whenever the price moves
    taken: dict[tuple[int, int], int] = field(default_factory=dict)  # (side, price) -> shares taken from this book
    ticks: deque[Tick] = field(default_factory=lambda: deque(maxlen=TICKS_KEPT))
    bars: deque[Bar] = field(default_factory=lambda: deque(maxlen=BARS_KEPT))

    def bar(self, day: date, *, complete: bool) -> Bar:
        return Bar(day, self.open, self.high, self.low, self.last, self.volume, self.turnover_minor, complete)

    def start_day(self, prev_close: int) -> None:
        self.prev_close = prev_close
        self.last = self.open = self.high = self.low = prev_close
        self.volume = self.turnover_minor = 0
        self.band = price_band(prev_close, self.instrument)
        self.alert_level = 0
        self.seq += 1
        self.new_book()

    def new_book(self) -> None:
        """The price moved: the simulated participants' resting orders are drawn afresh."""
        self.book = self.seq
        self.taken.clear()

    def trade_at(self, price: int, volume: int, at: datetime | None = None) -> Tick | None:
        tick = None
        if at is not None:
            tick = Tick(at, price, volume)
            self.ticks.append(tick)
        self.last = price
        self.high = max(self.high, price)
        self.low = min(self.low, price)
        self.volume += volume
        self.turnover_minor += trade_value_minor(price, volume)
        self.seq += 1
        self.new_book()
        return tick


def alert_level(
    prev_level: int, change: int, thresholds_bp: Sequence[int], rearm_bp: int
) -> tuple[int, list[tuple[str, int]]]:
    """How many thresholds the move from the previous close has crossed (positive up,
    negative down), and the crossings that are new since `prev_level`.

    A crossing alerts once; it is re-armed only when the move falls back by
    `rearm_bp` past the threshold, so a price dithering on a threshold stays quiet."""
    ts = sorted(thresholds_bp)
    up = sum(1 for t in ts if change >= t)
    down = sum(1 for t in ts if change <= -t)
    raw = up if up else -down
    level = raw
    if prev_level > 0 and raw >= 0:
        level = max(raw, sum(1 for t in ts[:prev_level] if change >= t - rearm_bp))
    elif prev_level < 0 and raw <= 0:
        level = min(raw, -sum(1 for t in ts[:-prev_level] if change <= -(t - rearm_bp)))
    crossings: list[tuple[str, int]] = []
    if level > 0:
        crossings = [("up", ts[i]) for i in range(max(prev_level, 0), level)]
    elif level < 0:
        crossings = [("down", ts[i]) for i in range(max(-prev_level, 0), -level)]
    return level, crossings


class UnknownInstrument(DomainError):
    """A symbol asked for by name (a quote, the price control) that is not listed."""

    code = "unknown-symbol"


class Market:
    def __init__(
        self,
        instruments: Iterable[Instrument] = INSTRUMENTS,
        *,
        seed: int,
        alert_thresholds_bp: Sequence[int] = (500,),
        alert_rearm_bp: int = 50,
    ) -> None:
        self.seed = seed
        self.instruments = {i.symbol: i for i in instruments}
        self.alert_thresholds_bp = tuple(sorted(t for t in alert_thresholds_bp if t > 0))
        self.alert_rearm_bp = alert_rearm_bp
        self.day: date | None = None
        self._states: dict[str, _State] = {}
        # The day's ticks not yet written to the database (symbol, day, tick), oldest first.
        self._unsaved: deque[tuple[str, date, Tick]] = deque(maxlen=UNSAVED_KEPT)
        for symbol, instrument in self.instruments.items():
            # String seeds hash with SHA-512: stable across runs and processes.
            state = _State(instrument, random.Random(f"{seed}:{symbol}"), instrument.prev_close_milli)
            state.start_day(instrument.prev_close_milli)
            self._states[symbol] = state

    # --- days -------------------------------------------------------------------------

    def open_day(self, day: date) -> bool:
        """Start `day` if it is a new one: yesterday's last price becomes the previous
        close, the limit band moves with it, day statistics and alerts reset."""
        if self.day == day:
            return False
        first = self.day is None
        if self.day is not None:
            for state in self._states.values():
                state.bars.append(state.bar(self.day, complete=True))
                state.ticks.clear()
                state.start_day(state.last)
        self.day = day
        return not first

    # --- prices -----------------------------------------------------------------------

    def step(self, at: datetime | None = None) -> list[str]:
        """One random-walk step for every symbol not pinned; returns those that moved.
        `at` (the sandbox clock) stamps the day's ticks."""
        moved = []
        for symbol, s in self._states.items():
            if s.pinned:
                continue
            tick = s.instrument.tick_milli
            sigma = max(0.5, s.last * s.instrument.volatility_bp / 10_000 / tick)
            drift = -(s.last - s.prev_close) / tick * MEAN_REVERSION
            ticks = round(s.rng.gauss(drift, sigma))
            volume = s.rng.randint(1, 20) * s.instrument.lot_size
            price = min(max(s.last + ticks * tick, s.band.down), s.band.up)
            if price != s.last:
                self._keep(symbol, s.trade_at(price, volume, at))
                moved.append(symbol)
        return moved

    def set_price(self, symbol: str, price_milli: int, *, pinned: bool = True, at: datetime | None = None) -> Quote:
        """Sandbox control: trade the symbol at `price_milli` (inside today's band) and
        pin it there, so the random walk leaves it alone until it is unpinned."""
        s = self._state(symbol)
        check_price_in_band(price_milli, s.band, s.instrument)
        s.pinned = pinned
        if price_milli != s.last:
            self._keep(s.instrument.symbol, s.trade_at(price_milli, s.instrument.lot_size, at))
        else:
            s.seq += 1
            s.new_book()
        return self._quote(s)

    def pin(self, symbol: str, pinned: bool) -> Quote:
        s = self._state(symbol)
        s.pinned = pinned
        s.seq += 1
        return self._quote(s)

    # --- reading ----------------------------------------------------------------------

    def quote(self, symbol: str) -> Quote:
        return self._quote(self._state(symbol))

    def quotes(self, symbols: Iterable[str] | None = None) -> list[Quote]:
        chosen = self._states.keys() if symbols is None else [normalise_symbol(s) for s in symbols]
        return [self.quote(s) for s in chosen]

    def take(self, symbol: str, buying: bool, fills: Iterable[tuple[int, int]]) -> Quote:
        """A customer's order took (price, shares) from the other side of the book showing
        now: those shares are gone from it until the price moves and a new book is drawn.
        The last price stays (the simulated market is a price taker)."""
        s = self._state(symbol)
        side = ASK if buying else BID
        for price, shares in fills:
            s.taken[(side, price)] = s.taken.get((side, price), 0) + shares
        s.seq += 1
        return self._quote(s)

    def instrument(self, symbol: str) -> Instrument:
        return self._state(symbol).instrument

    def ticks(self, symbol: str) -> list[Tick]:
        """Today's trades, oldest first (the newest TICKS_KEPT)."""
        return list(self._state(symbol).ticks)

    def bars(self, symbol: str) -> list[Bar]:
        """Daily bars of the days this market has traded, oldest first, today's last."""
        s = self._state(symbol)
        today = [s.bar(self.day, complete=False)] if self.day is not None else []
        return [*s.bars, *today]

    def alerts(self, symbols: Iterable[str] | None = None) -> list[Alert]:
        """Threshold crossings since the last call, for the given symbols (all by default)."""
        out = []
        for symbol in self._states if symbols is None else symbols:
            s = self._state(symbol)
            change = change_bp(s.last, s.prev_close)
            s.alert_level, crossings = alert_level(s.alert_level, change, self.alert_thresholds_bp, self.alert_rearm_bp)
            out += [Alert(s.instrument, d, t, change, s.last, s.prev_close, self.day) for d, t in crossings]
        return out

    # --- history kept in the database ---------------------------------------------------

    def _keep(self, symbol: str, tick: Tick | None) -> None:
        if tick is not None and self.day is not None:
            self._unsaved.append((symbol, self.day, tick))

    def unsaved_ticks(self) -> list[tuple[str, date, Tick]]:
        """The ticks since the last call, for the history writer (and gone from here)."""
        out = list(self._unsaved)
        self._unsaved.clear()
        return out

    def restore(self, today: date, bars: Iterable[tuple[str, Bar]], ticks: Iterable[tuple[str, Tick]]) -> None:
        """Pick up the history a previous process wrote: each symbol's complete daily bars,
        and today's bar and ticks, from which the day resumes (its previous close, band,
        open, high, low, last price, volume and turnover). The walk goes on from there
        with the seeded generator."""
        self.day = today
        complete: dict[str, list[Bar]] = {}
        todays: dict[str, Bar] = {}
        for symbol, bar in sorted(bars, key=lambda sb: sb[1].day):
            if symbol not in self._states:
                continue
            if bar.day < today:
                complete.setdefault(symbol, []).append(bar)
            elif bar.day == today:
                todays[symbol] = bar
        for symbol, s in self._states.items():
            history = complete.get(symbol, [])
            if not history and symbol not in todays:
                continue
            s.bars.clear()
            s.bars.extend(replace(b, complete=True) for b in history[-BARS_KEPT:])
            s.ticks.clear()
            s.start_day(history[-1].close if history else s.instrument.prev_close_milli)
            if (now := todays.get(symbol)) is not None:
                s.open, s.high, s.low, s.last = now.open, now.high, now.low, now.close
                s.volume, s.turnover_minor = now.volume, now.turnover_minor
                s.new_book()
        for symbol, tick in ticks:
            if symbol in self._states:
                self._states[symbol].ticks.append(tick)

    def _state(self, symbol: str) -> _State:
        try:
            return self._states[normalise_symbol(symbol)]
        except KeyError:
            raise UnknownInstrument(f"no listing {symbol!r} in the sandbox market") from None

    def _quote(self, s: _State) -> Quote:
        return Quote(
            instrument=s.instrument,
            day=self.day,
            prev_close=s.prev_close,
            last=s.last,
            open=s.open,
            high=s.high,
            low=s.low,
            volume=s.volume,
            turnover_minor=s.turnover_minor,
            band=s.band,
            pinned=s.pinned,
            seq=s.seq,
            seed=self.seed,
            book=s.book,
            taken=tuple((side, price, shares) for (side, price), shares in s.taken.items()),
        )
