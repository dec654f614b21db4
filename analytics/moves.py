"""Moves in each series' own unit: yields Δ in basis points, prices/FX/indices 100·Δln (log %)."""
from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["change", "changes", "change_array", "level_transform", "UNIT_LABEL"]

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


def level_transform(levels: np.ndarray, unit: str) -> np.ndarray:
    """Levels mapped so that a move is a plain difference: bp → 100·y, log % → 100·ln p.

    Non-positive prices map to NaN (no log move), as in `change`.
    """
    x = np.asarray(levels, dtype="float64")
    if unit == "bp":
        return 100.0 * x
    if unit == "logpct":
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(x > 0, 100.0 * np.log(x), np.nan)
    raise ValueError(f"unknown change unit {unit!r}")


def change_array(prev: np.ndarray, last: np.ndarray, unit: str) -> np.ndarray:
    """Vectorised `change`: elementwise moves from `prev` to `last` (NaN where undefined).

    Computed as level_transform(last) − level_transform(prev), so a move matrix built by
    differencing transformed levels gives bit-identical numbers.
    """
    return level_transform(last, unit) - level_transform(prev, unit)
