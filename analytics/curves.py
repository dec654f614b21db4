"""JGB and UST curves: now vs 1 day / 1 week / 1 month ago, key spreads, and the FX-hedged
UST yield for a yen investor.

Inputs are yield levels in percent, one DataFrame per curve: index = local dates of that
market, columns = tenors. Tenor labels are normalised, so MoF ("10Y"), Treasury ("10 Yr",
"3 Mo", "1.5 Month"), FRED ("DGS10", "DGS3MO") and universe ids ("jgb_10y", "ust_3m") all work.

Look-backs (each curve on its **own** calendar, as of a date)
-------------------------------------------------------------
* now — the last row on or before ``asof`` (JGB rows are Tokyo dates, UST rows New York dates)
* 1D  — the previous row of the same curve (previous business day of that market)
* 1W  — the last row on or before now − 7 calendar days
* 1M  — the last row on or before now − 1 calendar month
Changes are in bp. Nothing is forward-filled within a curve.

Cross-market spreads (UST − JGB at 10Y and 30Y) are dated on the US calendar and use the
latest JGB close on or before that US date (Tokyo closes before New York on the same date),
at most ``max_stale_days`` calendar days old (else NaN). This is a *level* as-of lookup for
display — never used to build moves.

FX-hedged UST yield (yen investor, rolling 3-month hedges)
----------------------------------------------------------
    hedged = UST 10Y − hedge cost,   hedge cost ≈ UST 3M − JGB 1Y + basis
The short-rate differential is the forward-points carry of a rolled FX hedge. JPY proxy:
MoF JGB 1Y (the MoF curve has nothing shorter; a 3M TONA/TIBOR would be better).
``basis_bp`` (default 0) adds the cross-currency basis, which in practice makes hedging
dearer for yen investors by tens of bp — the default ignores it and so *understates* the
cost. ``pickup_bp`` = hedged UST 10Y − JGB 10Y.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = [
    "SPREADS",
    "CurveComparison",
    "curve_comparison",
    "curve_spreads",
    "fx_hedged_ust_yield",
    "normalize_tenor",
    "spread_comparison",
    "standardize_curve",
    "tenor_years",
]

_UNIT_MONTHS = {"m": 1, "mo": 1, "month": 1, "months": 1, "y": 12, "yr": 12, "year": 12,
                "years": 12}

# name → (curve, long tenor, short tenor): spread = long − short, in bp
SPREADS: dict[str, tuple[str, str, str]] = {
    "jgb_2s10s": ("jgb", "10Y", "2Y"),
    "jgb_10s30s": ("jgb", "30Y", "10Y"),
    "jgb_30s40s": ("jgb", "40Y", "30Y"),
    "ust_2s10s": ("ust", "10Y", "2Y"),
    "ust_10s30s": ("ust", "30Y", "10Y"),
    "ust_jgb_10y": ("cross", "10Y", "10Y"),
    "ust_jgb_30y": ("cross", "30Y", "30Y"),
}


def normalize_tenor(label: object) -> str:
    """'10 Yr' / 'DGS10' / 'jgb_10y' / '10Y' → '10Y'; '3 Mo' / 'DGS3MO' / 'ust_3m' → '3M';
    '1.5 Month' / 'ust_1_5m' → '1.5M'."""
    s = str(label).strip().lower()
    s = re.sub(r"^(jgb|ust)_", "", s)
    m = re.fullmatch(r"dgs(\d+)(mo)?", s)
    if m:
        return f"{m.group(1)}{'M' if m.group(2) else 'Y'}"
    s = re.sub(r"^(\d+)_(\d+)", r"\1.\2", s)
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([a-z]+)", s)
    if not m or m.group(2) not in _UNIT_MONTHS:
        raise ValueError(f"cannot read a tenor from {label!r}")
    num = float(m.group(1))
    txt = f"{num:g}"
    return f"{txt}M" if _UNIT_MONTHS[m.group(2)] == 1 else f"{txt}Y"


def tenor_years(label: object) -> float:
    """Tenor in years ('3M' → 0.25)."""
    t = normalize_tenor(label)
    return float(t[:-1]) / (12.0 if t.endswith("M") else 1.0)


def standardize_curve(levels: pd.DataFrame) -> pd.DataFrame:
    """Columns renamed to canonical tenors and sorted by maturity; rows with no value dropped."""
    out = levels.rename(columns=normalize_tenor).astype(float)
    out = out[sorted(out.columns, key=tenor_years)]
    out.index = pd.DatetimeIndex(out.index)
    return out.sort_index().dropna(how="all")


def _lookback_dates(index: pd.DatetimeIndex, asof: pd.Timestamp | None) -> dict[str, pd.Timestamp | None]:
    idx = index[index <= asof] if asof is not None else index
    if len(idx) == 0:
        raise ValueError("no data on or before asof")
    now = idx[-1]

    def last_on_or_before(t: pd.Timestamp) -> pd.Timestamp | None:
        sub = idx[idx <= t]
        return sub[-1] if len(sub) else None

    return {"now": now, "1D": idx[-2] if len(idx) > 1 else None,
            "1W": last_on_or_before(now - pd.Timedelta(days=7)),
            "1M": last_on_or_before(now - pd.DateOffset(months=1))}


@dataclass(frozen=True)
class CurveComparison:
    """Levels (%) now and at the look-backs, changes (bp), and the dates actually used."""

    levels: pd.DataFrame          # index tenors; columns now, 1D, 1W, 1M
    changes_bp: pd.DataFrame      # index tenors; columns 1D, 1W, 1M  (now − then)
    dates: dict[str, pd.Timestamp | None]


def curve_comparison(levels: pd.DataFrame, asof: str | pd.Timestamp | None = None) -> CurveComparison:
    """One curve now vs 1 day, 1 week, 1 month ago on its own calendar (see module notes)."""
    curve = standardize_curve(levels)
    dates = _lookback_dates(curve.index, None if asof is None else pd.Timestamp(asof))
    cols = {k: (curve.loc[d] if d is not None else pd.Series(np.nan, index=curve.columns))
            for k, d in dates.items()}
    lv = pd.DataFrame(cols)
    lv.index.name = "tenor"
    ch = pd.DataFrame({k: (lv["now"] - lv[k]) * 100.0 for k in ("1D", "1W", "1M")})
    return CurveComparison(levels=lv, changes_bp=ch, dates=dates)


def curve_spreads(jgb_levels: pd.DataFrame, ust_levels: pd.DataFrame,
                  max_stale_days: int = 5) -> pd.DataFrame:
    """History of the spreads in :data:`SPREADS`, in bp, on the union of both calendars.

    JGB spreads have values on Tokyo dates only, UST and UST−JGB spreads on New York dates
    only (NaN elsewhere — call ``.dropna()`` per column to get each spread's own calendar).
    """
    j, u = standardize_curve(jgb_levels), standardize_curve(ust_levels)
    out: dict[str, pd.Series] = {}
    for name, (curve, long_t, short_t) in SPREADS.items():
        if curve == "jgb" and {long_t, short_t} <= set(j.columns):
            out[name] = (j[long_t] - j[short_t]) * 100.0
        elif curve == "ust" and {long_t, short_t} <= set(u.columns):
            out[name] = (u[long_t] - u[short_t]) * 100.0
        elif curve == "cross" and long_t in u.columns and short_t in j.columns:
            out[name] = (u[long_t] - _jgb_asof(j[short_t], u.index, max_stale_days)) * 100.0
    index = j.index.union(u.index)
    return pd.DataFrame({k: v.reindex(index) for k, v in out.items()}, index=index)


def _jgb_asof(jgb: pd.Series, us_dates: pd.DatetimeIndex, max_stale_days: int) -> pd.Series:
    """Latest JGB level on or before each US date (≤ max_stale_days old)."""
    s = jgb.dropna()
    left = pd.DataFrame({"d": us_dates})
    right = pd.DataFrame({"d": s.index, "v": s.to_numpy()})
    m = pd.merge_asof(left, right, on="d", direction="backward",
                      tolerance=pd.Timedelta(days=max_stale_days))
    return pd.Series(m["v"].to_numpy(), index=us_dates)


def spread_comparison(jgb_levels: pd.DataFrame, ust_levels: pd.DataFrame,
                      asof: str | pd.Timestamp | None = None) -> pd.DataFrame:
    """Each spread now vs 1D/1W/1M ago on its own calendar (bp). Columns: now, 1D, 1W, 1M,
    chg_1D, chg_1W, chg_1M, date (the 'now' date of that spread)."""
    sp = curve_spreads(jgb_levels, ust_levels)
    rows = {}
    for name in sp.columns:
        s = sp[name].dropna()
        if s.empty:
            continue
        d = _lookback_dates(s.index, None if asof is None else pd.Timestamp(asof))
        v = {k: (float(s.loc[t]) if t is not None else np.nan) for k, t in d.items()}
        rows[name] = {**v, **{f"chg_{k}": v["now"] - v[k] for k in ("1D", "1W", "1M")},
                      "date": d["now"]}
    if not rows:  # e.g. a curve with a single tenor: no spread to show, not an error
        return pd.DataFrame(columns=["now", "1D", "1W", "1M", "chg_1D", "chg_1W", "chg_1M", "date"])
    out = pd.DataFrame(rows).T
    num = [c for c in out.columns if c != "date"]
    out[num] = out[num].astype(float)
    out["date"] = pd.to_datetime(out["date"])
    return out


def fx_hedged_ust_yield(ust_levels: pd.DataFrame, jgb_levels: pd.DataFrame,
                        long_tenor: str = "10Y", usd_short: str = "3M", jpy_short: str = "1Y",
                        basis_bp: float = 0.0, max_stale_days: int = 5) -> pd.DataFrame:
    """FX-hedged UST yield for a yen investor, on the US calendar (percent; pickup in bp).

    Columns: ust_yield, usd_short, jpy_short, hedge_cost (= usd_short − jpy_short +
    basis_bp/100), hedged_yield (= ust_yield − hedge_cost), jgb_yield (same tenor, latest
    Tokyo close), pickup_bp (= (hedged − jgb) × 100). See module notes for the proxy.
    """
    u, j = standardize_curve(ust_levels), standardize_curve(jgb_levels)
    lt, us_s, jp_s = normalize_tenor(long_tenor), normalize_tenor(usd_short), normalize_tenor(jpy_short)
    ust = u[lt]
    usd = u[us_s]
    jpy = _jgb_asof(j[jp_s], u.index, max_stale_days)
    jgb = _jgb_asof(j[lt], u.index, max_stale_days) if lt in j.columns else pd.Series(np.nan, index=u.index)
    cost = usd - jpy + basis_bp / 100.0
    hedged = ust - cost
    out = pd.DataFrame({"ust_yield": ust, "usd_short": usd, "jpy_short": jpy, "hedge_cost": cost,
                        "hedged_yield": hedged, "jgb_yield": jgb,
                        "pickup_bp": (hedged - jgb) * 100.0})
    return out.dropna(subset=["ust_yield"])
