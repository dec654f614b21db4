"""How much of today's UST move is explained by the overnight JGB move?

"UST 10Y moved X bp today; Y bp of it is explained by the overnight JGB move."

Definition
----------
On the Japan→US clock (:func:`analytics.correlation.align_pairs` with ``"jp_to_us"``: JGB_t
closes at 06:00 UTC, before New York's session on the same date ends), regress UST moves on
JGB moves over the last ``window`` pairs that end the day *before* t (today's move never
estimates its own explanation):

    explained_t = β̂_{t−1} · JGB_t              (bp)
    se(explained_t) = se(β̂_{t−1}) · |JGB_t|     (parameter uncertainty only)
    band = explained ± z · se                   (z = 1.96: 95 %)

The rest, UST_t − explained_t, is "not explained by Japan" (US news, other markets, noise).
The intercept is not attributed to Japan. ``resid_sd`` tells how noisy a typical day is
around the fit: a large explained share on a day with |JGB move| ≪ resid_sd is not evidence.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from analytics.correlation import rolling_beta

__all__ = ["Attribution", "attribute_ust_move", "rolling_attribution"]


@dataclass(frozen=True)
class Attribution:
    """One day's attribution of a UST move to the overnight JGB move (bp)."""

    date: pd.Timestamp
    ust_move_bp: float
    jgb_move_bp: float
    beta: float                 # bp UST per bp JGB, from the window ending the day before
    beta_se: float
    explained_bp: float         # β · JGB move
    explained_se_bp: float      # se(β) · |JGB move|
    explained_low_bp: float
    explained_high_bp: float
    unexplained_bp: float       # UST move − explained
    resid_sd_bp: float          # typical daily noise around the fit
    r2: float
    n: int                      # pairs in the beta window
    window: int
    ust_label: str = "UST 10Y"
    jgb_label: str = "JGB 10Y"

    @property
    def share_explained(self) -> float:
        """explained / UST move (NaN when the UST did not move)."""
        return self.explained_bp / self.ust_move_bp if self.ust_move_bp else float("nan")

    def text(self) -> str:
        return (f"{self.ust_label} moved {self.ust_move_bp:+.1f} bp on {self.date:%Y-%m-%d}; "
                f"{self.explained_bp:+.1f} bp of it (95 % band {self.explained_low_bp:+.1f} to "
                f"{self.explained_high_bp:+.1f}) is explained by the overnight {self.jgb_label} "
                f"move of {self.jgb_move_bp:+.1f} bp (β = {self.beta:.2f} ± {self.beta_se:.2f}, "
                f"{self.n}-day window, R² {self.r2:.2f}).")


def rolling_attribution(pairs: pd.DataFrame, window: int = 250, z: float = 1.96,
                        min_periods: int | None = None) -> pd.DataFrame:
    """Attribution for every date of ``pairs`` (a ``jp_to_us`` alignment with columns
    ``jgb``/``ust``). β and its se come from the window ending on the previous pair.
    Columns: ust, jgb, beta, beta_se, explained, explained_se, explained_low, explained_high,
    unexplained, resid_sd, r2, n."""
    p = pairs[["jgb", "ust"]].dropna()
    rb = rolling_beta(p, window=window, min_periods=min_periods).shift(1)
    explained = rb["beta"] * p["jgb"]
    ex_se = rb["se"] * p["jgb"].abs()
    return pd.DataFrame({
        "ust": p["ust"], "jgb": p["jgb"], "beta": rb["beta"], "beta_se": rb["se"],
        "explained": explained, "explained_se": ex_se,
        "explained_low": explained - z * ex_se, "explained_high": explained + z * ex_se,
        "unexplained": p["ust"] - explained, "resid_sd": rb["resid_sd"], "r2": rb["r2"],
        "n": rb["n"],
    })


def attribute_ust_move(pairs: pd.DataFrame, date: str | pd.Timestamp | None = None,
                       window: int = 250, z: float = 1.96, min_periods: int = 60,
                       ust_label: str = "UST 10Y", jgb_label: str = "JGB 10Y") -> Attribution:
    """Attribution for one date (default: the latest pair). Needs ``min_periods`` earlier
    pairs; β uses the ``window`` pairs strictly before ``date``."""
    p = pairs[["jgb", "ust"]].dropna()
    if p.empty:
        raise ValueError("no aligned pairs")
    day = p.index[-1] if date is None else pd.Timestamp(date)
    if day not in p.index:
        raise KeyError(f"no JGB/UST pair on {day:%Y-%m-%d} (one market closed?)")
    hist = p.loc[:day].iloc[:-1].iloc[-window:]
    if len(hist) < min_periods:
        raise ValueError(f"only {len(hist)} earlier pairs (< {min_periods})")
    rb = rolling_beta(hist, window=len(hist)).iloc[-1]
    jgb, ust = float(p.at[day, "jgb"]), float(p.at[day, "ust"])
    beta, se = float(rb["beta"]), float(rb["se"])
    explained, ex_se = beta * jgb, se * abs(jgb)
    return Attribution(date=day, ust_move_bp=ust, jgb_move_bp=jgb, beta=beta, beta_se=se,
                       explained_bp=explained, explained_se_bp=ex_se,
                       explained_low_bp=explained - z * ex_se,
                       explained_high_bp=explained + z * ex_se,
                       unexplained_bp=ust - explained, resid_sd_bp=float(rb["resid_sd"]),
                       r2=float(rb["r2"]), n=int(rb["n"]), window=window,
                       ust_label=ust_label, jgb_label=jgb_label)
