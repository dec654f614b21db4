"""Shared links: typed parameters, defaults left out, bad values named and replaced."""
from __future__ import annotations

import datetime as dt

from components.urlstate import Param, notice_banner, parse, to_search

P = (Param("window", "choice", "60", choices=("60", "250", "ewma")),
     Param("threshold", "float", 3.0, lo=0.5, hi=20),
     Param("horizon", "int", 1, lo=1, hi=5),
     Param("asof", "date", None))


def test_round_trip():
    values, notices = parse(P, {"window": "250", "threshold": "6", "asof": "2026-01-20"})
    assert notices == []
    assert values == {"window": "250", "threshold": 6.0, "horizon": 1, "asof": dt.date(2026, 1, 20)}
    search = to_search(P, values)
    assert search == "?asof=2026-01-20&threshold=6&window=250"
    again, _ = parse(P, dict(p.split("=") for p in search[1:].split("&")))
    assert again == values


def test_bad_values_fall_back_with_notices():
    values, notices = parse(P, {"window": "90", "threshold": "abc", "horizon": "9", "asof": "20/01/2026",
                                "colour": "red", "token": "secret"})
    assert values == {"window": "60", "threshold": 3.0, "horizon": 1, "asof": None}
    text = " ".join(notices)
    for needle in ("window='90'", "threshold='abc'", "horizon='9'", "asof='20/01/2026'", "'colour'"):
        assert needle in text
    assert "secret" not in text               # the auth token is a known parameter, never echoed
    assert notice_banner(notices) is not None and notice_banner([]) is None


def test_defaults_make_an_empty_query():
    values, _ = parse(P, {})
    assert to_search(P, values) == ""


def test_event_kinds_parameter():
    from components.figures import EVENT_KINDS
    from components.urlstate import EVENTS, event_kinds_from_checklist, event_kinds_to_checklist

    E = (EVENTS,)
    assert parse(E, {"events": "boj,fomc"}) == ({"events": frozenset({"boj", "fomc"})}, [])
    assert parse(E, {"events": " FOMC , boj,"}) == ({"events": frozenset({"boj", "fomc"})}, [])
    assert parse(E, {"events": "none"}) == ({"events": frozenset()}, [])
    assert parse(E, {"events": "all"}) == ({"events": None}, [])
    assert parse(E, {"events": ",".join(EVENT_KINDS)}) == ({"events": None}, [])      # every kind = default
    for bad in ("boj,coup", "", ",", "x" * 300):
        values, notices = parse(E, {"events": bad})
        assert values == {"events": None} and len(notices) == 1 and "events=" in notices[0], bad
        assert "boj" in notices[0]                                                   # names the kinds
    assert to_search(E, {"events": frozenset({"fomc", "boj"})}) == "?events=boj,fomc"   # display order
    assert to_search(E, {"events": frozenset()}) == "?events=none"
    assert to_search(E, {"events": None}) == ""
    again, _ = parse(E, {"events": "boj,fomc"})
    assert to_search(E, again) == "?events=boj,fomc"
    assert event_kinds_to_checklist(None) == list(EVENT_KINDS)
    assert event_kinds_to_checklist(frozenset({"cpi", "boj"})) == ["boj", "cpi"]
    assert event_kinds_from_checklist(list(EVENT_KINDS)) is None
    assert event_kinds_from_checklist(None) is None
    assert event_kinds_from_checklist([]) == frozenset()
    assert event_kinds_from_checklist(["fomc"]) == frozenset({"fomc"})
