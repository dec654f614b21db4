"""Replay clock pause / resume / step (issue 13: at --speed 3600 the 2026-01-20 event was on
screen ~25 s with no way to stop): monotonic, published through the store's meta so every web
process shows the same clock, and on the Sources page only for who may act, checked on the server."""
from __future__ import annotations

import base64
import datetime as dt
import json
import time

import pytest

from config import Settings
from data.clock import ReplayClock, ReplayControl, clock_from_meta
from data.store import Store
from universe import load_universe
from views.snapshot import SnapshotService
from tests.layout import text

UTC = dt.timezone.utc
UNIVERSE = load_universe()
T = dt.datetime(2026, 1, 20, tzinfo=UTC)


def _js_now(meta: str) -> dt.datetime:
    """What assets/age.js and wall.js compute from the same meta."""
    c = json.loads(meta)
    start = dt.datetime.fromisoformat(c["start"])
    t = start if c["t0"] is None else start + dt.timedelta(seconds=(time.time() - c["t0"]) * c["speed"])
    return min(t, dt.datetime.fromisoformat(c["until"])) if c.get("until") else t


def test_pause_resume_step_are_monotonic_and_round_trip():
    c = ReplayClock(T, 3600.0, time.time() - 2.0)             # two seconds in: two hours of data time
    assert c.status()["state"] == "running"
    c.pause()
    stood = c.now()
    assert c.paused and stood >= T + dt.timedelta(hours=2)
    time.sleep(0.05)
    assert c.now() == stood                                    # paused: stands still
    web = clock_from_meta(c.to_meta())                         # another process reading meta
    assert web.paused and web.now() == stood and web.origin == T and abs(_js_now(c.to_meta()) - stood).total_seconds() < 1
    assert c.step(dt.timedelta(hours=1)) == stood + dt.timedelta(hours=1)
    assert c.step(dt.timedelta(days=1)) == stood + dt.timedelta(hours=25)
    assert clock_from_meta(c.to_meta()).now() == stood + dt.timedelta(hours=25)
    before = c.now()
    c.resume()
    time.sleep(0.05)
    after = c.now()
    assert after > before and after - before < dt.timedelta(minutes=10)   # ticks on from where it stood
    running = clock_from_meta(c.to_meta())
    assert running.status()["state"] == "running" and abs((running.now() - c.now()).total_seconds()) < 60
    assert abs((_js_now(c.to_meta()) - c.now()).total_seconds()) < 60
    with pytest.raises(ValueError):
        c.step(dt.timedelta(0))


def test_a_step_never_passes_until_and_stopped_is_its_own_state():
    until = dt.datetime(2026, 1, 20, 23, 59, 59, 999999, tzinfo=UTC)
    c = ReplayClock(T, 3600.0, time.time(), until=until)
    c.step(dt.timedelta(days=1))
    assert c.now() == until and c.status()["state"] == "stopped" and c.stopped
    c.resume()
    assert c.now() == until and clock_from_meta(c.to_meta()).status()["state"] == "stopped"


def test_a_held_clock_cannot_be_stepped_and_old_meta_still_reads():
    c = ReplayClock.starting(T, 3600.0, held=True)
    control = ReplayControl(c, publish=lambda: None)
    with pytest.raises(ValueError, match="loading"):
        control.act("pause")
    c.release()
    assert c.status()["state"] == "running"
    old = json.dumps({"kind": "replay", "start": T.isoformat(), "speed": 60.0, "t0": time.time()})
    assert clock_from_meta(old).status()["state"] == "running"
    assert clock_from_meta(json.dumps({"kind": "replay", "start": T.isoformat(), "speed": 60.0,
                                       "t0": None})).held


def test_the_control_publishes_each_change(tmp_path):
    from data.collector import Collector
    from main import replay_control

    store = Store(f"sqlite:///{tmp_path / 'r.db'}")
    clock = ReplayClock(T, 3600.0, time.time())
    c = Collector(store, UNIVERSE, {}, mode="replay", clock=clock)
    c.claim()
    control = replay_control(c)
    assert control.act("pause")["state"] == "paused"
    assert clock_from_meta(store.get_meta("clock")).paused
    control.act("step:1d")
    assert clock_from_meta(store.get_meta("clock")).now() == clock.now()
    assert control.act("resume")["state"] == "running"
    assert clock_from_meta(store.get_meta("clock")).status()["state"] == "running"
    with pytest.raises(ValueError):
        control.act("rewind")
    store.dispose()


# ---------------------------------------------------------------- the Sources page
@pytest.fixture
def page(tmp_path):
    import app as app_module

    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    store.create_schema()
    clock = ReplayClock(T, 3600.0, time.time())
    store.set_meta("mode", "replay")
    published = []

    def publish():
        published.append(clock.to_meta())
        store.set_meta("clock", clock.to_meta())

    publish()

    def build(control: bool, **kw):
        service = SnapshotService(store, UNIVERSE, check_every=0)
        dash_app = app_module.create_app(Settings(**kw), service,
                                         replay_control=ReplayControl(clock, publish) if control else None)
        dash_app.server.cm_snapshot = service.current      # what the page's callback is given
        return dash_app.server
    yield build, clock, published
    store.dispose()


def _call(server, action=None, *, headers=None, csrf=None, remote="127.0.0.1"):
    from callbacks.sources import replay_panel

    with server.test_request_context("/_dash-update-component", method="POST", headers=headers or {},
                                     environ_base={"REMOTE_ADDR": remote}):
        return replay_panel(server.cm_snapshot(), action, csrf, None)


def _same_page(token="A" * 43):
    return {"Origin": "http://localhost", "Host": "localhost", "Cookie": f"cm_csrf={token}"}, token


def test_local_user_sees_and_uses_the_buttons(page):
    build, clock, published = page
    server = build(True)
    out = _call(server)
    hidden, line, style, pause_off, resume_off, *_ = out
    assert hidden is False and style == {} and pause_off is False and resume_off is True
    assert "Replay data clock" in text(line) and "RUNNING ×3600" in text(line)
    headers, token = _same_page()
    out = _call(server, "pause", headers=headers, csrf=token)
    assert clock.paused and "PAUSED" in text(out[1]) and out[7] == ""
    assert json.loads(published[-1])["state"] == "paused"
    stood = clock.now()
    _call(server, "step:1h", headers=headers, csrf=token)
    assert clock.now() == stood + dt.timedelta(hours=1)
    _call(server, "resume", headers=headers, csrf=token)
    assert not clock.paused


def test_a_press_without_the_right_is_refused_on_the_server(page):
    build, clock, published = page
    server = build(True, auth_token="t0ken", operator_user="alice", operator_password="pw")
    viewer = {"Authorization": "Bearer t0ken", "Origin": "http://localhost", "Host": "localhost",
              "Cookie": "cm_csrf=" + "A" * 43}
    out = _call(server, headers=viewer)
    assert out[2] == {"display": "none"} and "Replay data clock" in text(out[1])     # line, no buttons
    n = len(published)
    out = _call(server, "pause", headers=viewer, csrf="A" * 43)                       # a forged press
    assert not clock.paused and len(published) == n and "nothing changed" in out[7]
    op = {**viewer, "Authorization": "Basic " + base64.b64encode(b"alice:pw").decode()}
    assert _call(server, headers=op)[2] == {}                                          # the operator: buttons
    out = _call(server, "pause", headers=op, csrf="B" * 43)                            # wrong CSRF token
    assert not clock.paused and "security token" in out[7]
    _call(server, "pause", headers=op, csrf="A" * 43)
    assert clock.paused


def test_a_proxied_request_is_not_local(page):
    build, clock, _ = page
    server = build(True)
    headers, token = _same_page()
    out = _call(server, "pause", headers={**headers, "X-Forwarded-For": "203.0.113.9"}, csrf=token)
    assert not clock.paused and "nothing changed" in out[7]


def test_without_the_collector_in_this_process_the_state_line_only(page):
    build, clock, _ = page
    server = build(False)                        # a gunicorn web worker: reads the clock from meta
    clock.pause()
    headers, token = _same_page()
    out = _call(server, "pause", headers=headers, csrf=token)
    assert out[0] is False and out[2] == {"display": "none"} and "no replay collector" in out[7]
    assert "Replay data clock" in text(out[1]) and "machine running this replay" in text(out[1])


def test_no_panel_outside_replay(tmp_path):
    import app as app_module
    from callbacks.sources import replay_panel

    store = Store(f"sqlite:///{tmp_path / 'l.db'}")
    store.create_schema()
    try:
        service = SnapshotService(store, UNIVERSE, check_every=0)
        server = app_module.create_app(Settings(), service).server
        with server.test_request_context("/_dash-update-component", method="POST",
                                         environ_base={"REMOTE_ADDR": "127.0.0.1"}):
            out = replay_panel(service.current(), None, None, None)
            assert out[0] is True and out[2] == {"display": "none"}
            assert replay_panel(service.current(), None, None, out[8]) == (__import__("dash").no_update,) * 9
    finally:
        store.dispose()


def _no_sources(mode: str):
    from views.sources import SourcesView

    return SourcesView(lines=(), gate={}, record=None, labels={}, mode=mode, detail=False, digest="d")


def test_sources_table_times_are_labelled_wall_clock():
    from components.sources import sources_table

    assert "Last success (wall clock)" in text(sources_table(_no_sources("live")))


def test_a_replay_says_it_has_no_intraday_jgb_history_instead_of_inventing_one():
    """Issue 10 §4: the saved files are closes; the Sources page says so in a replay (only)."""
    from components.sources import REPLAY_NO_QUOTES, sources_table
    from tests.layout import find

    replay = sources_table(_no_sources("replay"))
    assert find(replay, "sources-replay-no-quotes").children == REPLAY_NO_QUOTES
    assert "no intraday JGB history" in REPLAY_NO_QUOTES
    assert find(sources_table(_no_sources("live")), "sources-replay-no-quotes") is None
    assert "No day yet on which both" in text(sources_table(_no_sources("live")))
