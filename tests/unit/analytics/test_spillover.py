"""Diebold–Yilmaz spillover: published tables (every cell to 0.01), frequencyConnectedness
fixtures, the self-computed rolling regression fixture, and numpy-vs-statsmodels equality."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from analytics.spillover import (
    SpilloverTable,
    cholesky_fevd,
    generalized_fevd,
    rolling_spillover,
    spillover_table,
    var_ols_windows,
)

ROWS = ["TO", "Inc.Own", "NET", "NPT"]


def _read(verify_dir, name):
    return pd.read_csv(verify_dir / name, index_col=0, parse_dates=True)


@pytest.fixture(scope="module")
def dy2012(verify_dir):
    return _read(verify_dir, "dy2012_daily_log_range_volatility.csv")


@pytest.fixture(scope="module")
def dy2009(verify_dir):
    return _read(verify_dir, "dy2009_weekly_returns.csv")


def test_dy2012_published_table_every_cell(dy2012, verify_dir):
    t = spillover_table(dy2012, lags=4, horizon=10, method="generalized")
    expected = pd.read_csv(verify_dir / "dy2012_expected_table.csv", index_col=0)
    names = list(dy2012.columns)
    got = t.to_frame()
    # N×N block and FROM column
    np.testing.assert_allclose(got.loc[names, names].to_numpy(),
                               expected.loc[names, names].astype(float).to_numpy(), atol=0.01)
    np.testing.assert_allclose(got.loc[names, "FROM"], expected.loc[names, "FROM"].astype(float),
                               atol=0.01)
    # TO / Inc.Own / NET / NPT rows
    np.testing.assert_allclose(got.loc[ROWS, names].to_numpy(),
                               expected.loc[ROWS, names].astype(float).to_numpy(), atol=0.01)
    assert got.loc["TO", "FROM"] == pytest.approx(float(expected.loc["TO", "FROM"]), abs=0.01)
    ctci, tci = (float(x) for x in expected.loc["NET", "FROM"].split("/"))
    assert t.total == pytest.approx(tci, abs=0.01) and t.total == pytest.approx(12.59, abs=0.01)
    assert t.ctci == pytest.approx(ctci, abs=0.01)
    assert got.loc["NET", "FROM"] == pytest.approx(t.total)
    assert t.nobs == len(dy2012) - 4


def test_dy2012_json_expected(dy2012, verify_dir):
    exp = json.loads((verify_dir / "expected_connectedness.json").read_text())["dy2012"]["expected"]
    t = spillover_table(dy2012, 4, 10, "generalized")
    for name, row in exp["table_pct"].items():
        np.testing.assert_allclose(t.table.loc[name, exp["columns"]], row, atol=0.01)
    np.testing.assert_allclose(t.from_others, exp["FROM_sum_pct"], atol=0.01)
    np.testing.assert_allclose(t.to_others, exp["TO_sum_pct"], atol=0.01)
    np.testing.assert_allclose(t.net, exp["NET_pct"], atol=0.01)


def test_dy2009_published_table_every_cell(dy2009, verify_dir):
    t = spillover_table(dy2009, lags=2, horizon=10, method="cholesky")
    expected = pd.read_csv(verify_dir / "dy2009_expected_table.csv", index_col=0)
    names = list(dy2009.columns)
    got = t.to_frame()
    np.testing.assert_allclose(got.loc[names, names].to_numpy(),
                               expected.loc[names, names].astype(float).to_numpy(), atol=0.01)
    np.testing.assert_allclose(got.loc[names, "FROM"], expected.loc[names, "FROM"].astype(float),
                               atol=0.01)
    np.testing.assert_allclose(got.loc[ROWS, names].to_numpy(),
                               expected.loc[ROWS, names].astype(float).to_numpy(), atol=0.01)
    assert t.total == pytest.approx(35.53, abs=0.01)
    assert t.ctci == pytest.approx(37.50, abs=0.01)
    assert t.to_others["US"] == pytest.approx(291.91, abs=0.01)
    assert t.net["US"] == pytest.approx(285.53, abs=0.01)


def test_frequency_connectedness_simul_h100(verify_dir):
    data = pd.read_csv(verify_dir / "fc_simul_data.csv")
    expected = pd.read_csv(verify_dir / "fc_simul_expected_gfevd_pct.csv", index_col=0)
    t = spillover_table(data, lags=2, horizon=100, method="generalized")
    np.testing.assert_allclose(t.table.to_numpy(), expected.to_numpy(), atol=1e-3)


def test_frequency_connectedness_example_sim600(verify_dir):
    data = pd.read_csv(verify_dir / "fc_exampleSim_first600.csv")
    exp = json.loads((verify_dir / "expected_connectedness.json").read_text())["fc_exampleSim600"]
    for method, key in (("cholesky", "DY09_orthogonal"), ("generalized", "DY12_generalized")):
        t = spillover_table(data, lags=2, horizon=100, method=method)
        e = exp[key]
        np.testing.assert_allclose(t.table.to_numpy(), e["table_pct"], atol=0.01)
        # that package divides FROM/TO by N
        np.testing.assert_allclose(t.from_others / 3, e["FROM_over_k"], atol=0.01)
        np.testing.assert_allclose(t.to_others / 3, e["TO_over_k"], atol=0.01)
        assert t.total == pytest.approx(e["TCI"], abs=0.01)


def test_rolling_matches_self_computed_fixture(dy2012, verify_dir):
    expected = _read(verify_dir, "dy2012_rolling_w200_SELF_COMPUTED.csv")
    got = rolling_spillover(dy2012, window=200, lags=4, horizon=10, method="generalized")
    assert list(got.index) == list(expected.index)
    np.testing.assert_allclose(got.to_numpy(), expected.to_numpy(), atol=1e-5)


@pytest.mark.parametrize("method,lags", [("generalized", 4), ("cholesky", 2), ("generalized", 1)])
def test_rolling_numpy_equals_statsmodels_on_windows(dy2012, method, lags):
    window = 200
    roll = rolling_spillover(dy2012, window=window, lags=lags, horizon=10, method=method, step=97)
    assert roll.index[-1] == dy2012.index[-1]          # the latest window is always included
    for date in list(roll.index[:2]) + list(roll.index[-2:]) + [roll.index[len(roll) // 2]]:
        end = dy2012.index.get_loc(date)
        ref = spillover_table(dy2012.iloc[end - window + 1: end + 1], lags, 10, method)
        assert roll.loc[date, "total"] == pytest.approx(ref.total, abs=1e-9)
        np.testing.assert_allclose(roll.loc[date].to_numpy()[1:], ref.net.to_numpy(), atol=1e-9)


def test_var_ols_windows_equals_statsmodels_coefficients(dy2012):
    from statsmodels.tsa.api import VAR

    y = dy2012.to_numpy()
    coefs, sigma = var_ols_windows(y, 150, 3, ends=np.array([149, 1000, len(y) - 1]))
    for b, end in enumerate([149, 1000, len(y) - 1]):
        res = VAR(y[end - 149: end + 1]).fit(3)
        np.testing.assert_allclose(coefs[b], res.coefs, atol=1e-9)
        np.testing.assert_allclose(sigma[b], res.sigma_u, rtol=1e-9)


def test_fevd_kernels_match_statsmodels(dy2012):
    from statsmodels.tsa.api import VAR

    res = VAR(dy2012.to_numpy()[:500]).fit(2)
    chol = cholesky_fevd(res.ma_rep(9), res.sigma_u)
    np.testing.assert_allclose(chol, 100 * res.fevd(10).decomp[:, 9, :], atol=1e-10)
    gen = generalized_fevd(res.ma_rep(9), res.sigma_u)
    np.testing.assert_allclose(gen.sum(axis=1), 100.0)
    # a diagonal Σ makes generalized == Cholesky
    diag = np.diag(np.diag(res.sigma_u))
    np.testing.assert_allclose(generalized_fevd(res.ma_rep(9), diag),
                               cholesky_fevd(res.ma_rep(9), diag), atol=1e-10)


def test_table_identities_and_nan_rows_dropped(dy2012):
    df = dy2012.iloc[:600].copy()
    df.iloc[10, 1] = np.nan                        # a holiday on one market: the row is dropped
    t = spillover_table(df, 2, 10)
    assert isinstance(t, SpilloverTable) and t.nobs == 599 - 2
    np.testing.assert_allclose(t.table.sum(axis=1), 100.0)
    assert t.net.sum() == pytest.approx(0.0, abs=1e-9)
    assert t.to_others.sum() == pytest.approx(t.from_others.sum())
    pw = t.pairwise_net
    np.testing.assert_allclose(pw.to_numpy(), -pw.to_numpy().T)
    np.testing.assert_allclose(pw.sum(axis=1), t.net, atol=1e-9)
    assert t.ctci == pytest.approx(t.total * 4 / 3)
    with pytest.raises(ValueError):
        spillover_table(df, 2, 10, method="bogus")  # type: ignore[arg-type]


def test_rolling_short_input_and_step():
    rng = np.random.default_rng(0)
    df = pd.DataFrame(rng.standard_normal((260, 3)), columns=list("abc"),
                      index=pd.bdate_range("2024-01-01", periods=260))
    assert rolling_spillover(df.iloc[:100], window=200, lags=2).empty
    full = rolling_spillover(df, window=200, lags=2, horizon=10)
    every5 = rolling_spillover(df, window=200, lags=2, horizon=10, step=5)
    assert len(full) == 61 and every5.index[-1] == df.index[-1]
    pd.testing.assert_frame_equal(every5, full.loc[every5.index])
    with pytest.raises(ValueError):
        rolling_spillover(df, window=8, lags=3)
