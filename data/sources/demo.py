"""A simulated market for offline use: every universe series, deterministic, SIMULATED.

The demo must look like the markets of BRIEF §2–§3, or the statistics and alerts shown on it
teach nothing. One grid row per weekday; each weekday has a Tokyo half (JGB close 06:00 UTC)
and then a New York half (UST close ~20:30 UTC):

* curves: per curve a level, slope and curvature factor plus a little per-tenor noise, in bp;
  Student-t innovations (fat tails) scaled by a GARCH(1,1) variance per market (clustering);
* contagion clock: JGB level_t = own_t + A·UST level_{t−1} (US leads, the stronger channel)
  and UST level_t = own_t + B·JGB level_t (Japan → US the same date, the weaker one);
* levels: tenor-wise mean reversion around a reference curve (realistic levels near the
  episode) with a slow trend back in time (curves were lower in Japan, higher at the US short
  end three years ago);
* prices: futures and ETFs from the matching yields via duration (ETFs also accrue carry, as
  Yahoo's adjusted closes do); ^TNX & co. from the curve plus a small basis; USD/JPY from the
  rate differential plus its own shocks; MOVE from the US variance forecast; VIX and the
  Nikkei from an equity variance process;
* a scripted JGB-led stress episode (`Episode`): day 1 JGB 30Y +20 bp / 40Y +25 bp after a
  calm 60 sessions (≈ 7σ on a 60-day window), day 2 +10 bp, spilling into USTs the same New
  York day, TLT down, USD/JPY swinging, MOVE up. Intraday, the day-1 move lands mostly right
  after the 12:35 JST auction result.

Determinism: innovations are drawn in blocks keyed by (seed, stream, absolute weekday block),
and every recursion is causal, so generating further ahead never changes an earlier value;
1-minute bars of a session are generated whole from (seed, series, date) and a bar is only
served once complete, so the value at minute t never changes once seen.
"""
from __future__ import annotations

import datetime as dt
import math
import threading
import zlib
from collections import OrderedDict
from dataclasses import dataclass, replace
from typing import Any, Sequence
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from data.frame import COLUMNS, daily_close_ts, empty_frame
from data.sources.base import DEFAULT_TIMEOUT, Request
from errors import EmptyPayload, MalformedPayload
from universe import Series, Universe, load_universe

__all__ = ["SIMULATED", "Episode", "DemoMarket", "DemoPayload", "DemoSource", "demo_market"]

SIMULATED = True

UTC = dt.timezone.utc
_EPOCH = dt.date(1990, 1, 1)  # a Monday: draws are keyed by weekdays since then
_BLOCK = 128                  # weekdays per RNG block
_DF = 4.0                     # Student-t degrees of freedom (daily)
_T_SCALE = math.sqrt((_DF - 2.0) / _DF)
_ZCAP = 5.5                   # one raw draw never exceeds 5.5σ: the scripted episode stays the tail
_GARCH = (0.10, 0.88)         # alpha, beta (persistence 0.98, half-life ≈ 35 days)
_NS_MIN = 60_000_000_000
_NS_DAY = 86_400_000_000_000

# ---------------------------------------------------------------- curve parameters
# (tenor, value) points, interpolated in log tenor.
_JP_REF = ((1, 0.95), (2, 1.20), (3, 1.33), (4, 1.45), (5, 1.55), (6, 1.66), (7, 1.78), (8, 1.90),
           (9, 2.00), (10, 2.10), (15, 2.65), (20, 3.02), (25, 3.18), (30, 3.30), (40, 3.55))
# Percent per year, applied before the reference date only: JGBs were lower three years ago.
_JP_TREND = ((1, 0.28), (2, 0.30), (5, 0.28), (10, 0.22), (20, 0.20), (30, 0.17), (40, 0.17))
# Daily σ in bp by tenor (the long end is the volatile part of the JGB curve now).
_JP_VOL = ((1, 0.9), (2, 1.4), (3, 1.7), (5, 2.1), (7, 2.4), (10, 2.7), (15, 2.9), (20, 3.0),
           (30, 3.1), (40, 3.4))
_US_REF = ((1 / 12, 3.78), (0.125, 3.77), (1 / 6, 3.76), (0.25, 3.72), (1 / 3, 3.68), (0.5, 3.62),
           (1, 3.52), (2, 3.48), (3, 3.52), (5, 3.70), (7, 3.92), (10, 4.17), (20, 4.72), (30, 4.80))
# The short end was ~1.5 % higher three years ago (before the cuts): an inverted curve.
_US_TREND = ((1 / 12, -0.50), (0.5, -0.48), (1, -0.45), (2, -0.40), (5, -0.15), (10, 0.0), (30, 0.05))
_US_VOL = ((1 / 12, 1.1), (0.25, 1.5), (0.5, 2.3), (1, 3.8), (2, 6.6), (3, 7.1), (5, 7.4), (7, 7.4),
           (10, 7.2), (20, 6.8), (30, 6.5))
# Lead-lag coupling of the level factors (bp per bp), tuned so corr(UST10_{t−1}, JGB10_t) ≈ 0.4
# and corr(JGB10_t, UST10_t) ≈ 0.25 (BRIEF §3: 0.41 vs 0.24).
_A_US_TO_JP = 0.17
_B_JP_TO_US = 0.45
_KAPPA_CURVE = math.log(2) / 120   # mean-reversion half-life 120 days
_KAPPA_FX = math.log(2) / 120
_KAPPA_EQ = math.log(2) / 250

# Per-series price recipes: (curve, ((tenor, weight), ...), duration, reference price, carry?, tracking σ %)
_BOND_PRICES: dict[str, tuple[str, tuple[tuple[float, float], ...], float, float, bool, float]] = {
    "zt_f": ("US", ((2, 1.0),), 1.9, 104.10, False, 0.01),
    "zf_f": ("US", ((5, 1.0),), 4.1, 108.60, False, 0.015),
    "zn_f": ("US", ((7, 0.3), (10, 0.7)), 6.3, 111.20, False, 0.02),
    "zb_f": ("US", ((20, 0.5), (30, 0.5)), 11.5, 116.50, False, 0.03),
    "ub_f": ("US", ((30, 1.0),), 16.5, 119.80, False, 0.04),
    "shy": ("US", ((1, 0.3), (2, 0.5), (3, 0.2)), 1.85, 82.90, True, 0.01),
    "ief": ("US", ((7, 0.5), (10, 0.5)), 7.0, 96.40, True, 0.02),
    "tlt": ("US", ((20, 0.5), (30, 0.5)), 16.0, 87.40, True, 0.04),
    "jgb_etf_2510": ("JP", ((5, 0.3), (10, 0.4), (20, 0.3)), 8.5, 1880.0, True, 0.05),
    "jgb_etf_2561": ("JP", ((5, 0.3), (10, 0.4), (20, 0.3)), 9.0, 2290.0, True, 0.05),
}
# Yahoo yield indices: (tenor on the UST curve, quoted as a 13-week discount rate?)
_YAHOO_YIELDS = {"ust_13w_yh": (0.25, True), "ust_5y_yh": (5, False), "ust_10y_yh": (10, False),
                 "ust_30y_yh": (30, False)}
_FX_REF = 155.20
_N225_REF = 50_500.0
# Treasury added the 1.5-month column on 2025-02-18 (BRIEF §1): blank before.
_FIRST_DATE = {"ust_1_5m": dt.date(2025, 2, 18)}


def _interp(points: Sequence[tuple[float, float]], tenors: np.ndarray) -> np.ndarray:
    x = np.log([p[0] for p in points])
    y = np.array([p[1] for p in points], dtype=float)
    return np.interp(np.log(tenors), x, y)


def _crc(text: str) -> int:
    return zlib.crc32(text.encode("utf-8"))


# ---------------------------------------------------------------- episode
@dataclass(frozen=True)
class Episode:
    """The scripted JGB-led stress. Moves are (tenor, bp) points interpolated in log tenor."""

    day1: dt.date
    jgb_day1_bp: tuple[tuple[float, float], ...] = (
        (1, 0.5), (2, 1.0), (5, 3.0), (7, 4.5), (10, 7.5), (15, 12.0), (20, 16.0), (25, 18.5),
        (30, 20.0), (40, 25.0))
    jgb_day2_bp: tuple[tuple[float, float], ...] = (
        (1, 0.3), (2, 0.5), (5, 1.5), (10, 3.5), (20, 8.0), (30, 10.0), (40, 12.0))
    ust_day1_bp: tuple[tuple[float, float], ...] = (
        (1 / 12, 0.3), (0.5, 0.8), (1, 2.0), (2, 4.0), (5, 6.5), (7, 8.0), (10, 9.0), (20, 10.5),
        (30, 11.0))
    ust_day2_bp: tuple[tuple[float, float], ...] = (
        (1 / 12, 0.0), (1, 0.5), (2, 1.0), (5, 2.0), (10, 2.5), (30, 3.5))
    # USD/JPY in % (100·Δln): day 1 Tokyo, day 1 New York, day 2 Tokyo, day 2 New York —
    # the yen first weakens on fiscal worry, then jumps on rate-check talk.
    usdjpy_pct: tuple[float, float, float, float] = (0.45, -0.15, -0.90, -0.30)
    n225_pct: tuple[float, float] = (-1.6, -0.4)
    move_jump: float = 0.15          # MOVE +15 % on day 1, decaying
    vix_jump: float = 0.08
    # Calm regime before day 1: the 60-session σ of the JGB 30Y is set to this, so day 1 ≈ 7σ.
    jgb_sigma60_bp: float = 2.8
    jump_at_jst: str = "12:35"       # the day-1 move lands after the JGB auction result

    def jgb_bp(self, day: int, tenors: np.ndarray) -> np.ndarray:
        return _interp(self.jgb_day1_bp if day == 1 else self.jgb_day2_bp, tenors)

    def ust_bp(self, day: int, tenors: np.ndarray) -> np.ndarray:
        return _interp(self.ust_day1_bp if day == 1 else self.ust_day2_bp, tenors)


# ---------------------------------------------------------------- calendars
def _nth_weekday(year: int, month: int, weekday: int, n: int) -> dt.date:
    """n-th (1-based) weekday of a month; n = -1 for the last one."""
    if n > 0:
        first = dt.date(year, month, 1)
        return first + dt.timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    nxt = dt.date(year + (month == 12), month % 12 + 1, 1)
    last = nxt - dt.timedelta(days=1)
    return last - dt.timedelta(days=(last.weekday() - weekday) % 7)


def _easter(year: int) -> dt.date:
    a, b, c = year % 19, year // 100, year % 100
    d, e = b // 4, b % 4
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = c // 4, c % 4
    l_ = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * l_) // 451
    month = (h + l_ - 7 * m + 114) // 31
    day = (h + l_ - 7 * m + 114) % 31 + 1
    return dt.date(year, month, day)


def _observed(d: dt.date) -> dt.date:
    return d - dt.timedelta(days=1) if d.weekday() == 5 else d + dt.timedelta(days=1) if d.weekday() == 6 else d


def _jp_holidays(year: int) -> set[dt.date]:
    """Tokyo market holidays (fixed, Happy Monday, equinoxes, Sunday substitutes); no one-offs."""
    y = year - 1980
    days = {dt.date(year, 1, 1), dt.date(year, 1, 2), dt.date(year, 1, 3), dt.date(year, 12, 31),
            dt.date(year, 2, 11), dt.date(year, 2, 23), dt.date(year, 4, 29), dt.date(year, 5, 3),
            dt.date(year, 5, 4), dt.date(year, 5, 5), dt.date(year, 8, 11), dt.date(year, 11, 3),
            dt.date(year, 11, 23),
            dt.date(year, 3, int(20.8431 + 0.242194 * y - y // 4)),
            dt.date(year, 9, int(23.2488 + 0.242194 * y - y // 4)),
            _nth_weekday(year, 1, 0, 2), _nth_weekday(year, 7, 0, 3), _nth_weekday(year, 9, 0, 3),
            _nth_weekday(year, 10, 0, 2)}
    for d in sorted(days):
        if d.weekday() == 6:  # substitute holiday: the next day that is not a holiday
            s = d + dt.timedelta(days=1)
            while s in days:
                s += dt.timedelta(days=1)
            days.add(s)
    return days


def _us_holidays(year: int, bonds: bool) -> set[dt.date]:
    days = {_observed(dt.date(year, 1, 1)), _nth_weekday(year, 1, 0, 3), _nth_weekday(year, 2, 0, 3),
            _easter(year) - dt.timedelta(days=2), _nth_weekday(year, 5, 0, -1),
            _observed(dt.date(year, 7, 4)), _nth_weekday(year, 9, 0, 1), _nth_weekday(year, 11, 3, 4),
            _observed(dt.date(year, 12, 25))}
    if year >= 2022:
        days.add(_observed(dt.date(year, 6, 19)))
    if bonds:  # the bond market (Treasury, FRED) also closes on Columbus and Veterans Day
        days |= {_nth_weekday(year, 10, 0, 2), _observed(dt.date(year, 11, 11))}
    return days


def _holidays(cal: str, years: range) -> set[dt.date]:
    out: set[dt.date] = set()
    for y in years:
        if cal == "JP":
            out |= _jp_holidays(y)
        elif cal in ("US", "USB"):
            out |= _us_holidays(y, bonds=cal == "USB")
        else:  # FX / global: only New Year's Day and Christmas
            out |= {dt.date(y, 1, 1), dt.date(y, 12, 25)}
    return out


def _event_days(year: int, market: str) -> dict[dt.date, float]:
    """Scheduled high-volatility days (vol multiplier): payrolls, CPI and FOMC in the US, BOJ
    meetings in Japan. Approximate dates; they make the mixture fat-tailed like real rates."""
    if market == "US":
        out = {}
        for mth in range(1, 13):
            out[_nth_weekday(year, mth, 4, 1)] = 1.6          # payrolls: first Friday
            out[_nth_weekday(year, mth, 2, 2)] = 1.4          # CPI: second Wednesday
        for mth in (1, 3, 5, 6, 7, 9, 10, 12):
            out[_nth_weekday(year, mth, 2, 3)] = 1.5          # FOMC: third Wednesday
        return out
    days = {}
    for mth, n in ((1, 4), (3, 3), (4, -1), (6, 3), (7, -1), (9, 3), (10, -1), (12, 3)):
        days[_nth_weekday(year, mth, 4, n)] = 1.6             # BOJ decision (a Friday)
    return days


def _calendar(s: Series) -> str:
    if s.market == "JP":
        return "JP"
    if s.source in ("treasury", "fred"):
        return "USB"
    if s.kind == "fx" or s.market in ("FX", "GLOBAL"):
        return "FX"
    return "US"


def _decimals(s: Series) -> int:
    if s.kind == "yield":
        return 2 if s.source in ("treasury", "fred") else 3
    if s.kind == "fx":
        return 2 if s.source == "fred" else 3
    return 2 if s.kind == "index" or s.market == "JP" else 4


# ---------------------------------------------------------------- the market
@dataclass
class _Daily:
    """One series' daily path: observation dates, close instants, availability, values."""

    dates: np.ndarray      # datetime64[D]
    ts: np.ndarray         # int64 ns UTC, the close instant
    avail: np.ndarray      # int64 ns UTC, when the row may be served (FX: end of its 24 h bar)
    values: np.ndarray     # float64, rounded like the publisher
    log: bool              # bridge intraday paths in logs (prices, FX, indices)


def _as_utc(x: dt.datetime | pd.Timestamp) -> pd.Timestamp:
    t = pd.Timestamp(x)
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")


class DemoMarket:
    """A deterministic simulated market for every series of a universe.

    `today` fixes the defaults (start three years back, episode on the last Tokyo business day
    before it); pass it, or `start`/`episode` explicitly, for a path that does not depend on the
    day the process started.
    """

    def __init__(self, universe: Universe | None = None, *, seed: int = 7,
                 start: dt.date | str | None = None,
                 episode: Episode | dt.date | str | None = "auto",
                 today: dt.date | None = None) -> None:
        if seed < 0:
            raise ValueError("seed must be a non-negative integer")
        self.universe = universe if universe is not None else load_universe()
        self.seed = int(seed)
        self.today = today or dt.datetime.now(UTC).date()
        s = pd.Timestamp(start).date() if start is not None else dt.date(self.today.year - 3, self.today.month, 1)
        self.start = self._roll_weekday(max(s, _EPOCH))
        self._hol: dict[tuple[str, int], set[dt.date]] = {}
        if episode == "auto":
            self.episode: Episode | None = Episode(day1=self._prev_business("JP", self.today))
        elif episode is None or isinstance(episode, Episode):
            self.episode = episode
        else:
            self.episode = Episode(day1=pd.Timestamp(episode).date())
        if self.episode is not None:
            d1 = self._roll_business("JP", self.episode.day1)
            self.episode = replace(self.episode, day1=d1)
            self.day2: dt.date | None = self._next_business("JP", d1)
            self.us_day1: dt.date | None = self._roll_business("USB", d1)
            self.us_day2: dt.date | None = self._next_business("USB", self.us_day1)
            self.ref_date = d1 - dt.timedelta(days=1)
        else:
            self.day2 = self.us_day1 = self.us_day2 = None
            self.ref_date = self.today
        self._lock = threading.RLock()
        self._horizon: dt.date | None = None
        self._daily: dict[str, _Daily] = {}
        self._sessions: OrderedDict[tuple[str, dt.date], tuple[np.ndarray, np.ndarray]] = OrderedDict()
        self._ensure(max(self.today, self.ref_date) + dt.timedelta(days=10))

    # ------------------------------------------------------------ calendars
    @staticmethod
    def _roll_weekday(d: dt.date) -> dt.date:
        while d.weekday() >= 5:
            d += dt.timedelta(days=1)
        return d

    def _holidays(self, cal: str, d: dt.date) -> set[dt.date]:
        key = (cal, d.year)
        hit = self._hol.get(key)
        if hit is None:
            hit = self._hol[key] = _holidays(cal, range(d.year, d.year + 1))
        return hit

    def is_open(self, cal: str, d: dt.date) -> bool:
        return d.weekday() < 5 and d not in self._holidays(cal, d)

    def _roll_business(self, cal: str, d: dt.date) -> dt.date:
        while not self.is_open(cal, d):
            d += dt.timedelta(days=1)
        return d

    def _next_business(self, cal: str, d: dt.date) -> dt.date:
        return self._roll_business(cal, d + dt.timedelta(days=1))

    def _prev_business(self, cal: str, d: dt.date) -> dt.date:
        d -= dt.timedelta(days=1)
        while not self.is_open(cal, d):
            d -= dt.timedelta(days=1)
        return d

    # ------------------------------------------------------------ random draws
    def _draw(self, stream: str, k0: int, n: int, m: int = 1, *, dist: str = "t") -> np.ndarray:
        """Standardised draws for weekdays k0..k0+n−1 since the epoch; blocks make them horizon-free."""
        b0, b1 = k0 // _BLOCK, (k0 + n - 1) // _BLOCK
        key = _crc(stream)
        parts = []
        for b in range(b0, b1 + 1):
            rng = np.random.default_rng([self.seed, key, b])
            if dist == "t":
                x = np.clip(rng.standard_t(_DF, size=(_BLOCK, m)) * _T_SCALE, -_ZCAP, _ZCAP)
            else:
                x = rng.standard_normal((_BLOCK, m))
            parts.append(x)
        off = k0 - b0 * _BLOCK
        return np.concatenate(parts)[off:off + n]

    # ------------------------------------------------------------ generation
    def _ensure(self, until: dt.date) -> None:
        with self._lock:
            if self._horizon is not None and until <= self._horizon:
                return
            # Generate well ahead so a long-running wall screen rarely regenerates.
            horizon = max(until, self.today) + dt.timedelta(days=120)
            self._generate(horizon)
            self._horizon = horizon

    @staticmethod
    def _garch(z: np.ndarray) -> np.ndarray:
        """Variance (unconditional 1): h[i] applies to day i; h[i+1] is the forecast after day i."""
        alpha, beta = _GARCH
        omega = 1.0 - alpha - beta
        h = [1.0]
        for zi in (z * z).tolist():
            # Capped at 4× the long-run variance (σ ×2): t shocks can otherwise run away.
            h.append(min(4.0, omega + (alpha * zi + beta) * h[-1]))
        return np.asarray(h)

    def _generate(self, horizon: dt.date) -> None:
        dates = pd.bdate_range(self.start, horizon).date
        n = len(dates)
        k0 = int(np.busday_count(_EPOCH, self.start))
        dates64 = np.asarray(dates, dtype="datetime64[D]")
        open_ = {cal: np.array([d not in self._holidays(cal, d) for d in dates])
                 for cal in ("JP", "US", "USB", "FX")}
        row = {d: i for i, d in enumerate(dates)}
        ep = self.episode
        e1 = row.get(ep.day1) if ep else None
        e2 = row.get(self.day2) if ep else None
        u1 = row.get(self.us_day1) if ep else None
        u2 = row.get(self.us_day2) if ep else None
        ref = int(np.searchsorted(dates64, np.datetime64(self.ref_date, "D"), side="right")) - 1
        ref = max(ref, 0)
        years = (dates64 - np.datetime64(self.ref_date, "D")).astype(float) / 365.25
        past = np.minimum(years, 0.0)

        series = list(self.universe)
        jp_t = sorted({s.tenor_years for s in series if self._curve_of(s) == "JP" and s.tenor_years}
                      | {5.0, 10.0, 20.0, 30.0})
        us_t = sorted({s.tenor_years for s in series if self._curve_of(s) == "US" and s.tenor_years}
                      | {0.25, 1.0, 2.0, 3.0, 5.0, 7.0, 10.0, 20.0, 30.0})
        jp_t, us_t = np.asarray(jp_t, float), np.asarray(us_t, float)

        ev = {mk: {} for mk in ("JP", "US")}
        for y in range(self.start.year, horizon.year + 1):
            for mk in ev:
                ev[mk].update(_event_days(y, mk))
        zj0, zu0 = self._draw("jp.factors", k0, n, 3), self._draw("us.factors", k0, n, 3)
        # Scheduled event days scale the shocks but not the GARCH input: a known payrolls day
        # is not news about tomorrow's volatility (and feeding it would make GARCH explode).
        zj = zj0 * np.array([ev["JP"].get(d, 1.0) for d in dates])[:, None]
        zu = zu0 * np.array([ev["US"].get(d, 1.0) for d in dates])[:, None]
        ze = self._draw("equity", k0, n, 2)
        zf = self._draw("fx", k0, n, 2)
        zm = self._draw("move", k0, n, 1, dist="n")[:, 0]

        # Variance processes; on the episode days the scripted shock drives them so the stress
        # clusters afterwards; a closed market takes no shock.
        gj, gu, ge = zj0[:, 0] * open_["JP"], zu0[:, 0] * open_["USB"], ze[:, 0] * open_["JP"]
        if e1 is not None:
            gj, ge = gj.copy(), ge.copy()
            # Enough to lift JGB vol ~1.6× for a few weeks, not so much that an ordinary
            # day afterwards outruns the scripted one.
            gj[e1] = 4.0
            ge[e1] = -2.5
            if e2 is not None:
                gj[e2] = 2.0
        if u1 is not None:
            gu = gu.copy()
            gu[u1] = 2.0
        hj, hu, he = self._garch(gj), self._garch(gu), self._garch(ge)
        sj, su, se = np.sqrt(hj[:-1]), np.sqrt(hu[:-1]), np.sqrt(he[:-1])

        # Level factors in bp at 10Y, coupled on the Tokyo → New York clock.
        vj10 = float(_interp(_JP_VOL, np.array([10.0]))[0])
        vu10 = float(_interp(_US_VOL, np.array([10.0]))[0])
        own_j = vj10 * math.sqrt(1 - 0.4 ** 2) * sj * zj[:, 0] * open_["JP"]
        own_u = vu10 * math.sqrt(1 - 0.24 ** 2) * su * zu[:, 0] * open_["USB"]
        # On the episode days the 10Y level factors are the scripted moves, so the coupling
        # carries the shock onward (e.g. UST day 1 → JGB the next Tokyo day).
        ten = np.array([10.0])
        ep_j: dict[int, float] = {}
        ep_u: dict[int, float] = {}
        if ep is not None:
            ep_j = {r: float(ep.jgb_bp(k, ten)[0]) for k, r in ((1, e1), (2, e2)) if r is not None}
            ep_u = {r: float(ep.ust_bp(k, ten)[0]) for k, r in ((1, u1), (2, u2)) if r is not None}
        fj_l, fu_l, prev_u = [0.0] * n, [0.0] * n, 0.0
        oj, ou = own_j.tolist(), own_u.tolist()
        for i in range(n):
            fj = ep_j.get(i, oj[i] + _A_US_TO_JP * prev_u)
            fu = ep_u.get(i, ou[i] + _B_JP_TO_US * fj)
            fj_l[i], fu_l[i], prev_u = fj, fu, fu
        FJ, FU = np.asarray(fj_l), np.asarray(fu_l)

        def curve_changes(tenors: np.ndarray, vol_pts, F, v10, z, s, is_open, prefix):
            vol = _interp(vol_pts, tenors)
            g = np.tanh(np.log(tenors / 10.0) / 1.2)          # slope: short end down, long end up
            c = np.exp(-0.5 * (np.log(tenors / 5.0)) ** 2) - 0.5  # curvature: the belly
            idio = np.column_stack([self._draw(f"{prefix}.idio.{t:g}", k0, n, 1)[:, 0] for t in tenors])
            local = (0.35 * np.outer(z[:, 1], g) + 0.15 * np.outer(z[:, 2], c) + 0.12 * idio)
            return np.outer(F, vol / v10) + (s * is_open)[:, None] * vol[None, :] * local

        DJ = curve_changes(jp_t, _JP_VOL, FJ, vj10, zj, sj, open_["JP"], "jp")
        DU = curve_changes(us_t, _US_VOL, FU, vu10, zu, su, open_["USB"], "us")
        if ep is not None:
            if e1 is not None:
                DJ[e1] = ep.jgb_bp(1, jp_t)
            if e2 is not None:
                DJ[e2] = ep.jgb_bp(2, jp_t)
            if u1 is not None:
                DU[u1] = ep.ust_bp(1, us_t)
            if u2 is not None:
                DU[u2] = ep.ust_bp(2, us_t)

        # USD/JPY in %: Tokyo half reacts to JGBs, New York half to USTs (0.03 % per bp).
        fx_tok = 0.30 * sj * zf[:, 0] - 0.03 * FJ
        fx_ny = 0.45 * su * zf[:, 1] + 0.03 * FU
        n225 = 1.25 * se * ze[:, 0] * open_["JP"]
        if ep is not None and e1 is not None:
            fx_tok[e1], fx_ny[e1] = ep.usdjpy_pct[0], ep.usdjpy_pct[1]
            n225[e1] = ep.n225_pct[0]
            if e2 is not None:
                fx_tok[e2], fx_ny[e2] = ep.usdjpy_pct[2], ep.usdjpy_pct[3]
                n225[e2] = ep.n225_pct[1]

        nj, nu = len(jp_t), len(us_t)
        D = np.column_stack([DJ, DU, fx_tok + fx_ny, n225])
        kappa = np.concatenate([np.full(nj + nu, _KAPPA_CURVE), [_KAPPA_FX, _KAPPA_EQ]])
        frozen = {r for r in (e1, e2, u1, u2) if r is not None}

        def integrate(D: np.ndarray) -> np.ndarray:
            keep, keep_frozen = 1.0 - kappa, np.where(np.arange(len(kappa)) < nj + nu, 1.0, 1.0 - kappa)
            X = np.empty_like(D)
            x = np.zeros(D.shape[1])
            for i in range(n):
                x = x * (keep_frozen if i in frozen else keep) + D[i]
                X[i] = x
            return X

        X = integrate(D)
        # Calm regime before the episode: rescale the JGB block over the 60 sessions before
        # day 1 so the 30Y's 60-day σ is the scripted one (a few passes: mean reversion is
        # not exactly linear in the scale).
        if ep is not None and e1 is not None:
            jp_rows = np.flatnonzero(open_["JP"][:e1])
            if len(jp_rows) >= 61:
                w0 = int(jp_rows[-61])
                c30 = int(np.argmin(np.abs(jp_t - 30.0)))
                obs = jp_rows[-61:]
                for _ in range(3):
                    sd = float(np.std(np.diff(X[obs, c30]), ddof=1))
                    if sd <= 0:
                        break
                    D[w0 + 1:e1, :nj] *= ep.jgb_sigma60_bp / sd
                    X = integrate(D)
        Xd = X - X[ref]

        lv: dict[str, np.ndarray] = {}
        jp_lv = _interp(_JP_REF, jp_t)[None, :] + _interp(_JP_TREND, jp_t)[None, :] * past[:, None] + Xd[:, :nj] / 100
        us_lv = _interp(_US_REF, us_t)[None, :] + _interp(_US_TREND, us_t)[None, :] * past[:, None] + Xd[:, nj:nj + nu] / 100
        for i, t in enumerate(jp_t):
            lv[f"JP:{t:g}"] = jp_lv[:, i]
        for i, t in enumerate(us_t):
            lv[f"US:{t:g}"] = us_lv[:, i]
        log_fx = math.log(_FX_REF) + 0.03 * past + Xd[:, nj + nu] / 100
        log_n225 = math.log(_N225_REF) + 0.15 * past + Xd[:, nj + nu + 1] / 100

        def decay(row_: int | None, jump: float) -> np.ndarray:
            out = np.ones(n)
            if row_ is not None and jump:
                k = np.arange(n) - row_
                out[k >= 0] += jump * 0.85 ** k[k >= 0]
            return out

        # MOVE: annualised US rate-vol forecast (sqrt of tomorrow's variance), with OU noise.
        m_noise = self._ou(0.035 * zm, 0.08)
        move = 45.0 + 45.0 * np.sqrt(hu[1:]) * np.exp(m_noise) * decay(u1, ep.move_jump if ep else 0.0)
        # VIX: equity-vol forecast; its noise moves against the Nikkei's shocks.
        zv = self._draw("vix", k0, n, 1, dist="n")[:, 0]
        v_noise = self._ou(0.06 * (-0.55 * ze[:, 0] + 0.835 * zv), 0.04)
        vix = 9.5 + 7.5 * np.sqrt(he[1:]) * np.exp(v_noise) * decay(u1, ep.vix_jump if ep else 0.0)

        daily: dict[str, _Daily] = {}
        ts_cache: dict[tuple[str, str, str], tuple[np.ndarray, np.ndarray]] = {}
        for s in series:
            log_space = s.kind != "yield"
            if s.id in _BOND_PRICES:
                curve, legs, dur, p_ref, carry, track = _BOND_PRICES[s.id]
                yb = sum(w * lv[self._col(curve, t, jp_t, us_t)] for t, w in legs)
                lp = math.log(p_ref) - dur * (yb - yb[ref]) / 100
                if carry:  # adjusted closes accrue the coupon, before and after the reference date
                    lp = lp + (yb[ref] / 100) * years
                lp = lp + track / 100 * self._draw(f"track.{s.id}", k0, n, 1, dist="n")[:, 0]
                vals = np.exp(lp)
            elif s.id in _YAHOO_YIELDS:
                tenor, discount = _YAHOO_YIELDS[s.id]
                y = lv[self._col("US", tenor, jp_t, us_t)] + 0.004 * self._draw(f"basis.{s.id}", k0, n, 1, dist="n")[:, 0]
                # ^IRX quotes the 13-week bill as a discount rate, below its bond-equivalent yield.
                vals = 360.0 * y / (365.0 + y * 91.0 / 100.0) if discount else y
            elif s.kind == "yield":
                curve = self._curve_of(s) or ("JP" if s.market == "JP" else "US")
                vals = lv[self._col(curve, s.tenor_years or 10.0, jp_t, us_t)]
            elif s.kind == "fx" and s.field != "Close":
                # The day's High / Low: beyond the day's open (the previous close) and close by a
                # wick of its own, so the simulated bar holds both, as a real one does.
                m = open_[_calendar(s)]
                o = pd.Series(np.where(m, log_fx, np.nan)).ffill().shift(1).bfill().to_numpy()
                wick = 0.001 + 0.003 * np.abs(self._draw(f"wick.{s.id}", k0, n, 1, dist="n")[:, 0])
                vals = np.exp(np.maximum(o, log_fx) + wick) if s.field == "High" else np.exp(np.minimum(o, log_fx) - wick)
            elif s.kind == "fx":
                if s.source == "fred":  # noon New York: Tokyo half plus about half of New York's
                    noise = 0.05 / 100 * self._draw(f"noon.{s.id}", k0, n, 1, dist="n")[:, 0]
                    vals = np.exp(log_fx - 0.5 * fx_ny / 100 + noise)
                else:
                    vals = np.exp(log_fx)
            elif s.id == "move" or s.symbol == "^MOVE":
                vals = np.clip(move, 40.0, 250.0)
            elif s.id == "vix" or s.symbol == "^VIX":
                vals = np.clip(vix, 9.0, 85.0)
            elif s.id == "n225" or s.symbol == "^N225":
                vals = np.exp(log_n225)
            else:  # an unknown price/index: a mean-reverting random walk of its own around 100
                x = self._ou(self._draw(f"generic.{s.id}", k0, n, 1)[:, 0], _KAPPA_EQ)
                vals = 100.0 * np.exp((x - x[ref]) / 100)
            cal = _calendar(s)
            mask = open_[cal].copy()
            first = _FIRST_DATE.get(s.id)
            if first is not None:
                mask &= dates64 >= np.datetime64(first, "D")
            key = (s.timezone, s.close, cal + (str(first) if first else ""))
            if key not in ts_cache:
                idx = daily_close_ts(pd.DatetimeIndex(dates64[mask]), s.timezone, s.close)
                ts_cache[key] = (idx.as_unit("ns").asi8, np.asarray(~idx.isna()))
            ts_ns, ok = ts_cache[key]
            v = np.round(np.asarray(vals, dtype=float)[mask], _decimals(s))
            obs = dates64[mask]
            ts_ok, v, obs = ts_ns[ok], v[ok], obs[ok]
            avail = ts_ok   # known at its close instant (FX: 24:00 London, the end of its day)
            daily[s.id] = _Daily(dates=obs, ts=ts_ok, avail=avail, values=v, log=log_space)
        self._daily = daily

    @staticmethod
    def _ou(shocks: np.ndarray, kappa: float) -> np.ndarray:
        out, x = np.empty(len(shocks)), 0.0
        for i, e in enumerate(shocks.tolist()):
            x = x * (1.0 - kappa) + e
            out[i] = x
        return out

    @staticmethod
    def _curve_of(s: Series) -> str | None:
        if s.kind != "yield" or s.tenor_years is None:
            return None
        if s.group == "jgb_curve" or s.market == "JP":
            return "JP"
        return "US"

    @staticmethod
    def _col(curve: str, tenor: float, jp_t: np.ndarray, us_t: np.ndarray) -> str:
        tenors = jp_t if curve == "JP" else us_t
        return f"{curve}:{tenors[int(np.argmin(np.abs(tenors - tenor)))]:g}"

    # ------------------------------------------------------------ queries
    def info(self) -> dict[str, Any]:
        """What a screen needs to say about the simulation."""
        ep = self.episode
        return {"simulated": True, "seed": self.seed, "start": self.start.isoformat(),
                "episode_day1": ep.day1.isoformat() if ep else None,
                "episode_day2": self.day2.isoformat() if self.day2 else None,
                "us_spill_day": self.us_day1.isoformat() if self.us_day1 else None}

    def _bounds(self, since: dt.date | dt.datetime | None, now: dt.datetime | None) -> tuple[int, int, pd.Timestamp]:
        now_ts = _as_utc(now) if now is not None else pd.Timestamp.now(tz="UTC")
        if since is None:
            lo = np.iinfo(np.int64).min
        elif isinstance(since, dt.datetime) or isinstance(since, pd.Timestamp):
            lo = _as_utc(since).value
        else:  # a date: everything from its start, inclusive
            lo = pd.Timestamp(since).tz_localize("UTC").value - 1
        self._ensure(now_ts.date() + dt.timedelta(days=2))
        return lo, now_ts.value, now_ts

    def _select(self, series: Sequence[Series | str] | None, intraday: bool = False) -> list[Series]:
        if series is None:
            out = list(self.universe)
        else:
            out = [self.universe.get(s) if isinstance(s, str) else s for s in series]
        unknown = [s.id for s in out if s.id not in self._daily]
        if unknown:
            raise KeyError(f"series not in the demo universe: {unknown}")
        return [s for s in out if s.intraday] if intraday else out

    def daily(self, since: dt.date | dt.datetime | None = None, now: dt.datetime | None = None, *,
              series: Sequence[Series | str] | None = None) -> pd.DataFrame:
        """Daily closes that became available in (since, now] (all history when since is None)."""
        lo, hi, _ = self._bounds(since, now)
        ids, ts, vals = [], [], []
        for s in self._select(series):
            if s.sigma_from is not None:   # exchange quotes: intraday only, as live (the close is MOF's)
                continue
            d = self._daily[s.id]
            a, b = np.searchsorted(d.avail, lo, side="right"), np.searchsorted(d.avail, hi, side="right")
            if b > a:
                ids.append(np.full(b - a, s.id, dtype=object))
                ts.append(d.ts[a:b])
                vals.append(d.values[a:b])
        return _frame(ids, ts, vals, "D")

    def intraday(self, since: dt.date | dt.datetime | None = None, now: dt.datetime | None = None, *,
                 series: Sequence[Series | str] | None = None, sessions: int = 2) -> pd.DataFrame:
        """Completed 1-minute bars (stamped at bar start, Yahoo's convention) ending in (since, now].

        With since=None: the last `sessions` sessions that have started; otherwise at most the
        last 7 days (Yahoo keeps ~7 days of 1-minute bars).
        """
        lo, hi, now_ts = self._bounds(since, now)
        lo = max(lo, hi - 7 * _NS_DAY)
        ids, ts, vals = [], [], []
        for s in self._select(series, intraday=True):
            d = self._daily[s.id]
            # Candidate dates: the sessions of the last ~10 days, plus tomorrow's (futures open the day before).
            j = int(np.searchsorted(d.dates, np.datetime64(now_ts.date() + dt.timedelta(days=1), "D"), side="right"))
            k = j - 10
            if since is not None:  # only sessions that can still have bars ending after `since`
                k = max(k, int(np.searchsorted(d.dates, np.datetime64(pd.Timestamp(lo, tz="UTC").date(), "D"))) - 1)
            cand = range(max(0, k), j)
            started = [i for i in cand if self._session_open_ns(s, d.dates[i]) <= hi]
            if since is None:
                started = started[-sessions:] if sessions > 0 else []
                lo_s = np.iinfo(np.int64).min
            else:
                lo_s = lo
            for i in started:
                bar_ts, bar_v = self._session(s, i)
                end = bar_ts + _NS_MIN
                m = (end > lo_s) & (end <= hi)
                if m.any():
                    ids.append(np.full(int(m.sum()), s.id, dtype=object))
                    ts.append(bar_ts[m])
                    vals.append(bar_v[m])
        return _frame(ids, ts, vals, "I")

    def frame(self, since: dt.date | dt.datetime | None = None, now: dt.datetime | None = None, *,
              series: Sequence[Series | str] | None = None, sessions: int = 2) -> pd.DataFrame:
        """Daily and intraday rows for (since, now], in the standard frame."""
        parts = [self.daily(since, now, series=series),
                 self.intraday(since, now, series=series, sessions=sessions)]
        parts = [p for p in parts if len(p)]
        if not parts:
            return empty_frame()
        return pd.concat(parts, ignore_index=True)

    # ------------------------------------------------------------ intraday sessions
    @staticmethod
    def _session_local(s: Series, day: dt.date) -> tuple[dt.datetime, dt.datetime, list[tuple[dt.time, dt.time]]]:
        """Local naive open/end of the series' session on `day`, and its breaks."""
        hh, mm = (int(x) for x in s.close.split(":"))
        close = (dt.datetime.combine(day, dt.time(0, 0)) + dt.timedelta(days=1) if hh == 24
                 else dt.datetime.combine(day, dt.time(hh, mm)))
        if s.kind == "fx":  # 24 h London day; its close of record at the midnight that ends it
            return close - dt.timedelta(days=1), close, []
        if s.market == "JP":  # Tokyo: 09:00 open, lunch break 11:30–12:30
            return dt.datetime.combine(day, dt.time(9, 0)), close, [(dt.time(11, 30), dt.time(12, 30))]
        if s.group == "ust_futures":  # CME Globex: 17:00 the previous day to 16:00
            return close - dt.timedelta(hours=23), close, []
        if s.group == "ust_intraday":  # Cboe yield indices: 07:00–15:00 Chicago
            return close - dt.timedelta(hours=8), close, []
        if s.symbol == "^VIX":
            return close - dt.timedelta(hours=6, minutes=45), close, []
        return close - dt.timedelta(hours=6, minutes=30), close, []  # cash equity hours

    def _session_open_ns(self, s: Series, day64: np.datetime64) -> int:
        day = day64.astype(dt.date)
        open_, _, _ = self._session_local(s, day)
        # Plain datetime arithmetic: this runs for every candidate session of every poll.
        return int(open_.replace(tzinfo=ZoneInfo(s.timezone)).timestamp()) * 1_000_000_000

    def _session(self, s: Series, i: int) -> tuple[np.ndarray, np.ndarray]:
        """All 1-minute bars of session i of series s, generated whole and cached."""
        d = self._daily[s.id]
        day = pd.Timestamp(d.dates[i]).date()
        key = (s.id, day)
        with self._lock:
            hit = self._sessions.get(key)
            if hit is not None:
                self._sessions.move_to_end(key)
                return hit
        open_, end, breaks = self._session_local(s, day)
        local = pd.date_range(open_, end - dt.timedelta(minutes=1), freq="min")
        if breaks:
            tod = local.time
            keep = np.ones(len(local), dtype=bool)
            for b0, b1 in breaks:
                keep &= ~((tod >= b0) & (tod < b1))
            local = local[keep]
        utc = local.tz_localize(ZoneInfo(s.timezone), ambiguous="NaT", nonexistent="NaT").dropna()
        bar_ts = utc.tz_convert("UTC").as_unit("ns").asi8.copy()
        nb = len(bar_ts)
        C = float(d.values[i])
        O = float(d.values[i - 1]) if i > 0 else C
        if d.log:
            O, C = math.log(O), math.log(C)
        # The day's σ from the previous 40 closes (in the bridge's units).
        past = d.values[max(0, i - 40):i]
        past = np.log(past) if d.log else past
        sigma = float(np.std(np.diff(past))) if len(past) > 2 else 0.0
        sigma = max(sigma, abs(C - O) * 0.2, 1e-4 if d.log else 1e-3)
        rng = np.random.default_rng([self.seed, _crc("intraday." + s.id), day.toordinal()])
        # Activity: U-shaped over the session, or by UTC hour for 24 h FX.
        pos = np.arange(nb, dtype=float)
        if s.kind == "fx":
            hour = (bar_ts // 3_600_000_000_000) % 24
            f = np.select([hour < 7, hour < 12, hour < 17], [1.0, 1.2, 1.5], 0.5)
        else:
            f = 1.0 + 1.5 * np.exp(-pos / 30.0) + 1.0 * np.exp(-(nb - 1 - pos) / 30.0)
        f = f / f.sum()
        F = np.cumsum(f)
        incr = np.clip(rng.standard_t(5.0, nb) * math.sqrt(3.0 / 5.0), -_ZCAP, _ZCAP) * np.sqrt(f)
        W = np.cumsum(incr)
        bridge = W - F * W[-1]
        drift = F
        jump = self._jump_ns()
        if jump is not None and nb and bar_ts[0] < jump < bar_ts[-1]:
            # Day 1: most of the move lands within minutes of the auction result.
            w = 0.7 if s.market == "JP" else 0.6 if s.kind == "fx" else 0.5
            r = 1.0 / (1.0 + np.exp(-(bar_ts - jump - 10 * _NS_MIN) / (6.0 * _NS_MIN)))
            r = (r - r[0]) / (r[-1] - r[0])
            drift = (1 - w) * F + w * r
        path = O + drift * (C - O) + sigma * bridge
        if d.log:
            path = np.exp(path)
        bar_v = np.round(path, _decimals(s))
        if nb:
            bar_v[-1] = d.values[i]  # the session ends exactly at the daily close
        out = (bar_ts, bar_v)
        with self._lock:
            self._sessions[key] = out
            while len(self._sessions) > 512:
                self._sessions.popitem(last=False)
        return out

    def _jump_ns(self) -> int | None:
        if self.episode is None:
            return None
        hh, mm = (int(x) for x in self.episode.jump_at_jst.split(":"))
        local = pd.Timestamp(dt.datetime.combine(self.episode.day1, dt.time(hh, mm)))
        return local.tz_localize("Asia/Tokyo").tz_convert("UTC").value


def _frame(ids: list, ts: list, vals: list, freq: str) -> pd.DataFrame:
    if not ids:
        return empty_frame()
    out = pd.DataFrame({
        "series_id": np.concatenate(ids),
        "freq": freq,
        "ts": pd.DatetimeIndex(np.concatenate(ts).astype("datetime64[ns]")).tz_localize("UTC"),
        "value": np.concatenate(vals).astype("float64"),
    })
    return out[COLUMNS]


# ---------------------------------------------------------------- one market per process
_MARKETS: dict[tuple, DemoMarket] = {}
_MARKETS_LOCK = threading.Lock()


def demo_market(universe: Universe | None = None, *, seed: int = 7, start: dt.date | str | None = None,
                episode: Episode | dt.date | str | None = "auto", today: dt.date | None = None) -> DemoMarket:
    """The process-wide cached market for these parameters (history is generated once)."""
    uni = universe if universe is not None else load_universe()
    key = (str(uni.path), tuple(s.id for s in uni), seed, str(start), repr(episode), today)
    with _MARKETS_LOCK:
        m = _MARKETS.get(key)
        if m is None:
            m = _MARKETS[key] = DemoMarket(uni, seed=seed, start=start, episode=episode, today=today)
        return m


# ---------------------------------------------------------------- the Source
@dataclass(frozen=True)
class DemoPayload:
    """What `fetch` hands to `parse`: the generated rows, flagged SIMULATED."""

    frame: pd.DataFrame
    generated_at: dt.datetime
    simulated: bool = True


class DemoSource:
    """Source "demo": no network; answers from the cached simulated market."""

    name = "demo"
    simulated = SIMULATED

    def __init__(self, universe: Universe | None = None, *, seed: int = 7,
                 start: dt.date | str | None = None, episode: Episode | dt.date | str | None = "auto",
                 today: dt.date | None = None, sessions: int = 2) -> None:
        self.universe = universe if universe is not None else load_universe()
        self._params = {"seed": seed, "start": start, "episode": episode, "today": today}
        self.sessions = sessions

    @property
    def market(self) -> DemoMarket:
        return demo_market(self.universe, **self._params)

    def build_requests(self, series: Sequence[Series], *, since: dt.date | dt.datetime | None,
                       now: dt.datetime) -> list[Request]:
        return [Request(source=self.name, series=tuple(series),
                        meta={"since": since, "now": now, "seed": self._params["seed"], "simulated": True})]

    def fetch(self, request: Request, *, session: Any = None, timeout: float = DEFAULT_TIMEOUT) -> DemoPayload:
        since, now = request.meta.get("since"), request.meta["now"]
        frame = self.market.frame(since, now, series=[s.id for s in request.series], sessions=self.sessions)
        if not len(frame):
            raise EmptyPayload(f"demo: no new simulated rows between {since} and {now}")
        return DemoPayload(frame=frame, generated_at=dt.datetime.now(UTC))

    def parse(self, raw: Any, request: Request) -> pd.DataFrame:
        if not isinstance(raw, DemoPayload) or not isinstance(raw.frame, pd.DataFrame):
            raise MalformedPayload(f"demo: expected a DemoPayload, got {type(raw).__name__}")
        missing = [c for c in COLUMNS if c not in raw.frame.columns]
        if missing:
            raise MalformedPayload(f"demo: payload lacks columns {missing}")
        wanted = {s.id for s in request.series}
        out = raw.frame.loc[raw.frame["series_id"].isin(wanted), COLUMNS].reset_index(drop=True)
        out.attrs["simulated"] = True
        return out
