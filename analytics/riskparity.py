"""Risk-parity / vol-targeting deleveraging: how many bonds does a vol shock force out?

Model (BRIEF §3)
----------------
A fund holds an unlevered mix of two sleeves — bonds (share ``bond_share`` of gross notional)
and everything else (equities + commodities) — and levers it to a target volatility:

    σ̂_p = √(b²σ_b² + o²σ_o² + 2·b·o·ρ·σ_b·σ_o)        (b = bond_share, o = 1 − b)
    L    = min(L_max, σ* / σ̂_p)
    bond exposure = AUM · L · b

When σ̂_p rises from σ_old to σ_new (sleeve vols up, or the correlation ρ up — a correlation
rise raises σ_p too), every sleeve is cut by 1 − L_new/L_old = 1 − σ_old/σ_new (while the
cap does not bind). A negative cut means the fund re-levers (buys).

Defaults (:class:`FundInputs`): AUM $200bn, σ* = 10 %, bonds 65 % of gross notional,
L_max = 4, σ_bonds = 3.0 %, σ_other = 7.75 %, ρ = 0. That gives σ̂_p = 3.34 %, L = 2.99 and
≈ $389bn of bonds, with bonds carrying ≈ 34 % of the variance (a three-sleeve risk-parity
book: bonds / equities / commodities, about one third each).

Citi's "$130bn" (preset ``citi_130bn``): a one-third cut of ≈ $390bn of bond exposure, i.e.
σ̂_p up by 50 % (every sleeve vol × 1.5) on the default fund → $129.7bn of bonds sold. These
inputs are *assumptions that reproduce the figure*, not Citi's published model.

Live estimate (:func:`live_deleveraging`): the bond sleeve's vol multiplier is the ratio of
a fast to a slow realized vol of UST 10Y changes (bp, or TLT log returns — the ratio is
unit-free; duration cancels). Default fast = 10 days, slow = 60 days: a vol-targeting fund
resizes within about two weeks, and a 20-day window dilutes a one-week episode. On FRED
DGS10, as of 2026-01-30 (after the 2026-01-20 JGB shock): 10d 3.60 vs 60d 3.17 bp/day,
ratio 1.14 → σ̂_p × 1.049 → a 4.7 % cut (peak in January: 5.8 % on 2026-01-28) — the
BRIEF's "3–7 %". With 20d vs 60d the same date shows vol *below* its 60-day level
(2.98 vs 3.17 bp/day): a 2 % re-levering, no cut.
"""
from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

__all__ = [
    "FAST_WINDOWS",
    "LIVE_WINDOW",
    "SCENARIOS",
    "SLOW_WINDOWS",
    "Deleveraging",
    "FundInputs",
    "FundState",
    "deleveraging",
    "fund_state",
    "live_window_range",
    "live_deleveraging",
    "portfolio_vol",
    "realized_vol_ratio",
    "run_scenario",
    "target_leverage",
]


@dataclass(frozen=True)
class FundInputs:
    """What the user can set. Vols are annualised return vols of the *unlevered* sleeves."""

    aum_bn: float = 200.0          # capital, $bn
    target_vol: float = 0.10       # σ*
    bond_share: float = 0.65       # bonds' share of gross (unlevered) notional
    leverage_cap: float = 4.0      # L_max
    bond_vol: float = 0.030        # σ_b
    other_vol: float = 0.0775      # σ_o (equities + commodities)
    corr: float = 0.0              # ρ(bonds, other)

    def __post_init__(self) -> None:
        if not 0.0 <= self.bond_share <= 1.0:
            raise ValueError("bond_share must be in [0, 1]")
        if self.target_vol <= 0 or self.leverage_cap <= 0 or self.aum_bn < 0:
            raise ValueError("target_vol and leverage_cap must be > 0, aum_bn ≥ 0")
        if not -1.0 <= self.corr <= 1.0:
            raise ValueError("corr must be in [-1, 1]")


@dataclass(frozen=True)
class FundState:
    """Portfolio vol, leverage and exposures ($bn) for one set of inputs."""

    sigma_p: float
    leverage: float
    capped: bool
    gross_bn: float
    bond_bn: float
    other_bn: float


@dataclass(frozen=True)
class Deleveraging:
    """Before/after a vol shock. ``cut`` = 1 − L_new/L_old (negative: the fund buys)."""

    before: FundState
    after: FundState
    cut: float
    bonds_sold_bn: float
    other_sold_bn: float
    sigma_ratio: float             # σ_new / σ_old
    label: str = ""

    def text(self) -> str:
        verb = "sells" if self.cut >= 0 else "buys"
        return (f"{self.label + ': ' if self.label else ''}portfolio vol × {self.sigma_ratio:.3f} "
                f"→ leverage {self.before.leverage:.2f} → {self.after.leverage:.2f}; "
                f"the fund {verb} {abs(self.cut):.1%} of every sleeve, "
                f"${abs(self.bonds_sold_bn):.1f}bn of bonds "
                f"(of ${self.before.bond_bn:.0f}bn).")


def portfolio_vol(bond_share: float, bond_vol: float, other_vol: float, corr: float) -> float:
    """σ̂_p of the unlevered two-sleeve mix."""
    b, o = bond_share, 1.0 - bond_share
    var = (b * bond_vol) ** 2 + (o * other_vol) ** 2 + 2 * b * o * corr * bond_vol * other_vol
    return float(np.sqrt(max(var, 0.0)))


def target_leverage(target_vol: float, sigma_p: float, leverage_cap: float) -> float:
    """L = min(L_max, σ*/σ̂_p)."""
    return float(leverage_cap) if sigma_p <= 0 else float(min(leverage_cap, target_vol / sigma_p))


def fund_state(inputs: FundInputs) -> FundState:
    """Leverage and exposures implied by the inputs."""
    sp = portfolio_vol(inputs.bond_share, inputs.bond_vol, inputs.other_vol, inputs.corr)
    lev = target_leverage(inputs.target_vol, sp, inputs.leverage_cap)
    gross = inputs.aum_bn * lev
    return FundState(sigma_p=sp, leverage=lev, capped=lev >= inputs.leverage_cap - 1e-12,
                     gross_bn=gross, bond_bn=gross * inputs.bond_share,
                     other_bn=gross * (1.0 - inputs.bond_share))


def deleveraging(inputs: FundInputs, bond_vol_mult: float = 1.0, other_vol_mult: float = 1.0,
                 corr_new: float | None = None, label: str = "") -> Deleveraging:
    """Re-lever after sleeve vols are multiplied and/or the correlation moves to ``corr_new``."""
    after_in = replace(inputs, bond_vol=inputs.bond_vol * bond_vol_mult,
                       other_vol=inputs.other_vol * other_vol_mult,
                       corr=inputs.corr if corr_new is None else corr_new)
    before, after = fund_state(inputs), fund_state(after_in)
    cut = 1.0 - after.leverage / before.leverage
    return Deleveraging(before=before, after=after, cut=cut,
                        bonds_sold_bn=before.bond_bn - after.bond_bn,
                        other_sold_bn=before.other_bn - after.other_bn,
                        sigma_ratio=after.sigma_p / before.sigma_p, label=label)


# name → (description, bond_vol_mult, other_vol_mult, corr_new)
SCENARIOS: dict[str, tuple[str, float, float, float | None]] = {
    "citi_130bn": (("Citi's $130bn: every sleeve vol × 1.5 → σ̂_p × 1.5 → one-third cut of "
                    "≈ $390bn of bonds (default fund)"), 1.5, 1.5, None),
    "bond_vol_x1.5": ("bond vol × 1.5 alone", 1.5, 1.0, None),
    "bond_vol_x1.25": ("bond vol × 1.25 alone", 1.25, 1.0, None),
    "correlation_to_0.5": ("bond/other correlation jumps to 0.5, vols unchanged", 1.0, 1.0, 0.5),
    "2022_style": ("bond vol × 1.5 and correlation to 0.5 (stocks and bonds fall together)",
                   1.5, 1.0, 0.5),
}


def run_scenario(name: str, inputs: FundInputs | None = None) -> Deleveraging:
    """Apply a preset from :data:`SCENARIOS` to ``inputs`` (default fund if None)."""
    _desc, bm, om, c = SCENARIOS[name]
    return deleveraging(inputs or FundInputs(), bm, om, c, label=name)


def realized_vol_ratio(changes: pd.Series, fast: int = 10, slow: int = 60,
                       asof: str | pd.Timestamp | None = None) -> dict[str, float]:
    """Fast/slow realized vol (std of daily changes, windows ending at ``asof`` inclusive).
    Returns {"fast", "slow", "ratio", "asof"}; units of ``changes`` (bp/day or %/day)."""
    s = changes.dropna()
    if asof is not None:
        s = s.loc[:pd.Timestamp(asof)]
    if len(s) < max(fast, slow):
        raise ValueError(f"need {max(fast, slow)} changes, have {len(s)}")
    f, sl = float(s.iloc[-fast:].std()), float(s.iloc[-slow:].std())
    return {"fast": f, "slow": sl, "ratio": f / sl, "asof": s.index[-1]}


def live_deleveraging(inputs: FundInputs, ust_changes: pd.Series, fast: int = 10,
                      slow: int = 60, asof: str | pd.Timestamp | None = None) -> Deleveraging:
    """Cut implied by the current UST vol regime: bond sleeve vol × (fast/slow realized vol)."""
    r = realized_vol_ratio(ust_changes, fast, slow, asof)
    return deleveraging(inputs, bond_vol_mult=r["ratio"],
                        label=f"UST {fast}d/{slow}d vol {r['fast']:.2f}/{r['slow']:.2f} "
                              f"as of {pd.Timestamp(r['asof']):%Y-%m-%d}")


# The live estimate's windows: 10 days fast (a vol-targeting fund resizes within about two
# weeks), 60 days slow. The range shows what other reasonable choices would have said.
LIVE_WINDOW = (10, 60)
FAST_WINDOWS = (5, 10, 20)
SLOW_WINDOWS = (60, 120, 250)


def live_window_range(inputs: FundInputs, ust_changes: pd.Series, fasts=FAST_WINDOWS, slows=SLOW_WINDOWS,
                      asof: str | pd.Timestamp | None = None) -> pd.DataFrame:
    """The live estimate for every (fast, slow) window pair the history allows: fast, slow,
    vol_fast, vol_slow, ratio, cut, bonds_sold_bn, chosen (the LIVE_WINDOW row)."""
    rows = []
    n = int(ust_changes.dropna().size)
    for f in fasts:
        for sl in slows:
            if f >= sl or n < sl:
                continue
            r = realized_vol_ratio(ust_changes, f, sl, asof)
            d = deleveraging(inputs, bond_vol_mult=r["ratio"])
            rows.append({"fast": f, "slow": sl, "vol_fast": r["fast"], "vol_slow": r["slow"], "ratio": r["ratio"],
                         "cut": d.cut, "bonds_sold_bn": d.bonds_sold_bn, "chosen": (f, sl) == LIVE_WINDOW})
    return pd.DataFrame(rows, columns=["fast", "slow", "vol_fast", "vol_slow", "ratio", "cut", "bonds_sold_bn",
                                       "chosen"])

