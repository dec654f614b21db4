"""The standard observation frame every source's parse step returns.

Long format, one row per observation:

    series_id: str      universe id ("jgb_30y")
    freq:      str      "D" daily close, "I" intraday bar
    ts:        datetime64[ns, UTC]  the instant the value refers to
                        (daily: the series' local close time on that date, in UTC)
    value:     float64  in the series' native unit (percent for yields, price, FX)

`validate_frame` is the gate before anything reaches the store: a frame that fails it
is rejected whole (MalformedPayload), never partly stored.
"""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from data.errors import MalformedPayload

COLUMNS = ["series_id", "freq", "ts", "value"]
FREQS = ("D", "I")

__all__ = ["COLUMNS", "FREQS", "empty_frame", "validate_frame", "daily_close_ts", "make_frame"]


def empty_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "series_id": pd.Series([], dtype=object),
            "freq": pd.Series([], dtype=object),
            "ts": pd.Series([], dtype="datetime64[ns, UTC]"),
            "value": pd.Series([], dtype="float64"),
        }
    )


def daily_close_ts(dates, timezone: str, close: str) -> pd.DatetimeIndex:
    """Map calendar dates to the UTC instant of the series' local daily close."""
    idx = pd.DatetimeIndex(pd.to_datetime(dates)).normalize()
    if idx.tz is not None:
        idx = idx.tz_localize(None)
    hh, mm = (int(x) for x in close.split(":"))
    local = (idx + pd.Timedelta(hours=hh, minutes=mm)).tz_localize(
        ZoneInfo(timezone), ambiguous="NaT", nonexistent="shift_forward"
    )
    return local.tz_convert("UTC").as_unit("ns")


def make_frame(series_id: str, freq: str, ts, values) -> pd.DataFrame:
    """Build a standard frame for one series, dropping missing values."""
    ts_idx = pd.DatetimeIndex(ts)
    if ts_idx.tz is None:
        raise MalformedPayload(f"{series_id}: timestamps must be tz-aware")
    out = pd.DataFrame(
        {
            "series_id": series_id,
            "freq": freq,
            "ts": ts_idx.tz_convert("UTC").as_unit("ns"),
            "value": pd.to_numeric(pd.Series(np.asarray(values)), errors="coerce").to_numpy(dtype="float64"),
        }
    )
    out = out[out["value"].notna() & out["ts"].notna()]
    return out.reset_index(drop=True)


def validate_frame(frame: pd.DataFrame, *, known_series: set[str] | None = None,
                   bounds: dict[str, tuple[float, float]] | None = None) -> pd.DataFrame:
    """Check shape, types, finiteness, duplicates and plausibility; return a clean copy.

    Raises MalformedPayload with a precise reason; never returns a partly valid frame.
    `bounds` maps series_id → (low, high) plausibility limits (e.g. yields −5…40 %).
    """
    if not isinstance(frame, pd.DataFrame):
        raise MalformedPayload(f"expected a DataFrame, got {type(frame).__name__}")
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise MalformedPayload(f"frame lacks columns {missing}")
    f = frame[COLUMNS].copy()
    if len(f) == 0:
        return empty_frame()
    if not isinstance(f["ts"].dtype, pd.DatetimeTZDtype):
        raise MalformedPayload(f"ts must be tz-aware datetimes, got {f['ts'].dtype}")
    f["ts"] = f["ts"].dt.tz_convert("UTC").dt.as_unit("ns")
    if f["ts"].isna().any():
        raise MalformedPayload(f"{int(f['ts'].isna().sum())} rows without a timestamp")
    bad_freq = set(f["freq"].unique()) - set(FREQS)
    if bad_freq:
        raise MalformedPayload(f"unknown freq {sorted(map(str, bad_freq))}")
    try:
        f["value"] = f["value"].astype("float64")
    except (TypeError, ValueError) as exc:
        raise MalformedPayload(f"non-numeric values: {exc}") from exc
    if not np.isfinite(f["value"].to_numpy()).all():
        raise MalformedPayload("non-finite values (NaN/inf) in frame")
    if known_series is not None:
        unknown = set(f["series_id"].unique()) - known_series
        if unknown:
            raise MalformedPayload(f"unknown series {sorted(unknown)}")
    dup = f.duplicated(["series_id", "freq", "ts"], keep=False)
    if dup.any():
        first = f[dup].iloc[0]
        raise MalformedPayload(
            f"{int(dup.sum())} duplicate keys, e.g. {first['series_id']} {first['freq']} {first['ts']}"
        )
    if bounds:
        for sid, (lo, hi) in bounds.items():
            vals = f.loc[f["series_id"] == sid, "value"]
            out = vals[(vals < lo) | (vals > hi)]
            if len(out):
                raise MalformedPayload(
                    f"{sid}: {len(out)} values outside plausible range [{lo}, {hi}], e.g. {out.iloc[0]}"
                )
    now = pd.Timestamp(dt.datetime.now(dt.timezone.utc))
    # A day of slack for time zones; anything further ahead is a parsing error, not data.
    if (f["ts"] > now + pd.Timedelta(days=2)).any():
        raise MalformedPayload(f"timestamps in the future, e.g. {f['ts'].max()}")
    return f.sort_values(["series_id", "freq", "ts"]).reset_index(drop=True)
