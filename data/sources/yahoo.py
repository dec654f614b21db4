"""Yahoo Finance through yfinance 1.7: UST yield indices, Treasury futures/ETFs, USD/JPY, context.

Three steps, as every source:

- `build_requests`: ONE batched request per kind of bars per cycle (daily for every series,
  intraday for the `intraday = true` ones) — never one call per symbol (BRIEF §1, be gentle).
- `fetch`: the only network step, one `yf.download` call for the whole batch. yfinance logs
  failures instead of raising, so we capture its per-ticker errors and turn an all-failed batch
  into RateLimited / FetchError / EmptyPayload.
- `parse`: pure. The (Price, Ticker) MultiIndex frame → the standard frame, value = Close.

Also the pure parsers the replay uses on saved Yahoo files: `parse_yahoo_csv_export` (daily
`Date,Close,…` / `Date,Open,…` and hourly `Date,Time,…` exports) and `parse_yahoo_prices_json`
(`{"prices": [[epoch_utc_midnight, close], …]}` caches).

Hourly export time zones (checked on the real files): tlt/ief_hourly are America/New_York
(first bar 09:30, pre-market from 04:00). usdjpy_hourly.csv is **Europe/London**, not UTC: the
script that wrote it (jonsflow/risk-model `scripts/fetch_data.py`) formats yfinance's index,
which is in the exchange zone (Europe/London for CCY), and the weekly pattern fits that — the
week opens Monday 00:00 (= Sunday 23:00 UTC, Yahoo's CCY day start) and Friday's last bar is
21:00, which ends exactly at the 17:00 New York FX close (21:00 UTC) only if the times are BST.
"""
from __future__ import annotations

import ast
import datetime as dt
import csv
import io
import json
import logging
import math
import re
import threading
import warnings
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd
import requests

from data.frame import add_rejects, daily_close_ts, make_frame, validate_rows
from data.sources.base import DEFAULT_TIMEOUT, Request
from errors import EmptyPayload, FetchError, MalformedPayload, RateLimited
from universe import Series

__all__ = [
    "YahooSource", "YahooDownload", "yahoo_ticker", "unscale_yield_index",
    "parse_yahoo_csv_export", "parse_yahoo_prices_json", "YIELD_INDEX_SYMBOLS", "X10_ABOVE",
    "INTRADAY_MAX_DAYS", "fx_close_of_record",
]

log = logging.getLogger("contagion.yahoo")

# CBOE yield indices: quoted in percent, but Yahoo has served them ×10 (42.77 for 4.277 %).
YIELD_INDEX_SYMBOLS = frozenset({"^IRX", "^FVX", "^TNX", "^TYX"})
X10_ABOVE = 20.0  # no UST yield in this data has been above 20 %; ×10 values always are

INTRADAY_INTERVALS = ("1m", "2m", "5m", "15m", "30m", "60m", "90m", "1h")
# Yahoo keeps ~8 days of 1m bars (7 per request), 60 days of the other intraday sizes.
INTRADAY_MAX_DAYS = {"1m": 7}
_INTRADAY_DEFAULT_MAX_DAYS = 60
DAILY_LOOKBACK = dt.timedelta(days=5)  # incremental daily re-reads a few days (restatements)

# yfinance's download() and its sessions, cookie/crumb and config are process-wide singletons:
# one download at a time in this process.
_DOWNLOAD_LOCK = threading.Lock()

# Substrings of yfinance's per-ticker error reprs, by what they mean for the cycle.
_RATE_LIMIT_MARKS = ("YFRateLimitError", "Too Many Requests", "Rate limited", "429 Client Error")
# An unknown symbol: its timezone probe fails and yfinance's quoteSummary fallback gets a 404.
_NOT_FOUND_MARKS = ("404 Client Error", "Not Found", "YFTzMissingError", "YFPricesMissingError")
_TRANSPORT_MARKS = ("Timeout", "timed out", "ConnectionError", "ConnectTimeout", "ProxyError", "SSLError",
                    "ChunkedEncodingError", "RemoteDisconnected", "HTTPError", "JSONDecodeError",
                    "Expecting", "CURRENTLY DOWN", "YFDataException", "curl: (")


# --------------------------------------------------------------------------- helpers

def yahoo_ticker(series: Series) -> str | None:
    """The Yahoo ticker a series reads: its own symbol, or its Yahoo fallback's."""
    return series.symbol_for("yahoo")


def unscale_yield_index(symbol: str, values: np.ndarray | pd.Series) -> np.ndarray:
    """Undo Yahoo's ×10 slip on the CBOE yield indices: values above 20 are divided by 10."""
    v = np.asarray(values, dtype="float64")
    if symbol.upper() not in YIELD_INDEX_SYMBOLS:
        return v
    return np.where(v > X10_ABOVE, v / 10.0, v)


def _as_date(x: dt.date | dt.datetime) -> dt.date:
    return x.date() if isinstance(x, dt.datetime) else x


def _years_before(d: dt.date, years: int) -> dt.date:
    try:
        return d.replace(year=d.year - years)
    except ValueError:  # 29 February
        return d.replace(year=d.year - years, day=28)


def _is_intraday(interval: str) -> bool:
    return interval[-1] in ("m", "h")


@dataclass(frozen=True)
class YahooDownload:
    """What `fetch` hands to `parse`: yfinance's frame plus the tickers that failed and why."""

    frame: pd.DataFrame
    tickers: tuple[str, ...]
    errors: dict[str, str] = field(default_factory=dict)  # ticker → yfinance's reason

    @property
    def failed(self) -> tuple[str, ...]:
        return tuple(sorted(self.errors))


class _ErrorCapture(logging.Handler):
    """Collects yfinance's end-of-download summary lines: `['A', 'B']: <error repr>`."""

    _LINE = re.compile(r"^\s*(\[[^\]]*\]):\s(.*)$", re.S)

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.errors: dict[str, str] = {}

    def emit(self, record: logging.LogRecord) -> None:
        try:
            msg = record.getMessage()
        except Exception:  # a foreign record with bad args: not ours
            return
        m = self._LINE.match(msg)
        if not m:
            return
        try:
            syms = ast.literal_eval(m.group(1))
        except (ValueError, SyntaxError):
            return
        for s in syms if isinstance(syms, list) else []:
            self.errors[str(s).upper()] = m.group(2).strip()


def _error_kind(text: str) -> str:
    """One ticker's yfinance error → 'rate' (429), 'empty' (no data / unknown), 'transport'."""
    if any(m in text for m in _RATE_LIMIT_MARKS):
        return "rate"
    if any(m in text for m in _NOT_FOUND_MARKS):
        return "empty"
    if any(m in text for m in _TRANSPORT_MARKS):
        return "transport"
    return "empty"


def _classify(errors: dict[str, str]) -> str:
    """'rate' if any ticker was throttled, 'transport' if any failed in transit, else 'empty'."""
    kinds = {_error_kind(e) for e in errors.values()}
    for kind in ("rate", "transport"):
        if kind in kinds:
            return kind
    return "empty"


def _forget_memoised_responses() -> None:
    """yfinance memoises chart answers whose window ended >30 min ago (`YfData.cache_get`,
    an lru_cache, also used for the timezone probe): forget them so every cycle refetches."""
    try:
        from yfinance.data import YfData
    except ImportError:  # pragma: no cover
        return
    clear = getattr(YfData.cache_get, "cache_clear", None)
    if clear is not None:
        clear()


# --------------------------------------------------------------------------- the frame → close table

def _close_table(frame: pd.DataFrame, tickers: Sequence[str], field: str = "Close") -> pd.DataFrame:
    """`field` prices (Close by default), one column per ticker (upper case), from any shape
    yf.download returns."""
    if not isinstance(frame, pd.DataFrame):
        raise MalformedPayload(f"yahoo: expected a DataFrame, got {type(frame).__name__}")
    if not isinstance(frame.index, pd.DatetimeIndex):
        if len(frame) == 0:
            return pd.DataFrame(index=pd.DatetimeIndex([]))
        raise MalformedPayload(f"yahoo: index is {type(frame.index).__name__}, not dates")
    cols = frame.columns
    if isinstance(cols, pd.MultiIndex):
        if cols.nlevels != 2:
            raise MalformedPayload(f"yahoo: {cols.nlevels}-level columns, expected (Price, Ticker)")
        # group_by="column" gives (Price, Ticker); group_by="ticker" gives (Ticker, Price).
        for level in (0, 1):
            if field in cols.get_level_values(level):
                close = frame.xs(field, axis=1, level=level)
                break
        else:
            raise MalformedPayload(f"yahoo: no {field} column in {list(cols)[:6]}")
        if isinstance(close, pd.Series):  # pragma: no cover - xs on a unique key
            close = close.to_frame()
        close.columns = [str(c).upper() for c in close.columns]
    else:
        if field not in cols:
            raise MalformedPayload(f"yahoo: no {field} column in {list(cols)[:8]}")
        if len(set(t.upper() for t in tickers)) != 1:
            raise MalformedPayload("yahoo: flat columns but several tickers requested; cannot tell them apart")
        close = frame[[field]].copy()
        close.columns = [tickers[0].upper()]
    if close.columns.duplicated().any():
        raise MalformedPayload(f"yahoo: duplicate ticker columns {list(close.columns)}")
    try:
        close = close.apply(pd.to_numeric, errors="raise").astype("float64")
    except (TypeError, ValueError) as exc:
        raise MalformedPayload(f"yahoo: non-numeric {field} values: {exc}") from exc
    # All-NaN rows are the union index padding of a batch (one ticker traded, others not).
    return close.dropna(how="all")


# --------------------------------------------------------------------------- the source

class YahooSource:
    """Batched yfinance downloads for every Yahoo series of the universe."""

    name = "yahoo"

    def __init__(self, backfill_years: int = 10, interval: str = "1m", *, auto_adjust: bool = True,
                 prepost: bool = False) -> None:
        if interval not in INTRADAY_INTERVALS:
            raise ValueError(f"intraday interval {interval!r} must be one of {INTRADAY_INTERVALS}")
        if backfill_years < 1:
            raise ValueError("backfill_years must be ≥ 1")
        self.backfill_years = int(backfill_years)
        self.interval = interval
        # auto_adjust=True: ETF closes dividend-adjusted, as the saved exports (tlt.csv) are.
        self.auto_adjust = auto_adjust
        self.prepost = prepost
        self._partial_said: dict[str, tuple] = {}   # request kind → tickers last logged missing

    # -- step 1 ---------------------------------------------------------------------------
    def build_requests(self, series: Sequence[Series], *, since: dt.date | dt.datetime | None,
                       now: dt.datetime) -> list[Request]:
        """One daily request for all Yahoo series, one intraday request for the intraday ones."""
        mine = [s for s in series if yahoo_ticker(s) is not None]
        if not mine:
            return []
        today = _as_date(now)
        if since is None:
            start = _years_before(today, self.backfill_years)
        else:
            start = min(_as_date(since), today) - DAILY_LOOKBACK
        reqs = [Request(source=self.name, series=tuple(mine), meta={
            "kind": "daily", "freq": "D", "tickers": _tickers(mine), "interval": "1d",
            "period": None, "start": start.isoformat(), "end": None})]
        intra = [s for s in mine if s.intraday and s.source == "yahoo"]
        if intra:
            reqs.append(Request(source=self.name, series=tuple(intra), meta={
                "kind": "intraday", "freq": "I", "tickers": _tickers(intra), "interval": self.interval,
                "period": self._intraday_period(since, now), "start": None, "end": None}))
        return reqs

    def _intraday_period(self, since: dt.date | dt.datetime | None, now: dt.datetime) -> str:
        max_days = INTRADAY_MAX_DAYS.get(self.interval, _INTRADAY_DEFAULT_MAX_DAYS)
        if since is None:
            return f"{max_days}d"
        if isinstance(since, dt.datetime):
            # An exact cursor: cover the gap (a restart after hours) up to what Yahoo keeps.
            a = since if since.tzinfo else since.replace(tzinfo=dt.timezone.utc)
            b = now if now.tzinfo else now.replace(tzinfo=dt.timezone.utc)
            days = math.ceil(max((b - a).total_seconds(), 0.0) / 86400.0)
            return f"{min(max(days, 1), max_days)}d"
        # A daily cursor (the collector backdates it by its overlap): just today's bars.
        return "1d"

    # -- step 2 ---------------------------------------------------------------------------
    def fetch(self, request: Request, *, session: Any = None, timeout: float = DEFAULT_TIMEOUT) -> YahooDownload:
        """One `yf.download` for the whole batch. Raises RateLimited / FetchError / EmptyPayload."""
        import yfinance as yf
        from yfinance.exceptions import YFRateLimitError

        meta = request.meta
        tickers = list(meta.get("tickers") or ())
        if not tickers:
            raise EmptyPayload("yahoo: no tickers in request")
        kwargs: dict[str, Any] = dict(
            interval=meta["interval"], progress=False, timeout=timeout, threads=False, group_by="column",
            auto_adjust=self.auto_adjust, actions=False, prepost=self.prepost, multi_level_index=True)
        if meta.get("period"):
            kwargs["period"] = meta["period"]
        else:
            kwargs["start"] = meta.get("start")
            if meta.get("end"):
                kwargs["end"] = meta["end"]
        if session is not None:
            kwargs["session"] = session

        capture = _ErrorCapture()
        yf_log = logging.getLogger("yfinance")
        with _DOWNLOAD_LOCK:
            _forget_memoised_responses()
            # With hidden exceptions yfinance reports a timeout as "possibly delisted"; shown,
            # each ticker's real exception reaches download()'s per-ticker error summary.
            hide = yf.config.debug.hide_exceptions
            yf.config.debug.hide_exceptions = False
            yf_log.addHandler(capture)
            try:
                with warnings.catch_warnings():
                    # yfinance 1.7 uses inplace= that pandas 3 deprecates: noise, every cycle.
                    warnings.simplefilter("ignore", FutureWarning)
                    warnings.simplefilter("ignore", DeprecationWarning)
                    frame = yf.download(tickers, **kwargs)
            except YFRateLimitError as exc:
                raise RateLimited(f"yahoo: rate limited (429) on {len(tickers)} tickers", status=429) from exc
            except (requests.RequestException, OSError) as exc:
                raise FetchError(f"yahoo: network error: {type(exc).__name__}: {exc}") from exc
            finally:
                yf_log.removeHandler(capture)
                yf.config.debug.hide_exceptions = hide

        wanted = {t.upper() for t in tickers}
        errors = {t: e for t, e in capture.errors.items() if t in wanted}
        if frame is None:
            frame = pd.DataFrame()
        present = self._tickers_with_data(frame, tickers)
        for t in sorted(wanted - present):
            errors.setdefault(t, "no data")
        summary = "; ".join(f"{t}: {e}" for t, e in sorted(errors.items()))
        kind = _classify(errors)
        if kind == "rate":
            # Be gentle: a batch that hit 429 anywhere backs off whole (the rows it did get are
            # fetched again next cycle; hammering on would keep the block on).
            limited = sorted(t for t, e in errors.items() if _error_kind(e) == "rate")
            raise RateLimited(f"yahoo: rate limited (429) on {limited}; {summary}", status=429)
        if not errors:
            self._partial_said.pop(str(meta.get("kind", "")), None)
        if not present:
            if kind == "transport":
                raise FetchError(f"yahoo: every ticker failed: {summary}")
            raise EmptyPayload(f"yahoo: no data for any of {sorted(wanted)}: {summary}")
        if errors:
            # The same tickers missing every cycle (a delisted symbol, a weekend): one line, then DEBUG.
            line = f"yahoo {meta.get('kind', '')}: {len(errors)} of {len(wanted)} tickers without data: {summary}"
            kind_key, missing = str(meta.get("kind", "")), tuple(sorted(errors))
            log.log(logging.DEBUG if self._partial_said.get(kind_key) == missing else logging.WARNING, "%s", line[:600])
            self._partial_said[kind_key] = missing
        return YahooDownload(frame=frame, tickers=tuple(tickers), errors=errors)

    @staticmethod
    def _tickers_with_data(frame: pd.DataFrame, tickers: Sequence[str]) -> set[str]:
        if frame is None or frame.empty:
            return set()
        try:
            close = _close_table(frame, tickers)
        except MalformedPayload:
            return {t.upper() for t in tickers}  # let parse report the shape problem
        return {c for c in close.columns if close[c].notna().any()}

    # -- step 3 ---------------------------------------------------------------------------
    def parse(self, raw: YahooDownload | pd.DataFrame, request: Request) -> pd.DataFrame:
        """Pure: yfinance's frame → standard frame (value = Close). Absent tickers are skipped."""
        frame = raw.frame if isinstance(raw, YahooDownload) else raw
        meta = request.meta
        tickers = list(meta.get("tickers") or [yahoo_ticker(s) for s in request.series])
        freq = meta.get("freq") or ("I" if _is_intraday(meta.get("interval", "1d")) else "D")
        close = _close_table(frame, tickers)
        by_ticker: dict[str, list[Series]] = {}
        for s in request.series:
            t = yahoo_ticker(s)
            if t is not None:
                by_ticker.setdefault(t.upper(), []).append(s)
        idx = close.index
        if freq == "I":
            if len(idx) and idx.tz is None:
                raise MalformedPayload("yahoo: intraday index without a time zone")
            ts_all = idx.tz_convert("UTC") if len(idx) else pd.DatetimeIndex([], tz="UTC")
        else:
            # yfinance gives daily bars tz-naive (ignore_tz); tz-aware → the exchange-local date.
            ts_all = None
            dates = idx.tz_localize(None) if idx.tz is not None else idx
        parts = []
        for ticker, ss in by_ticker.items():
            if ticker not in close.columns:
                continue  # failed or unknown on Yahoo: absent, not an error
            col = close[ticker]
            ok = col.notna().to_numpy()
            if not ok.any():
                continue
            values = unscale_yield_index(ticker, col.to_numpy()[ok])
            for s in ss:
                if s.field != "Close":
                    if freq == "D":     # the day's High / Low, stamped at the day's own close
                        parts.append(_field_frame(frame, tickers, ticker, s))
                    continue
                if freq == "I":
                    parts.append(make_frame(s.id, freq, ts_all[ok], values))
                elif s.kind == "fx":
                    opens = _close_table(frame, tickers, "Open")
                    if ticker in opens.columns:
                        o = opens[ticker].reindex(close.index).to_numpy()[ok]
                        d, v = fx_close_of_record(dates[ok], o)
                        parts.append(make_frame(s.id, freq, daily_close_ts(d, s.timezone, s.close), v))
                else:
                    parts.append(make_frame(s.id, freq, daily_close_ts(dates[ok], s.timezone, s.close), values))
        if not parts or all(len(p) == 0 for p in parts):
            raise EmptyPayload(f"yahoo: no rows for {sorted(by_ticker)}")
        out = pd.concat([p for p in parts if len(p)], ignore_index=True)
        return _checked(out, request.series)


def _field_frame(frame: pd.DataFrame, tickers: Sequence[str], ticker: str, s: Series) -> pd.DataFrame:
    """A daily series holding the bar's High or Low (`Series.field`): that price of each day,
    stamped at the day's close instant. Unlike the FX Close it is not stale (BRIEF §1)."""
    table = _close_table(frame, tickers, s.field)
    if ticker not in table.columns:
        return make_frame(s.id, "D", pd.DatetimeIndex([], tz="UTC"), np.array([]))
    col = table[ticker]
    ok = col.notna().to_numpy()
    day = (table.index.tz_localize(None) if table.index.tz is not None else table.index)[ok]
    return make_frame(s.id, "D", daily_close_ts(day, s.timezone, s.close),
                      unscale_yield_index(ticker, col.to_numpy()[ok]))


def _checked(frame: pd.DataFrame, series: Sequence[Series]) -> pd.DataFrame:
    """The rows that pass `validate_rows` (a 1e30 Close is one rejected row, not a lost batch),
    with the rejected ones recorded on the frame."""
    clean, reasons = validate_rows(frame, known_series={s.id for s in series}, bounds={s.id: s.bounds for s in series})
    return add_rejects(clean, reasons)


def fx_close_of_record(dates, opens: np.ndarray) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """USD/JPY's daily close of record: the price at the London midnight that ends each day.

    Yahoo stamps an FX daily bar at 00:00 London and its Close is stale on most rows (BRIEF §1:
    Close == Open on 78–99 % of 2022–2025 rows); even where it moves, its daily changes follow
    FRED's noon fixing with a correlation of 0.15–0.29 since 2010, against 0.75–0.87 for the
    next bar's Open in every era (checked on fx/USDJPY.csv vs raw/DEXJPUS.csv). So the close of
    day D is the next bar's Open — the first price of D+1 — stamped at 24:00 London of D; the
    newest day has none until its successor opens (its intraday bars carry the live move).
    """
    d = pd.DatetimeIndex(dates)
    o = np.asarray(opens, dtype="float64")
    have = ~np.isnan(o)
    d, o = d[have], o[have]
    return d[:-1], o[1:]


def _tickers(series: Sequence[Series]) -> tuple[str, ...]:
    # Sorted, de-duplicated: a stable batch whatever the universe order.
    return tuple(sorted({yahoo_ticker(s) for s in series if yahoo_ticker(s)}))  # type: ignore[misc]


# --------------------------------------------------------------------------- saved files (replay)

def _read_table(raw: bytes, what: str) -> pd.DataFrame:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise MalformedPayload(f"{what}: not UTF-8: {exc}") from exc
    if not text.strip():
        raise EmptyPayload(f"{what}: empty file")
    try:
        df = pd.read_csv(io.StringIO(text), dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, ValueError) as exc:
        raise MalformedPayload(f"{what}: not a CSV: {exc}") from exc
    df.columns = [str(c).strip() for c in df.columns]
    # Fields per data row (read_csv pads a short row with ""): a row cut short is a bad row.
    widths = [len(r) for r in csv.reader(io.StringIO(text)) if r][1:]
    df.attrs["fields"] = widths if len(widths) == len(df) else None
    return df


def _numbers(col: pd.Series, what: str, rejected: list[str] | None = None) -> np.ndarray:
    """Floats of a column; Yahoo's missing-bar markers are NaN, any other non-number is NaN with
    its reason appended to `rejected` (a bad row, not a bad file)."""
    s = col.str.strip()
    s = s.mask(s.isin(["", "null", "NaN", "nan"]))  # Yahoo's missing-bar markers
    out = pd.to_numeric(s, errors="coerce")
    bad = out.isna() & s.notna()
    if bad.any() and rejected is not None:
        for i in np.flatnonzero(bad.to_numpy())[:50]:
            rejected.append(f"{what}: row {i + 2}: {col.name} {s.iloc[i]!r} is not a number")
        if bad.sum() > 50:
            rejected.append(f"{what}: {int(bad.sum()) - 50} more cells that are not numbers")
    return out.to_numpy(dtype="float64")


def parse_yahoo_csv_export(raw: bytes, series: Series, *, freq: str = "D", tz: str | None = None) -> pd.DataFrame:
    """A saved Yahoo export → standard frame for `series`, value = Close (or the series' `field`:
    the day's High / Low, stamped at that day's close).

    Daily (`freq="D"`): `Date,Close,High,Low,Open,Volume` or `Date,Open,High,Low,Close,Volume`;
    each date becomes the series' local close instant (`daily_close_ts`).
    Hourly (`freq="I"`): `Date,Time,Open,High,Low,Close,Volume` with naive local times; `tz`
    names their zone (tlt/ief_hourly: America/New_York; usdjpy_hourly: Europe/London).
    """
    what = f"yahoo export for {series.id}"
    if freq not in ("D", "I"):
        raise ValueError(f"freq must be 'D' or 'I', got {freq!r}")
    df = _read_table(raw, what)
    if "Date" not in df.columns or "Close" not in df.columns:
        raise MalformedPayload(f"{what}: header {list(df.columns)} lacks Date/Close")
    if len(df) == 0:
        raise EmptyPayload(f"{what}: no rows")
    rejected: list[str] = []
    # A row with fewer fields than the header (a file cut inside it: "…,91.2,9" would read as a
    # close of 9.0) is a bad row, not a value.
    widths = df.attrs.get("fields")
    short = np.array(widths) < df.shape[1] if widths is not None else np.zeros(len(df), bool)
    for i in np.flatnonzero(short)[:50]:
        rejected.append(f"{what}: row {i + 2}: {widths[i]} of {df.shape[1]} fields (truncated file?)")
    if short.any():
        df = df[~short].reset_index(drop=True)
        if len(df) == 0:
            raise MalformedPayload(f"{what}: no complete row ({rejected[0]})")
    if series.field not in df.columns:
        raise MalformedPayload(f"{what}: header {list(df.columns)} lacks {series.field}")
    if series.field != "Close" and freq != "D":
        raise MalformedPayload(f"{what}: a {series.field} series reads daily bars only")
    values = _numbers(df[series.field], what, rejected)
    symbol = yahoo_ticker(series) or series.symbol
    values = unscale_yield_index(symbol, values)
    date_txt = df["Date"].str.strip()
    if freq == "D":
        if "Time" in df.columns:
            raise MalformedPayload(f"{what}: has a Time column: an intraday export read as daily")
        # Dates may carry a time/offset in newer yfinance exports: the calendar date is the key.
        stamp = pd.to_datetime(date_txt.str.slice(0, 10), format="%Y-%m-%d", errors="coerce")
        stamp = stamp.where(~_out_of_range(date_txt.str.slice(0, 4)))
        _reject_dates(stamp, date_txt, what, rejected)
        good = stamp.notna().to_numpy()
        if series.kind == "fx" and series.field == "Close":
            if "Open" not in df.columns:
                raise MalformedPayload(f"{what}: an FX export needs its Open column (close of record)")
            dates, values = fx_close_of_record(pd.DatetimeIndex(stamp[good]), _numbers(df["Open"], what, rejected)[good])
        else:
            dates, values = pd.DatetimeIndex(stamp[good]), values[good]
        ts = daily_close_ts(dates, series.timezone, series.close)
    else:
        if "Time" not in df.columns:
            raise MalformedPayload(f"{what}: intraday export needs a Time column")
        if not tz:
            raise MalformedPayload(f"{what}: naive intraday times need their time zone (tz=…)")
        stamp = pd.to_datetime(date_txt + " " + df["Time"].str.strip(), format="%Y-%m-%d %H:%M:%S", errors="coerce")
        stamp = stamp.where(~_out_of_range(date_txt.str.slice(0, 4)))
        _reject_dates(stamp, date_txt + " " + df["Time"].str.strip(), what, rejected)
        good = stamp.notna().to_numpy()
        local = pd.DatetimeIndex(stamp[good])
        values = values[good]
        ts = local.tz_localize(tz, ambiguous="NaT", nonexistent="shift_forward").tz_convert("UTC")
    frame = make_frame(series.id, freq, ts, values)
    if len(frame) == 0 and not rejected:
        raise EmptyPayload(f"{what}: no values")
    if len(frame) == 0:
        raise MalformedPayload(f"{what}: no readable row ({len(rejected)} rejected, e.g. {rejected[0]})")
    return _checked(add_rejects(frame, rejected), [series])


def _out_of_range(years: pd.Series) -> pd.Series:
    """Rows whose year pandas cannot hold (e.g. 9999): bad rows, not a crash."""
    y = pd.to_numeric(years, errors="coerce")
    return (y < 1950) | (y > 2200)


def _reject_dates(stamp: pd.Series, text: pd.Series, what: str, rejected: list[str]) -> None:
    bad = np.flatnonzero(stamp.isna().to_numpy())
    for i in bad[:50]:
        rejected.append(f"{what}: row {i + 2}: {text.iloc[i]!r} is not a usable date")
    if len(bad) > 50:
        rejected.append(f"{what}: {len(bad) - 50} more rows without a usable date")


def parse_yahoo_prices_json(raw: bytes, series: Series) -> pd.DataFrame:
    """A `{"symbol", "prices": [[epoch_seconds_utc_midnight, close], …]}` cache → daily frame."""
    what = f"yahoo prices json for {series.id}"
    try:
        doc = json.loads(raw.decode("utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedPayload(f"{what}: not JSON: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("prices"), list):
        raise MalformedPayload(f"{what}: expected an object with a 'prices' list")
    sym = doc.get("symbol")
    want = yahoo_ticker(series) or series.symbol
    if isinstance(sym, str) and sym.upper() != want.upper():
        raise MalformedPayload(f"{what}: file holds {sym!r}, series reads {want!r}")
    rows = doc["prices"]
    if not rows:
        raise EmptyPayload(f"{what}: no prices")
    try:
        arr = np.array([(float(p[0]), np.nan if p[1] is None else float(p[1])) for p in rows], dtype="float64")
    except (TypeError, ValueError, IndexError) as exc:
        raise MalformedPayload(f"{what}: prices must be [epoch, close] pairs: {exc}") from exc
    epochs = arr[:, 0]
    if np.nanmax(epochs) > 1e11:  # milliseconds, as some JS writers emit
        epochs = epochs / 1000.0
    stamps = pd.to_datetime(epochs, unit="s", utc=True)
    off_midnight = (stamps - stamps.normalize()) != pd.Timedelta(0)
    if off_midnight.any():
        raise MalformedPayload(f"{what}: {int(off_midnight.sum())} stamps are not UTC midnights, "
                               f"e.g. {stamps[off_midnight][0]}")
    dates = stamps.tz_localize(None)
    ts = daily_close_ts(dates, series.timezone, series.close)
    values = unscale_yield_index(want, arr[:, 1])
    frame = make_frame(series.id, "D", ts, values)
    if len(frame) == 0:
        raise EmptyPayload(f"{what}: no values")
    return _checked(frame, [series])
