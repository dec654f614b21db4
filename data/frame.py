"""The standard observation frame every source's parse step returns.

Long format, one row per observation:

    series_id: str      universe id ("jgb_30y")
    freq:      str      "D" daily close, "I" intraday bar
    ts:        datetime64[ns, UTC]  the instant the value refers to
                        (daily: the series' local close time on that date, in UTC)
    value:     float64  in the series' native unit (percent for yields, price, FX)

Two levels of rejection:
- a payload that is not data at all (HTML page, wrong columns, wrong types) raises
  MalformedPayload and nothing of it is stored;
- a bad ROW (impossible date, non-finite or implausible value, unknown series, duplicate key,
  a cell that is not a number) is dropped with its reason while the good rows go on:
  `validate_rows` returns (clean frame, reasons) and parsers record the rows they could not read
  with `add_rejects` (kept in `frame.attrs["rejected"]`). The collector counts and shows them.
"""
from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from errors import MalformedPayload

COLUMNS = ["series_id", "freq", "ts", "value"]
FREQS = ("D", "I")

__all__ = ["COLUMNS", "FREQS", "empty_frame", "validate_frame", "validate_rows", "daily_close_ts", "make_frame",
           "add_rejects", "rejects_of", "REJECTED_KEY"]

REJECTED_KEY = "rejected"
# Timestamps pandas can hold (datetime64[ns]): a year-9999 date is a bad row, not a crash.
_TS_MIN, _TS_MAX = pd.Timestamp.min.tz_localize("UTC"), pd.Timestamp.max.tz_localize("UTC")


def add_rejects(frame: pd.DataFrame, reasons) -> pd.DataFrame:
    """Attach row rejections (strings) to a frame; returns the frame."""
    reasons = [str(r) for r in reasons]
    if reasons:
        frame.attrs[REJECTED_KEY] = list(frame.attrs.get(REJECTED_KEY, [])) + reasons
    return frame


def rejects_of(frame: pd.DataFrame) -> list[str]:
    return list(getattr(frame, "attrs", {}).get(REJECTED_KEY, []))


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
    """Map calendar dates to the UTC instant of the series' local daily close ("24:00": the end
    of the local day). A date outside what pandas can hold becomes NaT (a bad row)."""
    if not isinstance(dates, pd.DatetimeIndex):
        dates = [d for d in dates] if not isinstance(dates, (pd.Series, np.ndarray)) else dates
        dates = pd.to_datetime(pd.Series(dates, dtype=object) if not isinstance(dates, pd.Series) else dates,
                               errors="coerce")
    idx = pd.DatetimeIndex(dates).normalize()
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


def _shape(frame: pd.DataFrame) -> pd.DataFrame:
    """Whole-payload checks (raise MalformedPayload): a frame with the columns and types."""
    if not isinstance(frame, pd.DataFrame):
        raise MalformedPayload(f"expected a DataFrame, got {type(frame).__name__}")
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        raise MalformedPayload(f"frame lacks columns {missing}")
    # A source may tag rows (replay: `role` = "reference" for a second source, and its `source`).
    f = frame[COLUMNS + [c for c in ("role", "source") if c in frame.columns]].copy()
    if len(f) and not isinstance(f["ts"].dtype, pd.DatetimeTZDtype):
        raise MalformedPayload(f"ts must be tz-aware datetimes, got {f['ts'].dtype}")
    try:
        f["value"] = pd.to_numeric(f["value"], errors="raise").astype("float64")
    except (TypeError, ValueError) as exc:
        raise MalformedPayload(f"non-numeric values: {exc}") from exc
    return f


def validate_rows(frame: pd.DataFrame, *, known_series: set[str] | None = None,
                  bounds: dict[str, tuple[float, float]] | None = None,
                  now: dt.datetime | None = None) -> tuple[pd.DataFrame, list[str]]:
    """(clean frame, reasons): the rows that pass, and one reason per row that does not.

    Row checks: a timestamp (present, within pandas' range, not > 2 days ahead), a known freq and
    series, a finite value inside the series' plausible range, one row per key (a key given twice
    with different values drops both: which one is right is unknown). A wrongly shaped payload
    still raises MalformedPayload. Rejections the parser recorded (`rejects_of`) come first.
    """
    reasons = rejects_of(frame) if isinstance(frame, pd.DataFrame) else []
    f = _shape(frame)
    if len(f) == 0:
        return empty_frame(), reasons
    f["ts"] = f["ts"].dt.tz_convert("UTC").dt.as_unit("ns")
    bad = np.zeros(len(f), dtype=bool)
    why = np.full(len(f), "", dtype=object)

    def reject(mask: np.ndarray, text) -> None:
        new = mask & ~bad
        for i in np.flatnonzero(new):
            why[i] = text(i) if callable(text) else text
        bad[new] = True

    sid = f["series_id"].astype(str).to_numpy()
    ts = f["ts"]
    vals = f["value"].to_numpy()
    stamp = lambda i: f"{sid[i]} {ts.iloc[i]}"
    reject(ts.isna().to_numpy(), lambda i: f"{sid[i]}: no timestamp (bad or out-of-range date)")
    reject(~f["freq"].isin(FREQS).to_numpy(), lambda i: f"{stamp(i)}: unknown freq {f['freq'].iloc[i]!r}")
    if known_series is not None:
        reject(~np.isin(sid, list(known_series)), lambda i: f"{sid[i]}: unknown series")
    reject(~np.isfinite(vals), lambda i: f"{stamp(i)}: value {vals[i]!r} is not finite")
    if bounds:
        lo = np.array([bounds.get(x, (-np.inf, np.inf))[0] for x in sid])
        hi = np.array([bounds.get(x, (-np.inf, np.inf))[1] for x in sid])
        with np.errstate(invalid="ignore"):
            reject((vals < lo) | (vals > hi),
                   lambda i: f"{stamp(i)}: value {vals[i]:g} outside the plausible range [{lo[i]:g}, {hi[i]:g}]")
    now_ts = pd.Timestamp(now or dt.datetime.now(dt.timezone.utc))
    # A day of slack for time zones; anything further ahead is a parsing error, not data.
    reject((ts > now_ts + pd.Timedelta(days=2)).fillna(False).to_numpy(),
           lambda i: f"{stamp(i)}: timestamp in the future")
    ok = ~bad
    key = f.loc[ok, ["series_id", "freq", "ts"]]
    dup_any = key.duplicated(keep=False).to_numpy()
    if dup_any.any():
        sub = f.loc[ok].assign(_i=np.flatnonzero(ok))
        conflict = sub[dup_any].groupby(["series_id", "freq", "ts"])["value"].transform("nunique") > 1
        idx_conf = sub[dup_any]["_i"].to_numpy()[conflict.to_numpy()]
        m = np.zeros(len(f), bool)
        m[idx_conf] = True
        reject(m, lambda i: f"{stamp(i)}: given twice with different values")
        # Exact repeats: keep one.
        rep = np.zeros(len(f), bool)
        again = f.loc[~bad, ["series_id", "freq", "ts"]].duplicated(keep="first").to_numpy()
        rep[np.flatnonzero(~bad)[again]] = True
        bad |= rep
    clean = f[~bad].sort_values(["series_id", "freq", "ts"]).reset_index(drop=True)
    clean.attrs = {}      # the reasons travel in the return value, not twice on the frame
    return clean, reasons + [str(w) for w in why[bad & (why != "")]]


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
