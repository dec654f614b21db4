"""Helpers the publishers' parser tests share."""
from __future__ import annotations

import pandas as pd

from data.frame import validate_frame
from universe import load_universe

UNIVERSE = load_universe()


def check(frame: pd.DataFrame) -> pd.DataFrame:
    """Every frame a parser returns must pass the store's gate unchanged in size."""
    clean = validate_frame(frame, known_series=UNIVERSE.ids, bounds=UNIVERSE.bounds())
    assert len(clean) == len(frame)
    return clean


def by_local_date(frame: pd.DataFrame, series_id: str, tz: str) -> pd.Series:
    """One series as values indexed by its market's calendar date."""
    part = frame[frame["series_id"] == series_id]
    return pd.Series(part["value"].to_numpy(),
                     index=part["ts"].dt.tz_convert(tz).dt.date.to_numpy()).sort_index()


def fixture_bytes(fixtures_dir, source: str, name: str) -> bytes:
    return (fixtures_dir / source / name).read_bytes()
