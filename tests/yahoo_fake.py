"""An offline Yahoo Finance for tests: a `requests.Session` that answers what yfinance asks.

yfinance 1.7 (without curl_cffi, as on these machines) talks to Yahoo through the session
passed to `yf.download(..., session=)`. For every ticker it makes, in order:

    GET https://fc.yahoo.com                                  cookie (any answer will do)
    GET https://query1.finance.yahoo.com/v1/test/getcrumb     crumb (text)
    GET https://query2.finance.yahoo.com/v8/finance/chart/T   ?range=1d&interval=1d  (timezone
                                                              lookup, once per process per
                                                              ticker: kept in the tz cache)
    GET https://query2.finance.yahoo.com/v8/finance/chart/T   ?range=…|period1=…&period2=…
                                                              &interval=…&includePrePost=…
                                                              &events=div,splits,capitalGains
                                                              &crumb=…

`^` arrives as `%5E` (requests quotes the path). After any HTTP status ≥ 400 yfinance
switches cookie strategy (GET https://guce.yahoo.com/consent, then the crumb again) and
retries once; a second 429 raises YFRateLimitError inside yfinance.

Usage:

    fake = FakeYahooSession()
    fake.serve_payload("^TNX", MARKET / "yahoo_payloads/yahoo_chart_tnx_5m_1d.json")
    fake.serve_daily_csv("JPY=X", MARKET / "fx/USDJPY.csv", meta=CURRENCY_META("JPY=X", "JPY"))
    fake.fail("ZN=F", status=404)           # or status=429 / 500, timeout=True, body=b"{trunc"
    yf.download([...], session=fake, ...)   # yfinance's real parser, no network
    fake.chart_calls("^TNX")                # what was asked, with decoded params

Everything not configured answers 404 with Yahoo's own "No data found" JSON, as Yahoo does
for an unknown symbol; `fake.unexpected` lists such URLs so a test can spot a stray request.
Call `reset_yfinance_state()` between tests: yfinance keeps cookie/crumb and memoised
responses in process-wide singletons.
"""
from __future__ import annotations

import copy
import datetime as dt
import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qsl, unquote, urlsplit
from zoneinfo import ZoneInfo

import pandas as pd
import requests

__all__ = [
    "FakeYahooSession", "Call", "load_chart_payload", "chart_from_frame", "read_daily_csv",
    "index_meta", "currency_meta", "etf_meta", "future_meta", "reset_yfinance_state",
    "NOT_FOUND", "COOKIE_URL", "CRUMB_URL", "CHART_PREFIX",
]

COOKIE_URL = "https://fc.yahoo.com"
CRUMB_URL = "https://query1.finance.yahoo.com/v1/test/getcrumb"
CHART_PREFIX = "https://query2.finance.yahoo.com/v8/finance/chart/"
CRUMB = "FakeCrumb0123"

# What Yahoo answers (HTTP 404) for an unknown or delisted symbol.
NOT_FOUND = {"chart": {"result": None,
                       "error": {"code": "Not Found", "description": "No data found, symbol may be delisted"}}}
OUTAGE_PAGE = b"<!DOCTYPE html><html><head><title>Yahoo</title></head><body>Will be right back...</body></html>"
VALID_RANGES = ["1d", "5d", "1mo", "3mo", "6mo", "1y", "2y", "5y", "10y", "ytd", "max"]


# --------------------------------------------------------------------------- payloads

def load_chart_payload(path: str | Path) -> dict:
    """A chart JSON as saved: bare `{"chart": …}` or a recorded wrapper (`response.bodyJson`)."""
    doc = json.loads(Path(path).read_text(encoding="utf-8"))
    if "chart" in doc:
        return doc
    body = (doc.get("response") or {}).get("bodyJson")
    if isinstance(body, dict) and "chart" in body:
        return body
    raise ValueError(f"{path}: neither a chart payload nor a recorded wrapper with response.bodyJson")


def _meta(symbol: str, *, currency: str, exchange: str, full_exchange: str, instrument: str,
          tz: str, price_hint: int, name: str) -> dict:
    return {"currency": currency, "symbol": symbol, "exchangeName": exchange, "fullExchangeName": full_exchange,
            "instrumentType": instrument, "firstTradeDate": 0, "hasPrePostMarketData": False,
            "exchangeTimezoneName": tz, "longName": name, "shortName": name, "priceHint": price_hint,
            "dataGranularity": "1d", "range": "", "validRanges": list(VALID_RANGES)}


def index_meta(symbol: str, name: str = "CBOE Interest Rate 10 Year T No") -> dict:
    """Meta of the CBOE yield indices (^IRX ^FVX ^TNX ^TYX), as in the real ^TNX payload."""
    return _meta(symbol, currency="USD", exchange="CGI", full_exchange="Cboe Indices", instrument="INDEX",
                 tz="America/Chicago", price_hint=4, name=name)


def currency_meta(symbol: str, currency: str, name: str | None = None) -> dict:
    """CURRENCY meta like the real EURUSD=X payload (CCY, Europe/London)."""
    return _meta(symbol, currency=currency, exchange="CCY", full_exchange="CCY", instrument="CURRENCY",
                 tz="Europe/London", price_hint=4, name=name or symbol)


def etf_meta(symbol: str, name: str | None = None) -> dict:
    return _meta(symbol, currency="USD", exchange="NGM", full_exchange="NasdaqGM", instrument="ETF",
                 tz="America/New_York", price_hint=2, name=name or symbol)


def future_meta(symbol: str, name: str | None = None) -> dict:
    return _meta(symbol, currency="USD", exchange="CBT", full_exchange="CBOT", instrument="FUTURE",
                 tz="America/Chicago", price_hint=2, name=name or symbol)


def read_daily_csv(path: str | Path) -> pd.DataFrame:
    """A Yahoo daily export (either column order) → OHLCV indexed by date."""
    df = pd.read_csv(path)
    df["Date"] = pd.to_datetime(df["Date"])
    return df.set_index("Date")[["Open", "High", "Low", "Close", "Volume"]].sort_index()


def _floats(s: pd.Series) -> list:
    return [None if pd.isna(v) else float(v) for v in s]


def chart_from_frame(bars: pd.DataFrame, meta: dict, *, bar_time: str = "00:00",
                     interval: str = "1d", scale: float = 1.0) -> dict:
    """Build a chart-API payload (daily bars) in the shape Yahoo serves.

    Daily bars are stamped at `bar_time` local time of the exchange (Yahoo stamps CCY bars
    00:00 London); `scale` multiplies prices (×10 to mimic the ^TNX unit slip).
    """
    meta = copy.deepcopy(meta)
    tz = ZoneInfo(meta["exchangeTimezoneName"])
    hh, mm = (int(x) for x in bar_time.split(":"))
    stamps = [int(dt.datetime(d.year, d.month, d.day, hh, mm, tzinfo=tz).timestamp()) for d in bars.index]
    meta["dataGranularity"] = interval
    if len(bars):
        last = bars.iloc[-1]
        meta["regularMarketPrice"] = float(last["Close"]) * scale
        meta["regularMarketTime"] = stamps[-1]
        meta["chartPreviousClose"] = float(bars["Close"].iloc[0]) * scale
        offset = tz.utcoffset(dt.datetime.fromtimestamp(stamps[-1]))
        meta["gmtoffset"] = int(offset.total_seconds()) if offset is not None else 0
    else:
        meta["gmtoffset"] = 0
    close = _floats(bars["Close"] * scale)
    quote = {"open": _floats(bars["Open"] * scale), "high": _floats(bars["High"] * scale),
             "low": _floats(bars["Low"] * scale), "close": close,
             "volume": [int(v) if not pd.isna(v) else None for v in bars["Volume"]]}
    result: dict[str, Any] = {"meta": meta}
    if stamps:
        result["timestamp"] = stamps
        result["indicators"] = {"quote": [quote], "adjclose": [{"adjclose": close}]}
    else:
        result["indicators"] = {"quote": [{}]}  # what Yahoo sends for an empty window
    return {"chart": {"result": [result], "error": None}}


# --------------------------------------------------------------------------- behaviours

@dataclass
class Call:
    method: str
    url: str            # as sent on the wire (path quoted, query string included)
    host: str
    path: str
    params: dict[str, str]
    ticker: str | None  # decoded ticker of a chart call


@dataclass
class _Behaviour:
    """How one ticker's chart URL answers. Exactly one of the fields drives it."""
    payload: dict | None = None                       # served as is, whatever the params
    bars: pd.DataFrame | None = None                  # daily bars: window cut from params
    meta: dict | None = None
    bar_time: str = "00:00"
    scale: float = 1.0
    status: int | None = None                         # error status (body: Yahoo-like)
    body: bytes | None = None                         # raw body with status 200 (malformed)
    timeout: bool = False
    connection_error: bool = False
    only_data: bool = False                           # errors only on the data call, not tz lookup
    anchor: dt.datetime | None = None                 # "now" for range= requests on bars


class FakeYahooSession(requests.Session):
    """A requests.Session that serves Yahoo's cookie, crumb and chart URLs offline."""

    def __init__(self) -> None:
        super().__init__()
        self._behaviour: dict[str, _Behaviour] = {}
        self._lock = threading.Lock()
        self.calls: list[Call] = []
        self.unexpected: list[str] = []
        self.crumb_status = 200
        self.on_call: Callable[[Call], None] | None = None

    # -- configuration ----------------------------------------------------------
    def serve_payload(self, ticker: str, payload: dict | str | Path) -> "FakeYahooSession":
        """Answer every chart request for `ticker` with this payload (a real recording)."""
        doc = payload if isinstance(payload, dict) else load_chart_payload(payload)
        self._behaviour[ticker.upper()] = _Behaviour(payload=doc)
        return self

    def serve_bars(self, ticker: str, bars: pd.DataFrame, meta: dict, *, bar_time: str = "00:00",
                   scale: float = 1.0, anchor: dt.datetime | None = None) -> "FakeYahooSession":
        """Answer with a payload built from daily OHLCV bars, cut to period1/period2 or range.

        `range=` windows end at `anchor` (default: the last bar's day, as if the file ended today).
        """
        self._behaviour[ticker.upper()] = _Behaviour(bars=bars.sort_index(), meta=meta, bar_time=bar_time,
                                                     scale=scale, anchor=anchor)
        return self

    def serve_daily_csv(self, ticker: str, path: str | Path, meta: dict, **kw: Any) -> "FakeYahooSession":
        return self.serve_bars(ticker, read_daily_csv(path), meta, **kw)

    def fail(self, ticker: str, *, status: int | None = None, timeout: bool = False,
             connection_error: bool = False, body: bytes | None = None,
             only_data: bool = False) -> "FakeYahooSession":
        """Make `ticker` fail: an HTTP status, a timeout, a refused connection or a bad body.

        `status` alone: 429 → "Too Many Requests", 404 → Yahoo's "No data found" JSON, other →
        Yahoo's outage HTML page; `status` with `body` sends that body; `body` alone → HTTP 200.

        `only_data=True` keeps the timezone lookup (range=1d&interval=1d) working, so the
        failure hits the data request itself (e.g. a truncated body on the real download).
        """
        old = self._behaviour.get(ticker.upper())
        b = _Behaviour(status=status, timeout=timeout, connection_error=connection_error, body=body,
                       only_data=only_data)
        if only_data and old is not None:
            b.payload, b.bars, b.meta, b.bar_time, b.scale, b.anchor = (
                old.payload, old.bars, old.meta, old.bar_time, old.scale, old.anchor)
        self._behaviour[ticker.upper()] = b
        return self

    # -- inspection ---------------------------------------------------------------
    def chart_calls(self, ticker: str | None = None, *, data_only: bool = False) -> list[Call]:
        """Chart requests made (optionally for one ticker; `data_only` skips tz lookups)."""
        out = [c for c in self.calls if c.ticker is not None]
        if ticker is not None:
            out = [c for c in out if c.ticker == ticker.upper()]
        if data_only:
            out = [c for c in out if not _is_tz_lookup(c.params)]
        return out

    def reset_calls(self) -> None:
        with self._lock:
            self.calls.clear()
            self.unexpected.clear()

    # -- the transport --------------------------------------------------------------
    def request(self, method: str, url: str, params: Any = None, data: Any = None, headers: Any = None,
                cookies: Any = None, files: Any = None, auth: Any = None, timeout: Any = None,
                allow_redirects: bool = True, proxies: Any = None, hooks: Any = None, stream: Any = None,
                verify: Any = None, cert: Any = None, json: Any = None) -> requests.Response:  # noqa: A002
        prepared = requests.Request(method.upper(), url, params=params or {}).prepare()
        parts = urlsplit(prepared.url)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        ticker = None
        if prepared.url.startswith(CHART_PREFIX):
            ticker = unquote(parts.path.rsplit("/", 1)[-1]).upper()
        call = Call(method.upper(), prepared.url, parts.netloc, parts.path, query, ticker)
        with self._lock:
            self.calls.append(call)
        if self.on_call is not None:
            self.on_call(call)

        if ticker is not None:
            return self._chart(call)
        base = f"{parts.scheme}://{parts.netloc}{parts.path}".rstrip("/")
        if base == COOKIE_URL:
            # Yahoo answers 404 with a Set-Cookie; yfinance only needs the call to return.
            return _response(call, 404, b"")
        if base in (CRUMB_URL, "https://query2.finance.yahoo.com/v1/test/getcrumb"):
            if self.crumb_status == 429:
                return _response(call, 429, b"Too Many Requests")
            return _response(call, 200, CRUMB.encode(), content_type="text/plain")
        if parts.netloc.endswith("guce.yahoo.com") or parts.netloc.endswith("consent.yahoo.com"):
            # The csrf cookie strategy: a page without a csrfToken makes yfinance fall back.
            return _response(call, 200, b"<html><body>no consent form</body></html>", content_type="text/html")
        if parts.path.startswith("/v10/finance/quoteSummary/"):
            # yfinance's fallback when a ticker's timezone lookup fails: unknown symbol.
            return _response(call, 404, _json_bytes(
                {"quoteSummary": {"result": None, "error": {"code": "Not Found", "description": "Quote not found"}}}))
        with self._lock:
            self.unexpected.append(prepared.url)
        return _response(call, 404, _json_bytes(NOT_FOUND))

    def _chart(self, call: Call) -> requests.Response:
        b = self._behaviour.get(call.ticker or "")
        if b is None:
            return _response(call, 404, _json_bytes(NOT_FOUND))
        failing = not (b.only_data and _is_tz_lookup(call.params))
        if failing and b.timeout:
            raise requests.exceptions.ReadTimeout(f"fake: read timed out ({call.url})")
        if failing and b.connection_error:
            raise requests.exceptions.ConnectionError(f"fake: connection refused ({call.url})")
        if failing and b.status is not None:
            if b.status == 429:
                return _response(call, 429, b"Too Many Requests\r\n", content_type="text/plain")
            if b.body is not None:
                return _response(call, b.status, b.body, content_type="text/html")
            if b.status == 404:
                return _response(call, 404, _json_bytes(NOT_FOUND))
            # Yahoo's edge answers 5xx with its outage page, not JSON.
            return _response(call, b.status, OUTAGE_PAGE, content_type="text/html")
        if failing and b.body is not None:
            return _response(call, 200, b.body)
        if b.payload is not None:
            return _response(call, 200, _json_bytes(b.payload))
        if b.bars is not None and b.meta is not None:
            return _response(call, 200, _json_bytes(self._window(b, call.params)))
        return _response(call, 404, _json_bytes(NOT_FOUND))

    @staticmethod
    def _window(b: _Behaviour, params: dict[str, str]) -> dict:
        bars = b.bars
        assert bars is not None and b.meta is not None
        interval = params.get("interval", "1d")
        if interval != "1d":
            # Only daily bars can be built from the daily files: answer like Yahoo does for a
            # window without bars of that size.
            return chart_from_frame(bars.iloc[0:0], b.meta, interval=interval)
        tz = ZoneInfo(b.meta["exchangeTimezoneName"])
        local_dates = bars.index
        if "period1" in params or "period2" in params:
            p1 = int(params.get("period1") or 0)
            p2 = int(params.get("period2") or 2**40)
            hh, mm = (int(x) for x in b.bar_time.split(":"))
            secs = [int(dt.datetime(d.year, d.month, d.day, hh, mm, tzinfo=tz).timestamp()) for d in local_dates]
            mask = [(p1 <= s < p2) for s in secs]
            cut = bars[mask]
        else:
            rng = params.get("range", "1mo")
            anchor = b.anchor or (bars.index[-1].to_pydatetime() + dt.timedelta(days=1))
            anchor = pd.Timestamp(anchor).tz_localize(None) if pd.Timestamp(anchor).tzinfo else pd.Timestamp(anchor)
            if rng == "max":
                start = pd.Timestamp.min
            elif rng == "ytd":
                start = pd.Timestamp(anchor.year, 1, 1)
            else:
                start = anchor - _range_delta(rng)
            cut = bars[(bars.index >= start) & (bars.index < anchor)]
        return chart_from_frame(cut, b.meta, bar_time=b.bar_time, interval=interval, scale=b.scale)


def _range_delta(rng: str) -> pd.DateOffset:
    if rng.endswith("mo"):
        return pd.DateOffset(months=int(rng[:-2]))
    if rng.endswith("wk"):
        return pd.DateOffset(weeks=int(rng[:-2]))
    if rng.endswith("y"):
        return pd.DateOffset(years=int(rng[:-1]))
    if rng.endswith("d"):
        return pd.DateOffset(days=int(rng[:-1]))
    raise ValueError(f"fake: unsupported range {rng!r}")


def _is_tz_lookup(params: dict[str, str]) -> bool:
    # yfinance's timezone probe: exactly range=1d&interval=1d, no events.
    return params.get("range") == "1d" and params.get("interval") == "1d" and "events" not in params


def _json_bytes(doc: Any) -> bytes:
    return json.dumps(doc).encode("utf-8")


def _response(call: Call, status: int, body: bytes, *, content_type: str = "application/json") -> requests.Response:
    r = requests.Response()
    r.status_code = status
    r._content = body  # noqa: SLF001 — the documented way to build a Response by hand
    r.url = call.url
    r.encoding = "utf-8"
    r.headers["Content-Type"] = f"{content_type};charset=utf-8"
    r.reason = {200: "OK", 404: "Not Found", 429: "Too Many Requests", 500: "Internal Server Error"}.get(status, "")
    r.request = requests.Request(call.method, call.url).prepare()
    return r


def reset_yfinance_state() -> None:
    """Forget yfinance's process-wide cookie, crumb and memoised responses (test isolation)."""
    from yfinance.data import YfData

    data = YfData()
    with data._cookie_lock:  # noqa: SLF001
        data._cookie = None  # noqa: SLF001
        data._crumb = None  # noqa: SLF001
        data._cookie_strategy = "basic"  # noqa: SLF001
    clear = getattr(YfData.cache_get, "cache_clear", None)
    if clear is not None:
        clear()
