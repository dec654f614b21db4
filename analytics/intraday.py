"""Intraday moves: cumulative move since the previous close, scaled by a time-of-day profile.

z_cum(t) = (x_t − x_prev_close) / (σ_day · √F(t)), F(t) = share of the daily variance that the
profile puts on the slots from the close up to t's slot (BRIEF §2). Pure pandas/numpy.

Sessions: a bar whose local label time is before the series' close (`close`, "00:00" = end of
day) belongs to its local date; a bar at/after the close (post-market) belongs to the next
session. The previous close is the last pre-close bar of the latest earlier date, so post-market
and pre-market bars measure the move since that close. Slots are label times of day, ordered by
minutes after the close.
"""
from __future__ import annotations

from typing import Mapping

import numpy as np
import pandas as pd

from analytics.moves import change_array

__all__ = ["session_frame", "intraday_profile", "intraday_stats", "recent_bars", "BAR_HISTORY"]

# Bars older than this before a series' newest bar never change a statistic: the profile
# averages the 20 sessions before today, and 42 calendar days hold 30 weekdays — 20 sessions
# plus the previous close even across Golden Week or the year-end holidays. Memory and the cost
# of a data tick stay bounded however long a process runs.
BAR_HISTORY = pd.Timedelta(days=42)


def recent_bars(bars: pd.Series, keep: pd.Timedelta = BAR_HISTORY) -> pd.Series:
    """The bars within `keep` of the newest one (index: UTC timestamps, sorted or not)."""
    if bars.empty:
        return bars
    return bars[bars.index >= bars.index.max() - keep]


def _close_minutes(close: str) -> int:
    hh, mm = (int(x) for x in close.split(":"))
    m = hh * 60 + mm
    return m if m > 0 else 1440   # "00:00" closes the whole day: every bar is before it


def session_frame(bars: pd.Series, timezone: str, close: str, unit: str) -> pd.DataFrame:
    """Bars (UTC index → value) with session, slot, previous close, bar move and cumulative move.

    `session` numbers previous closes (0, 1, …; −1 = no earlier close: no cumulative move).
    """
    s = bars.dropna().sort_index()
    s = s[~s.index.duplicated(keep="last")]
    idx = pd.DatetimeIndex(s.index)
    idx = (idx.tz_localize("UTC") if idx.tz is None else idx).as_unit("ns")
    local = idx.tz_convert(timezone)
    mins = np.asarray(local.hour * 60 + local.minute, dtype=np.int64)
    c = _close_minutes(close)
    day = np.asarray(local.tz_localize(None).normalize(), dtype="datetime64[ns]")
    regular = mins < c
    key = np.where(regular, day, day + np.timedelta64(1, "D"))
    vals = s.to_numpy(dtype="float64")
    # Closing bar of each date: its last pre-close bar.
    reg_pos = np.flatnonzero(regular)
    reg_day = day[reg_pos]
    is_last = np.r_[reg_day[1:] != reg_day[:-1], True] if len(reg_pos) else np.zeros(0, bool)
    close_pos = reg_pos[is_last]
    close_day = day[close_pos]
    session = np.searchsorted(close_day, key, side="left") - 1
    has = session >= 0
    prev_close = np.where(has, vals[close_pos[np.clip(session, 0, None)]] if len(close_pos) else np.nan, np.nan)
    prev_close_ts = np.where(has, idx.asi8[close_pos[np.clip(session, 0, None)]] if len(close_pos) else 0, 0)
    prev_bar = np.r_[np.nan, vals[:-1]]
    first = np.r_[True, session[1:] != session[:-1]]
    prev_bar = np.where(first, prev_close, prev_bar)
    out = pd.DataFrame({
        "ts": idx,
        "value": vals,
        "slot": (mins - c) % 1440,
        "session": session,
        "prev_close": prev_close,
        "prev_close_ts": pd.to_datetime(np.where(has, prev_close_ts, np.iinfo(np.int64).min), utc=True),
        "bar_move": change_array(prev_bar, vals, unit),
        "cum_move": change_array(prev_close, vals, unit),
    })
    return out


def intraday_profile(frame: pd.DataFrame, before_session: int, *, sessions: int = 20,
                     min_sessions: int = 5) -> tuple[pd.Series, str]:
    """Share of daily variance per slot from the `sessions` sessions before `before_session`.

    f_slot = mean over those sessions of the squared bar move at that slot, normalised to sum 1.
    With fewer than `min_sessions` past sessions: flat over the slots seen so far ("flat").
    """
    past = frame[(frame["session"] >= 0) & (frame["session"] < before_session)]
    ids = np.unique(past["session"].to_numpy())[-sessions:]
    if len(ids) >= min_sessions:
        use = past[past["session"].isin(ids)]
        v = (use["bar_move"] ** 2).groupby(use["slot"]).mean()
        if v.sum() > 0:
            return (v / v.sum()).sort_index(), "empirical"
    slots = np.unique(frame.loc[frame["session"] <= before_session, "slot"].to_numpy())
    return pd.Series(1.0 / len(slots), index=slots).rename_axis("slot"), "flat"


def intraday_stats(bars: pd.Series, sigma_day: Mapping[str, float], *, timezone: str, close: str,
                   unit: str, session: int | None = None, profile_sessions: int = 20,
                   profile_min_sessions: int = 5, single_print_share: float = 0.8,
                   frame: pd.DataFrame | None = None) -> pd.DataFrame:
    """z_cum of every bar of one session (default: the latest) against daily σ's.

    `sigma_day` maps estimator → daily σ (already floored) in `unit`; columns sigma_<est>
    (= σ_day·√F) and z_<est>. `single_print`: the last bar alone carries more than
    `single_print_share` of the cumulative move (a lone print is not a confirmed move).
    `frame`: `session_frame(bars, …)` when the caller already built it.
    """
    if frame is None:
        frame = session_frame(bars, timezone, close, unit)
    if frame.empty:
        return frame
    if session is None:
        session = int(frame["session"].iloc[-1])
    today = frame[frame["session"] == session].copy()
    profile, kind = intraday_profile(frame, session, sessions=profile_sessions,
                                     min_sessions=profile_min_sessions)
    cum = profile.cumsum()
    # F(t): profile share from the close up to and including t's slot.
    pos = np.searchsorted(cum.index.to_numpy(), today["slot"].to_numpy(), side="right") - 1
    F = np.where(pos >= 0, cum.to_numpy()[np.clip(pos, 0, None)], 0.0)
    # A slot before every profiled slot would give F = 0 (z = ∞): use the smallest share.
    F = np.where(F > 0, F, profile[profile > 0].min())
    today["F"] = np.minimum(F, 1.0)
    today["profile"] = kind
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.where(today["cum_move"] != 0, today["bar_move"] / today["cum_move"], 0.0)
    today["last_bar_share"] = share
    today["single_print"] = share > single_print_share
    for est, sd in sigma_day.items():
        sig = float(sd) * np.sqrt(today["F"].to_numpy()) if sd is not None else np.nan
        today[f"sigma_{est}"] = sig
        with np.errstate(invalid="ignore", divide="ignore"):
            today[f"z_{est}"] = today["cum_move"].to_numpy() / sig
    return today.reset_index(drop=True)
