"""CNBC quote service (intraday JGB yields): the batched quote answer and the intraday bars in their
public shapes (fixtures under tests/fixtures/cnbc), every failure the issue lists, the request plan
and the fetch step. The JGB 30Y of 2026-01-20 in the fixtures matches the MOF fixing of that day
in the real history file (checked below when ../shared is present)."""
from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest
import requests

from data.frame import COLUMNS, rejects_of, validate_frame
from data.sources.base import USER_AGENT
from data.sources.cnbc import (BARS_URL, QUOTE_PARAMS, QUOTE_URL, CnbcSource, cnbc_number, cnbc_time,
                               parse_bars, parse_quotes)
from errors import EmptyPayload, FetchError, MalformedPayload, RateLimited
from tests.http_fake import FakeSession
from universe import PLAUSIBLE, Series

UTC = dt.timezone.utc
TENORS = {"2y": 2, "5y": 5, "10y": 10, "20y": 20, "30y": 30, "40y": 40}
JGB_X = [Series(id=f"jgb_{k}_x", label=f"JGB {k.upper()} (exchange)", source="cnbc", symbol=f"JP{k.upper()}-JP",
                kind="yield", unit="bp", market="JP", timezone="Asia/Tokyo", close="15:00", group="jgb_intraday",
                intraday=True, tenor_years=float(v)) for k, v in TENORS.items()]
BY_SYMBOL = {s.symbol: s for s in JGB_X}
NOW = dt.datetime(2026, 1, 20, 6, 5, tzinfo=UTC)


def fixture(fixtures_dir, name: str) -> bytes:
    return (fixtures_dir / "cnbc" / name).read_bytes()


def valid(frame: pd.DataFrame) -> pd.DataFrame:
    """Every row a parser returns passes the store's row checks unchanged."""
    clean = validate_frame(frame, known_series={s.id for s in JGB_X}, bounds={s.id: PLAUSIBLE["yield"] for s in JGB_X})
    assert len(clean) == len(frame) and list(frame.columns[:4]) == COLUMNS
    return clean


# ----------------------------------------------------------------------------- numbers, times
@pytest.mark.parametrize("text, value", [("4.138%", 4.138), ("-0.012%", -0.012), ("+0.203", 0.203),
                                         ("1,234.50", 1234.5), (" 3.765 % ", 3.765), ("UNCH", 0.0),
                                         (3.5, 3.5), ("0", 0.0)])
def test_numbers_as_cnbc_prints_them(text, value):
    assert cnbc_number(text) == pytest.approx(value)


@pytest.mark.parametrize("text", ["", "--", "N/A", "abc", "nan", "inf", None, True, [], {"v": 1}])
def test_what_is_not_a_number_is_none(text):
    assert cnbc_number(text) is None


@pytest.mark.parametrize("text, utc", [
    ("2026-07-02T05:04:00.000+0100", "2026-07-02T04:04:00"),
    ("2026-01-20T01:00:00.000-0500", "2026-01-20T06:00:00"),
    ("2026-01-20T15:00:00+09:00", "2026-01-20T06:00:00"),
    ("2026-01-20T06:00:00Z", "2026-01-20T06:00:00"),
])
def test_last_time_with_its_offset_is_a_utc_instant(text, utc):
    assert cnbc_time(text) == pd.Timestamp(utc, tz="UTC")


@pytest.mark.parametrize("text", ["", "2026-01-20T01:00:00.000", "yesterday", None, 1768888800])
def test_last_time_without_an_offset_is_none(text):
    assert cnbc_time(text) is None


# ----------------------------------------------------------------------------- quotes
def test_the_batched_answer_gives_one_row_per_tenor_at_the_quote_time(fixtures_dir):
    frame = valid(parse_quotes(fixture(fixtures_dir, "quotes_jgb_2026-01-20.json"), JGB_X))
    got = dict(zip(frame["series_id"], frame["value"]))
    assert got == pytest.approx({"jgb_2y_x": 1.22, "jgb_5y_x": 1.703, "jgb_10y_x": 2.33, "jgb_20y_x": 3.325,
                                 "jgb_30y_x": 3.765, "jgb_40y_x": 3.901})
    assert set(frame["freq"]) == {"I"}
    assert set(frame["ts"]) == {pd.Timestamp("2026-01-20T06:00:00", tz="UTC")}   # 15:00 Tokyo
    assert rejects_of(frame) == []


def test_one_symbol_comes_back_as_a_dict_and_unch_is_a_value(fixtures_dir):
    frame = valid(parse_quotes(fixture(fixtures_dir, "quotes_one_dict.json"), [BY_SYMBOL["JP2Y-JP"]]))
    assert list(frame["series_id"]) == ["jgb_2y_x"] and frame["value"].iloc[0] == pytest.approx(1.23)
    assert frame["ts"].iloc[0] == pd.Timestamp("2026-01-21T05:35:00", tz="UTC")


def test_an_unknown_symbol_and_an_unusable_quote_are_rejected_rows_the_rest_stored(fixtures_dir):
    asked = [BY_SYMBOL["JP30Y-JP"], BY_SYMBOL["JP10Y-JP"], BY_SYMBOL["JP40Y-JP"],
             Series(id="jgb_99y_x", label="JGB 99Y", source="cnbc", symbol="JP99Y-JP", kind="yield", unit="bp",
                    market="JP", timezone="Asia/Tokyo", close="15:00", group="jgb_intraday")]
    frame = valid(parse_quotes(fixture(fixtures_dir, "quotes_unknown_symbol.json"), asked))
    assert list(frame["series_id"]) == ["jgb_30y_x"]
    why = rejects_of(frame)
    assert any("JP99Y-JP" in r and "code 1" in r for r in why)
    assert any("JP10Y-JP" in r and "not a number" in r for r in why)
    assert any("JP40Y-JP" in r and "no quote" in r for r in why)
    assert len(why) == 3


def test_a_symbol_not_asked_for_is_not_stored(fixtures_dir):
    frame = parse_quotes(fixture(fixtures_dir, "quotes_jgb_2026-01-20.json"), [BY_SYMBOL["JP30Y-JP"]])
    assert list(frame["series_id"]) == ["jgb_30y_x"]
    assert sum("not asked for" in r for r in rejects_of(frame)) == 5


def test_a_quote_without_a_time_is_rejected(fixtures_dir):
    doc = json.loads(fixture(fixtures_dir, "quotes_jgb_2026-01-20.json"))
    doc["FormattedQuoteResult"]["FormattedQuote"][4]["last_time"] = "2026-01-20T01:00:00"
    frame = parse_quotes(json.dumps(doc).encode(), JGB_X)
    assert "jgb_30y_x" not in set(frame["series_id"]) and len(frame) == 5
    assert any("JP30Y-JP" in r and "last_time" in r for r in rejects_of(frame))


@pytest.mark.parametrize("page, words", [
    (b"<!DOCTYPE html>\n<html><head><title>Access Denied</title></head><body>Reference #18</body></html>",
     "HTML page.*Access Denied"),
    (b"  <html><body>503 Service Temporarily Unavailable</body></html>", "HTML page"),
    (b"{\"FormattedQuoteResult\": ", "not JSON"),
    (b"{\"QuickQuoteResult\": {\"QuickQuote\": []}}", "no FormattedQuoteResult"),
    (b"[1, 2, 3]", "no FormattedQuoteResult"),
    (b"{\"FormattedQuoteResult\": {\"FormattedQuote\": \"JP30Y-JP\"}}", "not a list"),
])
def test_an_answer_that_is_not_the_quote_json_is_malformed(page, words):
    with pytest.raises(MalformedPayload, match=words):
        parse_quotes(page, JGB_X)


def test_an_empty_body_is_empty_payload():
    with pytest.raises(EmptyPayload):
        parse_quotes(b"  \n", JGB_X)


def test_an_empty_quote_list_stores_nothing_and_says_why():
    frame = parse_quotes(b'{"FormattedQuoteResult": {"FormattedQuote": []}}', JGB_X[:2])
    assert frame.empty and len(rejects_of(frame)) == 2


# ----------------------------------------------------------------------------- bars
def test_bars_are_stamped_from_us_eastern_trade_time_and_the_empty_bar_skipped(fixtures_dir):
    raw = fixture(fixtures_dir, "bars_1d_JP30Y-JP.json")
    frame = valid(parse_bars(raw, BY_SYMBOL["JP30Y-JP"]))
    assert len(frame) == 12 and rejects_of(frame) == []
    assert frame["ts"].iloc[0] == pd.Timestamp("2026-01-20T00:00:00", tz="UTC")     # 09:00 Tokyo
    assert frame["ts"].iloc[-1] == pd.Timestamp("2026-01-20T06:00:00", tz="UTC")    # 15:00 Tokyo
    assert frame["value"].iloc[-1] == pytest.approx(3.765)
    # tradeTime (Eastern wall time) and tradeTimeinMills agree bar for bar.
    bars = [b for b in json.loads(raw)["barData"]["priceBars"] if b["close"]]
    assert list(frame["ts"]) == [pd.Timestamp(int(b["tradeTimeinMills"]), unit="ms", tz="UTC") for b in bars]


def test_bars_fall_back_to_epoch_millis_and_reject_a_bad_bar(fixtures_dir):
    doc = json.loads(fixture(fixtures_dir, "bars_1d_JP30Y-JP.json"))
    bars = doc["barData"]["priceBars"]
    del bars[0]["tradeTime"]
    bars[1]["close"] = "n/a?"
    bars[2]["tradeTime"] = "2026-01-20"
    bars[2]["tradeTimeinMills"] = None
    frame = parse_bars(json.dumps(doc).encode(), BY_SYMBOL["JP30Y-JP"])
    assert frame["ts"].iloc[0] == pd.Timestamp("2026-01-20T00:00:00", tz="UTC")
    assert len(frame) == 10 and len(rejects_of(frame)) == 2


def test_missing_bars_are_an_empty_frame_not_an_error(fixtures_dir):
    frame = parse_bars(fixture(fixtures_dir, "bars_missing.json"), BY_SYMBOL["JP30Y-JP"])
    assert frame.empty and rejects_of(frame) == []


@pytest.mark.parametrize("page", [b"<html><title>Not Found</title></html>", b'{"error": "no symbol"}',
                                  b'{"barData": {"priceBars": {"close": "1"}}}'])
def test_an_answer_that_is_not_the_bars_json_is_malformed(page):
    with pytest.raises(MalformedPayload):
        parse_bars(page, BY_SYMBOL["JP30Y-JP"])


# ----------------------------------------------------------------------------- requests, fetch
def test_a_cycle_asks_for_every_symbol_in_one_quote_call():
    reqs = CnbcSource().build_requests(JGB_X, since=NOW - dt.timedelta(minutes=5), now=NOW)
    assert len(reqs) == 1
    (r,) = reqs
    assert r.url == QUOTE_URL and r.meta["kind"] == "quotes"
    assert r.params["symbols"] == "JP2Y-JP|JP5Y-JP|JP10Y-JP|JP20Y-JP|JP30Y-JP|JP40Y-JP"
    assert {k: r.params[k] for k in QUOTE_PARAMS} == QUOTE_PARAMS and r.series == tuple(JGB_X)


@pytest.mark.parametrize("since, span", [(None, "5D"), (NOW - dt.timedelta(days=3), "5D"),
                                         (NOW - dt.timedelta(hours=22), "1D")])
def test_a_backfill_or_a_gap_also_reads_each_symbols_bars(since, span):
    reqs = CnbcSource().build_requests(JGB_X, since=since, now=NOW)
    bars = [r for r in reqs if r.meta["kind"] == "bars"]
    assert [r.params["symbol"] for r in bars] == [s.symbol for s in JGB_X]
    assert {r.url for r in bars} == {BARS_URL.format(range=span)} and reqs[-1].meta["kind"] == "quotes"


def test_no_cnbc_series_no_request():
    other = Series(id="jgb_10y", label="JGB 10Y", source="mof", symbol="10Y", kind="yield", unit="bp",
                   market="JP", timezone="Asia/Tokyo", close="15:00", group="jgb_curve")
    assert CnbcSource().build_requests([other], since=None, now=NOW) == []


def test_fetch_then_parse_through_a_session_that_answers_from_the_fixture(fixtures_dir):
    body = fixture(fixtures_dir, "quotes_jgb_2026-01-20.json")
    session = FakeSession((200, body))
    src = CnbcSource()
    (req,) = src.build_requests(JGB_X, since=NOW - dt.timedelta(minutes=1), now=NOW)
    frame = src.parse(src.fetch(req, session=session, timeout=6.0), req)
    assert len(valid(frame)) == 6
    (call,) = session.calls
    assert call["url"] == QUOTE_URL and call["timeout"] == 6.0 and call["params"]["symbols"].count("|") == 5
    assert call["headers"]["User-Agent"] == USER_AGENT and USER_AGENT.startswith("Mozilla/5.0")


@pytest.mark.parametrize("answer, error", [((403, b"<html>Access Denied</html>"), FetchError),
                                           ((429, b"Too Many Requests"), RateLimited),
                                           (requests.ConnectTimeout("connect timed out"), FetchError)])
def test_fetch_failures_map_onto_the_collectors_errors(answer, error):
    (req,) = CnbcSource().build_requests(JGB_X, since=NOW, now=NOW)
    with pytest.raises(error):
        CnbcSource().fetch(req, session=FakeSession(answer), timeout=5)


# ----------------------------------------------------------------------------- against the MOF fixing
def test_the_fixture_quotes_are_the_mof_fixing_of_2026_01_20(market_dir, fixtures_dir):
    """The 30Y +20.3 bp of the motivating day, as the MOF history file has it."""
    path = market_dir / "jgb" / "jgbcme_all.csv"
    if not path.is_file():
        pytest.skip(f"{path} absent")
    header = next(ln for ln in path.read_text(encoding="utf-8", errors="replace").splitlines()
                  if ln.startswith("Date,"))
    line = next(ln for ln in path.read_text(encoding="utf-8", errors="replace").splitlines()
                if ln.startswith("2026/1/20,"))
    cols = dict(zip(header.split(",")[1:], map(float, line.split(",")[1:])))
    frame = parse_quotes(fixture(fixtures_dir, "quotes_jgb_2026-01-20.json"), JGB_X)
    got = dict(zip(frame["series_id"], frame["value"]))
    for k in TENORS:
        assert got[f"jgb_{k}_x"] == pytest.approx(cols[k.upper()], abs=1e-9), k
