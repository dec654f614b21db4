"""FRED fredgraph CSV: both header styles and the `date,value` local copies, on every real file;
bad payloads; request planning (ids, cosd, chunks); fetch with a fake session."""
from __future__ import annotations

import datetime as dt
import random

import pandas as pd
import pytest

from tests.unit.sources.helpers import by_local_date, check
from tests.unit.sources.helpers import fixture_bytes as _fixture_bytes

from data.frame import rejects_of
from data.sources.base import Request
from data.sources.fred import FRED_URL, FredSource, fred_symbol, fred_url, parse_fred_csv
from errors import EmptyPayload, MalformedPayload
from universe import load_universe

UNIVERSE = load_universe()
FRED = UNIVERSE.for_source("fred")
UTC = dt.timezone.utc


# ----------------------------------------------------------------------------- helpers


def by_date(frame: pd.DataFrame, series_id: str) -> pd.Series:
    return by_local_date(frame, series_id, "America/New_York")


def fixture_bytes(fixtures_dir, name: str) -> bytes:
    return _fixture_bytes(fixtures_dir, "fred", name)


def data_lines(raw: bytes) -> list[str]:
    return [ln for ln in raw.decode().split("\n")[1:] if ln]


def test_symbol_mapping():
    assert fred_symbol(UNIVERSE.get("usdjpy_noon")) == "DEXJPUS"      # own symbol
    assert fred_symbol(UNIVERSE.get("ust_10y")) == "DGS10"            # Treasury's FRED fallback
    assert fred_symbol(UNIVERSE.get("ust_1_5m")) is None              # no FRED series
    assert fred_symbol(UNIVERSE.get("jgb_10y")) is None


# ----------------------------------------------------------------------------- real fredgraph files
@pytest.mark.parametrize("name, series_id, rows, missing, first, last", [
    ("DGS10.csv", "ust_10y", 16_846, 719, dt.date(1962, 1, 2), dt.date(2026, 7, 28)),
    ("DGS30.csv", "ust_30y", 12_901, 544, dt.date(1977, 2, 15), dt.date(2026, 7, 28)),
    ("DEXJPUS.csv", "usdjpy_noon", 14_500, 569, dt.date(1971, 1, 4), dt.date(2026, 7, 31)),
    ("2021-DGS10.csv", "ust_10y", 15_395, 659, dt.date(1962, 1, 2), dt.date(2021, 1, 4)),
    ("2021-DGS30.csv", "ust_30y", 11_450, 484, dt.date(1977, 2, 15), dt.date(2021, 1, 4)),
    ("2021-DEXJPUS.csv", "usdjpy_noon", 5_870, 223, dt.date(1999, 1, 4), dt.date(2021, 7, 2)),
])
def test_raw_fredgraph_files(market_dir, name, series_id, rows, missing, first, last):
    raw = (market_dir / "raw" / name).read_bytes()
    assert len(data_lines(raw)) == rows
    frame = check(parse_fred_csv(raw, FRED))
    assert set(frame["series_id"]) == {series_id}
    assert len(frame) == rows - missing
    values = by_date(frame, series_id)
    assert (values.index[0], values.index[-1]) == (first, last)


def test_current_format_holiday_is_missing(market_dir):
    frame = parse_fred_csv((market_dir / "raw" / "DGS10.csv").read_bytes(), FRED)
    ten = by_date(frame, "ust_10y")
    assert dt.date(2026, 7, 3) not in ten.index
    assert ten[dt.date(2026, 7, 2)] == pytest.approx(4.49)
    assert ten[dt.date(2026, 7, 6)] == pytest.approx(4.48)


def test_old_format_dot_is_missing(market_dir):
    frame = parse_fred_csv((market_dir / "raw" / "2021-DGS10.csv").read_bytes(), FRED)
    ten = by_date(frame, "ust_10y")
    assert dt.date(2020, 12, 25) not in ten.index and dt.date(2021, 1, 1) not in ten.index
    assert ten[dt.date(2021, 1, 4)] == pytest.approx(0.93)


def test_old_and_new_format_agree(market_dir):
    new = parse_fred_csv((market_dir / "raw" / "DGS10.csv").read_bytes(), FRED)
    old = parse_fred_csv((market_dir / "raw" / "2021-DGS10.csv").read_bytes(), FRED)
    merged = old.merge(new, on=["series_id", "freq", "ts"])
    assert len(merged) == len(old)
    assert (merged["value_x"] == merged["value_y"]).all()


def test_dgs30_has_values_when_the_bond_was_not_issued(market_dir):
    thirty = by_date(parse_fred_csv((market_dir / "raw" / "DGS30.csv").read_bytes(), FRED), "ust_30y")
    assert thirty[dt.date(2003, 1, 2)] == pytest.approx(5.18)


def test_dexjpus_boj_shock_and_noon_timestamp(market_dir):
    frame = parse_fred_csv((market_dir / "raw" / "DEXJPUS.csv").read_bytes(), FRED)
    fx = by_date(frame, "usdjpy_noon")
    assert fx[dt.date(2022, 12, 19)] == pytest.approx(136.87)
    assert fx[dt.date(2022, 12, 20)] == pytest.approx(131.08)
    ts = frame.set_index(frame["ts"].dt.tz_convert("America/New_York").dt.date)["ts"]
    assert ts[dt.date(2022, 12, 20)] == pd.Timestamp("2022-12-20 17:00", tz="UTC")  # noon EST
    assert ts[dt.date(2026, 7, 31)] == pd.Timestamp("2026-07-31 16:00", tz="UTC")   # noon EDT


def test_treasury_fallback_stamped_at_1530_new_york(market_dir):
    frame = parse_fred_csv((market_dir / "raw" / "DGS10.csv").read_bytes(), FRED)
    ts = frame.set_index(frame["ts"].dt.tz_convert("America/New_York").dt.date)["ts"]
    assert ts[dt.date(2026, 1, 2)] == pd.Timestamp("2026-01-02 20:30", tz="UTC")
    assert ts[dt.date(2026, 7, 28)] == pd.Timestamp("2026-07-28 19:30", tz="UTC")


# ----------------------------------------------------------------------------- real date,value copies
_FIRST = {"DGS1MO": dt.date(2001, 7, 31), "DGS3MO": dt.date(1981, 9, 1), "DGS6MO": dt.date(1981, 9, 1),
          "DGS1": dt.date(1962, 1, 2), "DGS2": dt.date(1976, 6, 1), "DGS5": dt.date(1962, 1, 2),
          "DGS7": dt.date(1969, 7, 1), "DGS10": dt.date(1962, 1, 2), "DGS20": dt.date(1962, 1, 2),
          "DGS30": dt.date(1977, 2, 15)}
_BY_SYMBOL = {fred_symbol(s): s.id for s in FRED}


@pytest.mark.parametrize("folder, last", [("fred", dt.date(2026, 7, 22)), ("fred_latest", dt.date(2026, 8, 20))])
def test_local_date_value_copies(market_dir, folder, last):
    files = sorted((market_dir / "ust" / folder).glob("*.csv"))
    assert files
    for path in files:
        symbol = path.stem
        raw = path.read_bytes()
        frame = check(parse_fred_csv(raw, FRED, value_symbol=symbol))
        assert set(frame["series_id"]) == {_BY_SYMBOL[symbol]}, path
        assert len(frame) == len(data_lines(raw)), path  # FRED's `.` rows were dropped in these copies
        values = by_date(frame, _BY_SYMBOL[symbol])
        assert (values.index[0], values.index[-1]) == (_FIRST[symbol], last), path


def test_local_copy_values(market_dir):
    ten = by_date(parse_fred_csv((market_dir / "ust" / "fred" / "DGS10.csv").read_bytes(), FRED,
                                 value_symbol="DGS10"), "ust_10y")
    assert ten[dt.date(2026, 7, 22)] == pytest.approx(4.67)  # printed as 4.6700000000
    latest = by_date(parse_fred_csv((market_dir / "ust" / "fred_latest" / "DGS10.csv").read_bytes(), FRED,
                                    value_symbol="DGS10"), "ust_10y")
    assert latest[dt.date(2026, 8, 20)] == pytest.approx(4.69)
    assert dt.date(2026, 7, 3) not in latest.index


def test_dgs20_discontinued_stretch(market_dir):
    twenty = by_date(parse_fred_csv((market_dir / "ust" / "fred" / "DGS20.csv").read_bytes(), FRED,
                                    value_symbol="DGS20"), "ust_20y")
    inside = twenty[(twenty.index > dt.date(1986, 12, 31)) & (twenty.index < dt.date(1993, 10, 1))]
    assert inside.empty
    assert dt.date(1986, 12, 31) in twenty.index and dt.date(1993, 10, 1) in twenty.index


def test_local_copy_agrees_with_raw_download(market_dir):
    raw = parse_fred_csv((market_dir / "raw" / "DGS10.csv").read_bytes(), FRED)
    local = parse_fred_csv((market_dir / "ust" / "fred_latest" / "DGS10.csv").read_bytes(), FRED,
                           value_symbol="DGS10")
    merged = raw.merge(local, on=["series_id", "freq", "ts"])
    assert len(merged) == len(raw)
    assert (merged["value_x"] == merged["value_y"]).all()


# ----------------------------------------------------------------------------- fixtures
def test_multi_column_fixture(fixtures_dir):
    frame = check(parse_fred_csv(fixture_bytes(fixtures_dir, "fredgraph_DGS10_DGS30.csv"), FRED))
    assert set(frame["series_id"]) == {"ust_10y", "ust_30y"}
    assert by_date(frame, "ust_10y").to_dict() == {dt.date(2026, 7, 1): 4.48, dt.date(2026, 7, 2): 4.49,
                                                   dt.date(2026, 7, 6): 4.48, dt.date(2026, 7, 7): 4.55}
    assert by_date(frame, "ust_30y")[dt.date(2026, 7, 7)] == pytest.approx(5.05)
    assert len(frame) == 8


def test_old_style_fixture(fixtures_dir):
    frame = check(parse_fred_csv(fixture_bytes(fixtures_dir, "fredgraph_old_DGS10.csv"), FRED))
    assert dt.date(2020, 12, 25) not in by_date(frame, "ust_10y").index
    assert len(frame) == 4


def test_date_value_fixture_needs_the_symbol(fixtures_dir):
    raw = fixture_bytes(fixtures_dir, "date_value_DGS10.csv")
    frame = check(parse_fred_csv(raw, FRED, value_symbol="DGS10"))
    assert by_date(frame, "ust_10y").tolist() == pytest.approx([4.60, 4.63, 4.67])
    with pytest.raises(MalformedPayload, match="value_symbol"):
        parse_fred_csv(raw, FRED)
    with pytest.raises(MalformedPayload, match="none of the requested"):
        parse_fred_csv(raw, [UNIVERSE.get("usdjpy_noon")], value_symbol="DGS10")


def test_series_not_in_file_are_left_out_and_since(fixtures_dir):
    raw = fixture_bytes(fixtures_dir, "fredgraph_DGS10_DGS30.csv")
    frame = parse_fred_csv(raw, [UNIVERSE.get("ust_10y"), UNIVERSE.get("usdjpy_noon")], since=dt.date(2026, 7, 6))
    assert set(frame["series_id"]) == {"ust_10y"} and len(frame) == 2
    assert set(parse_fred_csv(raw, UNIVERSE.get("ust_30y"))["series_id"]) == {"ust_30y"}
    with pytest.raises(EmptyPayload, match="on or after"):
        parse_fred_csv(raw, FRED, since=dt.date(2027, 1, 1))


def test_crlf_and_bom_also_parse(fixtures_dir):
    raw = fixture_bytes(fixtures_dir, "fredgraph_DGS10_DGS30.csv")
    assert len(parse_fred_csv(b"\xef\xbb\xbf" + raw.replace(b"\n", b"\r\n"), FRED)) == 8


# ----------------------------------------------------------------------------- bad payloads
def _days(frame) -> set:
    return {t.tz_convert("America/New_York").date().isoformat() for t in frame["ts"]}


def test_truncated_row_is_rejected_and_the_rest_kept(fixtures_dir):
    raw = fixture_bytes(fixtures_dir, "fredgraph_DGS10_DGS30.csv")
    out = parse_fred_csv(raw[: raw.index(b"2026-07-07") + 15], FRED)  # "2026-07-07,4.55"
    assert "2026-07-07" not in _days(out) and "2026-07-06" in _days(out)
    assert any("fields, header has 3" in r for r in rejects_of(out))
    out = parse_fred_csv(raw[: raw.index(b"2026-07-07") + 7], FRED)   # "2026-07"
    assert "2026-07-06" in _days(out) and any("not a YYYY-MM-DD date" in r for r in rejects_of(out))


def test_truncated_real_file_keeps_every_earlier_row(market_dir):
    raw = (market_dir / "raw" / "DEXJPUS.csv").read_bytes()
    out = parse_fred_csv(raw[: raw.index(b"\n2022-12-20,") + 6], FRED)
    assert max(_days(out)) == "2022-12-19" and any("truncated" in r for r in rejects_of(out))


def test_html_error_page_is_malformed():
    page = b"<!DOCTYPE html>\n<html><head><title>FRED - Error</title></head><body>Series not found</body></html>"
    with pytest.raises(MalformedPayload, match="HTML"):
        parse_fred_csv(page, FRED)


@pytest.mark.parametrize("header, match", [
    (b"Datum,DGS10,DGS30", "expected observation_date/DATE"),
    (b"observation_date,10-Year Treasury,DGS30", "not FRED series ids"),
    (b"observation_date,DGS10,DGS10", "duplicate"),
    (b"observation_date", "no value column"),
])
def test_changed_header_is_malformed(fixtures_dir, header, match):
    raw = fixture_bytes(fixtures_dir, "fredgraph_DGS10_DGS30.csv")
    raw = header + raw[raw.index(b"\n"):]
    with pytest.raises(MalformedPayload, match=match):
        parse_fred_csv(raw, FRED)


def test_requested_id_missing_from_answer_is_malformed(fixtures_dir):
    raw = fixture_bytes(fixtures_dir, "fredgraph_old_DGS10.csv")
    req = Request(source="fred", series=(UNIVERSE.get("ust_10y"), UNIVERSE.get("ust_30y")),
                  url=fred_url(["DGS10", "DGS30"]), meta={"ids": ("DGS10", "DGS30"), "since": None})
    with pytest.raises(MalformedPayload, match=r"requested ids \['DGS30'\] missing"):
        FredSource().parse(raw, req)


def test_non_number_and_duplicates_are_rejected_rows(fixtures_dir):
    raw = fixture_bytes(fixtures_dir, "fredgraph_DGS10_DGS30.csv")
    out = parse_fred_csv(raw.replace(b"4.99", b"N/A"), FRED)
    assert any("DGS30: 'N/A' is not a number" in r for r in rejects_of(out))
    assert len(out[out["series_id"] == "ust_10y"]) == len(parse_fred_csv(raw, FRED).query("series_id == 'ust_10y'"))
    out = parse_fred_csv(raw.replace(b"2026-07-06", b"2026-07-07"), FRED)
    assert any("appears twice" in r for r in rejects_of(out))


@pytest.mark.parametrize("seed", [0, 1])
def test_garbage_bytes_are_malformed(seed):
    blob = random.Random(seed).randbytes(3000)
    with pytest.raises(MalformedPayload):
        parse_fred_csv(blob, FRED)
    with pytest.raises(MalformedPayload):
        parse_fred_csv(blob.replace(b"\x00", b""), FRED)


@pytest.mark.parametrize("raw", [b"observation_date,DGS10\n", b"DATE,DGS10", b"date,value\n", b"", b"\n\n"])
def test_header_only_or_empty_is_empty_payload(raw):
    with pytest.raises(EmptyPayload):
        parse_fred_csv(raw, FRED, value_symbol="DGS10")


# ----------------------------------------------------------------------------- requests
NOW = dt.datetime(2026, 11, 24, 14, 0, tzinfo=UTC)
ALL_IDS = ["DGS1MO", "DGS3MO", "DGS6MO", "DGS1", "DGS2", "DGS3", "DGS5", "DGS7", "DGS10", "DGS20", "DGS30", "DEXJPUS"]


def test_backfill_one_request_ten_years_back():
    (req,) = FredSource().build_requests(UNIVERSE.series, since=None, now=NOW)
    assert req.url == f"{FRED_URL}?id={','.join(ALL_IDS)}&cosd=2016-11-24"
    assert req.url.startswith("https://fred.stlouisfed.org/graph/fredgraph.csv?id=DGS1MO,DGS3MO,")
    assert list(req.meta["ids"]) == ALL_IDS
    assert req.meta["since"] == dt.date(2016, 11, 24)
    assert {s.id for s in req.series} == {s.id for s in FRED}
    assert "ust_1_5m" not in {s.id for s in req.series}


def test_backfill_years_and_leap_day():
    (req,) = FredSource(backfill_years=3).build_requests(FRED, since=None, now=NOW)
    assert req.url.endswith("&cosd=2023-11-24")
    (req,) = FredSource(backfill_years=1).build_requests(FRED, since=None,
                                                          now=dt.datetime(2028, 2, 29, tzinfo=UTC))
    assert req.meta["since"] == dt.date(2027, 2, 28)


def test_incremental_uses_cosd_since():
    (req,) = FredSource().build_requests(FRED, since=dt.date(2026, 11, 17), now=NOW)
    assert req.url.endswith("&cosd=2026-11-17") and req.meta["since"] == dt.date(2026, 11, 17)
    (req,) = FredSource().build_requests(FRED, since=dt.datetime(2026, 11, 17, 8, tzinfo=UTC), now=NOW)
    assert req.meta["since"] == dt.date(2026, 11, 17)


def test_chunks_of_ids():
    reqs = FredSource(max_ids_per_request=5).build_requests(FRED, since=dt.date(2026, 11, 1), now=NOW)
    assert [list(r.meta["ids"]) for r in reqs] == [ALL_IDS[:5], ALL_IDS[5:10], ALL_IDS[10:]]
    for r in reqs:
        assert {fred_symbol(s) for s in r.series} == set(r.meta["ids"])
        assert r.url == fred_url(r.meta["ids"], dt.date(2026, 11, 1))


def test_no_fred_series_no_requests():
    assert FredSource().build_requests(UNIVERSE.for_source("mof"), since=None, now=NOW) == []


def test_bad_constructor_arguments():
    with pytest.raises(ValueError):
        FredSource(backfill_years=-1)
    with pytest.raises(ValueError):
        FredSource(max_ids_per_request=0)


def test_source_parse_end_to_end(fixtures_dir):
    src = FredSource()
    series = [UNIVERSE.get("ust_10y"), UNIVERSE.get("ust_30y")]
    (req,) = src.build_requests(series, since=dt.date(2026, 7, 6), now=NOW)
    assert req.meta["ids"] == ("DGS10", "DGS30")
    frame = check(src.parse(fixture_bytes(fixtures_dir, "fredgraph_DGS10_DGS30.csv"), req))
    assert len(frame) == 4 and set(frame["series_id"]) == {"ust_10y", "ust_30y"}
