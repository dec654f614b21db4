"""Exchange quotes against the close of record (issue 10 §2).

The MOF curve is the close of record for JGB yields; the exchange quotes (`jgb_*_x`, universe
`sigma_from`) are what the desk sees while Tokyo trades. When a MOF close arrives, the quotes'
own close of that day — the last print before the market's close (15:00 JST), the bar
`analytics.intraday.session_frame` closes a session on — is set against it: how far apart the two
are, per tenor, in the series' unit (bp for yields). A large or growing difference says the
quotes are not the same quantity as the fixing (another benchmark issue, a stale feed), which a
trader needs to know before reading an intraday alert as "the MOF close will show this".

Pure: observations in, a small table out (views/snapshot computes it once per data update).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from universe import Universe

__all__ = ["RECORD_COLUMNS", "quotes_vs_record"]

RECORD_COLUMNS = ["series_id", "record_id", "unit", "days", "median", "max_abs", "last_day", "last_diff",
                  "last_quote", "last_record"]


def _closes_of_quotes(bars: pd.DataFrame, timezone: str, close: str) -> pd.Series:
    """Local date → the value of the last bar before the close on that date."""
    idx = pd.DatetimeIndex(bars["ts"])
    idx = idx.tz_localize("UTC") if idx.tz is None else idx
    local = idx.tz_convert(timezone)
    hh, mm = (int(x) for x in close.split(":"))
    c = hh * 60 + mm if (hh, mm) != (0, 0) else 24 * 60
    before = np.asarray(local.hour * 60 + local.minute) < c
    if not before.any():
        return pd.Series(dtype="float64")
    frame = pd.DataFrame({"day": local.tz_localize(None).normalize()[before], "ts": idx[before],
                          "value": bars["value"].to_numpy(dtype="float64")[before]})
    frame = frame.sort_values("ts")
    return frame.groupby("day")["value"].last()


def _record_closes(daily: pd.DataFrame, timezone: str) -> pd.Series:
    """Local date → the accepted close of record (a rejected print is not a close)."""
    ok = daily[daily["quality"].astype("object").ne("rejected")] if "quality" in daily.columns else daily
    if ok.empty:
        return pd.Series(dtype="float64")
    idx = pd.DatetimeIndex(ok["ts"])
    idx = idx.tz_localize("UTC") if idx.tz is None else idx
    day = idx.tz_convert(timezone).tz_localize(None).normalize()
    return pd.Series(ok["value"].to_numpy(dtype="float64"), index=day).groupby(level=0).last()


def _diff(q: np.ndarray, r: np.ndarray, unit: str) -> np.ndarray:
    if unit == "logpct":
        with np.errstate(divide="ignore", invalid="ignore"):
            return 100.0 * np.log(q / r)
    return 100.0 * (q - r)           # yields in % → bp


def quotes_vs_record(obs: pd.DataFrame, universe: Universe) -> pd.DataFrame:
    """One row per quote series with a close of record (`sigma_from`) and at least one day on
    which both closed: `days` compared, the `median` (signed) and `max_abs` difference quote −
    record in the series' unit, and the newest such day with its values. Days are the market's
    local dates; a day on which either side is missing is not compared."""
    rows = []
    if obs is None or obs.empty:
        return pd.DataFrame(columns=RECORD_COLUMNS)
    pairs = [(s, s.sigma_from) for s in universe if s.sigma_from]
    sub = obs[obs["series_id"].isin({x for s, r in pairs for x in (s.id, r)})]
    by_id = dict(tuple(sub.groupby("series_id", sort=False)))
    for s, _record in pairs:
        if s.id not in by_id or s.sigma_from not in by_id:
            continue
        bars = by_id[s.id]
        bars = bars[bars["freq"] == "I"] if "freq" in bars.columns else bars
        daily = by_id[s.sigma_from]
        daily = daily[daily["freq"] == "D"] if "freq" in daily.columns else daily
        if bars.empty or daily.empty:
            continue
        q = _closes_of_quotes(bars, s.timezone, s.close)
        r = _record_closes(daily, s.timezone)
        both = q.index.intersection(r.index)
        if not len(both):
            continue
        both = both.sort_values()
        d = _diff(q.loc[both].to_numpy(), r.loc[both].to_numpy(), s.unit)
        good = np.isfinite(d)
        if not good.any():
            continue
        d, days = d[good], both[good]
        rows.append({"series_id": s.id, "record_id": s.sigma_from, "unit": s.unit, "days": int(len(d)),
                     "median": float(np.median(d)), "max_abs": float(np.max(np.abs(d))),
                     "last_day": days[-1].date(), "last_diff": float(d[-1]),
                     "last_quote": float(q.loc[days[-1]]), "last_record": float(r.loc[days[-1]])})
    out = pd.DataFrame(rows, columns=RECORD_COLUMNS)
    return out if not out.empty else pd.DataFrame(columns=RECORD_COLUMNS)
