"""The Markets page's read model: a snapshot → a frozen, typed `MarketsView` with digests.

Decided here, once per snapshot and health state: the table's order (market, then universe
order), each row's source text (fallback, intraday), STALE / NO DATA / the source's health, and
the headline series' accepted daily closes for the recent-closes chart. components/markets.py
only draws a `MarketsView`; callbacks/markets.py registers the page and compares digests.

Digests are over content only (data version, stale set, source states, the closes' bytes), so
every web process computes the same ones for the same data.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analytics.quality import HAS_LEVEL
from views.digest import digest, digest_chunks

__all__ = ["CHART_DAYS", "CHART_SERIES", "MarketRow", "MarketsView", "RecentSeries", "build_markets",
           "market_rows", "markets_view", "recent_closes"]

CHART_SERIES = ("jgb_10y", "jgb_30y", "ust_10y", "usdjpy")   # the three markets of the monitor
CHART_DAYS = 92
MARKET_ORDER = {"JP": 0, "US": 1, "FX": 2, "GLOBAL": 3}


@dataclass(frozen=True)
class MarketRow:
    id: str
    label: str
    market: str
    kind: str                       # value formatting: yield, price, fx
    unit: str                       # of `change`: bp or log %
    value: float | None
    change: float | None
    source: str                     # shown: "mof", "yahoo (fallback)", "yahoo · intraday"
    as_of: dt.datetime | None
    age_s: float | None             # at the view's build; the browser ticks it from as_of
    stale_after_s: float
    stale: bool
    health: str                     # "NO DATA", "STALE" or the source's state upper-cased
    state: str                      # the source's state (ok, backfilling, never, stale, failing)


@dataclass(frozen=True)
class RecentSeries:
    id: str
    label: str
    market: str
    unit: str
    x: pd.DatetimeIndex             # naive UTC instants (each close at its market's close)
    y: np.ndarray


@dataclass(frozen=True)
class MarketsView:
    rows: tuple[MarketRow, ...]
    table_digest: str
    recent: tuple[RecentSeries, ...]
    recent_digest: str              # "none" without closes
    events: tuple


def market_rows(snap, states: dict[str, str] | None = None) -> tuple[MarketRow, ...]:
    """Every watched series, grouped by market in universe order (curves by tenor, then
    intraday, futures, ETFs, FX, context)."""
    states = snap.source_states() if states is None else states
    now = snap.now()
    order = {r.id: i for i, r in enumerate(snap.rows)}
    out = []
    for r in sorted(snap.rows, key=lambda r: (MARKET_ORDER.get(r.market, 9), order[r.id])):
        age = r.age(now)
        state = states.get(r.source, states.get(r.primary_source, "never"))
        stale = r.is_stale(now)
        src = f"{r.source} (fallback)" if r.source == r.fallback_source else r.source
        if r.freq == "I":
            src += " · intraday"
        out.append(MarketRow(id=r.id, label=r.label, market=r.market, kind=r.kind, unit=r.unit, value=r.value,
                             change=r.change, source=src, as_of=r.as_of,
                             age_s=age.total_seconds() if age is not None else None,
                             stale_after_s=r.stale_after.total_seconds(), stale=stale,
                             health="NO DATA" if r.as_of is None else "STALE" if stale else state.upper(),
                             state=state))
    return tuple(out)


def recent_closes(snap, series=CHART_SERIES, days: int = CHART_DAYS) -> tuple[tuple[RecentSeries, ...], str]:
    """The accepted daily closes of `series` over the `days` before the newest of them, and a
    content digest of them all ("none" without any)."""
    moves = snap.moves
    if moves is None:
        return (), "none"
    got = []
    for sid in series:
        row = snap.row(sid)
        if row is None:
            continue
        ts, q, v = moves.rows_of(sid)
        keep = HAS_LEVEL[q] & np.isfinite(v)
        if keep.any():
            got.append((sid, row, ts[keep], v[keep]))
    if not got:
        return (), "none"
    end = max(int(ts[-1]) for _s, _r, ts, _v in got)
    start = end - days * 86_400 * 10**9
    out, chunks = [], []
    for sid, row, ts, v in got:
        i = int(np.searchsorted(ts, start, side="left"))
        if i >= len(ts):
            continue
        x, y = ts[i:], v[i:]
        chunks.append(f"{sid}:{len(x)}:{x[0]}:{x[-1]}:".encode() + y.tobytes())
        out.append(RecentSeries(id=sid, label=row.label, market=row.market, unit=row.unit, x=pd.to_datetime(x), y=y))
    return tuple(out), digest_chunks(chunks)


def _table_digest(snap, states: dict[str, str]) -> str:
    return digest(f"{snap.version}|{','.join(snap.stale_series())}|{sorted(states.items())}")


def build_markets(snap, states: dict[str, str] | None = None) -> MarketsView:
    """Pure: the snapshot (and its sources' states now) → the page's view-model."""
    states = snap.source_states() if states is None else states
    recent, recent_digest = snap.remember(("markets-recent",), lambda: recent_closes(snap), keep=1)
    return MarketsView(rows=market_rows(snap, states), table_digest=_table_digest(snap, states), recent=recent,
                       recent_digest=recent_digest, events=tuple(snap.events or ()))


def markets_view(snap) -> MarketsView:
    """build_markets, once per snapshot and health state (the snapshot's memo): a source turning
    stale with the wall clock gives a new view without a new snapshot."""
    states = snap.source_states()
    key = _table_digest(snap, states)
    return snap.remember(("markets", key), lambda: build_markets(snap, states), keep=1)
