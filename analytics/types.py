"""Value types shared by analytics (producer) and alerts (consumer). Pure data, no logic."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

__all__ = ["MoveStat", "ESTIMATORS"]

# σ estimators, all from windows that end at t−1 (today's move is never inside its own σ):
#   w60 / w250: rolling standard deviation of the previous 60 / 250 moves
#   ewma:       RiskMetrics EWMA, λ = 0.94, seeded from the earliest window
#   mad250:     robust: 1.4826 × median absolute deviation of the previous 250 moves
ESTIMATORS = ("w60", "w250", "ewma", "mad250")


@dataclass(frozen=True)
class MoveStat:
    """One move of one series, with everything an alert must show (BRIEF §2)."""

    series_id: str
    ts: dt.datetime                  # when the move ends (UTC)
    kind: str                        # "daily" | "intraday" (cumulative since the previous close)
    horizon: int                     # days: 1, 2, 5 (intraday: 1)
    move: float                      # in `unit`
    unit: str                        # "bp" | "logpct"
    sigma: dict[str, float] = field(default_factory=dict)   # estimator → σ (floored), in `unit`
    z: dict[str, float] = field(default_factory=dict)       # estimator → z
    window_end: dt.datetime | None = None   # last observation inside the σ windows (t−1)
    rarity_share: float | None = None       # share of past moves with |move| ≥ this one's
    return_period_years: float | None = None  # "about once in N years"
    normal_equiv_sigma: float | None = None   # Φ⁻¹(1 − p/2) for p = rarity_share
    n_history: int = 0                       # past moves the rarity is measured on
    source: str = ""
    single_print: bool = False               # intraday move resting on one print (bad-tick guard)
