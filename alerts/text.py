"""How a move is said — the same words in alert texts, on tiles, the wall and the series page.

Pure formatting of `MoveStat` fields (no statistics here): the truncated figures (a 5.96σ
warning never reads "6.0σ": numbers compared with a tier are cut, not rounded, so the display
never crosses a tier boundary), the return period on the declared base (with the tail model's
interval for a record), "largest since YYYY-MM-DD" — the way desks and the press describe a
move — and the σ line that says when the floor bound.
"""
from __future__ import annotations

import datetime as dt
import math

from analytics.types import MoveStat

__all__ = ["trunc", "signed", "plain", "period_text", "rarity_text", "largest_text", "largest_headline",
           "sigma_text", "quality_text", "event_note", "EVENT_MARKETS", "UNIT_TEXT"]

UNIT_TEXT = {"bp": "bp", "logpct": "%"}
_MINUS = "−"


def trunc(x: float, nd: int) -> float:
    """x cut (toward zero) to nd decimals: 5.96 → 5.9, −5.96 → −5.9."""
    f = 10.0 ** nd
    return math.trunc(x * f + (1e-9 if x >= 0 else -1e-9)) / f


def signed(x: float, nd: int) -> str:
    """'+20.3' / '−0.35' from a truncated value."""
    return f"{trunc(x, nd):+.{nd}f}".replace("-", _MINUS)


def plain(x: float, nd: int) -> str:
    return f"{trunc(x, nd):.{nd}f}".replace("-", _MINUS)


def period_text(years: float | None) -> str:
    """'in 12.7 years', 'in 8 months', 'a week'… ('' when unknown)."""
    if years is None or (isinstance(years, float) and math.isnan(years)):
        return ""
    if math.isinf(years):
        return "beyond the fitted tail"
    if years >= 1.0:
        return f"in {years:,.0f} years" if years >= 100 else f"in {years:.1f} years"
    months = years * 12.0
    if months >= 1.0:
        return f"in {months:.0f} months" if round(months) > 1 else "a month"
    weeks = years * 52.0
    if weeks >= 1.0:
        return f"in {weeks:.0f} weeks" if round(weeks) > 1 else "a week"
    return "every few days"


def _years(v: float) -> str:
    return f"{v:,.0f}" if v >= 10 else f"{v:.1f}"


def rarity_text(s: MoveStat) -> str:
    """'about once in 13.0 years since 2000 (≈3.6σ normal)', with the tail model's interval for a
    move no earlier one matched; 'never seen in n moves' when even the tail model cannot say."""
    base = f" since {s.rarity_base:%Y}" if s.rarity_base is not None else ""
    rp = s.return_period_years
    neq = s.normal_equiv_sigma
    eq = f"≈{neq:.1f}σ normal" if neq is not None and math.isfinite(neq) else ""
    if s.tail and rp is not None:
        lo, hi = s.return_period_low, s.return_period_high
        ci = ""
        if lo is not None and hi is not None:
            ci = f"95 % CI {_years(lo)}–{_years(hi) if math.isfinite(hi) else '∞'} years"
        inner = "; ".join(x for x in ("tail model", ci, eq) if x)
        return f"about once {period_text(rp)}{base} ({inner})"
    if s.rarity_share == 0.0 or (rp is not None and math.isinf(rp)):
        span = f", {_years(rp)} years" if rp is not None and math.isfinite(rp) else ""
        return f"never seen in {s.n_history:,} moves{base}{span}"
    if rp is not None:
        return f"about once {period_text(rp)}{base}" + (f" ({eq})" if eq else "")
    return ""


def _span(h: int) -> str:
    return "one-day" if h == 1 else f"{h}-day"


def largest_text(s: MoveStat) -> list[str]:
    """['largest one-day rise on record (series since 1999-09-02)', 'largest move of either sign
    since 2016-03-08'] — record in the move's own direction first, then either sign."""
    if s.kind != "daily" or s.move is None or not math.isfinite(s.move) or s.move == 0:
        return []
    out = []
    word = "rise" if s.move > 0 else "fall"
    start = f" (series since {s.series_start:%Y-%m-%d})" if s.series_start is not None else ""
    if s.largest_since_signed is None:
        out.append(f"largest {_span(s.horizon)} {word} on record{start}")
    if s.largest_since is None:
        out.append(f"largest move of either sign on record{start}")
    else:
        out.append(f"largest move of either sign since {s.largest_since:%Y-%m-%d}")
    return out


def largest_headline(s: MoveStat, min_days: int = 90) -> str:
    """The one phrase a tile or the wall shows: a record in the move's direction, else "largest
    since YYYY-MM-DD" when that day is at least `min_days` back ('' for an everyday move)."""
    phrases = largest_text(s)
    if not phrases:
        return ""
    if s.largest_since_signed is None:
        return phrases[0]
    if s.largest_since is None or (s.ts - s.largest_since).days >= min_days:
        return phrases[-1]
    return ""


def largest_short(s: MoveStat, min_days: int = 90) -> str:
    """largest_headline in the few words a wall tile has room for, read from 5 m: 'record rise
    (data from 1999)' | 'largest since 2016-03-08' | ''."""
    if not largest_headline(s, min_days):
        return ""
    if s.largest_since_signed is None:
        word = "rise" if s.move > 0 else "fall"
        return f"record {word}" + (f" (data from {s.series_start:%Y})" if s.series_start is not None else "")
    return "largest on record" if s.largest_since is None else f"largest since {s.largest_since:%Y-%m-%d}"


_WINDOW = {"w60": "σ60", "w250": "σ250", "ewma": "σ_ewma", "mad250": "σ_mad"}


def sigma_text(s: MoveStat, estimator: str) -> str:
    """'σ60 2.6 bp, window to 2026-01-19' or 'σ60 0.6 bp, floored to 1.8 bp, window to …'."""
    nd = 1 if s.unit == "bp" else 2
    unit = UNIT_TEXT.get(s.unit, s.unit)
    name = _WINDOW.get(estimator, estimator)
    if s.horizon > 1 and s.kind == "daily":
        name += f" over {s.horizon}d"
    raw, used = s.sigma_raw.get(estimator), s.sigma.get(estimator)
    if used is None:
        return ""
    end = f", window to {s.window_end.astimezone(dt.UTC):%Y-%m-%d}" if s.window_end is not None else ""
    r = lambda v: f"{v:.{nd}f}"   # a σ is not compared with a tier: rounded
    if raw is not None and raw < used - 1e-12:
        return f"{name} {r(raw)} {unit}, floored to {r(used)} {unit}{end}"
    return f"{name} {r(used)} {unit}{end}"


def quality_text(s: MoveStat) -> str:
    """What the data-quality gate says about the closing print ('' when it is plainly ok)."""
    if s.insufficient_history and s.kind == "daily":
        return f"insufficient history ({s.n_valid} of {s.min_history} valid moves)"
    if s.quality in ("unconfirmed", "unjudged"):
        return "UNCONFIRMED" + (f": {s.quality_note}" if s.quality_note else "")
    if s.quality == "splice":
        return f"splice: {s.quality_note}" if s.quality_note else "splice"
    return ""


# --------------------------------------------------------------------------- the event calendar
# The markets an event kind moves (data/events.py KINDS): a JGB alert names a JGB auction or a
# BOJ decision, not US payrolls; USD/JPY and cross-market alerts name both sides.
EVENT_MARKETS = {"boj": {"JP", "FX"}, "jgb_auction": {"JP"}, "election": {"JP", "FX"},
                 "fomc": {"US", "FX"}, "ust_refunding": {"US"}, "cpi": {"US", "FX"}, "payrolls": {"US", "FX"}}


def _gap(d: dt.timedelta) -> str:
    hours = d.total_seconds() / 3600
    if hours < 20:
        return f"{max(1, round(hours))} h"
    days = max(1, round(hours / 24))
    return f"{days} day{'s' if days != 1 else ''}"


def event_note(ts: dt.datetime | None, events, market: str | None = None,
               within: dt.timedelta = dt.timedelta(days=1)) -> str:
    """'1 day after the JGB 20Y auction (No. 195)' — the calendar event nearest a data point, when
    one of the alert's market lies within `within` of it ("" when none). A date-only event
    covers its local day ("on the day of …"); a timed one reads "3 h after …" / "1 day before …"."""
    if ts is None or not events:
        return ""
    near = []
    for e in events:
        kinds = EVENT_MARKETS.get(e.kind)
        if market not in (None, "cross", "GLOBAL") and kinds is not None and market not in kinds:
            continue
        d = e.distance(ts)
        if d <= within:
            near.append((d, e.instant_utc, e))
    if not near:
        return ""
    d, _t, e = min(near, key=lambda x: (x[0], x[1]))
    what = f"the {e.label}"
    if d == dt.timedelta(0):
        return f"on the day of {what}"
    if e.all_day:        # a date-only event: whole local days in its own zone
        days = (ts.astimezone(e.local_start.tzinfo).date() - e.date).days
        return f"{abs(days)} day{'s' if abs(days) != 1 else ''} {'after' if days > 0 else 'before'} {what}"
    return f"{_gap(d)} {'before' if ts < e.instant_utc else 'after'} {what}"
