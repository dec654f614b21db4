"""The `intervention` rule's inputs: the possible-intervention detector (analytics/intervention.py)
turned into engine readings (`alerts.engine.Intervention`).

Store-free and shared by the live pipeline (alerts/pipeline.py) and the backtest
(alerts/backtest.py), so both judge the same day the same way:

- daily: the detector over the stored close of record, day High and day Low of one FX series
  (their gate verdicts applied); one reading per market day whose close has arrived;
- intraday: the sharpest move within the rule's `hours` on the series' intraday bars, levels two
  consecutive prints agree on.
"""
from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd

from alerts.engine import Intervention
from alerts.rules import Rule
from alerts.text import plain, signed
from analytics.intervention import (WINDOW, days_from_series, detect_daily, detect_intraday,
                                    qualifying_count)

__all__ = ["daily_detected", "daily_reading", "intraday_reading", "latest_daily_reading"]


def _series(obs: pd.DataFrame, sid: str, freq: str = "D") -> pd.DataFrame:
    if obs.empty:
        return obs
    return obs[(obs["series_id"] == sid) & (obs["freq"] == freq)]


def daily_detected(obs: pd.DataFrame, rule: Rule, universe) -> pd.DataFrame:
    """The daily detector's frame for a daily intervention rule over the standard observations
    frame (series_id, freq, ts, value[, quality]); empty when a leg has no rows."""
    sid = rule.series[0]
    hi, lo = rule.range_legs or ("", "")
    close, high, low = _series(obs, sid), _series(obs, hi), _series(obs, lo)
    if close.empty or high.empty or low.empty:
        return pd.DataFrame()
    s = universe.get(sid) if sid in universe else None
    days = days_from_series(close, high, low, s.timezone if s else "Europe/London", s.close if s else "24:00")
    det = detect_daily(days)
    return det.join(days[["open", "high", "low", "close", "quality", "ts"]])


def _pct(x: float) -> str:
    return f"{signed(x, 2)} %"


def daily_reading(rule: Rule, det: pd.DataFrame, i: int, label: str) -> Intervention | None:
    """Row `i` of `daily_detected` as a reading; None while the day's close is missing or the
    trailing median is not built yet (nothing to judge) — an unusable bar (thin, gated) has no
    median of its own either, so it is never judged."""
    row = det.iloc[i]
    ts = pd.Timestamp(row["ts"]).to_pydatetime()
    day = det.index[i].date()
    if not np.isfinite(row["close"]) or not np.isfinite(row["baseline"]):
        return None
    usable = bool(row["usable"])
    ratio = float(row["ratio"]) if usable and np.isfinite(row["ratio"]) else 0.0
    shaped = bool(row["shape"])
    n, years = qualifying_count(det, ratio, det.index[i]) if shaped and ratio > 0 else (0, 0.0)
    quality = str(row["quality"])
    direction = str(row["direction"]) if usable else ""
    detail = {"day": day.isoformat(), "range_pct": _num(row["range_pct"]), "baseline_pct": _num(row["baseline"]),
              "ratio": _num(ratio), "net_pct": _num(row["net_pct"]), "trend_pct": _num(row["trend_pct"]),
              "share": _num(row["share"]), "open": _num(row["open"]), "high": _num(row["high"]),
              "low": _num(row["low"]), "close": _num(row["close"]), "window": WINDOW, "quality": quality,
              "usable": usable, "rarity_days": n, "rarity_years": round(years, 2)}
    head = f"{label} possible intervention, {direction}" if shaped else f"{label} day range"
    text = (f"{head}: range {plain(row['range_pct'], 2)} % = {plain(ratio, 1)}× its {WINDOW}-day median"
            f" · {day}: median {plain(row['baseline'], 2)} %, {row['open']:.2f} → {row['close']:.2f} "
            f"({_pct(row['net_pct'])}) against {_pct(row['trend_pct'])} in the month before")
    if shaped and n:
        text += f" · {_ordinal(n)} day this wide with this shape in {years:.1f} years of data"
    if not shaped:
        text += " · not one way against the trend: not an intervention's shape"
    return Intervention(series_id=rule.series[0], kind="daily", ts=ts, value=ratio, shaped=shaped,
                        direction=direction, text=text, detail=detail, held=quality == "unconfirmed")


def latest_daily_reading(rule: Rule, det: pd.DataFrame, label: str, upto: pd.Timestamp | None = None
                         ) -> Intervention | None:
    """The newest judgeable day (close arrived) at or before instant `upto` (all rows when None)."""
    if det.empty:
        return None
    ts = pd.DatetimeIndex(det["ts"])
    ok = det["close"].notna().to_numpy() & det["baseline"].notna().to_numpy()
    if upto is not None:
        ok &= np.asarray(ts <= pd.Timestamp(upto))
    idx = np.flatnonzero(ok)
    return daily_reading(rule, det, int(idx[-1]), label) if len(idx) else None


def intraday_reading(rule: Rule, obs: pd.DataFrame, label: str, now: dt.datetime | None = None) -> Intervention | None:
    """The sharpest move within the rule's `hours` ending at the newest intraday bar (at or
    before `now`), in %; None without bars."""
    bars = _series(obs, rule.series[0], "I")
    if bars.empty:
        return None
    p = pd.Series(bars["value"].astype(float).to_numpy(), index=pd.DatetimeIndex(bars["ts"])).sort_index()
    p = p[~p.index.duplicated(keep="last")]
    if now is not None:
        p = p[p.index <= pd.Timestamp(now)]
    if len(p) < 2:
        return None
    p = p[p.index >= p.index[-1] - pd.Timedelta(hours=rule.hours * 2)]
    det = detect_intraday(p, hours=rule.hours, threshold=0.0)
    last = det.iloc[-1]
    fall, rise = float(last["fall_pct"]), float(last["rise_pct"])
    if not (math.isfinite(fall) and math.isfinite(rise)):
        return None                   # one print in the window (after a weekend): nothing to judge
    fall, rise = min(fall, 0.0), max(rise, 0.0)
    down = -fall >= rise
    move = fall if down else rise
    direction = "yen-buying" if down else "yen-selling"
    ts = det.index[-1].to_pydatetime()
    recent = p[p.index >= det.index[-1] - pd.Timedelta(hours=rule.hours)]
    # The level two consecutive prints agree on, as the detector measures from.
    frm = float(recent.rolling(2).min().max() if down else recent.rolling(2).max().min())
    text = (f"{label} possible intervention, {direction}: {_pct(move)} within {rule.hours:g} h"
            f" · from {frm:.2f} to {float(last['price']):.2f}, two prints agree, {ts:%Y-%m-%d %H:%M} UTC")
    detail = {"move_pct": _num(move), "hours": rule.hours, "from": _num(frm), "price": _num(last["price"]),
              "quality": "ok"}
    return Intervention(series_id=rule.series[0], kind="intraday", ts=ts, value=abs(move), shaped=True,
                        direction=direction, text=text, detail=detail)


def _num(x) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return round(v, 6) if math.isfinite(v) else None


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"
