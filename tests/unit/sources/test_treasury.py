"""US Treasury par curve: CSV and XML parsers on every real raw file and on trimmed fixtures,
cross-checks (CSV = XML, Treasury = FRED), bad payloads, request planning, fetch."""
from __future__ import annotations

import datetime as dt
import random
import re

import pandas as pd
import pytest

from tests.unit.sources.helpers import by_local_date, check
from tests.unit.sources.helpers import fixture_bytes as _fixture_bytes

from data.frame import rejects_of
from data.sources.fred import parse_fred_csv
from data.sources.treasury import (TENORS, XML_TENORS, TreasurySource, parse_treasury, parse_treasury_csv,
                                   parse_treasury_xml, treasury_csv_url, treasury_xml_url)
from errors import EmptyPayload, MalformedPayload
from universe import load_universe

UNIVERSE = load_universe()
UST = UNIVERSE.for_source("treasury")
SYMBOL_TO_ID = {s.symbol: s.id for s in UST}
UTC = dt.timezone.utc


# ----------------------------------------------------------------------------- helpers


def by_date(frame: pd.DataFrame, series_id: str) -> pd.Series:
    return by_local_date(frame, series_id, "America/New_York")


def dates_of(frame: pd.DataFrame) -> list[dt.date]:
    return sorted(set(frame["ts"].dt.tz_convert("America/New_York").dt.date))


def raw_file(market_dir, name: str) -> bytes:
    return (market_dir / "raw" / name).read_bytes()


def fixture_bytes(fixtures_dir, name: str) -> bytes:
    return _fixture_bytes(fixtures_dir, "treasury", name)


def test_symbols_cover_the_universe():
    assert set(SYMBOL_TO_ID) == set(TENORS) == set(XML_TENORS.values())


# ----------------------------------------------------------------------------- real CSV
@pytest.mark.parametrize("name, n_dates, first, last, tenors", [
    ("daily-treasury-rates-2026.csv", 122, dt.date(2026, 1, 2), dt.date(2026, 6, 26), 14),
    ("daily-treasury-rates-2025.csv", 249, dt.date(2025, 1, 2), dt.date(2025, 12, 31), 14),
    ("daily-treasury-rates-2024.csv", 250, dt.date(2024, 1, 2), dt.date(2024, 12, 31), 13),
    ("daily-treasury-rates-2000.csv", 251, dt.date(2000, 1, 3), dt.date(2000, 12, 29), 10),
])
def test_year_csv_facts(market_dir, name, n_dates, first, last, tenors):
    raw = raw_file(market_dir, name)
    frame = check(parse_treasury_csv(raw, UST))
    days = dates_of(frame)
    assert (len(days), days[0], days[-1]) == (n_dates, first, last)
    assert frame["series_id"].nunique() == tenors
    # Row count = non-blank cells of the file.
    lines = raw.decode().split("\n")[1:]
    assert len(frame) == sum(1 for ln in lines for c in ln.split(",")[1:] if c != "")


def test_2026_csv_has_no_blanks(market_dir):
    frame = parse_treasury_csv(raw_file(market_dir, "daily-treasury-rates-2026.csv"), UST)
    assert len(frame) == 122 * 14


def test_2025_one_and_half_month_starts_2025_02_18(market_dir):
    frame = parse_treasury_csv(raw_file(market_dir, "daily-treasury-rates-2025.csv"), UST)
    m15 = by_date(frame, "ust_1_5m")
    assert m15.index[0] == dt.date(2025, 2, 18)
    assert len(m15) == 249 - 31
    assert m15[dt.date(2025, 2, 18)] == pytest.approx(4.41)
    assert by_date(frame, "ust_10y")[dt.date(2025, 12, 31)] == pytest.approx(4.18)


def test_2000_has_ten_tenors(market_dir):
    frame = parse_treasury_csv(raw_file(market_dir, "daily-treasury-rates-2000.csv"), UST)
    assert set(frame["series_id"]) == {SYMBOL_TO_ID[s] for s in
                                       ("3 Mo", "6 Mo", "1 Yr", "2 Yr", "3 Yr", "5 Yr", "7 Yr", "10 Yr", "20 Yr", "30 Yr")}
    assert by_date(frame, "ust_10y")[dt.date(2000, 1, 3)] == pytest.approx(6.58)


@pytest.fixture(scope="module")
def all_years(market_dir) -> pd.DataFrame:
    return check(parse_treasury_csv(raw_file(market_dir, "daily-treasury-rates-all-1990-2022.csv"), UST))


def test_all_years_file_facts(all_years):
    days = dates_of(all_years)
    # 8,056 rows, one of which (10/11/2010) has every tenor blank.
    assert len(days) == 8_055
    assert (days[0], days[-1]) == (dt.date(1990, 1, 2), dt.date(2022, 3, 11))
    assert dt.date(2010, 10, 11) not in days
    assert len(all_years) == 8_056 * 12 - 12_051
    assert "ust_4m" not in set(all_years["series_id"]) and "ust_1_5m" not in set(all_years["series_id"])


@pytest.mark.parametrize("series_id, first", [
    ("ust_1m", dt.date(2001, 7, 31)), ("ust_2m", dt.date(2018, 10, 16)), ("ust_20y", dt.date(1993, 10, 1)),
    ("ust_3m", dt.date(1990, 1, 2)),
])
def test_all_years_first_values(all_years, series_id, first):
    assert by_date(all_years, series_id).index[0] == first


def test_all_years_blank_stretches(all_years):
    thirty = by_date(all_years, "ust_30y")
    gap = [d for d in dates_of(all_years) if dt.date(2002, 2, 19) <= d <= dt.date(2006, 2, 8)]
    # RAW_SOURCES counts 995 blank 30 Yr cells: these 994 days plus the all-blank 10/11/2010.
    assert len(gap) == 994
    assert 8_056 - len(thirty) == 995
    assert not set(gap) & set(thirty.index)
    assert dt.date(2002, 2, 15) in thirty.index and dt.date(2006, 2, 9) in thirty.index
    assert dt.date(2008, 12, 10) not in by_date(all_years, "ust_3m").index
    assert dt.date(2008, 12, 10) in by_date(all_years, "ust_10y").index


# ----------------------------------------------------------------------------- real XML
@pytest.mark.parametrize("name, n_dates, first, last, tenors", [
    ("daily_treasury_yield_curve_2026.xml", 151, dt.date(2026, 1, 2), dt.date(2026, 8, 7), 14),
    ("daily_treasury_yield_curve_2025.xml", 249, dt.date(2025, 1, 2), dt.date(2025, 12, 31), 14),
    ("2023-07-treasury.xml", 11, dt.date(2023, 7, 3), dt.date(2023, 7, 18), 13),
])
def test_xml_facts(market_dir, name, n_dates, first, last, tenors):
    frame = check(parse_treasury_xml(raw_file(market_dir, name), UST))
    days = dates_of(frame)
    assert (len(days), days[0], days[-1]) == (n_dates, first, last)
    assert frame["series_id"].nunique() == tenors


def test_2023_xml_has_4_month_but_no_1_5_month(market_dir):
    frame = parse_treasury_xml(raw_file(market_dir, "2023-07-treasury.xml"), UST)
    assert "ust_4m" in set(frame["series_id"]) and "ust_1_5m" not in set(frame["series_id"])
    assert by_date(frame, "ust_10y")[dt.date(2023, 7, 3)] == pytest.approx(3.86)


def test_2025_csv_and_xml_agree_exactly(market_dir):
    csv_frame = parse_treasury_csv(raw_file(market_dir, "daily-treasury-rates-2025.csv"), UST)
    xml_frame = parse_treasury_xml(raw_file(market_dir, "daily_treasury_yield_curve_2025.xml"), UST)
    pd.testing.assert_frame_equal(csv_frame, xml_frame)


def test_2026_csv_and_xml_agree_on_shared_dates(market_dir):
    csv_frame = parse_treasury_csv(raw_file(market_dir, "daily-treasury-rates-2026.csv"), UST)
    xml_frame = parse_treasury_xml(raw_file(market_dir, "daily_treasury_yield_curve_2026.xml"), UST)
    shared = xml_frame[xml_frame["ts"].isin(csv_frame["ts"])].reset_index(drop=True)
    pd.testing.assert_frame_equal(csv_frame, shared)
    # The XML runs on past the CSV, to 2026-08-07.
    assert by_date(xml_frame, "ust_10y")[dt.date(2026, 8, 7)] == pytest.approx(4.65)


@pytest.mark.parametrize("series_id, fred_file", [("ust_10y", "DGS10.csv"), ("ust_30y", "DGS30.csv")])
def test_treasury_2026_equals_fred_on_shared_dates(market_dir, series_id, fred_file):
    ust = UNIVERSE.get(series_id)
    treasury = parse_treasury_csv(raw_file(market_dir, "daily-treasury-rates-2026.csv"), ust)
    xml = parse_treasury_xml(raw_file(market_dir, "daily_treasury_yield_curve_2026.xml"), ust)
    fred = parse_fred_csv(raw_file(market_dir, fred_file), ust)
    for ours in (treasury, xml):
        # FRED raw/DGS*.csv ends 2026-07-28; the XML runs to 2026-08-07.
        ours = ours[ours["ts"] <= fred["ts"].max()]
        merged = ours.merge(fred, on=["series_id", "freq", "ts"], suffixes=("_ust", "_fred"))
        assert len(merged) == len(ours) > 100  # same instants: FRED is stamped as the Treasury series
        assert (merged["value_ust"] == merged["value_fred"]).all()


def test_timestamps_are_new_york_1530_dst_aware(market_dir):
    frame = parse_treasury_csv(raw_file(market_dir, "daily-treasury-rates-2026.csv"), UNIVERSE.get("ust_10y"))
    ts = frame.set_index(frame["ts"].dt.tz_convert("America/New_York").dt.date)["ts"]
    assert ts[dt.date(2026, 1, 2)] == pd.Timestamp("2026-01-02 20:30", tz="UTC")   # EST
    assert ts[dt.date(2026, 3, 6)] == pd.Timestamp("2026-03-06 20:30", tz="UTC")   # Friday before DST
    assert ts[dt.date(2026, 3, 9)] == pd.Timestamp("2026-03-09 19:30", tz="UTC")   # Monday after
    assert ts[dt.date(2026, 6, 26)] == pd.Timestamp("2026-06-26 19:30", tz="UTC")  # EDT


# ----------------------------------------------------------------------------- fixtures
def test_csv_fixture_one_and_half_month(fixtures_dir):
    frame = check(parse_treasury_csv(fixture_bytes(fixtures_dir, "daily-treasury-rates-2025-sample.csv"), UST))
    assert dates_of(frame) == [dt.date(2025, 2, 13), dt.date(2025, 2, 14), dt.date(2025, 2, 18), dt.date(2025, 2, 19)]
    assert by_date(frame, "ust_1_5m").to_dict() == {dt.date(2025, 2, 18): 4.41, dt.date(2025, 2, 19): 4.42}
    assert len(frame) == 4 * 14 - 2


def test_csv_and_xml_fixtures_agree(fixtures_dir):
    csv_frame = parse_treasury_csv(fixture_bytes(fixtures_dir, "daily-treasury-rates-2025-sample.csv"), UST)
    xml_frame = check(parse_treasury_xml(fixture_bytes(fixtures_dir, "daily_treasury_yield_curve_2025-sample.xml"), UST))
    assert dates_of(xml_frame) == [dt.date(2025, 2, 14), dt.date(2025, 2, 18)]
    # 02-14 has no BC_1_5MONTH element at all: 13 + 14 rows.
    assert len(xml_frame) == 27
    pd.testing.assert_frame_equal(csv_frame[csv_frame["ts"].isin(xml_frame["ts"])].reset_index(drop=True), xml_frame)


def test_all_blank_row_produces_nothing(fixtures_dir):
    frame = check(parse_treasury_csv(fixture_bytes(fixtures_dir, "daily-treasury-rates-all-2010-sample.csv"), UST))
    assert dates_of(frame) == [dt.date(2010, 10, 8), dt.date(2010, 10, 12)]
    assert "ust_2m" not in set(frame["series_id"])
    assert len(frame) == 2 * 11


def test_parse_treasury_sniffs_the_format(fixtures_dir):
    xml = fixture_bytes(fixtures_dir, "daily_treasury_yield_curve_2025-sample.xml")
    csv = fixture_bytes(fixtures_dir, "daily-treasury-rates-2025-sample.csv")
    pd.testing.assert_frame_equal(parse_treasury(xml, UST), parse_treasury_xml(xml, UST))
    pd.testing.assert_frame_equal(parse_treasury(csv, UST), parse_treasury_csv(csv, UST))


def test_only_requested_series_and_since(fixtures_dir):
    raw = fixture_bytes(fixtures_dir, "daily-treasury-rates-2025-sample.csv")
    frame = parse_treasury_csv(raw, [UNIVERSE.get("ust_10y"), UNIVERSE.get("usdjpy_noon")], since=dt.date(2025, 2, 18))
    assert set(frame["series_id"]) == {"ust_10y"}
    assert dates_of(frame) == [dt.date(2025, 2, 18), dt.date(2025, 2, 19)]
    # A tenor the year does not publish is simply absent, not an error…
    with pytest.raises(EmptyPayload):
        parse_treasury_csv(fixture_bytes(fixtures_dir, "daily-treasury-rates-all-2010-sample.csv"),
                           UNIVERSE.get("ust_1_5m"))


def test_lf_with_trailing_newline_and_crlf_also_parse(fixtures_dir):
    raw = fixture_bytes(fixtures_dir, "daily-treasury-rates-2025-sample.csv")
    assert len(parse_treasury_csv(raw + b"\n", UST)) == 54
    assert len(parse_treasury_csv(raw.replace(b"\n", b"\r\n"), UST)) == 54


# ----------------------------------------------------------------------------- bad payloads
def _days(frame) -> set:
    return {t.tz_convert("America/New_York").date().isoformat() for t in frame["ts"]}


def test_truncated_csv_drops_the_cut_row_only(fixtures_dir):
    raw = fixture_bytes(fixtures_dir, "daily-treasury-rates-2025-sample.csv")
    whole = parse_treasury_csv(raw, UST)
    out = parse_treasury_csv(raw[:-20], UST)
    assert len(_days(out)) == len(_days(whole)) - 1
    assert any("fields, header has 15" in r for r in rejects_of(out))
    out = parse_treasury_csv(raw[: raw.rindex(b"\n") + 4], UST)  # ends in "02/"
    assert any("not an MM/DD/YYYY date" in r for r in rejects_of(out))


def test_truncated_real_csv_keeps_the_rows_before_the_cut(market_dir):
    raw = raw_file(market_dir, "daily-treasury-rates-all-1990-2022.csv")
    out = parse_treasury_csv(raw[: raw.index(b"\n10/12/2010,") + 25], UST)
    assert any("truncated" in r for r in rejects_of(out)) and "2022-03-11" in _days(out)


@pytest.mark.parametrize("cut", [0.5, 0.999])
def test_truncated_xml_is_malformed(market_dir, cut):
    raw = raw_file(market_dir, "daily_treasury_yield_curve_2025.xml")
    with pytest.raises(MalformedPayload, match="not well-formed"):
        parse_treasury_xml(raw[: int(len(raw) * cut)], UST)


def test_html_error_page_is_malformed():
    page = b"<!DOCTYPE html>\n<html lang='en'><head><title>Access Denied</title></head><body></body></html>"
    for parser in (parse_treasury_csv, parse_treasury_xml, parse_treasury):
        with pytest.raises(MalformedPayload, match="HTML"):
            parser(page, UST)


@pytest.mark.parametrize("old, new, match", [
    (b'"1.5 Month"', b'"1.5 Mo"', r"unknown columns \['1.5 Mo'\]"),
    (b"Date,", b"date,", "expected 'Date'"),
    (b'"10 Yr"', b'"10 YR"', "unknown columns"),
    (b'"2 Mo"', b'"1 Mo"', "duplicate"),
])
def test_changed_csv_header_is_malformed(fixtures_dir, old, new, match):
    raw = fixture_bytes(fixtures_dir, "daily-treasury-rates-2025-sample.csv").replace(old, new, 1)
    with pytest.raises(MalformedPayload, match=match):
        parse_treasury_csv(raw, UST)


@pytest.mark.parametrize("old, new", [(b"02/19/2025", b"2/19/25"), (b"02/19/2025", b"2025-02-19")])
def test_a_row_in_another_date_format_is_rejected(fixtures_dir, old, new):
    raw = fixture_bytes(fixtures_dir, "daily-treasury-rates-2025-sample.csv").replace(old, new)
    out = parse_treasury_csv(raw, UST)
    assert "2025-02-19" not in _days(out) and "2025-02-18" in _days(out)
    assert any("MM/DD/YYYY" in r for r in rejects_of(out))


def test_a_resaved_copy_with_no_readable_date_is_malformed(fixtures_dir):
    import re
    raw = fixture_bytes(fixtures_dir, "daily-treasury-rates-2025-sample.csv")
    resaved = re.sub(rb"(\d\d)/(\d\d)/(\d\d\d\d)", rb"\3-\1-\2", raw)
    with pytest.raises(MalformedPayload, match="no readable data row"):
        parse_treasury_csv(resaved, UST)


def test_non_number_and_duplicate_rows_are_rejected(fixtures_dir):
    raw = fixture_bytes(fixtures_dir, "daily-treasury-rates-2025-sample.csv")
    out = parse_treasury_csv(raw.replace(b",4.53,", b",4.5x,"), UST)
    assert any(re.search(r"10 Yr: '4\.5x' is not a number", r) for r in rejects_of(out))
    out = parse_treasury_csv(raw.replace(b"02/18/2025", b"02/19/2025"), UST)
    assert any("appears twice" in r for r in rejects_of(out))


@pytest.mark.parametrize("seed", [0, 1])
def test_garbage_bytes_are_malformed(seed):
    blob = random.Random(seed).randbytes(3000)
    for parser in (parse_treasury_csv, parse_treasury_xml):
        with pytest.raises(MalformedPayload):
            parser(blob, UST)
        with pytest.raises(MalformedPayload):
            parser(blob.replace(b"\x00", b""), UST)


def test_header_only_csv_is_empty_payload(fixtures_dir):
    raw = fixture_bytes(fixtures_dir, "daily-treasury-rates-2025-sample.csv")
    with pytest.raises(EmptyPayload, match="no data rows"):
        parse_treasury_csv(raw[: raw.index(b"\n")], UST)
    with pytest.raises(EmptyPayload):
        parse_treasury_csv(b"", UST)


def test_xml_without_entries_is_empty_payload(fixtures_dir):
    raw = fixture_bytes(fixtures_dir, "daily_treasury_yield_curve_2025-sample.xml")
    with pytest.raises(EmptyPayload, match="no data rows"):
        parse_treasury_xml(raw[: raw.index(b"<entry>")] + b"</feed>", UST)


def test_unknown_xml_tenor_is_malformed(fixtures_dir):
    raw = fixture_bytes(fixtures_dir, "daily_treasury_yield_curve_2025-sample.xml")
    old = b'<d:BC_10YEAR m:type="Edm.Double">4.55</d:BC_10YEAR>'
    assert raw.count(old) == 1
    with pytest.raises(MalformedPayload, match="unknown tenor element d:BC_11YEAR"):
        parse_treasury_xml(raw.replace(old, old.replace(b"10YEAR", b"11YEAR")), UST)


@pytest.mark.parametrize("old, new, match", [
    (b">4.55</d:BC_10YEAR>", b">n/a</d:BC_10YEAR>", "is not a number"),
    (b">2025-02-18T00:00:00<", b">18.02.2025<", "is not a usable date"),
])
def test_a_bad_xml_entry_is_rejected_and_the_feed_kept(fixtures_dir, old, new, match):
    raw = fixture_bytes(fixtures_dir, "daily_treasury_yield_curve_2025-sample.xml")
    assert raw.count(old) == 1
    out = parse_treasury_xml(raw.replace(old, new), UST)
    assert len(out) > 0 and any(match in r for r in rejects_of(out))


def test_xml_that_is_not_an_atom_feed_is_malformed():
    with pytest.raises(MalformedPayload, match="Atom <feed>"):
        parse_treasury_xml(b'<?xml version="1.0"?><rss><channel/></rss>', UST)


def test_xml_null_values_are_missing(fixtures_dir):
    raw = fixture_bytes(fixtures_dir, "daily_treasury_yield_curve_2025-sample.xml").replace(
        b'<d:BC_10YEAR m:type="Edm.Double">4.55</d:BC_10YEAR>',
        b'<d:BC_10YEAR m:type="Edm.Double" m:null="true" />')
    frame = parse_treasury_xml(raw, UST)
    assert by_date(frame, "ust_10y").index.tolist() == [dt.date(2025, 2, 14)]


# ----------------------------------------------------------------------------- requests
NOW = dt.datetime(2026, 11, 24, 14, 0, tzinfo=UTC)


def test_year_url():
    assert treasury_csv_url(2025) == (
        "https://home.treasury.gov/resource-center/data-chart-center/interest-rates/daily-treasury-rates.csv/"
        "2025/all?type=daily_treasury_yield_curve&field_tdr_date_value=2025&page&_format=csv")
    assert treasury_xml_url(2025) == (
        "https://home.treasury.gov/resource-center/data-chart-center/interest-rates/pages/xml"
        "?data=daily_treasury_yield_curve&field_tdr_date_value=2025")


def test_backfill_one_request_per_year():
    reqs = TreasurySource().build_requests(UNIVERSE.series, since=None, now=NOW)
    assert [r.meta["year"] for r in reqs] == list(range(2016, 2027))
    assert [r.url for r in reqs] == [treasury_csv_url(y) for y in range(2016, 2027)]
    assert all(r.source == "treasury" and r.series == tuple(UST) and r.meta["since"] is None for r in reqs)
    assert [r.meta["year"] for r in TreasurySource(backfill_years=2).build_requests(UST, since=None, now=NOW)] == [2024, 2025, 2026]


def test_incremental_from_the_year_of_since():
    src = TreasurySource()
    reqs = src.build_requests(UST, since=dt.date(2025, 12, 28), now=NOW)
    assert [r.meta["year"] for r in reqs] == [2025, 2026]
    assert all(r.meta["since"] == dt.date(2025, 12, 28) for r in reqs)
    assert [r.meta["year"] for r in src.build_requests(UST, since=dt.date(2026, 11, 17), now=NOW)] == [2026]


def test_year_is_new_york_year():
    # 03:00 UTC on 1 January is still 31 December in New York.
    now = dt.datetime(2027, 1, 1, 3, 0, tzinfo=UTC)
    assert [r.meta["year"] for r in TreasurySource().build_requests(UST, since=dt.date(2026, 12, 24), now=now)] == [2026]


def test_xml_mode_requests_and_parse(fixtures_dir):
    src = TreasurySource(fmt="xml")
    (req,) = src.build_requests(UST, since=dt.date(2025, 2, 15), now=dt.datetime(2025, 2, 20, tzinfo=UTC))
    assert req.url == treasury_xml_url(2025) and req.meta["format"] == "xml"
    frame = src.parse(fixture_bytes(fixtures_dir, "daily_treasury_yield_curve_2025-sample.xml"), req)
    assert dates_of(frame) == [dt.date(2025, 2, 18)] and len(frame) == 14


def test_csv_parse_uses_request_since(fixtures_dir):
    src = TreasurySource()
    (req,) = src.build_requests(UST, since=dt.date(2025, 2, 19), now=dt.datetime(2025, 2, 20, tzinfo=UTC))
    frame = src.parse(fixture_bytes(fixtures_dir, "daily-treasury-rates-2025-sample.csv"), req)
    assert dates_of(frame) == [dt.date(2025, 2, 19)] and len(frame) == 14


def test_no_treasury_series_no_requests():
    assert TreasurySource().build_requests([UNIVERSE.get("usdjpy_noon")], since=None, now=NOW) == []


def test_bad_constructor_arguments():
    with pytest.raises(ValueError):
        TreasurySource(backfill_years=-1)
    with pytest.raises(ValueError):
        TreasurySource(fmt="json")
