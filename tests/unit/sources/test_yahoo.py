"""YahooSource through yfinance 1.7's own parser, offline (tests/yahoo_fake.py), on real data.

Real inputs: the recorded chart payloads in ../shared/data/market/yahoo_payloads/ and chart
payloads the fake builds from the real daily exports (US10Y.csv = ^TNX, fx/USDJPY.csv = JPY=X,
ust_prices/tlt.csv, ust_prices/ZN=F.csv). Expected numbers are read from those same files.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import json
import threading
import time

import numpy as np
import pandas as pd
import pytest
import yfinance as yf

from data.frame import rejects_of, daily_close_ts, validate_frame
from data.sources.base import Request
from data.sources.yahoo import (
    YIELD_INDEX_SYMBOLS, YahooDownload, YahooSource, parse_yahoo_csv_export,
    parse_yahoo_prices_json, unscale_yield_index, yahoo_ticker,
)
from errors import EmptyPayload, FetchError, MalformedPayload, RateLimited
from universe import Fallback, load_universe
from tests.yahoo_fake import (
    NOT_FOUND, FakeYahooSession, currency_meta, etf_meta, future_meta, index_meta, load_chart_payload,
    read_daily_csv, reset_yfinance_state,
)

U = load_universe()
TNX, JPY, TLT, ZN = U.get("ust_10y_yh"), U.get("usdjpy"), U.get("tlt"), U.get("zn_f")
NOW = dt.datetime(2026, 11, 24, 14, 0, tzinfo=dt.timezone.utc)


@pytest.fixture(autouse=True)
def _fresh_yfinance():
    """yfinance keeps cookie/crumb and memoised answers process-wide: start each test clean."""
    reset_yfinance_state()
    yield
    reset_yfinance_state()


@pytest.fixture
def fake(market_dir) -> FakeYahooSession:
    f = FakeYahooSession()
    f.serve_daily_csv("^TNX", market_dir / "ust/US10Y.csv", index_meta("^TNX"))
    f.serve_daily_csv("JPY=X", market_dir / "fx/USDJPY.csv", currency_meta("JPY=X", "JPY", "USD/JPY"))
    f.serve_daily_csv("TLT", market_dir / "ust_prices/tlt.csv", etf_meta("TLT"), bar_time="09:30")
    f.serve_daily_csv("ZN=F", market_dir / "ust_prices/ZN=F.csv", future_meta("ZN=F"))
    return f


@pytest.fixture
def downloads(monkeypatch) -> list[dict]:
    """Every yf.download call our code makes (tickers + kwargs), still running the real one."""
    calls: list[dict] = []
    real = yf.download

    def spy(tickers, **kw):
        calls.append({"tickers": list(tickers), **kw})
        return real(tickers, **kw)

    monkeypatch.setattr(yf, "download", spy)
    return calls


def daily_request(series, start="2024-07-29", end="2024-08-10") -> Request:
    ss = tuple(series)
    return Request("yahoo", ss, meta={"kind": "daily", "freq": "D", "interval": "1d", "period": None,
                                      "tickers": tuple(sorted(yahoo_ticker(s) for s in ss)),
                                      "start": start, "end": end})


def intraday_request(series, interval="5m", period="1d") -> Request:
    ss = tuple(series)
    return Request("yahoo", ss, meta={"kind": "intraday", "freq": "I", "interval": interval, "period": period,
                                      "tickers": tuple(sorted(yahoo_ticker(s) for s in ss)),
                                      "start": None, "end": None})


def csv_close(path, day: str) -> float:
    return float(read_daily_csv(path).loc[day, "Close"])


def csv_next_open(path, day: str) -> float:
    """USD/JPY's close of record for `day`: the Open of the file's next row (24:00 London)."""
    d = read_daily_csv(path)
    i = d.index.get_loc(day)
    return float(d.iloc[i + 1]["Open"])


def value_at(frame: pd.DataFrame, sid: str, ts: pd.Timestamp) -> float:
    hit = frame[(frame.series_id == sid) & (frame.ts == ts)]
    assert len(hit) == 1, f"{sid} at {ts}: {len(hit)} rows"
    return float(hit.value.iloc[0])


def close_ts(series, day: str) -> pd.Timestamp:
    return daily_close_ts([day], series.timezone, series.close)[0]


# =========================================================================== build_requests

def test_one_daily_and_one_intraday_request_cover_every_yahoo_series():
    src = YahooSource()
    yahoo = U.for_source("yahoo")
    reqs = src.build_requests(yahoo, since=None, now=NOW)
    assert [r.meta["kind"] for r in reqs] == ["daily", "intraday"]
    daily, intra = reqs
    assert set(daily.meta["tickers"]) == {s.symbol for s in yahoo} and len(daily.meta["tickers"]) == 18
    assert daily.meta["interval"] == "1d" and daily.meta["start"] == "2016-11-24" and daily.meta["end"] is None
    assert set(intra.meta["tickers"]) == {s.symbol for s in yahoo if s.intraday}
    # 1m bars: Yahoo keeps ~8 days and serves 7 per request.
    assert intra.meta["interval"] == "1m" and intra.meta["period"] == "7d"
    assert all(r.source == "yahoo" for r in reqs)


def test_backfill_and_incremental_windows():
    yahoo = U.for_source("yahoo")
    reqs = YahooSource(backfill_years=3, interval="5m").build_requests(yahoo, since=None, now=NOW)
    assert reqs[0].meta["start"] == "2023-11-24" and reqs[1].meta["period"] == "60d"
    inc = YahooSource().build_requests(yahoo, since=dt.date(2026, 11, 17), now=NOW)
    assert inc[0].meta["start"] == "2026-11-12"           # since − a few days: restatements
    assert inc[1].meta["period"] == "1d"                  # a daily cursor: today's bars only
    gap = YahooSource().build_requests(yahoo, since=NOW - dt.timedelta(hours=60), now=NOW)
    assert gap[1].meta["period"] == "3d"                  # an exact cursor: cover the gap
    long_gap = YahooSource().build_requests(yahoo, since=NOW - dt.timedelta(days=30), now=NOW)
    assert long_gap[1].meta["period"] == "7d"             # …up to what Yahoo keeps for 1m


def test_no_yahoo_series_no_request_and_fallbacks_join_the_daily_batch():
    assert YahooSource().build_requests([U.get("jgb_10y")], since=None, now=NOW) == []
    ust10 = dataclasses.replace(U.get("ust_10y"), fallback=Fallback("yahoo", "^TNX"))
    reqs = YahooSource().build_requests([ust10, JPY], since=None, now=NOW)
    assert reqs[0].meta["tickers"] == ("JPY=X", "^TNX")
    assert reqs[1].meta["tickers"] == ("JPY=X",)          # intraday only for Yahoo's own series


def test_bad_interval_is_refused():
    with pytest.raises(ValueError):
        YahooSource(interval="1d")


# =========================================================================== fetch + parse, real data

def test_daily_batch_one_download_every_ticker_real_values(fake, downloads, market_dir):
    src = YahooSource()
    req = daily_request([TNX, JPY, TLT, ZN])
    raw = src.fetch(req, session=fake, timeout=5)
    assert isinstance(raw, YahooDownload) and raw.errors == {}
    frame = src.parse(raw, req)

    # ONE yf.download for the whole batch, with the settings we promise.
    assert len(downloads) == 1
    call = downloads[0]
    assert sorted(call["tickers"]) == ["JPY=X", "TLT", "ZN=F", "^TNX"]
    assert call["threads"] is False and call["progress"] is False and call["group_by"] == "column"
    assert call["session"] is fake and call["timeout"] == 5 and call["interval"] == "1d"
    # yfinance itself asks one chart per ticker, `^` quoted as %5E, our window as period1/period2.
    data_calls = fake.chart_calls(data_only=True)
    assert sorted(c.ticker for c in data_calls) == ["JPY=X", "TLT", "ZN=F", "^TNX"]
    assert any("/chart/%5ETNX?" in c.url for c in data_calls)
    assert all("period1" in c.params and c.params["interval"] == "1d" for c in data_calls)
    assert fake.unexpected == []

    # 10 trading days for each (2024-07-29 … 08-09); USD/JPY's newest day has no close of record
    # until the next London day opens.
    assert frame.groupby("series_id").size().to_dict() == {"ust_10y_yh": 10, "usdjpy": 9, "tlt": 10, "zn_f": 10}
    # ^TNX in percent, not ×10, equal to the export, stamped 15:00 Chicago.
    tnx = value_at(frame, "ust_10y_yh", close_ts(TNX, "2024-08-05"))
    assert tnx == pytest.approx(csv_close(market_dir / "ust/US10Y.csv", "2024-08-05"), abs=1e-9)
    assert 3.0 < tnx < 4.5
    assert close_ts(TNX, "2024-08-05") == pd.Timestamp("2024-08-05 20:00", tz="UTC")
    # USD/JPY on the carry-unwind day: its close of record is the next bar's Open (the price at
    # 24:00 London), not the stale Close (145.58 = that day's own open).
    jpy = value_at(frame, "usdjpy", close_ts(JPY, "2024-08-05"))
    assert jpy == pytest.approx(csv_next_open(market_dir / "fx/USDJPY.csv", "2024-08-05"), abs=1e-9)
    assert close_ts(JPY, "2024-08-05") == pd.Timestamp("2024-08-05 23:00", tz="UTC")   # BST midnight
    assert value_at(frame, "tlt", close_ts(TLT, "2024-08-02")) == pytest.approx(
        csv_close(market_dir / "ust_prices/tlt.csv", "2024-08-02"), abs=1e-9)
    assert value_at(frame, "zn_f", close_ts(ZN, "2024-08-09")) == pytest.approx(
        csv_close(market_dir / "ust_prices/ZN=F.csv", "2024-08-09"), abs=1e-9)
    assert frame.equals(validate_frame(frame))


def test_a_whole_cycle_is_one_download_per_request(fake, downloads, market_dir):
    """build_requests → fetch → parse for every Yahoo series of the universe: two yf.download
    calls (daily, intraday), each batching all tickers; symbols Yahoo lacks are just absent."""
    src = YahooSource(interval="5m")
    yahoo = U.for_source("yahoo")
    daily, intra = src.build_requests(yahoo, since=None, now=NOW)
    frame = src.parse(src.fetch(daily, session=fake, timeout=5), daily)
    # The 14 tickers the fake does not know 404 (as unknown symbols do) and are absent; JPY=X
    # also feeds the day's High and Low.
    assert set(frame.series_id) == {"ust_10y_yh", "usdjpy", "usdjpy_high", "usdjpy_low", "tlt", "zn_f"}
    # 10-year backfill from period1 = 2016-11-24: everything the files hold since then.
    tnx = frame[frame.series_id == "ust_10y_yh"]
    assert tnx.ts.min() == close_ts(TNX, "2016-11-25")  # the 24th was Thanksgiving
    assert tnx.ts.max() == close_ts(TNX, "2026-06-29")
    assert len(downloads) == 1 and len(downloads[0]["tickers"]) == 18
    assert {c.ticker for c in fake.chart_calls()} == {s.symbol.upper() for s in yahoo}

    fake.serve_payload("^TNX", market_dir / "yahoo_payloads/yahoo_chart_tnx_5m_1d.json")
    fake.reset_calls()
    bars = src.parse(src.fetch(intra, session=fake, timeout=5), intra)
    assert len(downloads) == 2 and downloads[1]["period"] == "60d" and downloads[1]["interval"] == "5m"
    assert sorted(downloads[1]["tickers"]) == sorted(intra.meta["tickers"])
    assert len(bars) == 15 and set(bars.series_id) == {"ust_10y_yh"}
    data_calls = fake.chart_calls(data_only=True)
    assert all(c.params["range"] == "60d" and c.params["interval"] == "5m" for c in data_calls)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # yfinance's inplace= under pandas 3
def test_fake_honours_range_like_yahoo(fake, market_dir):
    """range=5d on a built payload: the file's last 5 calendar days (its end is 'today')."""
    df = yf.download(["JPY=X"], period="5d", interval="1d", progress=False, threads=False, session=fake)
    tail = read_daily_csv(market_dir / "fx/USDJPY.csv").loc["2026-06-25":]
    assert [d.date() for d in df.index] == [d.date() for d in tail.index]
    assert df[("Close", "JPY=X")].to_numpy() == pytest.approx(tail["Close"].to_numpy())


def test_x10_guard_on_the_tnx_family(market_dir):
    f = FakeYahooSession().serve_daily_csv("^TNX", market_dir / "ust/US10Y.csv", index_meta("^TNX"), scale=10)
    src = YahooSource()
    req = daily_request([TNX], start="2022-12-19", end="2022-12-24")
    raw = src.fetch(req, session=f, timeout=5)
    assert raw.frame[("Close", "^TNX")].max() > 20          # Yahoo really sent ×10
    frame = src.parse(raw, req)
    want = read_daily_csv(market_dir / "ust/US10Y.csv").loc["2022-12-19":"2022-12-23", "Close"]
    assert frame["value"].to_numpy() == pytest.approx(want.to_numpy(), abs=1e-9)
    assert set(YIELD_INDEX_SYMBOLS) == {"^IRX", "^FVX", "^TNX", "^TYX"}
    # Only the yield indices: a T-note future at 112 is a price, untouched.
    assert unscale_yield_index("ZN=F", np.array([112.9375]))[0] == 112.9375
    assert list(unscale_yield_index("^TYX", np.array([48.1, 4.81]))) == pytest.approx([4.81, 4.81])


def test_tnx_5m_payload_gives_15_utc_bars_in_percent(market_dir, downloads):
    path = market_dir / "yahoo_payloads/yahoo_chart_tnx_5m_1d.json"
    f = FakeYahooSession().serve_payload("^TNX", path)
    src = YahooSource(interval="5m")
    req = intraday_request([TNX], interval="5m", period="1d")
    frame = src.parse(src.fetch(req, session=f, timeout=5), req)
    assert len(downloads) == 1 and downloads[0]["period"] == "1d" and downloads[0]["interval"] == "5m"
    assert len(frame) == 15 and set(frame.freq) == {"I"} and set(frame.series_id) == {"ust_10y_yh"}
    assert str(frame.ts.dt.tz) == "UTC"
    # 12:45–13:55 CST = 18:45–19:55 UTC on 2026-02-02.
    assert frame.ts.iloc[0] == pd.Timestamp("2026-02-02 18:45", tz="UTC")
    assert frame.ts.iloc[-1] == pd.Timestamp("2026-02-02 19:55", tz="UTC")
    assert (frame.ts.diff().dropna() == pd.Timedelta(minutes=5)).all()
    closes = load_chart_payload(path)["chart"]["result"][0]["indicators"]["quote"][0]["close"]
    assert frame.value.to_numpy() == pytest.approx(np.array(closes, dtype=float))
    assert frame.value.between(4.2, 4.3).all()


def test_recorded_currency_wrapper_payload(market_dir):
    """The EURUSD=X recording (payload at response.bodyJson): 3 daily CURRENCY bars."""
    eur = dataclasses.replace(JPY, id="eurusd", symbol="EURUSD=X", label="EUR/USD")
    f = FakeYahooSession().serve_payload("EURUSD=X", market_dir / "yahoo_payloads/chart-EURUSD=X-2020-01-01-to-2020-01-03.json")
    src = YahooSource()
    req = daily_request([eur], start="2019-12-30", end="2020-01-06")
    frame = src.parse(src.fetch(req, session=f, timeout=5), req)
    # FX: the close of record of each day is the next bar's open, stamped at 24:00 London.
    assert list(frame.ts) == list(daily_close_ts(["2020-01-01", "2020-01-02"], "Europe/London", "24:00"))
    assert frame.value.to_numpy() == pytest.approx([1.1218937635421753, 1.1170812845230103])


# =========================================================================== failures

def test_a_ticker_that_404s_is_absent_others_present(fake):
    fake.fail("ZN=F", status=404)
    src = YahooSource()
    req = daily_request([TNX, JPY, TLT, ZN])
    raw = src.fetch(req, session=fake, timeout=5)
    assert raw.failed == ("ZN=F",) and "ZN=F" in raw.errors
    frame = src.parse(raw, req)
    assert set(frame.series_id) == {"ust_10y_yh", "usdjpy", "tlt"}


def test_all_failing_is_empty_payload_naming_the_tickers(fake):
    for t in ("^TNX", "JPY=X"):
        fake.fail(t, status=404)
    with pytest.raises(EmptyPayload) as ei:
        YahooSource().fetch(daily_request([TNX, JPY]), session=fake, timeout=5)
    assert "^TNX" in str(ei.value) and "JPY=X" in str(ei.value)


def test_yahoo_empty_result_with_200_is_empty_payload(fake):
    fake.serve_payload("JPY=X", {"chart": {"result": None, "error": {"code": "Not Found",
                                                                      "description": "No data found, symbol may be delisted"}}})
    # Depending on whether JPY=X's timezone is already cached, yfinance reports Yahoo's
    # "No data found" or its quoteSummary fallback's 404: either way, no data, not a failure.
    with pytest.raises(EmptyPayload, match=r"JPY=X: .*(No data found|404)"):
        YahooSource().fetch(daily_request([JPY]), session=fake, timeout=5)


def test_weekend_1m_payload_is_empty_payload(market_dir):
    f = FakeYahooSession().serve_payload(
        "^TNX", market_dir / "yahoo_payloads/chart-AAPL-2025-02-01-to-2025-02-02-includePrePost-false-interval-1m.json")
    with pytest.raises(EmptyPayload, match="no price data"):
        YahooSource().fetch(intraday_request([TNX], interval="1m"), session=f, timeout=5)


def test_429_is_rate_limited(fake):
    """yfinance raises YFRateLimitError per ticker but download() only logs it: we surface it."""
    fake.fail("^TNX", status=429)
    fake.fail("JPY=X", status=429)
    with pytest.raises(RateLimited) as ei:
        YahooSource().fetch(daily_request([TNX, JPY]), session=fake, timeout=5)
    assert ei.value.status == 429 and "^TNX" in str(ei.value)
    # yfinance retried once with the other cookie strategy before giving up.
    assert len(fake.chart_calls("^TNX")) >= 2


def test_429_on_part_of_the_batch_backs_off_the_whole_cycle(fake):
    fake.fail("ZN=F", status=429, only_data=True)
    with pytest.raises(RateLimited, match="ZN=F"):
        YahooSource().fetch(daily_request([TNX, JPY, ZN]), session=fake, timeout=5)


def test_timeout_is_fetch_error_not_possibly_delisted(fake):
    """Left alone, yfinance reports a read timeout as 'possibly delisted; no price data found';
    fetch shows yfinance's exceptions for the call so the real cause reaches the error."""
    fake.fail("^TNX", timeout=True, only_data=True)
    fake.fail("JPY=X", timeout=True)
    hide_before = yf.config.debug.hide_exceptions
    with pytest.raises(FetchError) as ei:
        YahooSource().fetch(daily_request([TNX, JPY]), session=fake, timeout=5)
    assert not isinstance(ei.value, RateLimited)
    assert "ReadTimeout" in str(ei.value) and "^TNX" in str(ei.value)
    assert yf.config.debug.hide_exceptions == hide_before   # global config restored


def test_timeout_on_one_ticker_keeps_the_others(fake):
    fake.fail("TLT", timeout=True, only_data=True)
    src = YahooSource()
    req = daily_request([TNX, TLT])
    raw = src.fetch(req, session=fake, timeout=5)
    assert "ReadTimeout" in raw.errors["TLT"]
    assert set(src.parse(raw, req).series_id) == {"ust_10y_yh"}


def test_connection_refused_is_fetch_error(fake):
    fake.fail("JPY=X", connection_error=True)
    with pytest.raises(FetchError, match="ConnectionError"):
        YahooSource().fetch(daily_request([JPY]), session=fake, timeout=5)


def test_truncated_body_is_fetch_error(fake):
    fake.fail("JPY=X", body=b'{"chart": {"result": [{"meta": {"currency": "JPY", "sym', only_data=True)
    with pytest.raises(FetchError, match="JSONDecodeError"):
        YahooSource().fetch(daily_request([JPY]), session=fake, timeout=5)


def test_http_500_outage_page_is_fetch_error(fake):
    fake.fail("JPY=X", status=500, only_data=True)
    with pytest.raises(FetchError, match="CURRENTLY DOWN"):
        YahooSource().fetch(daily_request([JPY]), session=fake, timeout=5)


def test_unknown_ticker_answers_like_yahoo():
    f = FakeYahooSession()
    r = f.get("https://query2.finance.yahoo.com/v8/finance/chart/NOPE", params={"range": "1d", "interval": "1d"})
    assert r.status_code == 404 and r.json() == NOT_FOUND
    assert f.get("https://query1.finance.yahoo.com/v1/test/getcrumb").text


# =========================================================================== repeated cycles, lock

def test_repeated_cycles_fetch_fresh_data(market_dir):
    """A window that ended >30 min ago is memoised by yfinance (YfData.cache_get); we clear it."""
    path = market_dir / "ust/US10Y.csv"
    f = FakeYahooSession().serve_daily_csv("^TNX", path, index_meta("^TNX"))
    src = YahooSource()
    req = daily_request([TNX])
    first = src.parse(src.fetch(req, session=f, timeout=5), req)
    # Yahoo restates: the same request must now see the new numbers.
    f.serve_daily_csv("^TNX", path, index_meta("^TNX"), scale=0.5)
    second = src.parse(src.fetch(req, session=f, timeout=5), req)
    assert len(f.chart_calls("^TNX", data_only=True)) == 2
    assert second.value.to_numpy() == pytest.approx(first.value.to_numpy() * 0.5)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_yfinance_really_memoises_identical_past_windows(market_dir):
    """Why the clearing above is needed: two identical yf.download calls, one HTTP request."""
    f = FakeYahooSession().serve_daily_csv("^TNX", market_dir / "ust/US10Y.csv", index_meta("^TNX"))
    kw = dict(start="2024-07-29", end="2024-08-10", interval="1d", progress=False, threads=False, session=f)
    yf.download(["^TNX"], **kw)
    yf.download(["^TNX"], **kw)
    assert len(f.chart_calls("^TNX", data_only=True)) == 1


def test_downloads_never_overlap(fake, monkeypatch):
    """yf.download is process-global state: fetches from two threads run one after the other."""
    real = yf.download
    active, peak = [0], [0]
    guard = threading.Lock()

    def slow(tickers, **kw):
        with guard:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        time.sleep(0.05)
        try:
            return real(tickers, **kw)
        finally:
            with guard:
                active[0] -= 1

    monkeypatch.setattr(yf, "download", slow)
    src = YahooSource()
    errors: list[BaseException] = []

    def run(series):
        try:
            src.fetch(daily_request([series]), session=fake, timeout=5)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(s,)) for s in (TNX, JPY, TLT)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and peak[0] == 1


# =========================================================================== parse (pure)

def _mi(data: dict[tuple[str, str], list], index) -> pd.DataFrame:
    df = pd.DataFrame(data, index=index)
    df.columns = pd.MultiIndex.from_tuples(df.columns, names=["Price", "Ticker"])
    return df


DAYS = pd.DatetimeIndex(["2024-08-01", "2024-08-02", "2024-08-05"], name="Date")


def test_parse_multiindex_drops_nan_rows_and_absent_tickers():
    df = _mi({("Close", "^TNX"): [3.98, np.nan, 3.78], ("Close", "ZN=F"): [np.nan, np.nan, np.nan],
              ("Open", "^TNX"): [4.0, np.nan, 3.8]}, DAYS)
    req = daily_request([TNX, ZN])
    out = YahooSource().parse(df, req)
    assert list(out.series_id) == ["ust_10y_yh", "ust_10y_yh"]
    assert list(out.ts) == list(daily_close_ts(["2024-08-01", "2024-08-05"], "America/Chicago", "15:00"))


def test_parse_single_ticker_flat_and_ticker_first_orientation():
    flat = pd.DataFrame({"Close": [145.6, 146.1], "Open": [145.5, 146.0]}, index=DAYS[:2])
    out = YahooSource().parse(flat, daily_request([JPY]))
    assert out.value.tolist() == [146.0]                 # day 1's close of record = day 2's open
    by_ticker = _mi({("JPY=X", "Close"): [145.6, 146.1], ("JPY=X", "Open"): [145.5, 146.0]}, DAYS[:2])
    assert YahooSource().parse(by_ticker, daily_request([JPY])).value.tolist() == [146.0]
    tnx = YahooSource().parse(pd.DataFrame({"Close": [4.1, 4.2]}, index=DAYS[:2]), daily_request([TNX]))
    assert tnx.value.tolist() == [4.1, 4.2]              # other series: value = Close


def test_parse_one_ticker_feeds_every_series_that_reads_it():
    ust10 = dataclasses.replace(U.get("ust_10y"), fallback=Fallback("yahoo", "^TNX"))
    df = _mi({("Close", "^TNX"): [39.8, 3.9]}, DAYS[:2])
    out = YahooSource().parse(df, daily_request([TNX, ust10]))
    got = out.groupby("series_id").value.apply(list).to_dict()
    assert got == {"ust_10y": pytest.approx([3.98, 3.9]), "ust_10y_yh": pytest.approx([3.98, 3.9])}
    # each series on its own clock: 15:30 New York vs 15:00 Chicago
    assert set(out[out.series_id == "ust_10y"].ts.dt.hour) == {19}
    assert set(out[out.series_id == "ust_10y_yh"].ts.dt.hour) == {20}


def test_parse_unexpected_shapes_are_malformed():
    src, req = YahooSource(), daily_request([TNX, JPY])
    with pytest.raises(MalformedPayload, match="Close"):
        src.parse(_mi({("Open", "^TNX"): [1.0]}, DAYS[:1]), req)
    with pytest.raises(MalformedPayload, match="several tickers"):
        src.parse(pd.DataFrame({"Close": [1.0]}, index=DAYS[:1]), req)
    with pytest.raises(MalformedPayload, match="index"):
        src.parse(pd.DataFrame({"Close": [1.0]}, index=["x"]), daily_request([TNX]))
    with pytest.raises(MalformedPayload, match="non-numeric"):
        src.parse(_mi({("Close", "^TNX"): ["abc"]}, DAYS[:1]), daily_request([TNX]))
    with pytest.raises(MalformedPayload, match="time zone"):
        src.parse(_mi({("Close", "^TNX"): [4.2]}, pd.DatetimeIndex(["2026-02-02 12:45"])),
                  intraday_request([TNX]))
    with pytest.raises(MalformedPayload):
        src.parse("not a frame", req)  # type: ignore[arg-type]
    with pytest.raises(MalformedPayload, match="Open"):      # FX needs the Open (close of record)
        src.parse(_mi({("Close", "JPY=X"): [150.0]}, DAYS[:1]), daily_request([JPY]))
    # An implausible value (1e30, a negative price) is one rejected row, the rest of the batch kept.
    out = src.parse(_mi({("Close", "^TNX"): [4.2, 1e30], ("Close", "JPY=X"): [150.0, 151.0],
                         ("Open", "^TNX"): [4.1, 4.2], ("Open", "JPY=X"): [149.0, -1.0]}, DAYS[:2]), req)
    assert out.value.tolist() == [4.2]
    assert any("plausible range" in r and "ust_10y_yh" in r for r in rejects_of(out))
    assert any("plausible range" in r and "usdjpy" in r for r in rejects_of(out))


def test_parse_nothing_usable_is_empty():
    with pytest.raises(EmptyPayload):
        YahooSource().parse(_mi({("Close", "^TNX"): [np.nan]}, DAYS[:1]), daily_request([TNX]))
    with pytest.raises(EmptyPayload):
        YahooSource().parse(pd.DataFrame(), daily_request([TNX]))


# =========================================================================== backoff

def _read(market_dir, rel: str) -> bytes:
    return (market_dir / rel).read_bytes()


@pytest.mark.parametrize("rel,series_id,rows,first,last", [
    ("ust/US10Y.csv", "ust_10y_yh", 6905, "1999-01-04", "2026-06-29"),
    ("fx/USDJPY.csv", "usdjpy", 7138, "1999-01-01", "2026-06-29"),
    ("fx/usdjpy.csv", "usdjpy", 7676, "1996-10-30", "2026-06-05"),
    ("ust_prices/tlt.csv", "tlt", 6002, "2002-07-30", "2026-06-05"),
    ("ust_prices/ief.csv", "ief", 6002, "2002-07-30", "2026-06-05"),
    ("ust_prices/ZN=F.csv", "zn_f", 6385, "2000-09-21", "2026-02-23"),
])
def test_daily_exports(market_dir, rel, series_id, rows, first, last):
    s = U.get(series_id)
    out = parse_yahoo_csv_export(_read(market_dir, rel), s, freq="D")
    if s.kind == "fx":    # the newest day has no close of record yet (its successor's open)
        rows -= 1
        last = str(read_daily_csv(market_dir / rel).index[-2])[:10]
    assert len(out) == rows and set(out.freq) == {"D"}
    assert out.ts.iloc[0] == close_ts(s, first) and out.ts.iloc[-1] == close_ts(s, last)
    assert out.equals(validate_frame(out, bounds={s.id: s.bounds}))


def test_daily_export_values(market_dir):
    tnx = parse_yahoo_csv_export(_read(market_dir, "ust/US10Y.csv"), TNX)
    assert tnx.value.iloc[0] == pytest.approx(4.677000045776367)          # percent, not ×10
    # 2020-03-18: ^TNX 0.997 → 1.266 (SOURCES.md)
    assert value_at(tnx, "ust_10y_yh", close_ts(TNX, "2020-03-18")) == pytest.approx(1.266, abs=1e-3)
    # Both column orders read the same USD/JPY value.
    a = parse_yahoo_csv_export(_read(market_dir, "fx/USDJPY.csv"), JPY)
    b = parse_yahoo_csv_export(_read(market_dir, "fx/usdjpy.csv"), JPY)
    for day in ("2024-08-05", "2022-12-20", "2013-04-04", "2024-04-29"):
        want = csv_next_open(market_dir / "fx/USDJPY.csv", day)
        assert value_at(a, "usdjpy", close_ts(JPY, day)) == pytest.approx(want, abs=1e-9)
        assert value_at(b, "usdjpy", close_ts(JPY, day)) == pytest.approx(want, abs=0.05)
    # 2024-04-29 (intervention): the yen-buying day closes DOWN from the 26th — the stale Close
    # column says up (158.22 vs 155.60).
    assert value_at(a, "usdjpy", close_ts(JPY, "2024-04-29")) < value_at(a, "usdjpy", close_ts(JPY, "2024-04-26"))
    tlt = parse_yahoo_csv_export(_read(market_dir, "ust_prices/tlt.csv"), TLT)
    assert tlt.value.iloc[0] == pytest.approx(36.526817321777344)        # dividend-adjusted
    zn = parse_yahoo_csv_export(_read(market_dir, "ust_prices/ZN=F.csv"), ZN)
    assert zn.value.iloc[-1] == pytest.approx(113.34375)                 # 113-11/32


@pytest.mark.parametrize("rel,series_id,rows,first_utc,last_utc", [
    # 09:30 EDT = 13:30 UTC; last bar 17:00 EDT (post-market).
    ("ust_prices/tlt_hourly.csv", "tlt", 519, "2026-04-07 13:30", "2026-06-05 21:00"),
    ("ust_prices/ief_hourly.csv", "ief", 504, "2026-04-07 13:30", "2026-06-05 21:00"),
])
def test_hourly_us_exports_are_new_york_time(market_dir, rel, series_id, rows, first_utc, last_utc):
    out = parse_yahoo_csv_export(_read(market_dir, rel), U.get(series_id), freq="I", tz="America/New_York")
    assert len(out) == rows and set(out.freq) == {"I"}
    assert out.ts.iloc[0] == pd.Timestamp(first_utc, tz="UTC")
    assert out.ts.iloc[-1] == pd.Timestamp(last_utc, tz="UTC")


def test_usdjpy_hourly_is_london_time(market_dir):
    """Europe/London, not UTC: the week opens at London midnight (Yahoo's CCY day, as the
    daily bar) and Friday's last hourly bar ends exactly at the 17:00 New York FX close."""
    out = parse_yahoo_csv_export(_read(market_dir, "fx/usdjpy_hourly.csv"), JPY, freq="I", tz="Europe/London")
    assert len(out) == 1034
    assert out.ts.iloc[0] == pd.Timestamp("2026-04-06 21:00", tz="UTC")
    assert out.value.iloc[-1] == pytest.approx(160.29299926757812)
    ts = out.ts
    gaps = ts.diff() > pd.Timedelta(hours=24)
    week_opens, week_closes = ts[gaps], ts.shift(1)[gaps]
    assert len(week_opens) == 8
    london_opens = week_opens.dt.tz_convert("Europe/London")
    # Every week opens at 00:00 London on Monday (one Golden-Week Monday opens later).
    assert (london_opens.dt.day_of_week == 0).all()
    assert (london_opens.dt.hour == 0).sum() == 7
    ny_close_end = (week_closes + pd.Timedelta(hours=1)).dt.tz_convert("America/New_York")
    assert (ny_close_end.dt.day_of_week == 4).all()
    assert (ny_close_end.dt.hour == 17).sum() == 7        # the bar ends at the 17:00 NY close


def test_prices_json(market_dir):
    out = parse_yahoo_prices_json(_read(market_dir, "ust_prices/prices_tlt.json"), TLT)
    assert len(out) == 6055 and set(out.freq) == {"D"}
    assert out.ts.iloc[0] == close_ts(TLT, "2002-07-30") and out.ts.iloc[-1] == close_ts(TLT, "2026-08-21")
    assert out.value.iloc[0] == pytest.approx(36.526817321777344)      # = tlt.csv's first Close
    assert out.value.iloc[-1] == pytest.approx(82.05000305175781)
    csv = parse_yahoo_csv_export(_read(market_dir, "ust_prices/tlt.csv"), TLT)
    both = out.merge(csv, on=["series_id", "freq", "ts"], suffixes=("_json", "_csv"))
    assert len(both) > 5900
    # Same feed, except where a later dividend re-adjusted history between the two snapshots.
    assert (both.value_json - both.value_csv).abs().median() < 0.5


def test_saved_file_errors(market_dir):
    hourly = _read(market_dir, "ust_prices/tlt_hourly.csv")
    with pytest.raises(MalformedPayload, match="time zone"):
        parse_yahoo_csv_export(hourly, TLT, freq="I")
    with pytest.raises(MalformedPayload, match="Time column"):
        parse_yahoo_csv_export(hourly, TLT, freq="D")
    with pytest.raises(MalformedPayload, match="Date/Close"):
        parse_yahoo_csv_export(b"date,value\n2024-01-02,4.0\n", TNX)
    with pytest.raises(MalformedPayload, match="no readable row.*'abc' is not a number"):
        parse_yahoo_csv_export(b"Date,Close\n2024-01-02,abc\n", TNX)
    with pytest.raises(MalformedPayload, match="no readable row.*not a usable date"):
        parse_yahoo_csv_export(b"Date,Close\n02/01/2024,4.0\n", TNX)
    # One bad row among good ones: dropped with its reason, the rest kept (year 9999 too).
    out = parse_yahoo_csv_export(b"Date,Close\n2024-01-02,4.0\n2024-01-03,4.x\n9999-01-04,4.1\n2024-01-05,4.2\n", TNX)
    assert out.value.tolist() == [4.0, 4.2] and len(rejects_of(out)) == 2
    with pytest.raises(EmptyPayload):
        parse_yahoo_csv_export(b"", TNX)
    # Yahoo's null bars are skipped, ×10 slips undone.
    out = parse_yahoo_csv_export(b"Date,Close\n2024-01-02,null\n2024-01-03,39.9\n", TNX)
    assert out.value.tolist() == pytest.approx([3.99])
    with pytest.raises(MalformedPayload, match="holds 'IEF'"):
        parse_yahoo_prices_json(json.dumps({"symbol": "IEF", "prices": [[1027987200, 41.0]]}).encode(), TLT)
    with pytest.raises(MalformedPayload, match="midnight"):
        parse_yahoo_prices_json(json.dumps({"symbol": "TLT", "prices": [[1027987201, 41.0]]}).encode(), TLT)
    with pytest.raises(MalformedPayload, match="not JSON"):
        parse_yahoo_prices_json(b'{"prices": [[1027', TLT)


def test_a_csv_export_cut_inside_a_number_drops_that_row_not_a_close_of_9(market_dir):
    """issue 14: a Yahoo CSV cut inside its last row stored IEF = 9.0. The short row is rejected
    with its reason; every complete row before it is kept."""
    from data.frame import rejects_of
    from data.sources.yahoo import parse_yahoo_csv_export
    from universe import load_universe
    raw = (market_dir / "ust_prices" / "ief.csv").read_bytes()
    lines = raw.rstrip(b"\n").split(b"\n")
    last = lines[-1]
    cut = b",".join(last.split(b",")[:4]) + b"," + last.split(b",")[4][:1]      # …,low,first digit of the close
    bad = b"\n".join(lines[:-1] + [cut])
    s = load_universe().get("ief")
    out = parse_yahoo_csv_export(bad, s)
    full = parse_yahoo_csv_export(raw, s)
    assert len(out) == len(full) - 1 and out["value"].min() > 20
    assert out["value"].iloc[-1] == full["value"].iloc[-2]
    assert any("4 of 6 fields" in r or "5 of 6 fields" in r for r in rejects_of(out)), rejects_of(out)


# =========================================================================== the day's High / Low (issue 12 §2)

def test_high_and_low_series_come_from_the_same_download_as_the_close(fake, downloads, market_dir):
    """usdjpy_high / usdjpy_low read the same JPY=X bars (no extra request) through yfinance's own
    parser: the day's High and Low stamped at that day's 24:00 London, equal to the export's —
    on the 2024-04-29 intervention day, not shifted like the close of record."""
    hi, lo = U.get("usdjpy_high"), U.get("usdjpy_low")
    src = YahooSource()
    assert src.build_requests([JPY, hi, lo], since=None, now=NOW)[0].meta["tickers"] == ("JPY=X",)
    req = dataclasses.replace(daily_request([JPY], start="2024-04-22", end="2024-05-04"), series=(JPY, hi, lo))
    frame = src.parse(src.fetch(req, session=fake, timeout=5), req)
    assert len(downloads) == 1
    d = read_daily_csv(market_dir / "fx/USDJPY.csv")
    days = frame[frame.series_id == "usdjpy_high"].ts
    assert len(days) == 10 and frame.groupby("series_id").size()["usdjpy"] == 9
    at = close_ts(hi, "2024-04-29")
    assert at == close_ts(JPY, "2024-04-29") == pd.Timestamp("2024-04-29 23:00", tz="UTC")
    assert value_at(frame, "usdjpy_high", at) == pytest.approx(float(d.loc["2024-04-29", "High"]), abs=1e-9)
    assert value_at(frame, "usdjpy_low", at) == pytest.approx(float(d.loc["2024-04-29", "Low"]), abs=1e-9)
    assert value_at(frame, "usdjpy_high", at) > 159.5 > 155 > value_at(frame, "usdjpy_low", at)   # the 3.4 % day
    assert frame.equals(validate_frame(frame))


def test_the_intraday_request_never_carries_high_or_low_series():
    reqs = YahooSource().build_requests(U.for_source("yahoo"), since=None, now=NOW)
    intra = next(r for r in reqs if r.meta["kind"] == "intraday")
    assert not any(s.field != "Close" for s in intra.series)
    daily = reqs[0]
    assert {"usdjpy_high", "usdjpy_low"} <= {s.id for s in daily.series}


def test_saved_export_reads_the_field_and_names_a_missing_column(market_dir):
    raw = (market_dir / "fx/USDJPY.csv").read_bytes()
    hi = parse_yahoo_csv_export(raw, U.get("usdjpy_high"))
    d = read_daily_csv(market_dir / "fx/USDJPY.csv")
    assert len(hi) == len(d)                      # every bar has its High (no close-of-record shift)
    assert value_at(hi, "usdjpy_high", close_ts(JPY, "2022-10-21")) == pytest.approx(float(d.loc["2022-10-21", "High"]))
    no_low = b"Date,Close,High,Open,Volume\n2024-01-02,141.0,142.0,140.9,0\n"
    with pytest.raises(MalformedPayload, match="lacks Low"):
        parse_yahoo_csv_export(no_low, U.get("usdjpy_low"))
