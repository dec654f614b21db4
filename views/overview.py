"""The Overview page's read model: a snapshot → a frozen, typed view-model with digests.

Everything the page shows is decided here, once per snapshot (the snapshot's memo): which
statistics row a tile reads (the intraday move while the last value is an intraday bar, else
the 1-day move of the last close), the worst firing tier, the sparkline's closes, the exchange
quote of a close of record, the curves' traces and the feed. components/overview.py only draws
an `OverviewView`; callbacks/overview.py compares its digests with the tag on screen.

A digest is over content only (never a process's build time or salted hash), so every web
process (gunicorn workers) computes the same one for the same data.
"""
from __future__ import annotations

import datetime as dt
import math
from dataclasses import asdict, dataclass, replace
from typing import Any

import pandas as pd

from alerts.text import largest_headline, quality_text
from analytics.movestats import stat_from_row
from analytics.quality import HAS_LEVEL
from views.digest import digest

__all__ = [
    "CURVE_KEYS",
    "FEED_LIMIT",
    "KEY_SERIES",
    "SPARK_POINTS",
    "CurveTrace",
    "CurveView",
    "FeedItem",
    "OverviewView",
    "QuoteView",
    "TileView",
    "build_overview",
    "overview_view",
    "worst_tier",
]

# JGB 10Y/30Y/40Y, UST 2Y/10Y/30Y, USD/JPY, ^TNX intraday, TLT, MOVE (ids from universe.toml).
KEY_SERIES = ("jgb_10y", "jgb_30y", "jgb_40y", "ust_2y", "ust_10y", "ust_30y", "usdjpy", "ust_10y_yh", "tlt",
              "move")
SPARK_POINTS = 60                  # closes in a sparkline (bounded: the page never grows)
FEED_LIMIT = 15
TIER_RANK = {"watch": 1, "warning": 2, "critical": 3}
CURVE_KEYS = ("1M", "1W", "1D", "now")      # drawn oldest first so "now" sits on top
MARKETS = ("JGB", "UST")


def _num(x: Any) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(v) else v


def _epoch_ms(t: dt.datetime | None) -> int | None:
    return None if t is None else int(pd.Timestamp(t).value // 1_000_000)


@dataclass(frozen=True)
class QuoteView:
    """The exchange quotes of a close of record while newer than its close (the JGB move while
    Tokyo trades): value, move since the close of record, z and their own age."""

    id: str
    value: float | None
    kind: str
    unit: str
    source: str
    move: float | None
    z60: float | None
    as_of_ms: int | None
    stale_after_s: float
    tier: str | None


@dataclass(frozen=True)
class TileView:
    id: str
    label: str
    missing: bool = False           # not in the universe
    kind: str = ""
    unit: str = ""
    value: float | None = None
    change: float | None = None     # since the previous close, in `unit`
    as_of_ms: int | None = None     # epoch ms of the value shown (the browser ticks its age)
    freq: str | None = None
    source: str | None = None
    on_fallback: bool = False       # the value came from the series' fallback source
    stale: bool = False
    stale_after_s: float = 0.0
    pinned_age_s: float | None = None   # a pinned view: the age at the end of the pinned day, fixed
    stat_kind: str | None = None    # "daily" | "intraday": which statistics row the tile reads
    z60: float | None = None
    period_years: float | None = None   # empirical return period (daily only)
    tail: bool = False              # beyond every earlier move (period is a lower bound)
    largest: str = ""               # "largest one-day rise on record …"
    quality: str = ""               # the data-quality gate's words on the close
    tier: str | None = None         # worst firing tier of the series (and its exchange quotes)
    quote: QuoteView | None = None
    spark_x: tuple[str, ...] = ()
    spark_y: tuple[float, ...] = ()
    live: tuple[str, float] | None = None   # (time, value) of an intraday bar after the closes
    digest: str = ""


@dataclass(frozen=True)
class CurveTrace:
    key: str                        # "now", "1D", "1W", "1M"
    y: tuple[float | None, ...]
    custom: tuple[tuple[str, float | None], ...]   # (date of that curve, now − then in bp)
    name: str


@dataclass(frozen=True)
class CurveView:
    market: str
    tenors: tuple[str, ...] = ()
    traces: tuple[CurveTrace, ...] = ()   # CURVE_KEYS order; empty: no curve yet
    tenors_digest: str = ""
    digest: str = ""

    @property
    def present(self) -> bool:
        return bool(self.traces)


@dataclass(frozen=True)
class FeedItem:
    alert_id: str
    seq: int
    at: dt.datetime | None
    tier: str | None
    state: str
    kind: str
    text: str


@dataclass(frozen=True)
class OverviewView:
    tiles: tuple[TileView, ...]
    curves: tuple[CurveView, ...]   # JGB, UST
    note: str
    feed: tuple[FeedItem, ...]
    feed_digest: str
    pinned: dt.date | None = None
    pinned_at: dt.datetime | None = None
    pin_notes: tuple[str, ...] = ()

    def curve(self, market: str) -> CurveView:
        return next(c for c in self.curves if c.market == market)

    def tag(self) -> dict:
        """What the page keeps on screen (a dcc.Store): digests only, small, JSON."""
        return {"tiles": [t.digest for t in self.tiles],
                "curves": {c.market: [c.tenors_digest, c.digest, c.present] for c in self.curves},
                "feed": self.feed_digest, "note": self.note}


# ------------------------------------------------------------------------------------ building
def worst_tier(*tiers: str | None) -> str | None:
    return max((t for t in tiers if t), key=lambda t: TIER_RANK.get(t, 0), default=None)


def _firing_tiers(snap) -> dict[str, str]:
    """series → the worst tier among its firing alerts."""
    out: dict[str, str] = {}
    for a in (snap.alerts or {}).get("alerts", []):
        if a.get("state") == "firing" and a.get("series_id"):
            sid = a["series_id"]
            out[sid] = worst_tier(out.get(sid), a.get("tier")) or out.get(sid)
    return {k: v for k, v in out.items() if v}


def _stat_rows(snap) -> dict[tuple[str, str], dict]:
    """(series, "daily"|"intraday") → its statistics row (1-day horizon for daily)."""
    f = snap.move_frame()
    if f.empty:
        return {}
    keep = f[(f["series_id"].isin(_wanted(snap))) & ((f["kind"] == "intraday") | (f["horizon"] == 1))]
    out: dict[tuple[str, str], dict] = {}
    for r in keep.to_dict("records"):
        out.setdefault((r["series_id"], "intraday" if r["kind"] == "intraday" else "daily"), r)
    return out


def _wanted(snap) -> set[str]:
    ids = set(KEY_SERIES)
    ids |= {r.id for r in snap.rows if r.record_of in KEY_SERIES}
    return ids


def _stat_for(stats: dict, row) -> tuple[str, dict] | None:
    if row.freq == "I" and (row.id, "intraday") in stats:
        return "intraday", stats[(row.id, "intraday")]
    d = stats.get((row.id, "daily"))
    return ("daily", d) if d is not None else None


def _sparkline(snap, row) -> tuple[tuple[str, ...], tuple[float, ...]]:
    """The last SPARK_POINTS closes of the series (the statistics kernel's stored rows); a
    rejected print is not a level, and a pinned view ends at its day."""
    if snap.moves is None or row.as_of is None:
        return (), ()
    ts, q, v = snap.moves.rows_of(row.id)
    keep = HAS_LEVEL[q]
    if snap.pinned is not None:
        keep &= ts <= pd.Timestamp(row.as_of).value
    ts, v = ts[keep][-SPARK_POINTS:], v[keep][-SPARK_POINTS:]
    if not len(ts):
        return (), ()
    return (tuple(pd.to_datetime(ts, utc=True).strftime("%Y-%m-%d")), tuple(round(float(x), 6) for x in v))


def _quote(snap, series_id: str, stats: dict, tiers: dict) -> QuoteView | None:
    q = snap.quotes_row(series_id)
    if q is None:
        return None
    got = _stat_for(stats, q)
    intraday = got is not None and got[0] == "intraday"
    st = got[1] if intraday else {}
    return QuoteView(id=q.id, value=q.value, kind=q.kind, unit=q.unit, source=q.source,
                     move=_num(st.get("move")), z60=_num(st.get("z_w60")), as_of_ms=_epoch_ms(q.as_of),
                     stale_after_s=q.stale_after.total_seconds(), tier=tiers.get(q.id))


def _tile(snap, series_id: str, stats: dict, tiers: dict, now: dt.datetime) -> TileView:
    row = snap.row(series_id)
    if row is None:
        t = TileView(id=series_id, label=series_id, missing=True)
        return _with_digest(t)
    got = _stat_for(stats, row)
    kind, st = got if got else (None, {})
    daily = kind == "daily"
    ms = stat_from_row(st) if daily else None
    q = _quote(snap, series_id, stats, tiers)
    x, y = _sparkline(snap, row)
    t = TileView(
        id=series_id, label=row.label, kind=row.kind, unit=row.unit, value=row.value, change=row.change,
        as_of_ms=_epoch_ms(row.as_of), freq=row.freq, source=row.source,
        on_fallback=bool(row.fallback_source) and row.source == row.fallback_source,
        stale=row.is_stale(now), stale_after_s=row.stale_after.total_seconds(),
        pinned_age_s=(now - row.as_of).total_seconds() if snap.pinned and row.as_of else None,
        stat_kind=kind, z60=_num(st.get("z_w60")), period_years=_num(st.get("return_period_years")),
        tail=bool(st.get("tail")) if daily else False,
        largest=largest_headline(ms) if ms is not None else "",
        quality=quality_text(ms) if ms is not None else "",
        tier=worst_tier(tiers.get(series_id), q.tier if q else None), quote=q, spark_x=x, spark_y=y,
        live=(row.as_of.strftime("%Y-%m-%d %H:%M"), row.value) if row.freq == "I" and row.value else None)
    return _with_digest(t)


def _with_digest(t: TileView) -> TileView:
    return replace(t, digest=digest(asdict(t)))


def _fmt_date(d) -> str:
    return "—" if d is None or (isinstance(d, float) and math.isnan(d)) else pd.Timestamp(d).strftime("%Y-%m-%d")


def _curve(cmp, market: str) -> CurveView:
    if cmp is None or cmp.levels.empty:
        return CurveView(market=market, digest=digest([market, None]))
    lv = cmp.levels
    tenors = tuple(str(t) for t in lv.index)
    traces = []
    for key in CURVE_KEYS:
        y = tuple(None if pd.isna(v) else round(float(v), 6) for v in lv[key])
        on = _fmt_date(cmp.dates.get(key))
        if key == "now":
            custom = tuple((on, None) for _ in tenors)
        else:
            custom = tuple((on, None if pd.isna(c) else round(float(c), 1)) for c in cmp.changes_bp[key])
        traces.append(CurveTrace(key=key, y=y, custom=custom, name=f"{key} ({on})"))
    return CurveView(market=market, tenors=tenors, traces=tuple(traces), tenors_digest=digest(tenors),
                     digest=digest([market, tenors, [(t.y, t.custom, t.name) for t in traces]]))


def _note(curves: dict) -> str:
    parts = [f"{m}: now = {pd.Timestamp(c.dates['now']):%Y-%m-%d} ({m} calendar)"
             for m in MARKETS if (c := curves.get(m)) is not None]
    return " · ".join(parts) + " · hover shows the change in bp" if parts else "Curves appear once daily closes are in."


def _parse_at(text: str | None) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None
    except ValueError:
        return None


def _feed(events: list[dict]) -> tuple[FeedItem, ...]:
    ordered = sorted(events, key=lambda e: (e.get("at") or "", e.get("seq") or 0), reverse=True)[:FEED_LIMIT]
    return tuple(FeedItem(alert_id=str(e.get("alert_id") or ""), seq=int(e.get("seq") or 0), at=_parse_at(e.get("at")),
                          tier=e.get("tier") or None, state=str(e.get("state") or ""), kind=str(e.get("kind") or ""),
                          text=str(e.get("text") or e.get("alert_id") or "")) for e in ordered)


def build_overview(snap) -> OverviewView:
    """Pure: snapshot → the page's view-model (no memo; `overview_view` is the memoised one)."""
    now = snap.now()
    stats, tiers = _stat_rows(snap), _firing_tiers(snap)
    tiles = tuple(_tile(snap, sid, stats, tiers, now) for sid in KEY_SERIES)
    curves = snap.contagion.curves if snap.contagion is not None else {}
    feed = _feed((snap.alerts or {}).get("events", []))
    return OverviewView(tiles=tiles, curves=tuple(_curve(curves.get(m), m) for m in MARKETS), note=_note(curves),
                        feed=feed, feed_digest=digest([[f.alert_id, f.seq] for f in feed]),
                        pinned=snap.pinned, pinned_at=now if snap.pinned else None, pin_notes=tuple(snap.pin_notes))


def overview_view(snap) -> OverviewView:
    """The view-model of this snapshot, built once and shared by every request; keyed by the only
    clock-dependent part (which tiles are stale), one at a time."""
    now = snap.now()
    key = ("overview", tuple(bool(r is not None and r.is_stale(now)) for r in map(snap.row, KEY_SERIES)))
    return snap.remember(key, lambda: build_overview(snap), keep=1)
