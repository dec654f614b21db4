"""The push feed's parse step (data/sources/push.py): JSON and CSV bodies → the standard frame;
a malformed body raises (nothing stored), a bad row is dropped with its reason."""
from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest

from data.frame import rejects_of, validate_rows
from data.sources.push import MAX_ROWS, parse_push
from errors import MalformedPayload
from universe import load_universe

UNIVERSE = load_universe()
NOW = dt.datetime(2026, 1, 20, 5, 40, tzinfo=dt.UTC)          # 14:40 JST


def js(*rows) -> bytes:
    return json.dumps({"observations": list(rows)}).encode()


def test_the_issue_example_is_an_intraday_print_of_the_exchange_30y():
    f = parse_push(js({"series": "jgb_30y_x", "ts": "2026-01-20T04:31:00Z", "value": 3.712}),
                   "application/json", UNIVERSE, NOW)
    assert rejects_of(f) == []
    assert f.to_dict("records") == [{"series_id": "jgb_30y_x", "freq": "I",
                                     "ts": pd.Timestamp("2026-01-20 04:31", tz="UTC"), "value": 3.712}]
    assert str(f["ts"].dtype) == "datetime64[ns, UTC]"
    clean, bad = validate_rows(f, known_series=UNIVERSE.ids, bounds=UNIVERSE.bounds(), now=NOW)
    assert len(clean) == 1 and bad == []


def test_csv_with_offsets_and_a_charset_parameter_gives_the_same_frame_as_json():
    body = ("series,ts,value\r\njgb_30y_x,2026-01-20T13:31:00+09:00,3.712\r\n"
            "jgb_10y_x, 2026-01-20T04:31:00Z , 2.318\r\n\r\n").encode()
    f = parse_push(body, "text/csv; charset=utf-8", UNIVERSE, NOW)
    j = parse_push(js({"series": "jgb_30y_x", "ts": "2026-01-20T04:31:00Z", "value": 3.712},
                      {"series": "jgb_10y_x", "ts": "2026-01-20T04:31:00Z", "value": "2.318"}),
                   "application/json; charset=utf-8", UNIVERSE, NOW)
    pd.testing.assert_frame_equal(f, j)
    assert rejects_of(f) == []


def test_a_daily_series_takes_the_posted_day_as_its_close_stamped_like_the_publisher():
    f = parse_push(js({"series": "jgb_30y", "ts": "2026-01-19", "value": 3.562},
                      {"series": "ust_10y", "ts": "2026-01-16T23:00:00-05:00", "value": 4.23}),
                   "application/json", UNIVERSE, NOW)
    assert rejects_of(f) == []
    jgb, ust = UNIVERSE.get("jgb_30y"), UNIVERSE.get("ust_10y")
    got = dict(zip(f["series_id"], f["ts"]))
    # The close instant every source stamps: the series' local close time on that day, in UTC.
    assert got["jgb_30y"] == pd.Timestamp(f"2026-01-19 {jgb.close}", tz=jgb.timezone).tz_convert("UTC")
    assert got["ust_10y"] == pd.Timestamp(f"2026-01-16 {ust.close}", tz=ust.timezone).tz_convert("UTC")
    assert set(f["freq"]) == {"D"}


@pytest.mark.parametrize("row, reason", [
    ({"series": "jgb_31y_x", "ts": "2026-01-20T04:31:00Z", "value": 3.7}, "unknown series 'jgb_31y_x'"),
    ({"series": "jgb_30y_x", "ts": "2026-01-20T13:31:00", "value": 3.7}, "has no time zone"),
    ({"series": "jgb_30y_x", "ts": "20/01/2026 13:31", "value": 3.7}, "has no time zone"),
    ({"series": "jgb_30y_x", "ts": "yesterday", "value": 3.7}, "not an ISO 8601 time"),
    ({"series": "jgb_30y_x", "ts": 1768883460, "value": 3.7}, "not an ISO 8601 string"),
    ({"series": "jgb_30y_x", "ts": "2026-01-20T04:31:00Z", "value": "3,7%"}, "is not a number"),
    ({"series": "jgb_30y_x", "ts": "2026-01-20T04:31:00Z", "value": None}, "is not a number"),
    ({"series": "jgb_30y_x", "ts": "2026-01-20T04:31:00Z", "value": True}, "is not a number"),
    ({"series": "jgb_30y_x", "ts": "2026-01-20T04:31:00Z", "value": float("nan")}, "is not finite"),
    ({"series": "jgb_30y_x", "ts": "2026-01-20T04:31:00Z", "value": "inf"}, "is not finite"),
    ({"series": "jgb_30y_x", "ts": "2026-01-20T06:00:00Z", "value": 3.7}, "ahead of the collector's clock"),
    ({"series": "jgb_30y", "ts": "2026-01-20", "value": 3.7}, "the close of 2026-01-20 is not yet"),
    ({"series": "jgb_30y", "ts": "2026-01-19T04:31:00Z", "value": 3.7, "freq": "I"}, "a daily series"),
    ({"series": "jgb_30y_x", "ts": "2026-01-20T04:31:00Z"}, "missing 'value'"),
    ({"series": "jgb_30y_x", "ts": "2026-01-20T04:31:00Z", "value": 3.7, "src": "BBG"}, "unknown field 'src'"),
])
def test_a_bad_row_is_dropped_with_its_reason_and_the_good_rows_go_on(row, reason):
    good = {"series": "jgb_30y_x", "ts": "2026-01-20T04:30:00Z", "value": 3.71}
    f = parse_push(js(good, row), "application/json", UNIVERSE, NOW)
    assert list(f["value"]) == [3.71]
    (why,) = rejects_of(f)
    assert why.startswith("row 2") and reason in why, why


def test_an_implausible_value_is_rejected_by_the_same_row_validation_as_every_source():
    f = parse_push(js({"series": "jgb_30y_x", "ts": "2026-01-20T04:30:00Z", "value": 371.2},
                      {"series": "jgb_30y_x", "ts": "2026-01-20T04:31:00Z", "value": 3.712}),
                   "application/json", UNIVERSE, NOW)
    clean, bad = validate_rows(f, known_series=UNIVERSE.ids, bounds=UNIVERSE.bounds(), now=NOW)
    assert list(clean["value"]) == [3.712]
    assert len(bad) == 1 and "outside the plausible range" in bad[0]


@pytest.mark.parametrize("body, ctype, why", [
    (b"", "application/json", "empty body"),
    (b"  \n", "text/csv", "empty body"),
    (b"<html><body>502 Bad Gateway</body></html>", "application/json", "not JSON"),
    (b'[{"series": "jgb_30y_x", "ts": "2026-01-20T04:31:00Z", "value": 3.7}]', "application/json", "observations"),
    (b'{"observations": {"series": "jgb_30y_x"}}', "application/json", "observations"),
    (b'{"observations": []}', "application/json", "no observations"),
    (b'{"observations": ["jgb_30y_x,2026-01-20T04:31:00Z,3.7"]}', "application/json", "not an object"),
    (b"date,close\n2026-01-20,3.7\n", "text/csv", "expected series,ts,value"),
    (b"series,ts,value\n", "text/csv", "no observations"),
    (b"\xff\xfe\x00b", "application/json", "not UTF-8"),
    (b"series=jgb_30y_x&value=3.7", "application/x-www-form-urlencoded", "send application/json or text/csv"),
])
def test_a_malformed_body_raises_so_nothing_of_it_is_stored(body, ctype, why):
    with pytest.raises(MalformedPayload, match=why):
        parse_push(body, ctype, UNIVERSE, NOW)


def test_a_body_over_the_row_limit_is_refused_whole():
    rows = [{"series": "jgb_30y_x", "ts": "2026-01-20T04:31:00Z", "value": 3.7}] * (MAX_ROWS + 1)
    with pytest.raises(MalformedPayload, match=f"at most {MAX_ROWS}"):
        parse_push(js(*rows), "application/json", UNIVERSE, NOW)


def test_a_csv_row_with_the_wrong_field_count_is_one_bad_row():
    body = b"series,ts,value\njgb_30y_x,2026-01-20T04:31:00Z,3.712\njgb_30y_x,2026-01-20T04:32:00Z\n"
    f = parse_push(body, "text/csv", UNIVERSE, NOW)
    assert len(f) == 1 and rejects_of(f) == ["row 2: 2 fields, the header has 3"]
