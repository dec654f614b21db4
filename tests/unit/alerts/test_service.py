"""AlertService end to end on SQLite and PostgreSQL: shipped rules and universe, hand-built moves."""
from __future__ import annotations

import dataclasses
import datetime as dt
import threading

import pytest

from alerts.engine import Level, State
from alerts.notify import FeedNotifier, WebhookNotifier
from alerts.rules import load_rules
from alerts.service import AlertService
from data.store import Store
from errors import WritesClosed
from universe import load_universe
from tests.backends import store, store_url  # noqa: F401  (fixtures)
from tests.unit.alerts.helpers import DAY, T0, UTC, Hook, jgb30, zstat

UNIVERSE = load_universe()
RULES = load_rules(universe=UNIVERSE)
MIN = dt.timedelta(minutes=1)


def service(st: Store, *notifiers) -> AlertService:
    return AlertService(st, RULES, list(notifiers), UNIVERSE)


def test_big_close_fires_once_and_rerun_is_a_no_op(store):
    feed = FeedNotifier()
    svc = service(store, feed)
    quiet = zstat("jgb_10y", T0, 0.8)
    events = svc.run([jgb30(), quiet], {}, {"mof": "ok"}, T0 + MIN)
    assert [(e.rule_id, e.subject, e.kind, e.tier) for e in events] == [("jgb_curve_z", "jgb_30y", "firing", "critical")]
    assert [e.alert_id for e in feed.events()] == [events[0].alert_id]
    assert svc.run([jgb30(), quiet], {}, {"mof": "ok"}, T0 + 5 * MIN) == []   # same data again
    assert len(feed.events()) == 1
    states = svc.alerts.load_states()
    assert states[("jgb_curve_z", "jgb_30y")].state == State.FIRING
    assert states[("jgb_curve_z", "jgb_10y")].state == State.NORMAL


def test_restart_continues_the_same_episode_without_duplicates(store_url):
    first = Store(store_url)
    svc1 = service(first, FeedNotifier())
    [e1] = svc1.run([zstat("jgb_30y", T0, 4.4)], {}, {}, T0 + MIN)
    first.dispose()

    again = Store(store_url)          # a new process: new engine, new service, same database
    try:
        feed = FeedNotifier()
        svc2 = service(again, feed)
        assert svc2.run([zstat("jgb_30y", T0, 4.4)], {}, {}, T0 + 2 * MIN) == []  # replayed close
        [e2] = svc2.run([jgb30(ts=T0 + DAY)], {}, {}, T0 + DAY + MIN)
        assert (e2.kind, e2.alert_id, e2.seq, e2.prev_tier, e2.tier) == (
            "escalated", e1.alert_id, 2, "warning", "critical")
        stored = svc2.alerts.list_events(series="jgb_30y")
        assert [(e.kind, e.seq) for e in stored] == [("escalated", 2), ("firing", 1)]
        assert [e.kind for e in feed.events()] == ["escalated"]
    finally:
        again.dispose()


def test_silenced_series_is_tracked_but_not_notified(store):
    feed = FeedNotifier()
    svc = service(store, feed)
    svc.alerts.add_silence(series_id="jgb_30y", until=T0 + 2 * DAY, created_by="desk", reason="BoJ", now=T0)
    events = svc.run([jgb30()], {}, {}, T0 + MIN)
    assert [e.kind for e in events] == ["firing"] and events[0].silenced and not events[0].notify
    assert feed.events() == []
    assert svc.alerts.load_states()[("jgb_curve_z", "jgb_30y")].state == State.FIRING
    # Silence over: the next change notifies again.
    events = svc.run([zstat("jgb_30y", T0 + 3 * DAY, 0.4)], {}, {}, T0 + 3 * DAY)
    assert [e.kind for e in events] == ["resolved"] and events[0].notify
    assert [e.kind for e in feed.events()] == ["resolved"]


def test_acknowledge_through_the_service_shows_in_the_payload(store):
    svc = service(store)
    [e] = svc.run([jgb30()], {}, {}, T0 + MIN)
    ack = svc.acknowledge(e.alert_id, "yuki", T0 + 10 * MIN)
    assert ack.by == "yuki"
    body = svc.alerts.payload(T0 + 11 * MIN)
    [alert] = body["alerts"]
    assert alert["acknowledged"]["by"] == "yuki" and alert["state"] == "firing"
    svc.run([jgb30(ts=T0 + DAY, z={"w60": 6.5})], {}, {}, T0 + DAY)  # evaluation does not erase the ack
    assert svc.alerts.load_states()[("jgb_curve_z", "jgb_30y")].acked_by == "yuki"


def test_stale_and_failing_sources_give_nodata_and_error(store):
    svc = service(store)
    svc.run([jgb30()], {}, {"mof": "ok"}, T0 + MIN)
    events = svc.run([], {}, {"mof": "stale", "treasury": "failing"}, T0 + DAY)
    by = {(e.rule_id, e.subject): e for e in events}
    assert by[("jgb_curve_z", "jgb_30y")].kind == "nodata"
    assert by[("ust_curve_z", "ust_10y")].kind == "error"
    assert by[("ust10_jgb10_spread", "ust_10y-jgb_10y")].kind == "error"  # worst leg
    states = svc.alerts.load_states()
    jgb = states[("jgb_curve_z", "jgb_30y")]
    assert jgb.state == State.NODATA and jgb.prior == State.FIRING and jgb.tier == "critical"
    # "never" (no attempt yet) and "backfilling" carry no verdict: nothing happens
    assert svc.run([], {}, {"yahoo": "never", "fred": "backfilling"}, T0 + DAY) == []
    events = svc.run([jgb30()], {}, {"mof": "ok"}, T0 + DAY + MIN)
    assert ("jgb_curve_z", "jgb_30y", "restored") in {(e.rule_id, e.subject, e.kind) for e in events}
    assert svc.alerts.load_states()[("jgb_curve_z", "jgb_30y")].state == State.FIRING


def test_levels_spreads_and_disabled_rules(store):
    svc = service(store)
    ust = zstat("ust_10y", T0.replace(hour=20, minute=30), 4.0, sigma=5.5, source="treasury")   # +22 bp
    jgb = zstat("jgb_10y", T0, -1.0, sigma=4.0)                                                 # −4 bp
    vix = zstat("vix", T0, 9.0, unit="logpct", sigma=5.0, source="yahoo")                       # context: disabled
    levels = {"jgb_40y": Level("jgb_40y", T0, 4.02, source="mof"),
              "usdjpy": Level("usdjpy", T0, 158.7, source="yahoo", unit="")}
    events = svc.run([ust, jgb, vix], levels, {}, T0 + DAY)
    got = {(e.rule_id, e.subject): e for e in events}
    assert set(got) == {("ust_curve_z", "ust_10y"), ("jgb_40y_level", "jgb_40y"),
                        ("ust10_jgb10_spread", "ust_10y-jgb_10y")}
    assert got[("ust10_jgb10_spread", "ust_10y-jgb_10y")].tier == "warning"
    assert "JGB 40Y at or above 4.00 % 4.02 % ≥ 4.00 %" in got[("jgb_40y_level", "jgb_40y")].text


def test_intraday_single_print_is_confirmed_by_the_future_through_groups(store):
    svc = service(store)
    t = dt.datetime(2026, 1, 20, 14, 30, tzinfo=UTC)
    tnx = zstat("ust_10y_yh", t, 7.5, kind="intraday", source="yahoo", single_print=True)
    events = svc.run([tnx], {}, {}, t + MIN)
    # pending_for = 2 for intraday in the shipped rules, so even confirmed it is first Pending…
    assert [(e.subject, e.kind) for e in events] == [("ust_10y_yh", "pending")]
    zn = zstat("zn_f", t + MIN, -6.8, unit="logpct", sigma=0.3, kind="intraday", source="yahoo")
    tnx2 = dataclasses.replace(tnx, ts=t + MIN)
    tnx3 = dataclasses.replace(tnx, ts=t + 2 * MIN)
    svc.run([tnx2, zn], {}, {}, t + 2 * MIN)
    events = svc.run([tnx3, dataclasses.replace(zn, ts=t + 2 * MIN)], {}, {}, t + 3 * MIN)
    fired = [e for e in events if e.subject == "ust_10y_yh"]
    assert [(e.kind, e.tier) for e in fired] == [("firing", "critical")]
    assert fired[0].detail["confirmed_by"] == "zn_f@yahoo"


def test_a_hanging_webhook_does_not_block_run(store):
    hold = threading.Event()
    hook = Hook(plan=[200], hold=hold)
    wh = WebhookNotifier(hook.url, timeout=30)
    feed = FeedNotifier()
    svc = service(store, wh, feed)
    try:
        events = svc.run([jgb30()], {}, {}, T0 + MIN)
        answered_before_run_returned = hold.is_set()
        assert [e.kind for e in events] == ["firing"]
        assert not answered_before_run_returned          # run() came back while the hook still hangs
        assert [e.alert_id for e in feed.events()] == [events[0].alert_id]  # other notifiers served
        assert hook.received.wait(10)                    # …and the POST is really in flight
        assert wh.stats["delivered"] == 0
        hold.set()
        assert wh.flush(10) and wh.stats["delivered"] == 1
        assert hook.bodies[0]["alert"]["alert_id"] == events[0].alert_id
    finally:
        svc.close()
        hook.close()


def test_a_broken_notifier_does_not_break_the_run(store):
    class Boom:
        name = "boom"

        def notify(self, events):
            raise RuntimeError("boom")

        def close(self, timeout=5.0):
            pass

    feed = FeedNotifier()
    svc = service(store, Boom(), feed)
    assert [e.kind for e in svc.run([jgb30()], {}, {}, T0 + MIN)] == ["firing"]
    assert len(feed.events()) == 1


def test_naive_now_is_refused(store):
    with pytest.raises(ValueError):
        service(store).alerts.add_silence(series_id="x", until=dt.datetime(2026, 1, 1))


def test_once_the_store_is_closed_for_writes_a_run_neither_persists_nor_notifies(store):
    # What a stopping collector's last alert run meets (Collector.shutdown → Store.close_writes).
    feed = FeedNotifier()
    svc = service(store, feed)
    assert store.close_writes("the collector is shutting down", timeout=0)
    with pytest.raises(WritesClosed):
        svc.run([jgb30()], {}, {}, T0 + MIN)
    assert feed.events() == [] and svc.alerts.load_states() == {}
    store.open_writes()                              # the next collector judges the same data, once
    assert [e.kind for e in svc.run([jgb30()], {}, {}, T0 + MIN)] == ["firing"]
    assert len(feed.events()) == 1


def test_closing_the_writes_waits_for_a_run_until_it_has_notified(store):
    entered, release = threading.Event(), threading.Event()

    class Slow(FeedNotifier):
        def notify(self, events):
            entered.set()
            release.wait(10)
            super().notify(events)

    slow = Slow()
    svc = service(store, slow)
    runner = threading.Thread(target=svc.run, args=([jgb30()], {}, {}, T0 + MIN))
    runner.start()
    try:
        assert entered.wait(10)                      # persisted, now notifying
        assert store.close_writes("stopping", timeout=0.2) is False   # the lease must not go yet
    finally:
        release.set()
        runner.join(10)
    assert store.close_writes("stopping", timeout=5) is True
    assert len(slow.events()) == 1 and len(svc.alerts.list_events(series="jgb_30y")) == 1
