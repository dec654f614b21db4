"""Possible-intervention detector for USD/JPY (issue 12 §2). Pure pandas/numpy: no dash, no store.

A day is flagged when its High–Low range is extreme against its OWN trailing history, the price
ended the day well away from where it started (a one-way move, not a two-way spike), and that move
went against the month before (the Ministry of Finance leans against a one-way run).

Inputs per market day: open, high, low and the close of record. Yahoo's daily Close is stale on
many rows (BRIEF §1), so it is never read: the close of record of day D is the next bar's Open
(data.sources.yahoo.fx_close_of_record) and the open of D is the close of record of D−1.

Data-quality gate: a day counts only when high > low, open and close lie inside [low, high], it is
not a High == Low == Open holiday print, and no print of it was rejected by the gate
(`quality` column, verdict "rejected" or "gap"). Unusable days are never flagged and never enter
the trailing history.

Trailing history: the median range of the previous `window` usable days, ending at t−1 — the
day's own range is never in its baseline.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analytics.quality import market_days

__all__ = ["WINDOW", "MIN_RATIO", "MIN_SHARE", "TREND_DAYS", "VERBAL_NOTE", "daily_from_export", "detect_daily",
           "days_from_series", "qualifying_count", "Watch", "watch", "CHART_YEARS",
           "past_levels", "pace_now", "detect_intraday", "INTRADAY_HOURS", "INTRADAY_PCT"]

WINDOW = 120        # trailing usable days for the baseline range (median), ending at t−1
MIN_RATIO = 4.0     # range ≥ 4 × its trailing median
MIN_SHARE = 0.33    # |open → close| ≥ a third of the range: a one-way move, not a spike
TREND_DAYS = 21     # the month before: the move must go against it
BAD_QUALITY = ("rejected", "gap")
VERBAL_NOTE = ("Verbal warnings by officials (\"we will respond appropriately to excessive moves\") are not "
               "in any data feed here: this panel cannot see them.")


def daily_from_export(df: pd.DataFrame) -> pd.DataFrame:
    """A Yahoo daily export (Date, Open, High, Low, …) → one row per day: open, high, low, close of
    record (the next bar's Open; the newest day has none), quality "ok"."""
    d = df.copy()
    d.index = pd.DatetimeIndex(pd.to_datetime(d["Date"]) if "Date" in d.columns else d.index)
    o = pd.to_numeric(d["Open"], errors="coerce")
    out = pd.DataFrame({"open": o, "high": pd.to_numeric(d["High"], errors="coerce"),
                        "low": pd.to_numeric(d["Low"], errors="coerce"), "close": o.shift(-1)})
    out["quality"] = "ok"
    return out.iloc[:-1]


_WORST = {"rejected": 4, "gap": 3, "unconfirmed": 2, "splice": 1, "ok": 0}


def days_from_series(close: pd.DataFrame, high: pd.DataFrame, low: pd.DataFrame, timezone: str = "Europe/London",
                     close_time: str = "24:00") -> pd.DataFrame:
    """The stored daily series (frames with ts, value and optionally quality: the close of record,
    the day's High and the day's Low, each stamped at the day's close instant) → one row per
    market day, as `daily_from_export` gives from a file: open (the previous day's close of
    record), high, low, close, quality (the worst verdict of the three) and
    ts. A day whose close has not arrived yet has close NaN: it is not judged until it does."""
    def prep(f: pd.DataFrame, name: str) -> pd.DataFrame:
        f = f.sort_values("ts").drop_duplicates("ts", keep="last")
        q = f["quality"] if "quality" in f.columns else pd.Series("ok", index=f.index)
        return pd.DataFrame({name: f["value"].astype(float).to_numpy(), f"q_{name}": q.fillna("ok").to_numpy()},
                            index=pd.DatetimeIndex(f["ts"]))

    days = prep(high, "high").join(prep(low, "low"), how="inner").join(prep(close, "close"), how="left")
    days["open"] = days["close"].shift(1)     # a day after a missing close has no open: not judged
    q = days[["q_close", "q_high", "q_low"]].fillna("ok")
    worst = q.apply(lambda col: col.map(lambda v: _WORST.get(v, 0))).max(axis=1)
    names = {v: k for k, v in _WORST.items()}
    idx = pd.DatetimeIndex(market_days(days.index.as_unit("ns").asi8, timezone, close_time))
    return pd.DataFrame({"open": days["open"].to_numpy(), "high": days["high"].to_numpy(),
                         "low": days["low"].to_numpy(), "close": days["close"].to_numpy(),
                         "quality": worst.map(names).to_numpy(), "ts": days.index}, index=idx)


def qualifying_count(detected: pd.DataFrame, ratio: float, upto) -> tuple[int, float]:
    """(days, years): how many usable days up to `upto` (inclusive) had the detector's shape (one
    way, against the trend) with a range at least `ratio` × its median, over how many years of
    usable history — the empirical rarity an alert quotes."""
    d = detected[detected.index <= upto]
    use = d[d["usable"] & d["baseline"].notna()]
    if use.empty:
        return 0, 0.0
    shape = use["shape"]
    years = (use.index[-1] - use.index[0]).days / 365.25
    return int((shape & (use["ratio"] >= ratio)).sum()), float(years)


def detect_daily(days: pd.DataFrame, *, window: int = WINDOW, min_ratio: float = MIN_RATIO,
                 min_share: float = MIN_SHARE, trend_days: int = TREND_DAYS) -> pd.DataFrame:
    """Per day: usable, range_pct (100·ln H/L), baseline (median range of the previous `window`
    usable days), ratio, net_pct (100·ln close/open), share, trend_pct (close of record of t−1 vs
    `trend_days` rows before), direction ("yen-buying" | "yen-selling" | "two-way"), shape (every
    condition but the ratio: one-way, against the trend) and flag (shape and ratio ≥ min_ratio)."""
    o, h, l, c = (days[k].astype(float) for k in ("open", "high", "low", "close"))
    q = days["quality"] if "quality" in days.columns else pd.Series("ok", index=days.index)
    eps = 1e-9
    usable = (np.isfinite(o) & np.isfinite(h) & np.isfinite(l) & np.isfinite(c) & (h > l)
              & (o >= l - eps) & (o <= h + eps) & (c >= l - eps) & (c <= h + eps)
              & ~((h == l) & (l == o)) & ~q.isin(BAD_QUALITY))
    rng = 100.0 * np.log(h / l)
    good = rng[usable]
    base = good.rolling(window, min_periods=max(window // 2, 1)).median().shift(1)
    baseline = base.reindex(days.index)
    net = 100.0 * np.log(c / o)
    trend = 100.0 * np.log(c.shift(1) / c.shift(trend_days + 1))
    up, down = np.log(h / o), np.log(o / l)
    direction = np.where((net < 0) & (down > up), "yen-buying",
                         np.where((net > 0) & (up > down), "yen-selling", "two-way"))
    out = pd.DataFrame({"usable": usable, "range_pct": rng.where(usable), "baseline": baseline,
                        "net_pct": net.where(usable), "trend_pct": trend, "direction": direction}, index=days.index)
    out["ratio"] = out["range_pct"] / out["baseline"]
    out["share"] = out["net_pct"].abs() / out["range_pct"]
    against = np.sign(out["net_pct"]) == -np.sign(out["trend_pct"])
    out["shape"] = (usable & (out["share"] >= min_share) & against
                    & (out["direction"] != "two-way")).fillna(False).astype(bool)
    out["flag"] = (out["shape"] & (out["ratio"] >= min_ratio)).fillna(False).astype(bool)
    return out


def past_levels(days: pd.DataFrame, record) -> pd.DataFrame:
    """Per past intervention (data.interventions.Intervention): the day's High and Low read from
    the data (the level MOF leaned against: High for yen-buying, Low for yen-selling), and the
    1-week (5 rows) and 1-month (21 rows) pace into it: close of record of the day before vs 5 / 21
    rows earlier, in 100·Δln. Days absent from the data are skipped."""
    c = days["close"].astype(float)
    rows = []
    for iv in record:
        ts = pd.Timestamp(iv.date)
        if ts not in days.index:
            continue
        i = days.index.get_loc(ts)
        before = c.iloc[:i]           # up to t−1: the pace before the operation, not its effect
        def pace(n: int) -> float:
            return float(100 * np.log(before.iloc[-1] / before.iloc[-1 - n])) if len(before) > n else float("nan")
        hi, lo = float(days["high"].iloc[i]), float(days["low"].iloc[i])
        rows.append({"date": ts, "direction": iv.direction, "high": hi, "low": lo,
                     "level": hi if iv.yen_buying else lo, "pace_1w": pace(5), "pace_1m": pace(21)})
    return pd.DataFrame(rows)


def pace_now(days: pd.DataFrame) -> dict[str, float]:
    """USD/JPY's newest close of record and its 1-week / 1-month pace (100·Δln, 5 / 21 rows)."""
    c = days["close"].astype(float).dropna()
    last = float(c.iloc[-1]) if len(c) else float("nan")
    p = lambda n: float(100 * np.log(c.iloc[-1] / c.iloc[-1 - n])) if len(c) > n else float("nan")
    return {"level": last, "pace_1w": p(5), "pace_1m": p(21)}


INTRADAY_HOURS = 4.0       # a sharp move within this many hours…
INTRADAY_PCT = 1.5         # …of at least this much (100·Δln), held on two consecutive prints


def detect_intraday(bars: pd.Series, *, hours: float = INTRADAY_HOURS, threshold: float = INTRADAY_PCT) -> pd.DataFrame:
    """Intraday bars (UTC instant → price) → per bar: fall_pct (vs the highest price of the last
    `hours`), rise_pct (vs the lowest), direction and flag. A single print is not a confirmed move:
    every level is one two consecutive prints agree on (a high: the lower of the two, a low: the
    higher), so one stray print neither starts nor ends a move."""
    p = bars.astype(float).dropna().sort_index()
    win = f"{int(round(hours * 60))}min"
    hi_c, lo_c = p.rolling(2).min(), p.rolling(2).max()
    fall = 100 * np.log(lo_c / hi_c.rolling(win).max())
    rise = 100 * np.log(hi_c / lo_c.rolling(win).min())
    down, up = fall <= -threshold, rise >= threshold
    out = pd.DataFrame({"price": p, "fall_pct": fall, "rise_pct": rise}, index=p.index)
    out["direction"] = np.where(down, "yen-buying", np.where(up, "yen-selling", ""))
    out["flag"] = down | up
    return out


# --------------------------------------------------------------------------- the watch panel
CHART_YEARS = 3     # the panel's chart: this many years of closes of record


@dataclass(frozen=True)
class Watch:
    """What the Yen watch page shows, computed once per daily data update (views/snapshot.py)."""

    asof: pd.Timestamp                    # the newest day with a close of record
    level: float                          # its close of record
    pace_1w: float                        # 100·Δln over 5 / 21 rows, up to that day
    pace_1m: float
    past: tuple[dict, ...]                # per recorded intervention: past_levels + amount + distance now
    pace_before: dict                     # yen-buying ones: {"1w"|"1m": (median, min, max)} of the pace into them
    latest: dict | None                   # the newest judged day: day, range_pct, ratio, flag, direction
    flags: tuple[dict, ...]               # detector flags in the last year: day, direction, ratio
    closes: pd.Series                     # close of record, the last CHART_YEARS years (chart)
    note: str = VERBAL_NOTE


def watch(days: pd.DataFrame, record) -> Watch | None:
    """The panel from one row per day (`days_from_series` / `daily_from_export`) and the
    intervention record (data.interventions); None without a close of record."""
    c = days["close"].astype(float).dropna()
    if c.empty:
        return None
    asof = c.index[-1]
    now = pace_now(days)
    lv = past_levels(days, record)
    by_day = {pd.Timestamp(iv.date): iv for iv in record}
    past = []
    for r in lv.to_dict("records") if len(lv) else []:
        iv = by_day[pd.Timestamp(r["date"])]
        amount = iv.amount_jpy if iv.amount_jpy is not None else (iv.period.amount_jpy if iv.period else None)
        past.append(r | {"amount_jpy": amount, "amount_basis": iv.amount_basis, "verified": iv.verified,
                         "distance_pct": float(100 * np.log(now["level"] / r["level"]))})
    buying = [p for p in past if p["direction"] == "buy_jpy"]

    def spread(key: str) -> tuple[float, float, float] | None:
        v = np.array([p[key] for p in buying if np.isfinite(p[key])])
        return (float(np.median(v)), float(v.min()), float(v.max())) if len(v) else None

    det = detect_daily(days)
    judged = det[det["baseline"].notna() & days["close"].notna()]
    latest = None
    if len(judged):
        j = judged.iloc[-1]
        latest = {"day": judged.index[-1], "range_pct": float(j["range_pct"]) if j["usable"] else None,
                  "ratio": float(j["ratio"]) if j["usable"] else None, "flag": bool(j["flag"]),
                  "direction": str(j["direction"]) if j["usable"] else ""}
    year = det[(det.index > asof - pd.DateOffset(years=1)) & det["flag"]]
    flags = tuple({"day": ix, "direction": str(r.direction), "ratio": float(r.ratio)} for ix, r in year.iterrows())
    return Watch(asof=asof, level=now["level"], pace_1w=now["pace_1w"], pace_1m=now["pace_1m"], past=tuple(past),
                 pace_before={"1w": spread("pace_1w"), "1m": spread("pace_1m")}, latest=latest, flags=flags,
                 closes=c[c.index > asof - pd.DateOffset(years=CHART_YEARS)])
