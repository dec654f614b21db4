"""Attribution of a UST move to the overnight JGB move (β from the window ending t−1)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics.attribution import attribute_ust_move, rolling_attribution
from analytics.correlation import align_pairs
from analytics.moves import changes


def jgb10_ust10_changes(verify_dir):
    """MoF JGB 10Y and FRED DGS10 1-day bp changes, each on its own calendar."""
    j = pd.read_csv(verify_dir / "jgb_mof_yields_pct_1999_2026-02.csv", index_col=0,
                    parse_dates=True)["JGB10Y"]
    u = pd.read_csv(verify_dir / "fred_DGS10_DGS30_DEXJPUS_1999_2026-07.csv", index_col=0,
                    parse_dates=True)["DGS10"]
    return changes(j, "bp").dropna(), changes(u, "bp").dropna()


def _pairs(n=300, seed=3):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n) * 2
    y = 0.5 * x + rng.standard_normal(n) * 3
    return pd.DataFrame({"jgb": x, "ust": y}, index=pd.bdate_range("2023-01-02", periods=n))


def test_single_day_equals_plain_ols_on_previous_window():
    p = _pairs()
    day = p.index[-1]
    a = attribute_ust_move(p, day, window=250)
    hist = p.iloc[-251:-1]
    x, y = hist["jgb"].to_numpy(), hist["ust"].to_numpy()
    xc = x - x.mean()
    beta = (xc * (y - y.mean())).sum() / (xc ** 2).sum()
    resid = y - (y.mean() - beta * x.mean()) - beta * x
    se = np.sqrt((resid ** 2).sum() / 248 / (xc ** 2).sum())
    jgb = p["jgb"].iloc[-1]
    assert a.beta == pytest.approx(beta) and a.beta_se == pytest.approx(se)
    assert a.explained_bp == pytest.approx(beta * jgb)
    assert a.explained_se_bp == pytest.approx(se * abs(jgb))
    assert a.explained_low_bp == pytest.approx(beta * jgb - 1.96 * se * abs(jgb))
    assert a.unexplained_bp == pytest.approx(p["ust"].iloc[-1] - beta * jgb)
    assert a.n == 250 and "explained by the overnight JGB 10Y" in a.text()
    roll = rolling_attribution(p, window=250)
    assert roll.loc[day, "explained"] == pytest.approx(a.explained_bp)
    assert roll.loc[day, "explained_high"] == pytest.approx(a.explained_high_bp)


def test_errors():
    p = _pairs(50)
    with pytest.raises(ValueError):
        attribute_ust_move(p, window=250, min_periods=60)
    with pytest.raises(KeyError):
        attribute_ust_move(_pairs(), "2031-01-01")


def test_real_2026_01_20(verify_dir):
    j, u = jgb10_ust10_changes(verify_dir)
    p = align_pairs(j, u, "jp_to_us")
    a = attribute_ust_move(p, "2026-01-20", window=250)
    assert a.ust_move_bp == pytest.approx(u.loc["2026-01-20"])
    assert a.jgb_move_bp == pytest.approx(j.loc["2026-01-20"])
    assert 0 < a.beta < 1.5 and a.beta_se > 0 and a.n == 250
    assert a.explained_low_bp < a.explained_bp < a.explained_high_bp
