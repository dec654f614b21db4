"""The contagion snapshot on the real history up to 2026-01-20, checked against direct pandas."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from analytics.contagion import ContagionSnapshot, compute_contagion, contagion_signals
from universe import load_universe

UNIVERSE = load_universe()


@pytest.fixture(scope="module")
def snap(market_dir):
    from data.sources.replay import load_history

    hist = load_history(market_dir, UNIVERSE)
    hist = hist[hist["ts"] < pd.Timestamp("2026-01-21", tz="UTC")]
    return compute_contagion(hist[["series_id", "freq", "ts", "value"]], UNIVERSE), hist


def _local(hist, sid, tz):
    g = hist[(hist["series_id"] == sid) & (hist["freq"] == "D")]
    return pd.Series(g["value"].to_numpy(), index=pd.DatetimeIndex(g["ts"]).tz_convert(tz).tz_localize(None).normalize())


def test_japan_to_us_correlation_matches_a_direct_computation(snap):
    c, hist = snap
    jgb = _local(hist, "jgb_10y", "Asia/Tokyo").diff() * 100
    ust = _local(hist, "ust_10y", "America/New_York").diff() * 100
    both = pd.concat({"j": jgb, "u": ust}, axis=1, sort=True).dropna()     # same local date: Japan→US
    row = c.summary[(c.summary["pair"] == "10Y") & (c.summary["direction"] == "jp_to_us")].iloc[0]
    assert row["date"] == pd.Timestamp("2026-01-20")
    assert row["rho60"] == pytest.approx(both.tail(60).corr().iloc[0, 1], abs=1e-9)
    assert row["rho250"] == pytest.approx(both.tail(250).corr().iloc[0, 1], abs=1e-9)
    n = 250
    z = np.arctanh(row["rho250"])
    assert row["hi250"] == pytest.approx(np.tanh(z + 1.96 / np.sqrt(n - 3)), abs=1e-9)


def test_us_leads_japan_in_this_history(snap):
    c, _ = snap
    s = c.summary.set_index(["pair", "direction"])
    assert s.loc[("10Y", "us_to_jp"), "rho250"] > s.loc[("10Y", "jp_to_us"), "rho250"]


def test_spillover_latest_window_agrees_between_rolling_and_single_fit(snap):
    c, _ = snap
    assert c.spillover.index.max().date() == dt.date(2026, 1, 20)
    assert c.spillover["total"].iloc[-1] == pytest.approx(c.spillover_latest.total, abs=1e-6)
    span = c.spillover.index.max() - c.spillover.index.min()
    assert span.days >= 700                         # two years of rolling windows
    assert set(c.spillover_latest.names) == {"jgb_10y", "jgb_30y", "ust_10y", "ust_30y", "usdjpy_noon"}


def test_curves_spreads_attribution_riskparity_present(snap):
    c, _ = snap
    assert c.curves["JGB"].changes_bp.loc["30Y", "1D"] == pytest.approx(20.3, abs=0.05)
    assert c.spreads.loc["ust_jgb_30y", "now"] == pytest.approx((4.84 - 3.683) * 100, abs=5)
    assert c.attribution is not None and "UST 10Y moved" in c.attribution.text()
    assert c.riskparity_scenarios["citi_130bn"].bonds_sold_bn == pytest.approx(130, abs=1)
    assert c.riskparity_live is not None
    assert {s.kind for s in c.signals} == {"correlation_break", "spillover_jump", "hedged_pickup_flip"}


def test_signals_fire_on_constructed_conditions():
    idx = pd.date_range("2026-01-01", periods=10, freq="B")
    rolling = {("10Y", "jp_to_us"): pd.DataFrame({"rho60": [0.2] * 9 + [0.7], "hi250": [0.5] * 10,
                                                    "rho250": [0.3] * 10}, index=idx)}
    spill = pd.DataFrame({"total": [40.0] * 4 + [41, 42, 43, 44, 46, 47]}, index=idx)
    hedged = pd.DataFrame({"pickup_bp": [-5.0] * 9 + [3.0]}, index=idx)
    sig = {s.kind: s for s in contagion_signals(ContagionSnapshot(asof=idx[-1].date(), rolling=rolling,
                                                                  spillover=spill, hedged=hedged))}
    assert sig["correlation_break"].active and sig["correlation_break"].value == 0.7
    assert sig["spillover_jump"].active and sig["spillover_jump"].value == pytest.approx(6.0)
    assert sig["hedged_pickup_flip"].active
    calm = {s.kind: s for s in contagion_signals(ContagionSnapshot(
        asof=idx[-1].date(), rolling={k: v.assign(rho60=0.2) for k, v in rolling.items()},
        spillover=spill.assign(total=40.0), hedged=hedged.assign(pickup_bp=-5.0)))}
    assert not any(s.active for s in calm.values())


def test_empty_store_gives_an_empty_snapshot():
    c = compute_contagion(pd.DataFrame(columns=["series_id", "freq", "ts", "value"]), UNIVERSE)
    assert c.asof is None and c.summary.empty and c.spillover.empty and c.notes


def test_forbes_rigobon_and_granger_are_in_the_snapshot(snap):
    from analytics.correlation import align_pairs, forbes_rigobon
    from analytics.moves import changes

    c, hist = snap
    fr = c.forbes_rigobon["10Y"]
    jgb = changes(_local(hist, "jgb_10y", "Asia/Tokyo"), "bp")
    ust = changes(_local(hist, "ust_10y", "America/New_York"), "bp")
    pairs = align_pairs(jgb, ust, "jp_to_us").dropna(subset=["jgb", "ust"])
    direct = forbes_rigobon(pairs.iloc[-60:], pairs.iloc[-310:-60])
    assert fr.rho_adjusted == pytest.approx(direct.rho_adjusted) and fr.n_high == 60 and fr.n_low == 250
    assert set(c.granger["relation"]) == {"predictive"}
    assert set(c.granger["direction"]) == {"ust_predicts_jgb", "jgb_predicts_ust"}


def test_corr60_matrix_and_vol_ratio(snap):
    c, hist = snap
    m = c.corr60
    assert list(m.index) == ["jgb_10y", "jgb_30y", "ust_10y", "ust_30y", "usdjpy_noon"]
    assert np.allclose(np.diag(m.to_numpy()), 1.0) and np.allclose(m.to_numpy(), m.to_numpy().T)
    assert c.riskparity_vol_ratio["ratio"] == pytest.approx(
        c.riskparity_vol_ratio["fast"] / c.riskparity_vol_ratio["slow"])


def test_spreads_with_a_single_tenor_curve_are_empty_not_an_error():
    from analytics.curves import spread_comparison

    idx = pd.date_range("2026-01-01", periods=5, freq="B")
    out = spread_comparison(pd.DataFrame({"10Y": [1.0] * 5}, index=idx), pd.DataFrame({"10 Yr": [4.0] * 5}, index=idx))
    assert isinstance(out, pd.DataFrame)


def test_the_correlation_matrix_under_both_clock_alignments(snap):
    """Japan→US: the five series on the same local date. US→Japan: each Tokyo date with the latest
    New York date before it (and after the previous Tokyo date) — recomputed here by brute force."""
    c, hist = snap
    ids = ["jgb_10y", "jgb_30y", "ust_10y", "ust_30y", "usdjpy_noon"]
    tz = {s: ("Asia/Tokyo" if s.startswith("jgb") else "America/New_York") for s in ids}
    mv = {s: _local(hist, s, tz[s]).pipe(lambda x: (x.diff() * 100) if s != "usdjpy_noon"
                                        else (np.log(x).diff() * 100)).dropna() for s in ids}
    jp = pd.concat({s: mv[s] for s in ids[:2]}, axis=1, sort=True).dropna()
    us = pd.concat({s: mv[s] for s in ids[2:]}, axis=1, sort=True).dropna()
    m, first, last = c.corr60_by["jp_to_us"]
    same = jp.join(us, how="inner").tail(60)
    assert np.allclose(m.to_numpy(), same.corr().to_numpy(), atol=1e-12)
    assert np.allclose(m.to_numpy(), c.corr60.to_numpy(), atol=1e-12)
    rows, prev = [], None
    us_dates = list(us.index)
    for t in jp.index:
        before = [d for d in us_dates if d < t]
        if before and (prev is None or before[-1] >= prev):
            rows.append(pd.concat([jp.loc[t], us.loc[before[-1]]]).rename(t))
        prev = t
    lagged = pd.DataFrame(rows).tail(60)
    m2, first2, last2 = c.corr60_by["us_to_jp"]
    assert (first2, last2) == (lagged.index[0].date(), lagged.index[-1].date())
    # 2026-01-19 was a US holiday: JGB 01-20 has no New York close after JGB 01-19's, no pair.
    assert last2 == dt.date(2026, 1, 19)
    assert np.allclose(m2.to_numpy(), lagged[ids].corr().to_numpy(), atol=1e-12)
    # Within a market the alignments agree; across them they differ (the lead-lag is the point).
    assert m2.loc["jgb_10y", "ust_10y"] != pytest.approx(m.loc["jgb_10y", "ust_10y"], abs=0.01)


def test_the_live_risk_parity_estimate_and_its_range_across_windows(snap):
    c, hist = snap
    w = c.riskparity_windows
    assert set(zip(w["fast"], w["slow"])) == {(f, s) for f in (5, 10, 20) for s in (60, 120, 250)}
    chosen = w[w["chosen"]].iloc[0]
    assert (chosen["fast"], chosen["slow"]) == (10, 60)
    assert chosen["cut"] == pytest.approx(c.riskparity_live.cut, abs=1e-12)
    ust = (_local(hist, "ust_10y", "America/New_York").diff() * 100).dropna()
    r = w[(w["fast"] == 20) & (w["slow"] == 250)].iloc[0]
    assert r["ratio"] == pytest.approx(ust.iloc[-20:].std() / ust.iloc[-250:].std(), rel=1e-12)
    assert w["cut"].min() <= chosen["cut"] <= w["cut"].max()


def test_a_move_across_a_source_switch_enters_no_correlation(snap):
    """UST 30Y switches source on 2006-02-09 (FRED's constant-maturity series, which bridged the
    2002–2006 pause of the 30-year bond, back to the Treasury par curve): the gate starts a new
    segment there, so the −16 bp between two publishers is no move in any 30Y pair."""
    c, hist = snap
    frame = c.rolling[("30Y", "jp_to_us")]
    ust = _local(hist, "ust_30y", "America/New_York")
    mv = ust.diff() * 100
    assert mv.loc["2006-02-09"] == pytest.approx(-16.0)                    # what a naive diff reads
    assert pd.Timestamp("2006-02-09") not in frame.index
    assert pd.Timestamp("2006-02-10") in frame.index
    jgb = _local(hist, "jgb_30y", "Asia/Tokyo").diff() * 100
    mv.loc["2006-02-09"] = np.nan
    both = pd.concat({"j": jgb, "u": mv}, axis=1, sort=True).dropna()
    for day in ("2006-02-10", "2006-03-31"):
        ref = both[:day].tail(60).corr().iloc[0, 1]
        assert frame.loc[day, "rho60"] == pytest.approx(ref, abs=1e-9)


def test_a_rejected_print_enters_no_correlation(snap):
    """A decimal slip in UST 10Y (10× the true yield on one day): the gate rejects it, and the
    Japan→US correlation equals the direct computation on the clean series, not the polluted one."""
    _, hist = snap
    raw = hist[["series_id", "freq", "ts", "value"]].copy()
    day = pd.Timestamp("2025-12-10", tz="America/New_York")
    ust_rows = raw.index[(raw["series_id"] == "ust_10y")
                         & (pd.DatetimeIndex(raw["ts"]).tz_convert("America/New_York").normalize() == day)]
    assert len(ust_rows) == 1
    raw.loc[ust_rows, "value"] *= 10
    c = compute_contagion(raw, UNIVERSE)
    row = c.summary[(c.summary["pair"] == "10Y") & (c.summary["direction"] == "jp_to_us")].iloc[0]
    jgb = _local(hist, "jgb_10y", "Asia/Tokyo").diff() * 100
    clean = _local(hist, "ust_10y", "America/New_York").drop(day.tz_localize(None)).diff() * 100
    polluted = _local(raw, "ust_10y", "America/New_York").diff() * 100
    ref = pd.concat({"j": jgb, "u": clean}, axis=1, sort=True).dropna().tail(60).corr().iloc[0, 1]
    bad = pd.concat({"j": jgb, "u": polluted}, axis=1, sort=True).dropna().tail(60).corr().iloc[0, 1]
    assert abs(ref - bad) > 0.05                                           # the slip would matter
    assert row["rho60"] == pytest.approx(ref, abs=1e-9)
