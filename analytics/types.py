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
    # --- what the data-quality gate and the history say about this move (docs/MOVE_STATS.md)
    sigma_raw: dict[str, float] = field(default_factory=dict)  # estimator → σ before the floor
    floor: float | None = None               # the σ floor of this move's horizon, in `unit`
    quality: str = "ok"                      # gate verdict of the closing print: ok | splice | unconfirmed | unjudged
    quality_note: str = ""                   # why (which source disagreed, what confirmed it, …)
    n_valid: int = 0                         # valid 1-day moves before this one (σ windows' pool)
    min_history: int = 0                     # valid moves needed before a z may alert
    rarity_base: dt.datetime | None = None   # the declared base the rarity counts from
    tail: bool = False                       # return period from the tail model (a record move)
    return_period_low: float | None = None   # 95 % interval of a tail-model return period
    return_period_high: float | None = None
    largest_since: dt.datetime | None = None         # last earlier move at least as large (either sign)
    largest_since_signed: dt.datetime | None = None  # … in the same direction
    series_start: dt.datetime | None = None          # first observation the history holds

    @property
    def insufficient_history(self) -> bool:
        """Fewer valid moves than the series needs before its z may alert."""
        return self.n_valid < self.min_history
