"""Small helpers shared by the analytics tests."""
from __future__ import annotations

import pandas as pd


def level_series(obs: pd.DataFrame, sid: str) -> pd.Series:
    """One series' levels indexed by its own (local-close, UTC) timestamps."""
    g = obs[(obs["series_id"] == sid) & (obs["freq"] == "D")].sort_values("ts")
    return pd.Series(g["value"].to_numpy(), index=pd.DatetimeIndex(g["ts"]))
