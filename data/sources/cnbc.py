"""CNBC's public quote service: JGB benchmark yields while Tokyo trades (exchange quotes, not the
MOF fixing, which is published the next business day at 00:30 JST).

Two public shapes, as many open projects read them:

- quotes, all symbols in one call (`symbols=JP2Y-JP|JP10Y-JP|…`):
  `{"FormattedQuoteResult": {"FormattedQuote": [{"symbol": "JP30Y-JP", "code": 0, "last": "3.765%",
  "change": "+0.203", "change_pct": "+5.70%", "previous_day_closing": "3.562%",
  "last_time": "2026-01-20T01:00:00.000-0500", "curmktstatus": "REG_MKT", …}]}}` — one symbol
  may come back as a dict instead of a list; an unknown symbol carries a non-zero `code`;
- intraday bars of one symbol (`charts/1D.json`, `5D.json`):
  `{"barData": {"priceBars": [{"close": "3.57", "tradeTime": "20260119190000" (US Eastern),
  "tradeTimeinMills": "1768867200000", …}]}}`.

Steps as every source: build the requests → fetch (the only network step: `http_get`, browser-like
User-Agent, explicit timeout; 403/429 map onto FetchError/RateLimited and the collector backs off)
→ parse (pure). A whole answer that is not this JSON (an HTML error page, another document) is
MalformedPayload and nothing of it is stored; one unusable quote or bar is a rejected row, counted,
and the others go on. Values are yields in percent, stamped at the quote's own time in UTC.
"""
from __future__ import annotations

import datetime as dt
import json
import math
from typing import Any, Sequence
from zoneinfo import ZoneInfo

import pandas as pd

from data.frame import add_rejects, empty_frame
from data.sources.base import DEFAULT_TIMEOUT, Request, http_get
from errors import EmptyPayload, MalformedPayload
from universe import Series

__all__ = ["CnbcSource", "QUOTE_URL", "QUOTE_PARAMS", "BARS_URL", "cnbc_number", "cnbc_time",
           "parse_quotes", "parse_bars"]

QUOTE_URL = "https://quote.cnbc.com/quote-html-webservice/restQuote/symbolType/symbol"
QUOTE_PARAMS = {"requestMethod": "itv", "noform": "1", "partnerId": "2", "fund": "1", "exthrs": "1",
                "output": "json"}
BARS_URL = "https://ts-api.cnbc.com/harmony/app/charts/{range}.json"
BAR_ZONE = ZoneInfo("America/New_York")      # `tradeTime` is US Eastern wall time
# What CNBC prints for "no value" and for "no change".
_BLANK = {"", "-", "--", "N/A", "NA", "n/a", "null", "None"}
_UNCHANGED = {"UNCH", "unch", "Unch"}


def cnbc_number(text: Any) -> float | None:
    """'4.138%' → 4.138, '1,234.50' → 1234.5, '+0.203' → 0.203, 'UNCH' → 0.0; blank → None.
    Anything else (a word, NaN, infinity) is None: the caller rejects that quote."""
    if isinstance(text, bool):
        return None
    if isinstance(text, (int, float)):
        v = float(text)
        return v if math.isfinite(v) else None
    if not isinstance(text, str):
        return None
    s = text.strip()
    if s in _BLANK:
        return None
    if s in _UNCHANGED:
        return 0.0
    s = s.replace(",", "").rstrip("%").strip()
    try:
        v = float(s)
    except ValueError:
        return None
    return v if math.isfinite(v) else None


def cnbc_time(text: Any) -> pd.Timestamp | None:
    """A quote's `last_time` ('2026-01-20T01:00:00.000-0500', with or without the milliseconds,
    'Z' or '+09:00' also read) → a UTC instant; None when it is missing or has no offset."""
    if not isinstance(text, str) or not text.strip():
        return None
    s = text.strip().replace("Z", "+0000")
    for fmt in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z"):
        try:
            t = dt.datetime.strptime(s, fmt)
        except ValueError:
            continue
        return pd.Timestamp(t).tz_convert("UTC")
    return None


def _bar_time(bar: dict) -> pd.Timestamp | None:
    """`tradeTime` (YYYYmmddHHMMSS, US Eastern) → UTC; `tradeTimeinMills` (epoch ms) when the
    former is missing. An Eastern time that does not exist (the spring-forward hour) is None."""
    raw = bar.get("tradeTime")
    if isinstance(raw, (str, int)) and len(str(raw)) == 14 and str(raw).isdigit():
        try:
            local = dt.datetime.strptime(str(raw), "%Y%m%d%H%M%S")
        except ValueError:
            return None
        t = pd.Timestamp(local).tz_localize(BAR_ZONE, nonexistent="NaT", ambiguous=True)
        return None if pd.isna(t) else t.tz_convert("UTC")
    ms = cnbc_number(bar.get("tradeTimeinMills"))
    if ms is None or ms <= 0:
        return None
    return pd.Timestamp(int(ms), unit="ms", tz="UTC")


def _document(raw: bytes | str, what: str) -> Any:
    """The JSON document, or MalformedPayload naming what came instead (an HTML page, text)."""
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, (bytes, bytearray)) else str(raw)
    head = text.lstrip()[:200]
    if not head:
        raise EmptyPayload(f"CNBC {what}: empty body")
    if head.startswith("<"):
        title = head.split("<title>", 1)[1].split("<", 1)[0].strip() if "<title>" in head.lower() else ""
        raise MalformedPayload(f"CNBC {what}: an HTML page, not JSON" + (f" ({title})" if title else ""))
    try:
        return json.loads(text)
    except ValueError as exc:
        raise MalformedPayload(f"CNBC {what}: not JSON ({exc.msg} at {exc.pos})") from None


def _frame(rows: list[tuple[str, pd.Timestamp, float]]) -> pd.DataFrame:
    if not rows:
        return empty_frame()
    ids, ts, values = zip(*rows)
    out = pd.DataFrame({"series_id": list(ids), "freq": "I",
                        "ts": pd.DatetimeIndex(list(ts)).as_unit("ns"), "value": list(values)})
    return out.sort_values(["series_id", "ts"], ignore_index=True)


def parse_quotes(raw: bytes | str, series: Sequence[Series]) -> pd.DataFrame:
    """The batched quote answer → one intraday row per asked symbol with a usable quote."""
    doc = _document(raw, "quotes")
    result = doc.get("FormattedQuoteResult") if isinstance(doc, dict) else None
    if not isinstance(result, dict) or "FormattedQuote" not in result:
        raise MalformedPayload("CNBC quotes: no FormattedQuoteResult.FormattedQuote in the answer")
    quotes = result["FormattedQuote"]
    if isinstance(quotes, dict):          # one symbol asked: a dict instead of a list
        quotes = [quotes]
    if quotes is None:
        quotes = []
    if not isinstance(quotes, list):
        raise MalformedPayload(f"CNBC quotes: FormattedQuote is a {type(quotes).__name__}, not a list")
    by_symbol = {s.symbol_for("cnbc"): s for s in series if s.symbol_for("cnbc")}
    rows, rejected, seen = [], [], set()
    for q in quotes:
        if not isinstance(q, dict):
            rejected.append(f"a quote that is a {type(q).__name__}, not an object")
            continue
        sym = q.get("symbol")
        s = by_symbol.get(sym)
        if s is None:
            rejected.append(f"{sym!r}: not asked for")
            continue
        seen.add(sym)
        code = q.get("code", 0)
        if str(code).strip() not in ("0", ""):
            rejected.append(f"{sym}: unknown to the quote service (code {code})")
            continue
        value = cnbc_number(q.get("last"))
        if value is None:
            rejected.append(f"{sym}: last {q.get('last')!r} is not a number")
            continue
        ts = cnbc_time(q.get("last_time"))
        if ts is None:
            rejected.append(f"{sym}: last_time {q.get('last_time')!r} is not a time with an offset")
            continue
        rows.append((s.id, ts, value))
    rejected += [f"{sym}: no quote in the answer" for sym in by_symbol if sym not in seen]
    return add_rejects(_frame(rows), rejected)


def parse_bars(raw: bytes | str, series: Series) -> pd.DataFrame:
    """One symbol's intraday bars → rows at each bar's time; a bar without a close is skipped."""
    doc = _document(raw, "bars")
    bar_data = doc.get("barData") if isinstance(doc, dict) else None
    if not isinstance(bar_data, dict):
        raise MalformedPayload("CNBC bars: no barData in the answer")
    bars = bar_data.get("priceBars") or []
    if not isinstance(bars, list):
        raise MalformedPayload(f"CNBC bars: priceBars is a {type(bars).__name__}, not a list")
    rows, rejected = [], []
    for b in bars:
        if not isinstance(b, dict):
            rejected.append(f"{series.id}: a bar that is a {type(b).__name__}")
            continue
        value = cnbc_number(b.get("close"))
        ts = _bar_time(b)
        if value is None or ts is None:
            if b.get("close") not in (None, ""):      # an empty bar (no trade in it) is no error
                rejected.append(f"{series.id}: bar {b.get('tradeTime')!r} close {b.get('close')!r} unusable")
            continue
        rows.append((series.id, ts, value))
    frame = _frame(rows)
    if len(frame):
        frame = frame.drop_duplicates(["series_id", "ts"], keep="last", ignore_index=True)
    return add_rejects(frame, rejected)


class CnbcSource:
    """Every CNBC series of the universe: one batched quote call per cycle; on a backfill (or
    after a gap of more than a day) each symbol's intraday bars too (5 days, else 1)."""

    name = "cnbc"

    def build_requests(self, series: Sequence[Series], *, since: dt.date | dt.datetime | None,
                       now: dt.datetime) -> list[Request]:
        mine = tuple(s for s in series if s.symbol_for("cnbc"))
        if not mine:
            return []
        reqs: list[Request] = []
        if since is None or pd.Timestamp(now) - _as_utc(since) > pd.Timedelta(hours=20):
            span = "5D" if since is None or pd.Timestamp(now) - _as_utc(since) > pd.Timedelta(days=1) else "1D"
            reqs += [Request(source=self.name, series=(s,), url=BARS_URL.format(range=span),
                             params={"symbol": s.symbol_for("cnbc")}, meta={"kind": "bars", "range": span})
                     for s in mine]
        reqs.append(Request(source=self.name, series=mine, url=QUOTE_URL,
                            params={"symbols": "|".join(s.symbol_for("cnbc") for s in mine), **QUOTE_PARAMS},
                            meta={"kind": "quotes"}))
        return reqs

    def fetch(self, request: Request, *, session: Any, timeout: float = DEFAULT_TIMEOUT) -> bytes:
        return http_get(session, request.url, params=request.params or None, timeout=timeout)

    def parse(self, raw: bytes, request: Request) -> pd.DataFrame:
        if request.meta.get("kind") == "bars":
            return parse_bars(raw, request.series[0])
        return parse_quotes(raw, request.series)


def _as_utc(t: dt.date | dt.datetime) -> pd.Timestamp:
    ts = pd.Timestamp(t)
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
