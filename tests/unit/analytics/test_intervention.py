"""The possible-intervention detector on the real USD/JPY file and on hand-built frames."""
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analytics.intervention import daily_from_export, detect_daily

FX = Path(__file__).resolve().parents[3] / ".." / "shared" / "data" / "market" / "fx" / "USDJPY.csv"


@pytest.fixture(scope="module")
def real():
    if not FX.exists():
        pytest.skip(f"real data absent: {FX} (the ../shared folder is not mounted)")
    return detect_daily(daily_from_export(pd.read_csv(FX)))


@pytest.mark.parametrize("day", ["2022-09-22", "2022-10-21", "2024-04-29", "2024-07-11"])
def test_flags_the_named_yen_buying_interventions(real, day):
    row = real.loc[day]
    assert row["flag"]
    assert row["direction"] == "yen-buying"


@pytest.mark.parametrize("day", ["2011-03-18", "2011-08-04", "2011-10-31"])
def test_yen_selling_interventions_read_as_yen_selling(real, day):
    assert real.loc[day, "flag"] and real.loc[day, "direction"] == "yen-selling"


def test_false_positive_rate_is_about_one_a_year(real):
    since = real[real.index >= "2000-01-01"]
    years = (since.index[-1] - since.index[0]).days / 365.25
    assert 0 < since["flag"].sum() / years < 1.0


def test_christmas_thin_print_is_not_flagged(real):
    # 2024-12-25: Low 146.20 with USD/JPY at ~157 on both sides: a thin holiday print
    assert real.loc["2024-12-25", "range_pct"] > 7 and not real.loc["2024-12-25", "flag"]


def _frame(n=80, seed=1):
    rng = np.random.default_rng(seed)
    o = 100 * np.exp(np.cumsum(rng.normal(0, 0.004, n)))
    c = np.r_[o[1:], o[-1]]
    h = np.maximum(o, c) * (1 + rng.uniform(0.001, 0.004, n))
    lo = np.minimum(o, c) * (1 - rng.uniform(0.001, 0.004, n))
    idx = pd.bdate_range("2024-01-01", periods=n)
    return pd.DataFrame({"open": o, "high": h, "low": lo, "close": c, "quality": "ok"}, index=idx)


def test_baseline_ends_at_t_minus_1():
    d = _frame()
    out = detect_daily(d, window=20)
    rng = 100 * np.log(d["high"] / d["low"])
    expected = rng.rolling(20, min_periods=10).median().shift(1)
    pd.testing.assert_series_equal(out["baseline"], expected, check_names=False)
    # the day's own range is never in its baseline: blowing up day 50 leaves baseline 50 as it was
    d2 = d.copy()
    d2.iloc[50, d2.columns.get_loc("high")] *= 1.05
    out2 = detect_daily(d2, window=20)
    assert out2["baseline"].iloc[50] == out["baseline"].iloc[50]
    rng2 = 100 * np.log(d2["high"] / d2["low"])
    assert out2["baseline"].iloc[51] == pytest.approx(rng2.iloc[31:51].median())   # day 50 is in day 51's


def _trend_then_drop(n=80, k=60):
    """A steady 0.2 %/day rise with 0.5 % ranges, then on day k a one-way 4 % fall (range 5 %)."""
    o = 100 * np.exp(0.002 * np.arange(n))
    c = o * np.exp(0.002)
    c[k] = o[k] * 0.96
    o[k + 1:] = o[k + 1:] / o[k + 1] * c[k]
    c[k + 1:] = o[k + 1:] * np.exp(0.002)
    h = np.maximum(o, c) * 1.0025
    lo = np.minimum(o, c) * 0.9975
    h[k], lo[k] = o[k] * 1.001, o[k] * 0.95
    idx = pd.bdate_range("2024-01-01", periods=n)
    return pd.DataFrame({"open": o, "high": h, "low": lo, "close": c, "quality": "ok"}, index=idx)


def test_gate_thin_holiday_and_rejected_rows_never_count():
    k = 60
    d = _trend_then_drop(k=k)
    r = detect_daily(d, window=20)
    assert r["flag"].iloc[k] and r["direction"].iloc[k] == "yen-buying"
    assert r["flag"].sum() == 1
    rejected = d.copy()
    rejected.iloc[k, rejected.columns.get_loc("quality")] = "rejected"
    assert not detect_daily(rejected, window=20)["flag"].iloc[k]
    thin = d.copy()
    o = thin["open"].iloc[k - 5]
    thin.iloc[k - 5, [thin.columns.get_loc(c) for c in ("high", "low", "close")]] = o
    r = detect_daily(thin, window=20)
    assert not r["usable"].iloc[k - 5] and not r["flag"].iloc[k - 5]
    # an unusable day never enters the later baselines
    good = r["usable"]
    rngs = (100 * np.log(thin["high"] / thin["low"]))[good]
    exp = rngs.rolling(20, min_periods=10).median().shift(1).reindex(thin.index)
    pd.testing.assert_series_equal(r["baseline"], exp, check_names=False)


def test_past_levels_from_the_record_and_the_data():
    from analytics.intervention import past_levels
    from data.interventions import load_interventions
    if not FX.exists():
        pytest.skip(f"real data absent: {FX}")
    raw = pd.read_csv(FX)
    days = daily_from_export(raw)
    lv = past_levels(days, load_interventions()).set_index("date")
    r = raw.assign(Date=pd.to_datetime(raw["Date"])).set_index("Date")
    # 2022-10-21 (yen-buying): the level is that day's High in the file; pace = Opens (closes of record)
    assert lv.loc["2022-10-21", "level"] == pytest.approx(r.loc["2022-10-21", "High"])
    o = r["Open"]
    i = o.index.get_loc(pd.Timestamp("2022-10-21"))
    # close of record of t−1 is the Open of t; 5 rows before that is the Open of t−5
    assert lv.loc["2022-10-21", "pace_1w"] == pytest.approx(100 * np.log(o.iloc[i] / o.iloc[i - 5]))
    assert lv.loc["2011-10-31", "level"] == pytest.approx(r.loc["2011-10-31", "Low"])


HOURLY = FX.parent / "usdjpy_hourly.csv"


def test_intraday_flags_the_2026_04_30_fall_and_nothing_else_in_the_hourly_file():
    from analytics.intervention import detect_intraday
    if not HOURLY.exists():
        pytest.skip(f"real data absent: {HOURLY}")
    h = pd.read_csv(HOURLY)
    ts = pd.to_datetime(h["Date"] + " " + h["Time"]).dt.tz_localize("Europe/London", ambiguous="NaT").dt.tz_convert("UTC")
    bars = pd.Series(h["Close"].to_numpy(float), index=pd.DatetimeIndex(ts)).loc[lambda s: s.index.notna()]
    out = detect_intraday(bars)
    flagged = sorted({t.date().isoformat() for t in out.index[out["flag"]]})
    assert flagged == ["2026-04-30"]
    assert set(out.loc[out["flag"], "direction"]) == {"yen-buying"}


def test_intraday_single_print_is_not_a_move():
    from analytics.intervention import detect_intraday
    idx = pd.date_range("2026-01-05 00:00", periods=10, freq="h", tz="UTC")
    p = pd.Series(150.0, index=idx)
    p.iloc[5] = 147.0                                      # one print 2 % off, then back
    assert not detect_intraday(p)["flag"].any()
    q = pd.Series(150.0, index=idx)
    q.iloc[5:] = 147.0                                     # the fall holds on the next print
    out = detect_intraday(q)
    # flagged from the second print at 147 (bar 6) while the confirmed 150 (bar 4) is within 4 h (to bar 7)
    assert list(out.index[out["flag"]]) == [idx[6], idx[7]]
    assert out["fall_pct"].iloc[6] == pytest.approx(100 * np.log(147 / 150))
