"""The replay clock: held while the history loads, then accelerated, stopping at --until and
staying there; web processes rebuild the same clock from the store's meta."""
from __future__ import annotations

import datetime as dt
import time

from config import Settings
from data.clock import ReplayClock, clock_from_meta
from main import build_clock

UTC = dt.timezone.utc


def test_until_stops_the_clock_and_the_state_round_trips():
    until = dt.datetime(2026, 1, 20, 23, 59, 59, 999999, tzinfo=UTC)
    c = ReplayClock(dt.datetime(2026, 1, 20, tzinfo=UTC), 86400.0 * 30, time.time() - 1.0, until=until)
    assert c.now() == until and c.stopped                     # a month of market time has passed: it stands
    again = clock_from_meta(c.to_meta())
    assert isinstance(again, ReplayClock) and again.until == until and again.now() == until
    free = ReplayClock(dt.datetime(2026, 1, 20, tzinfo=UTC), 3600.0, time.time())
    assert not free.stopped and clock_from_meta(free.to_meta()).until is None


def test_the_collectors_clock_takes_until_from_the_settings(tmp_path):
    s = Settings(mode="replay", replay_dir=tmp_path, replay_start=dt.date(2026, 1, 19),
                 replay_until=dt.date(2026, 1, 21))
    c = build_clock(s)
    assert c.held and c.until == dt.datetime(2026, 1, 21, 23, 59, 59, 999999, tzinfo=UTC)
    c.release()
    assert c.now() <= c.until


def test_the_banner_says_when_the_replay_stopped_at_until():
    from components.shell import banner
    from tests.layout import text
    from views.shell import BannerView

    def view(stopped: bool) -> BannerView:
        return BannerView(mode="replay", now=dt.datetime(2026, 1, 21, 23, 59, tzinfo=UTC), stale=(), failing=(),
                          store_error=None, stopped=stopped, digest="d")

    assert "stopped at --until" in text(banner(view(True)))
    assert "stopped" not in text(banner(view(False)))


def test_open_pages_get_the_replay_clock_again_when_it_changes(tmp_path):
    import json

    import app as app_module
    from callbacks.shell import clock_tick
    from views.snapshot import SnapshotService
    from data.store import Store
    from universe import load_universe
    from dash import no_update

    store = Store(f"sqlite:///{tmp_path / 'c.db'}")
    store.create_schema()
    try:
        clock = ReplayClock(dt.datetime(2026, 1, 20, tzinfo=UTC), 3600.0, time.time())
        store.set_meta("mode", "replay")
        store.set_meta("clock", clock.to_meta())
        services = [SnapshotService(store, load_universe(), check_every=0)]
        app_module.create_app(Settings(), services[0])

        def clock_view(n, shown):                     # the newest service: another web process
            return clock_tick(services[-1].current, n, shown)
        shown = clock_view(1, None)
        assert shown == json.loads(clock.to_meta())
        assert clock_view(2, shown) is no_update                    # unchanged: nothing sent
        paused = ReplayClock(dt.datetime(2026, 1, 20, 5, tzinfo=UTC), 3600.0, None)
        store.set_meta("clock", paused.to_meta())
        services.append(SnapshotService(store, load_universe(), check_every=0))
        assert clock_view(3, shown) == json.loads(paused.to_meta())
    finally:
        store.dispose()
