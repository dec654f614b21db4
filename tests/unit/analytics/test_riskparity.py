"""Vol-targeting deleveraging: formulas, the Citi $130bn preset, January 2026 real UST vol."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analytics.moves import changes
from analytics.riskparity import (
    SCENARIOS,
    FundInputs,
    deleveraging,
    fund_state,
    live_deleveraging,
    portfolio_vol,
    realized_vol_ratio,
    run_scenario,
    target_leverage,
)


def jgb10_ust10_changes(verify_dir):
    """MoF JGB 10Y and FRED DGS10 1-day bp changes, each on its own calendar."""
    j = pd.read_csv(verify_dir / "jgb_mof_yields_pct_1999_2026-02.csv", index_col=0,
                    parse_dates=True)["JGB10Y"]
    u = pd.read_csv(verify_dir / "fred_DGS10_DGS30_DEXJPUS_1999_2026-07.csv", index_col=0,
                    parse_dates=True)["DGS10"]
    return changes(j, "bp").dropna(), changes(u, "bp").dropna()


def test_formulas():
    sp = portfolio_vol(0.6, 0.05, 0.15, 0.2)
    assert sp == pytest.approx(np.sqrt(0.03 ** 2 + 0.06 ** 2 + 2 * 0.03 * 0.06 * 0.2))
    assert target_leverage(0.10, 0.05, 4.0) == pytest.approx(2.0)
    assert target_leverage(0.10, 0.01, 4.0) == 4.0           # cap binds
    f = FundInputs()
    st = fund_state(f)
    assert st.leverage == pytest.approx(f.target_vol / st.sigma_p)
    assert st.bond_bn == pytest.approx(f.aum_bn * st.leverage * f.bond_share)


def test_cut_is_one_minus_sigma_ratio_and_correlation_raises_vol():
    f = FundInputs()
    d = deleveraging(f, bond_vol_mult=1.3)
    assert d.cut == pytest.approx(1 - 1 / d.sigma_ratio)
    assert d.bonds_sold_bn == pytest.approx(d.cut * d.before.bond_bn)
    c = deleveraging(f, corr_new=0.5)
    assert c.sigma_ratio > 1 and c.cut > 0
    calm = deleveraging(f, bond_vol_mult=0.8)
    assert calm.cut < 0 and "buys" in calm.text()
    capped = FundInputs(leverage_cap=2.0)
    assert deleveraging(capped, bond_vol_mult=1.1).cut == pytest.approx(0.0)  # cap still binds
    with pytest.raises(ValueError):
        FundInputs(bond_share=1.5)


def test_citi_130bn_preset():
    d = run_scenario("citi_130bn")
    assert d.before.bond_bn == pytest.approx(390, abs=2)
    assert d.cut == pytest.approx(1 / 3, abs=1e-9)
    assert d.bonds_sold_bn == pytest.approx(130, abs=1)
    assert set(SCENARIOS) >= {"citi_130bn"}
    for name in SCENARIOS:
        assert run_scenario(name).cut > 0


def test_january_2026_real_ust_vol_implies_3_to_7_pct_cut(verify_dir):
    _, u = jgb10_ust10_changes(verify_dir)
    r = realized_vol_ratio(u, 10, 60, "2026-01-30")
    w = u.loc[:"2026-01-30"]
    assert r["fast"] == pytest.approx(w.iloc[-10:].std()) and r["slow"] == pytest.approx(w.iloc[-60:].std())
    d = live_deleveraging(FundInputs(), u, asof="2026-01-30")
    assert 0.03 <= d.cut <= 0.07
    assert d.cut == pytest.approx(0.047, abs=0.001)
    # the January peak (2026-01-28) is also inside the BRIEF's range
    cuts = {day: live_deleveraging(FundInputs(), u, asof=day).cut
            for day in u.loc["2026-01-02":"2026-01-31"].index}
    peak = max(cuts, key=cuts.get)
    assert peak == pd.Timestamp("2026-01-28") and 0.03 <= cuts[peak] <= 0.07
    # the slower 20d/60d pair shows vol *below* its 60-day level: re-levering, no cut
    assert live_deleveraging(FundInputs(), u, fast=20, asof="2026-01-30").cut < 0
