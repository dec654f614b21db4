"""Clock-aligned JGB/UST correlation, bands, EWMA, beta, Forbes–Rigobon, Granger."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics.correlation import (
    align_pairs,
    alignment_correlations,
    ewma_correlation,
    fisher_band,
    forbes_rigobon,
    granger_predictive,
    rolling_beta,
    rolling_correlation,
)
from analytics.moves import changes


def jgb10_ust10_changes(verify_dir):
    """MoF JGB 10Y and FRED DGS10 1-day bp changes, each on its own calendar."""
    j = pd.read_csv(verify_dir / "jgb_mof_yields_pct_1999_2026-02.csv", index_col=0,
                    parse_dates=True)["JGB10Y"]
    u = pd.read_csv(verify_dir / "fred_DGS10_DGS30_DEXJPUS_1999_2026-07.csv", index_col=0,
                    parse_dates=True)["DGS10"]
    return changes(j, "bp").dropna(), changes(u, "bp").dropna()


D = pd.Timestamp


def _toy():
    # Tokyo calendar: 2024-07-15 (Mon) is a JP holiday (Marine Day); US open.
    # New York calendar: 2024-07-04 (Thu) is a US holiday; Japan open.
    jd = pd.to_datetime(["2024-07-02", "2024-07-03", "2024-07-04", "2024-07-05", "2024-07-08",
                         "2024-07-12", "2024-07-16"])
    ud = pd.to_datetime(["2024-07-02", "2024-07-03", "2024-07-05", "2024-07-08",
                         "2024-07-12", "2024-07-15", "2024-07-16"])
    j = pd.Series([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0], index=jd)
    u = pd.Series([10.0, 20.0, 30.0, 40.0, 50.0, 60.0, 70.0], index=ud)
    return j, u


def test_align_jp_to_us_same_date_drops_holidays():
    j, u = _toy()
    p = align_pairs(j, u, "jp_to_us")
    # JGB 07-04 (US holiday) and UST 07-15 (JP holiday) have no partner: dropped, not zero-filled
    assert list(p.index) == list(pd.to_datetime(["2024-07-02", "2024-07-03", "2024-07-05",
                                                 "2024-07-08", "2024-07-12", "2024-07-16"]))
    assert (p["jgb_date"] == p["ust_date"]).all()
    assert p.loc[D("2024-07-05"), "jgb"] == 4.0 and p.loc[D("2024-07-05"), "ust"] == 30.0
    assert not (p[["jgb", "ust"]] == 0).any().any()


def test_align_us_to_jp_previous_us_close_fresh_only():
    j, u = _toy()
    p = align_pairs(j, u, "us_to_jp")
    # JGB 07-03 ← UST 07-02; JGB 07-04 ← UST 07-03; JGB 07-05 ← UST 07-03 again (US holiday
    # 07-04): stale, dropped; JGB 07-16 (after the JP holiday) ← UST 07-15 (latest close);
    # UST 07-12 is not reused.
    assert p["ust_date"].to_dict() == {D("2024-07-03"): D("2024-07-02"),
                                       D("2024-07-04"): D("2024-07-03"),
                                       D("2024-07-08"): D("2024-07-05"),
                                       D("2024-07-12"): D("2024-07-08"),
                                       D("2024-07-16"): D("2024-07-15")}
    assert (p["ust_date"] < p.index).all()
    loose = align_pairs(j, u, "us_to_jp", fresh_only=False)
    assert loose.loc[D("2024-07-05"), "ust_date"] == D("2024-07-03")
    assert loose["ust_date"].duplicated().sum() == 1
    with pytest.raises(ValueError):
        align_pairs(j, u, "sideways")  # type: ignore[arg-type]


def _pairs(n=400, seed=1):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n) * 3
    y = 0.4 * x + rng.standard_normal(n) * 4
    idx = pd.bdate_range("2020-01-01", periods=n)
    return pd.DataFrame({"jgb": x, "ust": y}, index=idx)


def test_rolling_correlation_and_fisher_band_equal_plain_pandas():
    p = _pairs()
    got = rolling_correlation(p, window=60)
    # plain: for each end, corr of the last 60 rows
    for end in (59, 200, 399):
        w = p.iloc[end - 59: end + 1]
        rho = np.corrcoef(w["jgb"], w["ust"])[0, 1]
        half = 1.96 / np.sqrt(60 - 3)
        assert got["rho"].iloc[end] == pytest.approx(rho, abs=1e-12)
        assert got["lower"].iloc[end] == pytest.approx(np.tanh(np.arctanh(rho) - half), abs=1e-12)
        assert got["upper"].iloc[end] == pytest.approx(np.tanh(np.arctanh(rho) + half), abs=1e-12)
        assert got["n"].iloc[end] == 60
    assert got["rho"].iloc[:59].isna().all()
    lo, hi = fisher_band(0.5, 3)
    assert np.isnan(lo) and np.isnan(hi)


def test_ewma_correlation_equals_plain_loop():
    p = _pairs(150)
    got = ewma_correlation(p, lam=0.94, min_periods=1)
    lam = 0.94
    sxy = sxx = syy = wsum = 0.0
    for t, (x, y) in enumerate(p[["jgb", "ust"]].to_numpy()):
        sxy, sxx, syy, wsum = lam * sxy + x * y, lam * sxx + x * x, lam * syy + y * y, lam * wsum + 1
        if t in (0, 10, 149):
            assert got.iloc[t] == pytest.approx(sxy / np.sqrt(sxx * syy), abs=1e-12)


def test_rolling_beta_equals_plain_ols():
    p = _pairs()
    got = rolling_beta(p, window=250)
    w = p.iloc[-250:]
    x, y = w["jgb"].to_numpy(), w["ust"].to_numpy()
    xc = x - x.mean()
    beta = (xc * (y - y.mean())).sum() / (xc ** 2).sum()
    alpha = y.mean() - beta * x.mean()
    resid = y - alpha - beta * x
    se = np.sqrt((resid ** 2).sum() / (250 - 2) / (xc ** 2).sum())
    last = got.iloc[-1]
    assert last["beta"] == pytest.approx(beta, rel=1e-10)
    assert last["alpha"] == pytest.approx(alpha, rel=1e-9)
    assert last["se"] == pytest.approx(se, rel=1e-9)
    assert last["r2"] == pytest.approx(np.corrcoef(x, y)[0, 1] ** 2, rel=1e-10)


def test_forbes_rigobon_formula():
    p = _pairs(300)
    calm = p.iloc[:200]
    stress = p.iloc[200:].copy()
    stress["jgb"] *= 3.0                      # source vol up: raw correlation rises
    r = forbes_rigobon(stress, calm)
    rho_h = stress["jgb"].corr(stress["ust"])
    rho_l = calm["jgb"].corr(calm["ust"])
    delta = stress["jgb"].var() / calm["jgb"].var() - 1
    rho_star = rho_h / np.sqrt(1 + delta * (1 - rho_h ** 2))
    z = (np.arctanh(rho_star) - np.arctanh(rho_l)) / np.sqrt(1 / 97 + 1 / 197)
    assert r.rho_high == pytest.approx(rho_h) and r.rho_low == pytest.approx(rho_l)
    assert r.delta == pytest.approx(delta) and r.rho_adjusted == pytest.approx(rho_star)
    assert r.z == pytest.approx(z) and r.n_high == 100 and r.n_low == 200
    assert r.rho_adjusted < r.rho_high
    assert r.contagion == (r.p_one_sided < 0.05) and "ρ" in r.text()


def test_granger_is_labelled_predictive():
    p = _pairs(300)
    u = p["ust"].copy()
    j = p["jgb"].copy()
    j.iloc[1:] = j.iloc[1:].to_numpy() + 0.8 * u.iloc[:-1].to_numpy()   # UST leads JGB
    g = granger_predictive(j, u, maxlag=2)
    assert set(g["relation"]) == {"predictive"}
    assert "causal" not in " ".join(g.columns)
    lead = g[(g.direction == "ust_predicts_jgb") & (g.lag == 1)].iloc[0]
    assert lead["p_value"] < 1e-6


def test_us_leads_2024_to_feb_2026_real_data(verify_dir):
    """BRIEF §3: 'US leads: corr 0.41 vs 0.24 for JGB10/UST10, 2024–Feb 2026'.

    MoF JGB 10Y and FRED DGS10 1-day bp changes on their own calendars; pairs dated
    2024-01-01 … 2026-02-27 (the JGB file's last day); one Pearson correlation each."""
    j, u = jgb10_ust10_changes(verify_dir)
    t = alignment_correlations(j, u, "2024-01-01", "2026-02-27")
    assert t.loc["jp_to_us", "rho"] == pytest.approx(0.236, abs=0.001)
    assert round(t.loc["jp_to_us", "rho"], 2) == 0.24
    assert t.loc["jp_to_us", "n"] == 503
    assert t.loc["us_to_jp", "rho"] == pytest.approx(0.4173, abs=0.001)      # fresh_only
    loose = alignment_correlations(j, u, "2024-01-01", "2026-02-27", fresh_only=False)
    assert loose.loc["us_to_jp", "rho"] == pytest.approx(0.4150, abs=0.001)  # "0.41"
    assert loose.loc["us_to_jp", "n"] == 525
    # naive lag-0 on a common calendar would hide the lead: check both bands do not overlap
    assert t.loc["us_to_jp", "lower"] > t.loc["jp_to_us", "rho"]
    # same number from a plain pandas computation
    jj = j.loc["2024-01-01":"2026-02-27"]
    plain = pd.concat([jj, u], axis=1, join="inner").dropna()
    assert t.loc["jp_to_us", "rho"] == pytest.approx(plain.iloc[:, 0].corr(plain.iloc[:, 1]))
