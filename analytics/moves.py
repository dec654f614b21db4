"""Moves in each series' own unit: yields Δ in basis points, prices/FX/indices 100·Δln (log %)."""
from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["change", "changes", "UNIT_LABEL"]

UNIT_LABEL = {"bp": "bp", "logpct": "%"}


def change(prev: float, last: float, unit: str) -> float:
    """One move from prev to last: bp for yields (percent points × 100), log % otherwise."""
    if unit == "bp":
        return (last - prev) * 100.0
    if unit == "logpct":
        if prev <= 0 or last <= 0:
            return float("nan")
        return 100.0 * float(np.log(last / prev))
    raise ValueError(f"unknown change unit {unit!r}")


def changes(levels: pd.Series, unit: str, horizon: int = 1) -> pd.Series:
    """Moves over `horizon` observations on the series' own calendar (never forward-filled)."""
    s = levels.dropna()
    if unit == "bp":
        return (s - s.shift(horizon)) * 100.0
    if unit == "logpct":
        return 100.0 * np.log(s / s.shift(horizon))
    raise ValueError(f"unknown change unit {unit!r}")
