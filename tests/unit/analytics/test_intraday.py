"""Intraday: time-of-day profile, z_cum = (x_t − x_prev close)/(σ_day·√F(t)), single prints."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from analytics.intraday import BAR_HISTORY, intraday_profile, intraday_stats, recent_bars, session_frame
from analytics.movestats import compute_move_stats
from data.sources.yahoo import parse_yahoo_csv_export

SLOTS = ("10:00", "12:00", "14:00")


def _bars(day_moves: list[tuple[float, float, float]]) -> pd.Series:
    """Bars at 10/12/14 UTC on consecutive business days; moves in bp per bar."""
    days = pd.bdate_range("2026-03-02", periods=len(day_moves))
    ts = [pd.Timestamp(f"{d.date()} {s}", tz="UTC") for d in days for s in SLOTS]
    levels = 1.0 + np.cumsum([m for day in day_moves for m in day]) / 100.0
    return pd.Series(levels, index=pd.DatetimeIndex(ts))


def test_hand_example_profile_and_z_cum():
    # Six past sessions: |bar moves| 2, 1, 1 bp → variance shares 4/6, 1/6, 1/6.
    past = [(2.0 * (-1) ** i, 1.0 * (-1) ** (i + 1), -1.0 * (-1) ** i) for i in range(7)]
    bars = _bars(past + [(1.0, 1.0, 10.0)])
    fr = session_frame(bars, "UTC", "16:00", "bp")
    assert list(fr["session"].iloc[:3]) == [-1, -1, -1]        # day 1 has no previous close
    prof, kind = intraday_profile(fr, int(fr["session"].iloc[-1]))
    assert kind == "empirical"
    assert prof.to_numpy() == pytest.approx([4 / 6, 1 / 6, 1 / 6])
    out = intraday_stats(bars, {"w60": 2.0}, timezone="UTC", close="16:00", unit="bp")
    assert out["cum_move"].to_numpy() == pytest.approx([1.0, 2.0, 12.0])
    assert out["F"].to_numpy() == pytest.approx([2 / 3, 5 / 6, 1.0])
    assert out["z_w60"].to_numpy() == pytest.approx([1 / (2 * math.sqrt(2 / 3)), 2 / (2 * math.sqrt(5 / 6)), 6.0])
    # 10:00: one bar so far; 12:00: the last bar is half the move; 14:00: 10 of 12 bp in one bar.
    assert list(out["single_print"]) == [True, False, True]


def test_flat_profile_when_history_is_short():
    bars = _bars([(2.0, -1.0, 1.0)] * 3 + [(3.0, 0.0, 0.0)])
    out = intraday_stats(bars, {"ewma": 3.0}, timezone="UTC", close="16:00", unit="bp")
    assert (out["profile"] == "flat").all()
    assert out["F"].to_numpy() == pytest.approx([1 / 3, 2 / 3, 1.0])
    assert out["z_ewma"].iloc[0] == pytest.approx(3.0 / (3.0 * math.sqrt(1 / 3)))
    assert list(out["single_print"]) == [True, False, False]   # 12:00, 14:00: no move since


def test_post_market_and_midnight_close():
    # A 17:00 bar after a 16:00 close measures the move since that day's close.
    ts = pd.DatetimeIndex(["2026-03-02 15:00", "2026-03-02 17:00", "2026-03-03 10:00"], tz="UTC")
    fr = session_frame(pd.Series([1.0, 1.1, 1.2], index=ts), "UTC", "16:00", "bp")
    assert list(fr["session"]) == [-1, 0, 0]
    assert fr["cum_move"].iloc[1:].to_numpy() == pytest.approx([10.0, 20.0])
    # FX stamped on London midnight: the 23:00 bar closes the day.
    ts = pd.DatetimeIndex(["2026-03-02 22:00", "2026-03-02 23:00", "2026-03-03 00:00"], tz="Europe/London")
    fr = session_frame(pd.Series([150.0, 151.0, 152.0], index=ts), "Europe/London", "00:00", "logpct")
    assert list(fr["session"]) == [-1, -1, 0]
    assert fr["cum_move"].iloc[2] == pytest.approx(100 * math.log(152 / 151))


def test_real_tlt_hourly(market_dir, universe):
    tlt = universe.get("tlt")
    hourly = parse_yahoo_csv_export((market_dir / "ust_prices" / "tlt_hourly.csv").read_bytes(), tlt,
                                    freq="I", tz="America/New_York")
    daily = parse_yahoo_csv_export((market_dir / "ust_prices" / "tlt.csv").read_bytes(), tlt, freq="D")
    table = compute_move_stats(pd.concat([daily, hourly], ignore_index=True), universe)
    r = table.frame[(table.frame["series_id"] == "tlt") & (table.frame["kind"] == "intraday")].iloc[0]
    # Last bar 2026-06-05 17:00 (post-market); previous close = the 15:30 bar of 2026-06-05.
    h = pd.Series(hourly["value"].to_numpy(), index=pd.DatetimeIndex(hourly["ts"]).tz_convert("America/New_York"))
    assert r["ts"] == hourly["ts"].iloc[-1]
    prev_close = h[pd.Timestamp("2026-06-05 15:30", tz="America/New_York")]
    assert r["move"] == pytest.approx(100 * math.log(h.iloc[-1] / prev_close), rel=1e-12)
    # σ_day: daily log moves up to 2026-06-05, plain pandas, floored as documented.
    d = 100 * np.log(pd.Series(daily["value"].to_numpy())).diff().dropna()
    sd60 = d.iloc[-60:].std()
    floor = max(0.01, 0.5 * d.std())
    assert 0 < r["F"] <= 1
    assert r["sigma_w60"] == pytest.approx(max(sd60, floor) * math.sqrt(r["F"]), rel=1e-9)
    assert r["z_w60"] == pytest.approx(r["move"] / r["sigma_w60"], rel=1e-12)
    # The profile from the 20 sessions before: shares sum to 1. The 04:00 pre-market bar carries
    # the overnight gap since the post-market (largest share, ~30 %); the 08:00 bar holds the
    # 08:30 US data releases; regular hours 09:30–16:00 only about a third.
    fr = session_frame(h.tz_convert("UTC"), "America/New_York", "16:00", "logpct")
    prof, kind = intraday_profile(fr, int(fr["session"].iloc[-1]))
    assert kind == "empirical" and prof.sum() == pytest.approx(1.0)
    assert prof.idxmax() == (4 * 60 - 960) % 1440
    assert prof[(8 * 60 - 960) % 1440] > prof[(prof.index >= (570 - 960) % 1440)].mean()
    # Every session of the file: z_cum finite, F non-decreasing within the session.
    for s in range(5, int(fr["session"].max()) + 1):
        out = intraday_stats(h.tz_convert("UTC"), {"w60": 1.0}, timezone="America/New_York", close="16:00",
                             unit="logpct", session=s)
        assert np.isfinite(out["z_w60"]).all()
        assert (np.diff(out["F"].to_numpy()) >= -1e-12).all()
    recs = [m for m in table.for_series("tlt") if m.kind == "intraday"]
    assert len(recs) == 1 and recs[0].horizon == 1 and set(recs[0].z) == {"w60", "w250", "ewma", "mad250"}


def test_intraday_update_matches_full(market_dir, universe):
    tlt = universe.get("tlt")
    hourly = parse_yahoo_csv_export((market_dir / "ust_prices" / "tlt_hourly.csv").read_bytes(), tlt,
                                    freq="I", tz="America/New_York")
    daily = parse_yahoo_csv_export((market_dir / "ust_prices" / "tlt.csv").read_bytes(), tlt, freq="D")
    full = compute_move_stats(pd.concat([daily, hourly]), universe)
    inc = compute_move_stats(pd.concat([daily, hourly.iloc[:-3]]), universe).update(hourly.iloc[-3:])
    a = full.frame[full.frame["kind"] == "intraday"].reset_index(drop=True)
    b = inc.frame[inc.frame["kind"] == "intraday"].reset_index(drop=True)
    pd.testing.assert_frame_equal(a, b)


@pytest.mark.parametrize("sid", ["tlt", "ief"])
def test_bars_older_than_the_window_never_change_the_statistic(market_dir, universe, sid):
    """The table keeps only BAR_HISTORY of bars (memory and tick cost stay flat over days); on
    the real two-month hourly files the latest row equals intraday_stats on every bar."""
    spec = universe.get(sid)
    hourly = parse_yahoo_csv_export((market_dir / "ust_prices" / f"{sid}_hourly.csv").read_bytes(), spec,
                                    freq="I", tz="America/New_York")
    daily = parse_yahoo_csv_export((market_dir / "ust_prices" / f"{sid}.csv").read_bytes(), spec, freq="D")
    bars = pd.Series(hourly["value"].to_numpy(), index=pd.DatetimeIndex(hourly["ts"]))
    assert bars.index.max() - bars.index.min() > BAR_HISTORY       # the file reaches past the window
    table = compute_move_stats(pd.concat([daily, hourly], ignore_index=True), universe)
    assert len(table._bars[sid]) < len(bars) and len(table._bars[sid]) == len(recent_bars(bars))
    r = table.frame[(table.frame["series_id"] == sid) & (table.frame["kind"] == "intraday")].iloc[0]
    ref = intraday_stats(bars, {"w60": 1.0}, timezone=spec.timezone, close=spec.close, unit=spec.unit).iloc[-1]
    assert ref["profile"] == "empirical"
    assert r["F"] == pytest.approx(ref["F"], rel=1e-12) and r["move"] == pytest.approx(ref["cum_move"], rel=1e-12)
    # The check has teeth: ten days of bars hold too few sessions and the profile changes.
    short = intraday_stats(recent_bars(bars, pd.Timedelta(days=10)), {"w60": 1.0}, timezone=spec.timezone,
                           close=spec.close, unit=spec.unit).iloc[-1]
    assert short["F"] != pytest.approx(ref["F"], rel=1e-6)
    # Folding new bars into a table also keeps only the window, and equals the full recompute.
    inc = compute_move_stats(pd.concat([daily, hourly.iloc[:-5]], ignore_index=True), universe).update(hourly.iloc[-5:])
    assert len(inc._bars[sid]) == len(recent_bars(bars))
    pd.testing.assert_frame_equal(inc.frame[inc.frame["kind"] == "intraday"].reset_index(drop=True),
                                  table.frame[table.frame["kind"] == "intraday"].reset_index(drop=True))
