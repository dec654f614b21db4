"""Incidents: the grouping rules pinned through the live AlertService (shipped rules and universe,
SQLite and PostgreSQL), and the 2026-01-20 replay on the real files giving one JGB incident headed
by the +20.3 bp, 7.6σ day of the 30Y."""
from __future__ import annotations

import datetime as dt
import json

import pytest

from alerts.engine import Signal
from alerts.incidents import CROSS, incident_from_json, incident_json
from alerts.rules import load_rules
from alerts.service import AlertService
from alerts.store import AlertStore
from data.store import Store
from universe import load_universe
from tests.backends import store, store_url  # noqa: F401  (fixtures)
from tests.unit.alerts.helpers import DAY, T0, UTC, jgb30, zstat

UNIVERSE = load_universe()
RULES = load_rules(universe=UNIVERSE)
MIN = dt.timedelta(minutes=1)
UST_T0 = dt.datetime(2026, 1, 20, 20, 0, tzinfo=UTC)


class Told:
    """A notifier that records the incident events it is handed (and the alert events)."""

    name = "told"

    def __init__(self):
        self.incidents, self.alerts = [], []

    def notify(self, events):
        self.alerts.extend(events)

    def notify_incidents(self, events):
        self.incidents.extend(events)

    def close(self, timeout=5.0):
        pass


def svc(st: Store, *notifiers) -> AlertService:
    return AlertService(st, RULES, list(notifiers), UNIVERSE)


def test_one_print_of_the_curve_is_one_incident_with_one_opened_event(store):
    told = Told()
    s = svc(store, told)
    moves = [jgb30(), zstat("jgb_20y", T0, 8.0, return_period=9.0), zstat("jgb_40y", T0, 4.5, return_period=4.6),
             zstat("jgb_30y", T0, 7.5, horizon=2, return_period=26.0)]
    events = s.run(moves, {}, {"mof": "ok"}, T0 + MIN)
    assert len({e.alert_id for e in events if e.kind == "firing"}) == 4
    [ev] = told.incidents
    assert ev.kind == "opened" and ev.tier == "critical" and ev.notify
    inc = ev.incident
    assert inc.market == "JP" and inc.is_open and len(inc.members) == 4
    # The headline is the rarest ONE-day move, not the rarer 2-day one, nor the biggest z.
    assert inc.lead.subject == "jgb_30y" and inc.lead.horizon == 1
    assert inc.title == "JGB 30Y +20.3 bp, 7.6σ · critical · 4 alerts"
    [stored] = s.alerts.list_incidents()
    assert stored["id"] == inc.id and stored["count"] == 4 and stored["headline"] == "JGB 30Y +20.3 bp, 7.6σ"


def test_markets_stay_apart_and_cross_market_rules_have_their_own(store):
    s = svc(store, told := Told())
    s.run([jgb30(), zstat("ust_10y", T0, 6.5, source="treasury")], {}, {}, T0 + MIN,
          signals=[Signal("spillover_jump", "total", True, 6.0, 5.0, T0, "spillover +6 points")])
    by_market = {e.incident.market: e.incident for e in told.incidents}
    assert set(by_market) == {"JP", "US", CROSS}
    assert [m.subject for m in by_market["JP"].members] == ["jgb_30y"]
    assert [m.rule_id for m in by_market[CROSS].members] == ["contagion_signals"]


def test_pending_joins_an_open_incident_but_never_opens_one(store):
    s = svc(store, told := Told())
    held = zstat("jgb_10y", T0, 4.5, quality="unconfirmed")     # the gate holds it: Pending
    s.run([held], {}, {}, T0 + MIN)
    assert told.incidents == [] and s.alerts.list_incidents() == []
    s.run([held, jgb30()], {}, {}, T0 + 2 * MIN)
    [ev] = told.incidents
    states = {m.subject: m.state for m in ev.incident.members}
    assert states == {"jgb_10y": "pending", "jgb_30y": "firing"}


def test_a_pending_member_does_not_make_the_incident_louder_until_it_fires(store):
    """The wall's CRITICAL banner is the incident's tier: a held 7σ print (Pending until the gate
    confirms it) must not raise it — only its firing does, as one `escalated` event."""
    s = svc(store, told := Told())
    s.run([zstat("jgb_30y", T0, 3.5)], {}, {}, T0 + MIN)                          # watch: opens
    held = zstat("jgb_10y", T0, 7.0, quality="unconfirmed")
    s.run([zstat("jgb_30y", T0, 3.5), held], {}, {}, T0 + 2 * MIN)
    [opened, joined] = told.incidents
    assert (opened.kind, joined.kind, joined.tier) == ("opened", "joined", "watch")
    assert {m.subject: (m.state, m.tier) for m in joined.incident.members} == {
        "jgb_30y": ("firing", "watch"), "jgb_10y": ("pending", "critical")}
    assert [i["tier"] for i in s.alerts.list_incidents()] == ["watch"]
    s.run([zstat("jgb_30y", T0, 3.5), zstat("jgb_10y", T0, 7.0)], {}, {}, T0 + 3 * MIN)   # confirmed
    last = told.incidents[-1]
    assert (last.kind, last.tier, last.prev_tier) == ("escalated", "critical", "watch") and last.notify
    assert [i["tier"] for i in s.alerts.list_incidents()] == ["critical"]


def test_escalation_joins_and_resolution_one_event_each_and_the_tier_never_drops(store):
    s = svc(store, told := Told())
    s.run([zstat("jgb_30y", T0, 3.5)], {}, {}, T0 + MIN)                         # watch: opens
    s.run([zstat("jgb_30y", T0 + DAY, 4.5), zstat("jgb_20y", T0 + DAY, 3.2)], {}, {}, T0 + DAY + MIN)
    s.run([zstat("jgb_30y", T0 + 2 * DAY, 3.4), zstat("jgb_20y", T0 + 2 * DAY, 6.5)], {}, {}, T0 + 2 * DAY + MIN)
    s.run([zstat("jgb_30y", T0 + 3 * DAY, 3.3), zstat("jgb_20y", T0 + 3 * DAY, 3.1)], {}, {}, T0 + 3 * DAY + MIN)
    kinds = [(e.kind, e.tier, e.prev_tier) for e in told.incidents]
    assert kinds == [("opened", "watch", None), ("escalated", "warning", "watch"), ("escalated", "critical", "warning")]
    assert len({e.incident_id for e in told.incidents}) == 1
    assert [e.seq for e in told.incidents] == [1, 2, 3]
    s.run([zstat("jgb_30y", T0 + 4 * DAY, 0.5)], {}, {}, T0 + 4 * DAY + MIN)     # 30Y clears, 20Y still firing
    assert len(told.incidents) == 3
    s.run([zstat("jgb_20y", T0 + 4 * DAY, 0.4)], {}, {}, T0 + 4 * DAY + 2 * MIN)  # the last one clears
    last = told.incidents[-1]
    assert (last.kind, last.tier, last.incident.state) == ("resolved", "critical", "resolved")
    assert s.alerts.load_open_incidents() == []
    # The next move of the market is a new event: a new incident.
    s.run([zstat("jgb_30y", T0 + 5 * DAY, 4.4)], {}, {}, T0 + 5 * DAY + MIN)
    assert told.incidents[-1].kind == "opened" and told.incidents[-1].incident_id != last.incident_id
    assert [i["state"] for i in s.alerts.list_incidents()] == ["open", "resolved"]


def test_an_outage_does_not_end_the_event(store):
    s = svc(store, told := Told())
    s.run([jgb30()], {}, {"mof": "ok"}, T0 + MIN)
    s.run([jgb30()], {}, {"mof": "stale"}, T0 + DAY)            # NoData, interrupting Firing
    assert [e.kind for e in told.incidents] == ["opened"]
    assert len(s.alerts.load_open_incidents()) == 1


def test_a_silenced_alert_opens_a_silent_incident(store):
    s = svc(store, told := Told())
    s.alerts.add_silence(until=T0 + DAY, series_id="jgb_30y", created_by="desk", reason="known")
    s.run([jgb30()], {}, {}, T0 + MIN)
    [ev] = told.incidents
    assert ev.kind == "opened" and not ev.notify and told.alerts == []


def test_rerunning_a_run_stores_each_change_once(store):
    s = svc(store, Told())
    s.run([jgb30()], {}, {}, T0 + MIN)
    s.run([jgb30()], {}, {}, T0 + 2 * MIN)                       # the same close again: nothing new
    events = s.alerts.list_incident_events()
    assert [e["kind"] for e in events] == ["opened"]
    # the stored body round-trips to the same incident
    inc = incident_from_json(json.loads(json.dumps(s.alerts.list_incidents()[0])))
    assert incident_json(inc) == s.alerts.list_incidents()[0]


def test_incident_filters(store):
    s = svc(store, Told())
    s.run([jgb30(), zstat("ust_10y", UST_T0, 6.5, source="treasury")], {}, {}, UST_T0 + MIN)
    a = s.alerts
    assert [i["market"] for i in a.list_incidents(series="ust_10y")] == ["US"]
    assert [i["market"] for i in a.list_incidents(rule="jgb_curve_z")] == ["JP"]
    assert len(a.list_incidents(tier="critical")) == 2 and a.list_incidents(state="resolved") == []
    assert a.list_incidents(since=UST_T0 + DAY) == []
    assert len(a.list_incidents(limit=1)) == 1
    assert {i["market"] for i in a.payload(UST_T0 + 2 * MIN)["incidents"]} == {"JP", "US"}


# ------------------------------------------------------------------------------ the real event
@pytest.fixture(scope="module")
def replayed(jan2026_replay):
    """The live path over 2026-01-16 12:00 → 01-23 12:00 UTC, stepped every 6 hours of data time
    (conftest.py; shared with the notification tests)."""
    return jan2026_replay.alerts


def test_the_2026_01_20_replay_is_one_jgb_incident_headed_by_the_30y_day(replayed):
    jp = [i for i in replayed.list_incidents(market="JP")]
    assert len(jp) == 1, [i["title"] for i in jp]
    inc = jp[0]
    assert inc["headline"] == "JGB 30Y +20.3 bp, 7.6σ" and inc["tier"] == "critical"
    lead = next(m for m in inc["members"] if m["alert_id"] == inc["lead_alert_id"])
    assert lead["rule_id"] == "jgb_curve_z" and lead["data_ts"].startswith("2026-01-20T06:00")
    # Every JGB alert that fired in those days is a member — checked against the alert events.
    jgb_fired = {e.alert_id for e in replayed.list_events(kind=["firing", "escalated"], limit=5000)
                 if UNIVERSE.get(e.subject).market == "JP"}
    assert {m["alert_id"] for m in inc["members"]} >= jgb_fired and len(jgb_fired) >= 12
    assert inc["title"] == f"JGB 30Y +20.3 bp, 7.6σ · critical · {inc['count']} alerts" + \
        (" · resolved" if inc["state"] == "resolved" else "")
    # One message's worth per change: opened once, then only escalations (and maybe joins).
    kinds = [e["kind"] for e in reversed(replayed.list_incident_events(inc["id"]))]
    assert kinds[0] == "opened" and kinds.count("opened") == 1
    assert "escalated" in kinds and kinds[-1] in ("escalated", "joined", "resolved")
    tiers = [e["tier"] for e in reversed(replayed.list_incident_events(inc["id"]))]
    assert tiers[-1] == "critical" and all(a <= b for a, b in zip(
        [("watch", "warning", "critical").index(t) for t in tiers],
        [("watch", "warning", "critical").index(t) for t in tiers[1:]]))
