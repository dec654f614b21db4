"""Curves now vs 1D/1W/1M on each curve's own calendar, spreads, FX-hedged UST yield."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics.curves import (
    curve_comparison,
    curve_spreads,
    fx_hedged_ust_yield,
    normalize_tenor,
    spread_comparison,
    tenor_years,
)


def market_jgb_curve(market_dir):
    """MoF English history file (title row, '-' = missing, footer rows skipped)."""
    raw = pd.read_csv(market_dir / "jgb" / "jgbcme_all.csv", skiprows=1, na_values="-")
    dates = pd.to_datetime(raw["Date"], format="%Y/%m/%d", errors="coerce")
    out = raw[dates.notna()].drop(columns="Date").astype(float)
    out.index = pd.DatetimeIndex(dates[dates.notna()], name="date")
    return out


def market_ust_curve(market_dir, ids=("DGS3MO", "DGS2", "DGS10", "DGS30")):
    cols = {i: pd.read_csv(market_dir / "ust" / "fred" / f"{i}.csv", index_col=0,
                           parse_dates=True)["value"] for i in ids}
    return pd.concat(cols, axis=1, sort=True)


D = pd.Timestamp


@pytest.mark.parametrize("label,want", [("10Y", "10Y"), ("10 Yr", "10Y"), ("3 Mo", "3M"),
                                        ("1.5 Month", "1.5M"), ("DGS3MO", "3M"), ("DGS10", "10Y"),
                                        ("jgb_40y", "40Y"), ("ust_1_5m", "1.5M")])
def test_normalize_tenor(label, want):
    assert normalize_tenor(label) == want
    assert tenor_years("3M") == 0.25
    with pytest.raises(ValueError):
        normalize_tenor("ten years")


def _toy():
    jd = pd.to_datetime(["2025-05-30", "2025-06-20", "2025-06-27", "2025-06-30"])
    ud = pd.to_datetime(["2025-05-30", "2025-06-20", "2025-06-26", "2025-06-27"])
    j = pd.DataFrame({"1Y": [0.7, 0.72, 0.74, 0.75], "2Y": [0.8, 0.82, 0.84, 0.85],
                      "10Y": [1.5, 1.45, 1.42, 1.40], "30Y": [2.9, 2.95, 3.0, 3.1],
                      "40Y": [3.2, 3.22, 3.24, 3.3]}, index=jd)
    u = pd.DataFrame({"3 Mo": [4.3, 4.35, 4.36, 4.4], "2 Yr": [3.9, 3.95, 3.92, 3.9],
                      "10 Yr": [4.4, 4.38, 4.3, 4.28], "30 Yr": [4.9, 4.88, 4.85, 4.84]}, index=ud)
    return j, u


def test_curve_comparison_own_calendar():
    j, u = _toy()
    cj = curve_comparison(j, "2025-06-30")
    assert cj.dates == {"now": D("2025-06-30"), "1D": D("2025-06-27"), "1W": D("2025-06-20"),
                        "1M": D("2025-05-30")}
    assert cj.changes_bp.loc["10Y", "1D"] == pytest.approx(-2.0)
    assert cj.changes_bp.loc["30Y", "1M"] == pytest.approx(20.0)
    cu = curve_comparison(u, "2025-06-30")            # US curve: its own last day is 06-27
    assert cu.dates["now"] == D("2025-06-27") and cu.dates["1D"] == D("2025-06-26")
    assert list(cu.levels.index) == ["3M", "2Y", "10Y", "30Y"]


def test_spreads_and_hedged_yield():
    j, u = _toy()
    sp = curve_spreads(j, u)
    assert sp.loc[D("2025-06-30"), "jgb_30s40s"] == pytest.approx(20.0)
    assert np.isnan(sp.loc[D("2025-06-30"), "ust_2s10s"])          # no US row that day
    # UST 10Y on 06-26 vs the latest Tokyo close on or before 06-26 (06-20, 6 days old):
    # too stale for the default 5-day limit, used with a 7-day limit
    assert np.isnan(sp.loc[D("2025-06-26"), "ust_jgb_10y"])
    sp7 = curve_spreads(j, u, max_stale_days=7)
    assert sp7.loc[D("2025-06-26"), "ust_jgb_10y"] == pytest.approx((4.30 - 1.45) * 100)
    assert sp.loc[D("2025-06-27"), "ust_jgb_10y"] == pytest.approx((4.28 - 1.42) * 100)
    sc = spread_comparison(j, u, "2025-06-30")
    assert sc.loc["ust_2s10s", "now"] == pytest.approx(38.0)
    assert sc.loc["ust_2s10s", "chg_1D"] == pytest.approx(38.0 - 38.0)
    h = fx_hedged_ust_yield(u, j)
    row = h.loc[D("2025-06-27")]
    assert row["hedge_cost"] == pytest.approx(4.40 - 0.74)
    assert row["hedged_yield"] == pytest.approx(4.28 - (4.40 - 0.74))
    assert row["pickup_bp"] == pytest.approx((row["hedged_yield"] - 1.42) * 100)
    hb = fx_hedged_ust_yield(u, j, basis_bp=25)
    assert hb.loc[D("2025-06-27"), "hedge_cost"] == pytest.approx(row["hedge_cost"] + 0.25)


def test_real_curves_2026_06_30(market_dir):
    j = market_jgb_curve(market_dir)
    u = market_ust_curve(market_dir)
    cj = curve_comparison(j, "2026-06-30")
    assert cj.dates["now"] == D("2026-06-30") and cj.dates["1D"] == D("2026-06-29")
    assert len(cj.levels) == 15 and cj.levels.index[0] == "1Y" and cj.levels.index[-1] == "40Y"
    assert cj.changes_bp.loc["30Y", "1D"] == pytest.approx((3.873 - 3.785) * 100)
    sc = spread_comparison(j, u, "2026-06-30")
    assert sc.loc["jgb_30s40s", "now"] == pytest.approx((3.792 - 3.873) * 100)
    assert set(sc.index) == {"jgb_2s10s", "jgb_10s30s", "jgb_30s40s", "ust_2s10s",
                             "ust_10s30s", "ust_jgb_10y", "ust_jgb_30y"}
    h = fx_hedged_ust_yield(u, j).loc[:"2026-06-30"]
    last = h.iloc[-1]
    assert last["hedged_yield"] == pytest.approx(last["ust_yield"] - last["usd_short"]
                                                 + last["jpy_short"])
