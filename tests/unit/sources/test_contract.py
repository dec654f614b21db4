"""The checks every registered source passes (data/sources/registry.py), so a new publisher gets
them by being registered: its requests cover its own series and nothing else; the fetch step maps
every network outcome onto the project's errors, with the given timeout and a browser-like
User-Agent; the parse step turns an error page or garbage into MalformedPayload/EmptyPayload,
never into rows. What a publisher's format means is tested on its real files in its own module.
"""
from __future__ import annotations

import datetime as dt
import random

import pytest
import requests

import main
from config import Settings
from data.sources.base import USER_AGENT, Request
from data.sources.registry import REGISTRY, sources_for
from errors import EmptyPayload, FetchError, MalformedPayload, RateLimited
from tests.http_fake import FakeSession
from universe import SOURCE_INFO, SOURCES, load_universe

UNIVERSE = load_universe()
NOW = dt.datetime(2026, 1, 21, 9, 0, tzinfo=dt.timezone.utc)
HTTP = sorted(n for n, r in REGISTRY.items() if r.http_session)
LIVE = sources_for("live")
PAGES = [b"<!DOCTYPE html>\n<html><head><title>403 Forbidden</title></head><body>Access denied</body></html>",
         b"\n  <html><body><h1>Service Unavailable</h1></body></html>",
         b'{"error": "rate limited"}']


def _source(name: str):
    return REGISTRY[name].build(Settings(), UNIVERSE)


def _requests(name: str, since) -> list[Request]:
    return _source(name).build_requests(UNIVERSE.for_source(name), since=since, now=NOW)


def test_the_registry_and_the_source_table_name_the_same_sources():
    scheduled = {n for n, i in SOURCE_INFO.items() if i.scheduled}
    assert set(REGISTRY) == scheduled and SOURCE_INFO.keys() - scheduled == {"push"}
    assert set(LIVE) == SOURCES - {"push"} and set(LIVE) <= set(HTTP) | {"yahoo"}
    assert "push" not in Settings().cadences()      # no job, no cadence: POST /ingest feeds it
    for name, info in SOURCE_INFO.items():
        assert info.label and info.mode in ("live", "demo", "replay"), name
    for name in REGISTRY:
        assert REGISTRY[name].cursor in ("date", "datetime"), name


@pytest.mark.parametrize("mode", ["live", "demo"])
def test_a_run_mode_gets_one_job_per_registered_source_at_its_cadence(mode):
    settings = Settings(mode=mode, yahoo_every=45.0, daily_every=900.0)
    jobs = main.build_jobs(settings, UNIVERSE)
    assert list(jobs) == sources_for(mode)
    for name, job in jobs.items():
        assert job.source.name == name
        assert job.every == settings.cadences()[name] > 0
        assert job.every == getattr(settings, SOURCE_INFO[name].every)
        assert (job.session_factory is not None) == REGISTRY[name].http_session
        assert job.cursor == REGISTRY[name].cursor


@pytest.mark.parametrize("name", LIVE)
@pytest.mark.parametrize("since", [None, dt.date(2026, 1, 16)], ids=["backfill", "incremental"])
def test_requests_cover_the_sources_own_series_and_nothing_else(name, since):
    mine = {s.id for s in UNIVERSE.for_source(name)}
    reqs = _requests(name, since)
    assert reqs, f"{name}: no request for {len(mine)} series"
    asked = set()
    for r in reqs:
        assert isinstance(r, Request) and r.source == name
        ids = {s.id for s in r.series}
        assert ids and ids <= mine, f"{name}: asks for {sorted(ids - mine)}"
        asked |= ids
        if REGISTRY[name].http_session:
            assert r.url and r.url.startswith("https://"), r.url
    assert asked == mine or since is not None, f"{name}: the backfill misses {sorted(mine - asked)}"


def _one_request(name: str) -> Request:
    return _requests(name, None)[-1]


@pytest.mark.parametrize("name", HTTP)
def test_fetch_returns_the_body_with_the_timeout_and_a_browser_user_agent(name):
    session = FakeSession((200, b"a,b\n1,2\n"))
    req = _one_request(name)
    assert _source(name).fetch(req, session=session, timeout=7.5) == b"a,b\n1,2\n"
    (call,) = session.calls
    assert call["url"] == req.url and call["timeout"] == 7.5
    assert call["headers"]["User-Agent"] == USER_AGENT and "python-requests" not in USER_AGENT


@pytest.mark.parametrize("name", HTTP)
def test_fetch_429_is_rate_limited(name):
    with pytest.raises(RateLimited) as err:
        _source(name).fetch(_one_request(name), session=FakeSession((429, b"Too Many Requests")), timeout=5)
    assert err.value.status == 429


@pytest.mark.parametrize("name", HTTP)
@pytest.mark.parametrize("status", [400, 403, 404, 500, 503])
def test_fetch_http_error_keeps_its_status(name, status):
    with pytest.raises(FetchError) as err:
        _source(name).fetch(_one_request(name), session=FakeSession((status, b"<html>error</html>")), timeout=5)
    assert err.value.status == status and not isinstance(err.value, RateLimited)
    assert str(status) in str(err.value)


@pytest.mark.parametrize("name", HTTP)
@pytest.mark.parametrize("exc, words", [(requests.Timeout("read timed out"), "timeout"),
                                        (requests.ConnectionError("no route to host"), "ConnectionError")])
def test_fetch_network_failure_is_fetch_error(name, exc, words):
    with pytest.raises(FetchError, match=words):
        _source(name).fetch(_one_request(name), session=FakeSession(exc), timeout=5)


@pytest.mark.parametrize("name", HTTP)
@pytest.mark.parametrize("body", [b"", b"  \r\n"])
def test_fetch_empty_body_is_empty_payload(name, body):
    with pytest.raises(EmptyPayload):
        _source(name).fetch(_one_request(name), session=FakeSession((200, body)), timeout=5)


@pytest.mark.parametrize("name", HTTP)
@pytest.mark.parametrize("page", PAGES, ids=["html-403", "html-503", "json"])
def test_an_error_page_served_as_200_is_rejected_not_parsed(name, page):
    for req in _requests(name, None):
        with pytest.raises((MalformedPayload, EmptyPayload)):
            _source(name).parse(page, req)


@pytest.mark.parametrize("name", HTTP)
@pytest.mark.parametrize("seed", range(3))
def test_garbage_bytes_are_rejected_not_parsed(name, seed):
    raw = random.Random(seed).randbytes(2000)
    with pytest.raises((MalformedPayload, EmptyPayload)):
        _source(name).parse(raw, _one_request(name))
