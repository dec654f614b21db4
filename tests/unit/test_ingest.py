"""The push feed end to end (issue 10 §3): a real collector on a real SQLite store holding the
MOF curve to 2026-01-19, its ingest listener on a loopback port, real HTTP requests. A desk posts
the JGB 30Y path of 2026-01-20 from its own terminal and the intraday rule fires critical; a wrong
token, a malformed body or a refused request stores nothing; bad rows are named, good rows kept."""
from __future__ import annotations

import datetime as dt
import json
import logging
import random

import pytest
import requests

import main
from alerts.pipeline import AlertPipeline
from alerts.rules import load_rules
from alerts.store import AlertStore
from config import Settings
from data.collector import Collector
from data.ingest import IngestServer
from data.store import Store
from tests.unit.realjgb import FixedClock, jgb_closes
from universe import load_universe

UNIVERSE = load_universe()
UTC = dt.UTC
T0 = dt.datetime(2026, 1, 20, 5, 35, tzinfo=UTC)           # 14:35 JST
TOKEN = "desk-feed-token-0123456789"


@pytest.fixture
def feed(tmp_path, market_dir):
    store = Store(f"sqlite:///{tmp_path / 'push.db'}")
    store.create_schema()
    store.upsert(jgb_closes(market_dir, None, "2026-01-19"), source="mof",
                 known_at=dt.datetime(2026, 1, 19, 15, 30, tzinfo=UTC))
    clock = FixedClock(T0)
    pipeline = AlertPipeline(store, UNIVERSE, load_rules(universe=UNIVERSE), clock=clock)
    c = Collector(store, UNIVERSE, {}, clock=clock, rng=random.Random(1), after_cycle=pipeline.run,
                  judge=pipeline.gate.judge, on_stop=pipeline.close)
    server = IngestServer(c, UNIVERSE, token=TOKEN, port=0, max_body=64 << 10)
    c.services.append(server)
    c.start()
    url = f"http://127.0.0.1:{server.port}/ingest"
    yield store, c, clock, url
    c.shutdown(grace=5)
    store.dispose()


def post(url, body, *, token=TOKEN, ctype="application/json", **kw):
    headers = {"Content-Type": ctype, **({"Authorization": f"Bearer {token}"} if token else {})}
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    return requests.post(url, data=data, headers=headers, timeout=10, **kw)


def path30(minute: int, value: float) -> dict:
    return {"series": "jgb_30y_x", "ts": (T0 + dt.timedelta(minutes=minute)).isoformat(), "value": value}


def count(store) -> int:
    return len(store.read(freq="I"))


def test_a_posted_six_sigma_30y_path_fires_the_jgb_intraday_rule_critical(feed):
    store, c, clock, url = feed
    for k, v in enumerate((3.748, 3.750, 3.752)):
        clock._now = T0 + dt.timedelta(minutes=k)
        r = post(url, {"observations": [path30(k, v)]})
        assert r.status_code == 200, r.text
        assert r.json() == {"received": 1, "stored": 1, "held": 0, "rejected": []}
    obs = store.read(freq="I")
    assert list(obs["series_id"]) == ["jgb_30y_x"] * 3 and list(obs["value"]) == [3.748, 3.750, 3.752]
    fired = [e for e in AlertStore(store).list_events(series="jgb_30y_x", limit=20) if e.kind in ("firing", "escalated")]
    assert fired and fired[0].rule_id == "jgb_intraday_z" and fired[0].tier == "critical", \
        [(e.kind, e.tier, e.text) for e in AlertStore(store).list_events(limit=20)]
    assert "Push feed" in fired[0].text and "JGB 30Y (exchange)" in fired[0].text
    h = next(h for h in store.health() if h.source == "push")
    assert h.rows_written_total == 3 and h.consecutive_failures == 0 and h.last_success is not None


def test_csv_bodies_store_the_same_way(feed):
    store, c, clock, url = feed
    body = b"series,ts,value\njgb_10y_x,2026-01-20T05:30:00Z,2.318\njgb_10y_x,2026-01-20T14:31:00+09:00,2.321\n"
    r = post(url, body, ctype="text/csv")
    assert r.status_code == 200 and r.json()["stored"] == 2
    assert sorted(store.read(freq="I")["value"]) == [2.318, 2.321]


def test_bad_rows_are_named_and_the_good_ones_stored(feed, caplog):
    store, c, clock, url = feed
    r = post(url, {"observations": [
        path30(0, 3.748),
        {"series": "nikkei", "ts": "2026-01-20T05:35:00Z", "value": 1.0},
        {"series": "jgb_30y_x", "ts": "2026-01-20T14:35:00", "value": 3.75},
        {"series": "jgb_30y_x", "ts": "2026-01-20T05:36:00Z", "value": float("nan")},
        {"series": "jgb_30y_x", "ts": "2026-01-20T05:37:00Z", "value": 374.8},
    ]})
    assert r.status_code == 200
    doc = r.json()
    assert doc["received"] == 5 and doc["stored"] == 1 and len(doc["rejected"]) == 4
    why = "\n".join(doc["rejected"])
    for text in ("unknown series 'nikkei'", "no time zone", "not finite", "outside the plausible range"):
        assert text in why
    assert count(store) == 1
    h = next(h for h in store.health() if h.source == "push")
    assert h.rejected_last == 4 and "plausible range" in (h.last_rejection or "")


@pytest.mark.parametrize("token", [None, "wrong-token-0123456789", TOKEN + "x", TOKEN[:-1]])
def test_a_missing_or_wrong_token_is_401_and_stores_nothing(feed, token, caplog):
    store, c, clock, url = feed
    with caplog.at_level(logging.DEBUG):
        r = post(url, {"observations": [path30(0, 3.748)]}, token=token)
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")
    assert count(store) == 0 and "push" not in {h.source for h in store.health()}
    assert TOKEN not in caplog.text and (token is None or token not in caplog.text)


def test_basic_auth_with_the_token_as_password_is_not_a_bearer_token(feed):
    store, c, clock, url = feed
    r = requests.post(url, json={"observations": [path30(0, 3.748)]}, auth=("desk", TOKEN), timeout=10)
    assert r.status_code == 401 and count(store) == 0


@pytest.mark.parametrize("body, ctype", [
    (b"<html>oops</html>", "application/json"),
    (b'{"observations": {"series": "jgb_30y_x"}}', "application/json"),
    (b"close\n3.7\n", "text/csv"),
    (b"", "application/json"),
])
def test_a_malformed_body_is_400_and_stores_nothing(feed, body, ctype):
    store, c, clock, url = feed
    r = post(url, body, ctype=ctype)
    assert r.status_code == 400 and r.json()["stored"] == 0 and r.json()["error"]
    assert count(store) == 0


def test_refused_requests_store_nothing(feed):
    store, c, clock, url = feed
    big = {"observations": [path30(0, 3.748)] * 2000}                   # > 64 KiB
    assert post(url, big).status_code == 413
    assert requests.get(url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10).status_code == 405
    assert post(url.replace("/ingest", "/ingest2"), {"observations": [path30(0, 3.748)]}).status_code == 404
    raw = requests.Request("POST", url, headers={"Authorization": f"Bearer {TOKEN}"},
                           data=iter([b'{"observations": []}'])).prepare()        # chunked: no length
    assert requests.Session().send(raw, timeout=10).status_code == 411
    assert count(store) == 0


def test_the_listener_stops_with_the_collector_and_a_stopping_collector_stores_nothing(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    c = Collector(store, UNIVERSE, {}, clock=FixedClock(T0))
    server = IngestServer(c, UNIVERSE, token=TOKEN, port=0)
    c.services.append(server)
    c.start()
    url = f"http://127.0.0.1:{server.port}/ingest"
    assert post(url, {"observations": [path30(0, 3.748)]}).status_code == 200
    c._halt("test: writes closed")                                      # e.g. the lease was lost
    r = post(url, {"observations": [path30(1, 3.750)]})
    assert r.status_code == 503 and r.json()["stored"] == 0
    c.shutdown(grace=2)
    with pytest.raises(requests.ConnectionError):
        post(url, {"observations": [path30(2, 3.752)]})
    assert count(store) == 1
    store.dispose()


def test_a_port_in_use_shows_as_the_push_feeds_error_and_collection_goes_on(tmp_path):
    import socket
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        store = Store(f"sqlite:///{tmp_path / 's.db'}")
        c = Collector(store, UNIVERSE, {}, clock=FixedClock(T0))
        c.services.append(IngestServer(c, UNIVERSE, token=TOKEN, port=taken.getsockname()[1]))
        c.start()
        try:
            assert c.running
            h = next(h for h in store.health() if h.source == "push")
            assert h.consecutive_failures == 1 and "did not start" in h.last_error
        finally:
            c.shutdown(grace=2)
            store.dispose()


def test_the_composition_root_adds_the_listener_only_when_a_port_is_set(tmp_path):
    base = Settings(data_dir=tmp_path)
    store = Store(base.resolved_db_url())
    off = main.build_collector(base, UNIVERSE, store)
    assert off.services == [] and "push" not in off.jobs
    on = main.build_collector(Settings(data_dir=tmp_path, ingest_port=9123, ingest_token=TOKEN).validate(),
                              UNIVERSE, store)
    (svc,) = on.services
    assert isinstance(svc, IngestServer) and (svc.host, svc.port) == ("127.0.0.1", 9123)
    assert TOKEN not in repr(svc) and TOKEN not in repr(on.services)
    store.dispose()
