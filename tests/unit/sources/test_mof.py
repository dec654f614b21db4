"""MOF JGB source: the parser on the real English/Japanese files and on hand-made fixtures,
bad payloads, request planning and the fetch step (fake session, no network)."""
from __future__ import annotations

import datetime as dt
import random

import pandas as pd
import pytest

from tests.unit.sources.helpers import by_local_date, check
from tests.unit.sources.helpers import fixture_bytes as _fixture_bytes

from data.frame import rejects_of
from data.sources.base import Request
from data.sources.mof import MOF_URLS, MofSource, parse_mof_csv, parse_mof_date
from errors import EmptyPayload, MalformedPayload
from universe import load_universe

UNIVERSE = load_universe()
JGB = UNIVERSE.for_source("mof")
UTC = dt.timezone.utc


# ----------------------------------------------------------------------------- helpers


def by_date(frame: pd.DataFrame, series_id: str) -> pd.Series:
    return by_local_date(frame, series_id, "Asia/Tokyo")


def dates_of(frame: pd.DataFrame) -> list[dt.date]:
    return sorted(set(frame["ts"].dt.tz_convert("Asia/Tokyo").dt.date))


def fixture_bytes(fixtures_dir, name: str) -> bytes:
    return _fixture_bytes(fixtures_dir, "mof", name)


# ----------------------------------------------------------------------------- real files
@pytest.fixture(scope="module")
def english_history(market_dir) -> pd.DataFrame:
    return check(parse_mof_csv((market_dir / "jgb" / "jgbcme_all.csv").read_bytes(), JGB))


@pytest.fixture(scope="module")
def japanese_history(market_dir) -> pd.DataFrame:
    return check(parse_mof_csv((market_dir / "jgb" / "jgbcm_all.csv").read_bytes(), JGB))


def test_english_history_rows_and_range(english_history):
    days = dates_of(english_history)
    assert len(days) == 13_248
    assert days[0] == dt.date(1974, 9, 24)
    assert days[-1] == dt.date(2026, 6, 30)
    assert set(english_history["series_id"]) == {s.id for s in JGB}
    assert set(english_history["freq"]) == {"D"}


def test_english_history_negative_yields(english_history):
    ten = by_date(english_history, "jgb_10y")
    assert ten.min() == pytest.approx(-0.297)
    assert ten.idxmin() == dt.date(2016, 7, 27)
    assert int((ten < 0).sum()) == 453


@pytest.mark.parametrize("series_id, first", [
    ("jgb_1y", dt.date(1974, 9, 24)), ("jgb_10y", dt.date(1986, 7, 5)), ("jgb_20y", dt.date(1986, 12, 1)),
    ("jgb_15y", dt.date(1991, 8, 30)), ("jgb_30y", dt.date(1999, 9, 2)), ("jgb_25y", dt.date(2004, 3, 22)),
    ("jgb_40y", dt.date(2007, 11, 6)),
])
def test_english_history_first_value_per_tenor(english_history, series_id, first):
    # A tenor is `-` before it exists: the first row of a series is its first real value.
    assert by_date(english_history, series_id).index[0] == first


def test_english_history_gaps_since_2000(english_history):
    days_2000 = [d for d in dates_of(english_history) if d >= dt.date(2000, 1, 1)]
    gaps = {s.id: len(days_2000) - int((by_date(english_history, s.id).index >= dt.date(2000, 1, 1)).sum())
            for s in JGB}
    assert gaps.pop("jgb_25y") == 1038
    assert gaps.pop("jgb_40y") == 1932
    assert set(gaps.values()) == {0}


def test_english_history_saturdays_until_1989(english_history):
    saturdays = [d for d in dates_of(english_history) if d.weekday() == 5]
    assert saturdays[-1] == dt.date(1989, 1, 28)
    assert dt.date(1988, 12, 24) in saturdays


def test_english_history_known_moves(english_history):
    ten = by_date(english_history, "jgb_10y")
    # 2022-12-20, YCC band widened: 0.282 → 0.432 (SOURCES.md).
    assert ten[dt.date(2022, 12, 19)] == pytest.approx(0.282)
    assert ten[dt.date(2022, 12, 20)] == pytest.approx(0.432)
    assert ten[dt.date(2024, 8, 5)] == pytest.approx(0.781)
    assert by_date(english_history, "jgb_40y")[dt.date(2026, 6, 30)] == pytest.approx(3.792)


def test_timestamps_are_tokyo_1500_as_utc(english_history):
    last = english_history[english_history["series_id"] == "jgb_10y"]["ts"].max()
    assert last == pd.Timestamp("2026-06-30 06:00", tz="UTC")
    assert str(english_history["ts"].dt.tz) == "UTC"
    # Japan has no DST: every stamp is 06:00 UTC.
    assert set(english_history["ts"].dt.strftime("%H:%M")) == {"06:00"}


def test_japanese_history_identical_to_english(english_history, japanese_history):
    pd.testing.assert_frame_equal(english_history, japanese_history)


def test_japanese_history_era_boundaries(japanese_history):
    days = dates_of(japanese_history)
    # Last Showa row S64.1.6, first Heisei H1.1.9, first Reiwa R1.5.7 (SOURCES.md).
    assert dt.date(1989, 1, 6) in days and dt.date(1989, 1, 9) in days
    assert not [d for d in days if dt.date(1989, 1, 6) < d < dt.date(1989, 1, 9)]
    assert dt.date(2019, 5, 7) in days
    assert not [d for d in days if dt.date(2019, 4, 26) < d < dt.date(2019, 5, 7)]


def test_japanese_current_month_matches_history(market_dir, japanese_history):
    current = check(parse_mof_csv((market_dir / "jgb" / "jgbcm.csv").read_bytes(), JGB))
    days = dates_of(current)
    assert len(days) == 11
    assert (days[0], days[-1]) == (dt.date(2025, 10, 1), dt.date(2025, 10, 16))
    hist = japanese_history[japanese_history["ts"].isin(current["ts"])].reset_index(drop=True)
    pd.testing.assert_frame_equal(current, hist)
    assert by_date(current, "jgb_30y")[dt.date(2025, 10, 1)] == pytest.approx(3.074)


def test_era_fixture_matches_real_history(fixtures_dir, english_history):
    sample = check(parse_mof_csv(fixture_bytes(fixtures_dir, "jgbcm_era_sample.csv"), JGB))
    hist = english_history[english_history["ts"].isin(sample["ts"])].reset_index(drop=True)
    pd.testing.assert_frame_equal(sample, hist)


# ----------------------------------------------------------------------------- fixtures
def test_english_current_month_fixture(fixtures_dir):
    frame = check(parse_mof_csv(fixture_bytes(fixtures_dir, "jgbcme_current.csv"), JGB))
    assert dates_of(frame) == [dt.date(2026, 7, 1), dt.date(2026, 7, 2)]
    ten = by_date(frame, "jgb_10y")
    assert ten.tolist() == pytest.approx([2.711, 2.778])
    # 40Y is `-` on 07-01: 15 + 14 rows, the footer and the blank row produce nothing.
    assert len(frame) == 29
    assert by_date(frame, "jgb_40y").index.tolist() == [dt.date(2026, 7, 2)]


@pytest.mark.parametrize("bar", ["\u00a6".encode("utf-8"), b"\xa6", b"|"])
def test_english_footer_in_any_encoding_is_skipped(fixtures_dir, bar):
    raw = fixture_bytes(fixtures_dir, "jgbcme_current.csv").replace("\u00a6".encode("utf-8"), bar)
    assert len(parse_mof_csv(raw, JGB)) == 29


def test_lf_line_endings_also_parse(fixtures_dir):
    raw = fixture_bytes(fixtures_dir, "jgbcme_current.csv").replace(b"\r\n", b"\n")
    assert len(parse_mof_csv(raw, JGB)) == 29


def test_emptied_current_month_is_empty_payload(fixtures_dir):
    with pytest.raises(EmptyPayload, match="no data rows"):
        parse_mof_csv(fixture_bytes(fixtures_dir, "jgbcme_current_emptied.csv"), JGB)


def test_era_fixture_dates_and_gannen(fixtures_dir):
    frame = check(parse_mof_csv(fixture_bytes(fixtures_dir, "jgbcm_era_sample.csv"), JGB))
    assert dates_of(frame) == [dt.date(1988, 12, 24), dt.date(1989, 1, 6), dt.date(1989, 1, 9),
                               dt.date(1989, 1, 28), dt.date(2019, 4, 26), dt.date(2019, 5, 7),
                               dt.date(2026, 6, 30)]
    assert dt.date(1988, 12, 24).weekday() == 5  # a Saturday session
    ten = by_date(frame, "jgb_10y")
    assert ten[dt.date(2019, 5, 7)] == pytest.approx(-0.049)
    assert "jgb_30y" not in set(frame[frame["ts"] < pd.Timestamp("1999-01-01", tz="UTC")]["series_id"])


def test_japanese_utf8_copy_also_parses(fixtures_dir):
    raw = fixture_bytes(fixtures_dir, "jgbcm_era_sample.csv").decode("cp932").encode("utf-8")
    assert len(parse_mof_csv(raw, JGB)) == len(parse_mof_csv(fixture_bytes(fixtures_dir, "jgbcm_era_sample.csv"), JGB))


def test_only_requested_series_and_since(fixtures_dir):
    two = [UNIVERSE.get("jgb_10y"), UNIVERSE.get("jgb_30y")]
    raw = fixture_bytes(fixtures_dir, "jgbcm_era_sample.csv")
    frame = parse_mof_csv(raw, two, since=dt.date(2019, 5, 1))
    assert set(frame["series_id"]) == {"jgb_10y", "jgb_30y"}
    assert dates_of(frame) == [dt.date(2019, 5, 7), dt.date(2026, 6, 30)]
    # A single Series is accepted too.
    assert set(parse_mof_csv(raw, UNIVERSE.get("jgb_5y"))["series_id"]) == {"jgb_5y"}
    with pytest.raises(EmptyPayload, match="on or after"):
        parse_mof_csv(raw, two, since=dt.date(2030, 1, 1))


@pytest.mark.parametrize("cell, expected", [
    ("S49.9.24", dt.date(1974, 9, 24)), ("S64.1.6", dt.date(1989, 1, 6)), ("H1.1.9", dt.date(1989, 1, 9)),
    ("H元.1.9", dt.date(1989, 1, 9)), ("H31.4.30", dt.date(2019, 4, 30)), ("R元.5.7", dt.date(2019, 5, 7)),
    ("R8.6.30", dt.date(2026, 6, 30)), ("2026/6/30", dt.date(2026, 6, 30)), ("1974/9/24", dt.date(1974, 9, 24)),
    (" 2016/07/27 ", dt.date(2016, 7, 27)), ("Date", None), ("基準日", None), ("※最新の", None),
    ("  ¦If you cannot download", None), ("", None),
])
def test_parse_mof_date(cell, expected):
    assert parse_mof_date(cell) == expected


@pytest.mark.parametrize("cell", ["2026/13/1", "2026/2/30", "R8.2.30", "H0.1.1"])
def test_parse_mof_date_impossible(cell):
    with pytest.raises(MalformedPayload, match="impossible"):
        parse_mof_date(cell)


# ----------------------------------------------------------------------------- bad payloads
def _dates(frame) -> set:
    return {t.tz_convert("Asia/Tokyo").date().isoformat() for t in frame["ts"]}


def test_truncated_mid_row_drops_that_row_and_keeps_the_rest(fixtures_dir):
    """Issue 14: one bad row never stops a source — the cut row is rejected with its reason."""
    raw = fixture_bytes(fixtures_dir, "jgbcme_current.csv")
    cut = raw[: raw.index(b"2026/7/2") + 40]
    out = parse_mof_csv(cut, JGB)
    assert "2026-07-01" in _dates(out) and "2026-07-02" not in _dates(out)
    assert any("fields, header has 16" in r and "2026/7/2" in r for r in rejects_of(out))


def test_truncated_mid_date_drops_that_row(fixtures_dir):
    raw = fixture_bytes(fixtures_dir, "jgbcme_current.csv")
    cut = raw[: raw.index(b"2026/7/2") + 5]  # ends in "2026/"
    out = parse_mof_csv(cut, JGB)
    assert "2026-07-01" in _dates(out)
    assert any("unparsable date" in r for r in rejects_of(out))


def test_truncated_real_history_keeps_every_row_before_the_cut(market_dir):
    raw = (market_dir / "jgb" / "jgbcme_all.csv").read_bytes()
    line = raw.index(b"\r\n2016/7/27,") + 2
    out = parse_mof_csv(raw[: line + 30], JGB)
    assert max(_dates(out)) == "2016-07-26" and min(_dates(out)) == "1974-09-24"
    assert [r for r in rejects_of(out) if "2016/7/27" in r]


def test_year_9999_row_is_rejected_not_a_crash(market_dir):
    """A year-9999 date (pandas cannot hold it) is one rejected row; the history still loads."""
    raw = (market_dir / "jgb" / "jgbcme_all.csv").read_bytes()
    bad = raw.replace(b"\r\n2016/7/27,", b"\r\n9999/7/27,", 1)
    out = parse_mof_csv(bad, JGB)
    assert "2016-07-27" not in _dates(out) and "2016-07-26" in _dates(out) and "2026-06-30" in _dates(out)
    assert any("9999/7/27" in r and "out of range" in r for r in rejects_of(out))


def test_truncated_in_title_is_malformed(fixtures_dir):
    with pytest.raises(MalformedPayload, match="header"):
        parse_mof_csv(fixture_bytes(fixtures_dir, "jgbcme_current.csv")[:20], JGB)


@pytest.mark.parametrize("page", [
    b"<!DOCTYPE html>\n<html><head><title>403 Forbidden</title></head><body>Access denied</body></html>",
    b"\n  <html><body><h1>Service Unavailable</h1></body></html>",
])
def test_html_error_page_is_malformed(page):
    with pytest.raises(MalformedPayload, match="HTML"):
        parse_mof_csv(page, JGB)


@pytest.mark.parametrize("old, new, match", [
    (b",10Y,", b",10yr,", "unknown column '10yr'"),
    (b",40Y\r\n", b",50Y\r\n", "unknown column '50Y'"),
    (b"Date,", b"Day,", "no `Date`"),
    (b",15Y,20Y,", b",20Y,15Y,", None),  # reordered columns are fine: matched by name
])
def test_changed_header(fixtures_dir, old, new, match):
    raw = fixture_bytes(fixtures_dir, "jgbcme_current.csv").replace(old, new, 1)
    if match is None:
        frame = parse_mof_csv(raw, JGB)
        assert by_date(frame, "jgb_15y")[dt.date(2026, 7, 2)] == pytest.approx(3.700)
        return
    with pytest.raises(MalformedPayload, match=match):
        parse_mof_csv(raw, JGB)


def test_dropped_column_is_malformed(fixtures_dir):
    raw = fixture_bytes(fixtures_dir, "jgbcme_current.csv").replace(b",40Y\r\n", b"\r\n", 1)
    with pytest.raises(MalformedPayload, match=r"lacks columns \['40Y'\]"):
        parse_mof_csv(raw, JGB)


def test_mojibake_japanese_header_is_malformed(fixtures_dir):
    # The later commits of the public jgbcm.csv copy are U+FFFD mojibake (SOURCES.md).
    text = fixture_bytes(fixtures_dir, "jgbcm_era_sample.csv").decode("cp932")
    broken = "".join(c if ord(c) < 128 else "\ufffd" for c in text).encode("utf-8")
    with pytest.raises(MalformedPayload, match="header"):
        parse_mof_csv(broken, JGB)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_garbage_bytes_are_malformed(seed):
    blob = random.Random(seed).randbytes(4000)
    with pytest.raises(MalformedPayload):
        parse_mof_csv(blob, JGB)
    with pytest.raises(MalformedPayload):
        parse_mof_csv(blob.replace(b"\x00", b""), JGB)


def test_non_number_cell_drops_that_value_only(fixtures_dir):
    raw = fixture_bytes(fixtures_dir, "jgbcme_current.csv").replace(b",2.778,", b",2.7x8,")
    out = parse_mof_csv(raw, JGB)
    ten = out[out["series_id"] == "jgb_10y"]
    assert "2026-07-02" not in _dates(ten) and "2026-07-02" in _dates(out[out["series_id"] == "jgb_30y"])
    assert any("column 10Y: '2.7x8' is not a number" in r for r in rejects_of(out))


def test_duplicate_date_keeps_the_first_and_rejects_the_repeat(fixtures_dir):
    raw = fixture_bytes(fixtures_dir, "jgbcme_current.csv").replace(b"2026/7/2,", b"2026/7/1,")
    out = parse_mof_csv(raw, JGB)
    assert any("appears twice" in r for r in rejects_of(out))
    assert len(out[out["series_id"] == "jgb_10y"]) == 1


@pytest.mark.parametrize("raw", [b"", b"  \r\n"])
def test_empty_body_is_empty_payload(raw):
    with pytest.raises(EmptyPayload):
        parse_mof_csv(raw, JGB)


# ----------------------------------------------------------------------------- requests
NOW = dt.datetime(2026, 7, 20, 3, 0, tzinfo=UTC)  # 12:00 in Tokyo on the 20th


def test_backfill_requests_history_then_current():
    reqs = MofSource().build_requests(JGB, since=None, now=NOW)
    assert [r.url for r in reqs] == [MOF_URLS["en"]["history"], MOF_URLS["en"]["current"]]
    assert reqs[0].url == "https://www.mof.go.jp/english/policy/jgbs/reference/interest_rate/historical/jgbcme_all.csv"
    assert reqs[1].url == "https://www.mof.go.jp/english/policy/jgbs/reference/interest_rate/jgbcme.csv"
    assert all(r.source == "mof" and r.series == tuple(JGB) for r in reqs)
    assert [r.meta["since"] for r in reqs] == [None, None]


def test_japanese_urls():
    reqs = MofSource(lang="ja").build_requests(JGB, since=None, now=NOW)
    assert [r.url for r in reqs] == ["https://www.mof.go.jp/jgbs/reference/interest_rate/data/jgbcm_all.csv",
                                     "https://www.mof.go.jp/jgbs/reference/interest_rate/jgbcm.csv"]


def test_incremental_inside_month_skips_history():
    reqs = MofSource().build_requests(JGB, since=dt.date(2026, 7, 13), now=NOW)
    assert [r.meta["file"] for r in reqs] == ["current"]
    assert reqs[0].meta["since"] == dt.date(2026, 7, 13)


def test_incremental_before_month_start_reads_history_first():
    reqs = MofSource().build_requests(JGB, since=dt.date(2026, 6, 28), now=NOW)
    assert [r.meta["file"] for r in reqs] == ["history", "current"]
    assert reqs[0].meta["since"] == dt.date(2026, 6, 28)


def test_incremental_early_in_month_rereads_last_month_from_history():
    # The last business day of June is only in the (lagging) history file.
    now = dt.datetime(2026, 7, 9, 3, 0, tzinfo=UTC)
    reqs = MofSource().build_requests(JGB, since=dt.date(2026, 7, 2), now=now)
    assert [r.meta["file"] for r in reqs] == ["history", "current"]
    assert reqs[0].meta["since"] == dt.date(2026, 6, 1)
    assert reqs[1].meta["since"] == dt.date(2026, 7, 2)
    assert [r.meta["file"] for r in MofSource(history_grace_days=0).build_requests(
        JGB, since=dt.date(2026, 7, 2), now=now)] == ["current"]


def test_month_is_taken_in_tokyo():
    # 2026-06-30 16:00 UTC is already 1 July in Tokyo: June is "last month".
    now = dt.datetime(2026, 6, 30, 16, 0, tzinfo=UTC)
    reqs = MofSource(history_grace_days=0).build_requests(JGB, since=dt.date(2026, 6, 25), now=now)
    assert [r.meta["file"] for r in reqs] == ["history", "current"]


def test_datetime_since_is_accepted():
    reqs = MofSource().build_requests(JGB, since=dt.datetime(2026, 7, 13, 5, tzinfo=UTC), now=NOW)
    assert [r.meta["file"] for r in reqs] == ["current"]


def test_no_mof_series_no_requests():
    assert MofSource().build_requests(UNIVERSE.for_source("fred"), since=None, now=NOW) == []


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="lang"):
        MofSource(lang="de")
    with pytest.raises(ValueError, match="history_grace_days"):
        MofSource(history_grace_days=-1)


def test_source_parse_uses_request_since(fixtures_dir):
    req = Request(source="mof", series=tuple(JGB), url=MOF_URLS["en"]["current"],
                  meta={"file": "current", "since": dt.date(2026, 7, 2)})
    frame = MofSource().parse(fixture_bytes(fixtures_dir, "jgbcme_current.csv"), req)
    assert dates_of(frame) == [dt.date(2026, 7, 2)] and len(frame) == 15
