"""Alert persistence on SQLite and PostgreSQL (CM_TEST_PG_URL): round trips, idempotence, filters,
acknowledgements, silences and the /api/alerts body."""
from __future__ import annotations

import json

from alerts.engine import AlertState, RuleInput, State, evaluate
from alerts.store import AlertStore, alerts_payload
from data.store import Store
from tests.backends import store, store_url  # noqa: F401  (fixtures)
from tests.unit.alerts.helpers import DAY, T0, jgb30, z_rule, zstat


def fire_and_escalate():
    rule = z_rule()
    s1, e1 = evaluate(rule, None, RuleInput("jgb_30y", "JGB 30Y", stat=zstat("jgb_30y", T0, 4.4)), T0)
    s2, e2 = evaluate(rule, s1, RuleInput("jgb_30y", "JGB 30Y", stat=jgb30(ts=T0 + DAY)), T0 + DAY)
    return s1, e1, s2, e2


def test_states_and_events_round_trip(store):
    al = AlertStore(store)
    al.create_schema()
    al.create_schema()  # idempotent
    s1, e1, s2, e2 = fire_and_escalate()
    assert al.save([s1], e1) == 1
    assert al.save([s2], e2) == 1
    loaded = al.load_states()[("jgb_curve_z", "jgb_30y")]
    assert loaded == s2  # every field survives, including statistics and times
    events = al.list_events()
    assert [(e.kind, e.seq) for e in events] == [("escalated", 2), ("firing", 1)]  # newest first
    assert events[0] == e2[0]


def test_writes_are_idempotent(store):
    al = AlertStore(store)
    s1, e1, s2, e2 = fire_and_escalate()
    al.save([s1], e1)
    assert al.save([s1], e1) == 0
    assert al.append_events(e1 + e2) == 1
    assert al.append_events(e1 + e2) == 0
    assert len(al.list_events()) == 2


def test_event_filters(store):
    al = AlertStore(store)
    s1, e1, s2, e2 = fire_and_escalate()
    other, eo = evaluate(z_rule(id="ust_curve_z"), None,
                         RuleInput("ust_10y", "UST 10Y", stat=zstat("ust_10y", T0, -3.4, source="treasury")), T0)
    al.save([s1, other], e1 + eo)
    al.save([s2], e2)
    assert {e.subject for e in al.list_events(series="ust_10y")} == {"ust_10y"}
    assert [e.tier for e in al.list_events(tier="critical")] == ["critical"]
    assert [e.kind for e in al.list_events(tier=["watch", "warning"])] == ["firing", "firing"]
    assert len(al.list_events(state="firing")) == 3
    assert [e.kind for e in al.list_events(since=T0 + DAY)] == ["escalated"]
    assert [e.subject for e in al.list_events(rule="ust_curve_z")] == ["ust_10y"]
    assert len(al.list_events(limit=1)) == 1
    assert al.list_events(series=["nothing"]) == []


def test_acknowledge_first_wins_and_survives_evaluation(store):
    al = AlertStore(store)
    s1, e1, s2, e2 = fire_and_escalate()
    al.save([s1], e1)
    ack = al.acknowledge(s1.alert_id, "yuki", T0 + DAY / 2)
    assert (ack.kind, ack.by, ack.alert_id) == ("acknowledged", "yuki", s1.alert_id)
    again = al.acknowledge(s1.alert_id, "sam", T0 + DAY)
    assert again.by == "yuki"  # first acknowledgement wins, no error
    # The collector writes a newer state (without ack fields): the acknowledgement is still shown.
    al.save([s2], e2)
    st = al.load_states()[("jgb_curve_z", "jgb_30y")]
    assert (st.acked_by, st.acked_at) == ("yuki", T0 + DAY / 2)
    kinds = [e.kind for e in al.list_events()]
    assert kinds == ["escalated", "acknowledged", "firing"]
    assert [e.kind for e in al.list_events(kind="acknowledged")] == ["acknowledged"]
    assert "acknowledged" not in [e.kind for e in al.list_events(include_acks=False)]


def test_acknowledge_unknown_id(store):
    import pytest
    with pytest.raises(KeyError):
        AlertStore(store).acknowledge("nope:x:1", "yuki", T0)


def test_silences(store):
    al = AlertStore(store)
    a = al.add_silence(series_id="jgb_30y", until=T0 + DAY, created_by="desk", reason="auction", now=T0)
    al.add_silence(rule_id="fx_daily_z", until=T0 - DAY, now=T0 - 2 * DAY)  # already expired
    act = al.active_silences(T0)
    assert [(s.id, s.series_id, s.until, s.created_by) for s in act] == [(a.id, "jgb_30y", T0 + DAY, "desk")]
    assert al.active_silences(T0 + DAY) == []
    assert al.delete_silence(a.id) and al.active_silences(T0) == []
    import pytest
    with pytest.raises(ValueError):
        al.add_silence(until=T0 + DAY)


def test_a_second_store_instance_sees_the_same_alerts(store_url):
    s1, e1, s2, e2 = fire_and_escalate()
    a = Store(store_url)
    AlertStore(a).save([s2], e1 + e2)
    a.dispose()
    b = Store(store_url)
    try:
        assert AlertStore(b).load_states()[("jgb_curve_z", "jgb_30y")].tier == "critical"
    finally:
        b.dispose()


def test_payload_is_json_with_states_events_and_statistics(store):
    al = AlertStore(store)
    s1, e1, s2, e2 = fire_and_escalate()
    quiet, _ = evaluate(z_rule(id="ust_curve_z"), None, RuleInput("ust_10y", stat=zstat("ust_10y", T0, 0.2)), T0)
    al.save([s2, quiet], e1 + e2)
    al.acknowledge(s2.alert_id, "yuki", T0 + DAY + DAY / 24)
    body = al.payload(T0 + DAY + DAY / 24)
    json.dumps(body, allow_nan=False)  # strict JSON
    assert body["generated_at"] == "2026-01-21T07:00:00Z"
    assert body["counts"]["firing"] == 1
    [a] = body["alerts"]  # Normal states are not listed
    assert (a["series_id"], a["state"], a["tier"], a["alert_id"]) == ("jgb_30y", "firing", "critical", s2.alert_id)
    assert a["acknowledged"] == {"by": "yuki", "at": "2026-01-21T07:00:00Z", "actor": None}
    assert a["statistics"]["z"]["w60"] == 7.63 and a["statistics"]["return_period_years"] == 12.7
    assert a["started_at"] == "2026-01-20T06:00:00Z"
    kinds = [e["kind"] for e in body["events"]]
    assert kinds == ["acknowledged", "escalated", "firing"]
    esc = body["events"][1]
    assert (esc["prev_tier"], esc["tier"], esc["series_id"]) == ("warning", "critical", "jgb_30y")
    assert esc["statistics"]["window_end"] == "2026-01-20T06:00:00Z"
    assert "JGB 30Y +20.3 bp = 7.6σ" in esc["text"]
    assert al.payload(T0 + DAY, series="ust_10y")["alerts"] == []


def test_acknowledgements_and_silences_record_the_signed_in_actor(store):
    al = AlertStore(store)
    s1, e1, _s2, _e2 = fire_and_escalate()
    al.save([s1], e1)
    al.acknowledge(s1.alert_id, "desk-2", T0, actor="alice (operator)")
    sil = al.add_silence(rule_id="jgb_curve_z", until=T0 + DAY, now=T0, created_by="desk-2", actor="local operator")
    body = al.payload(T0 + DAY / 24)
    [a] = body["alerts"]
    assert a["acknowledged"] == {"by": "desk-2", "at": "2026-01-20T06:00:00Z", "actor": "alice (operator)"}
    [ack] = [e for e in body["events"] if e["kind"] == "acknowledged"]
    assert (ack["by"], ack["actor"]) == ("desk-2", "alice (operator)")
    [s] = body["silences"]
    assert (s["id"], s["created_by"], s["actor"]) == (sil.id, "desk-2", "local operator")


def test_a_store_from_before_the_actor_column_gets_it(store):
    """Alert tables created by an older version (no `actor`) are upgraded in place."""
    from sqlalchemy import inspect, text

    with store.write() as conn:
        conn.execute(text("CREATE TABLE alert_acks (alert_id VARCHAR(256) PRIMARY KEY, \"by\" VARCHAR(128) NOT NULL, "
                          "at_ns BIGINT NOT NULL, rule_id VARCHAR(64) NOT NULL, subject VARCHAR(160) NOT NULL, "
                          "state VARCHAR(16) NOT NULL, tier VARCHAR(16), text TEXT NOT NULL, label TEXT NOT NULL)"))
        conn.execute(text("INSERT INTO alert_acks VALUES ('r:s:1', 'yuki', 0, 'r', 's', 'firing', NULL, '', '')"))
    al = AlertStore(store)
    al.create_schema()
    with store.engine.connect() as conn:
        assert "actor" in {c["name"] for c in inspect(conn).get_columns("alert_acks")}
        assert "actor" in {c["name"] for c in inspect(conn).get_columns("alert_silences")}
    assert [e.by for e in al.list_events()] == ["yuki"]      # old rows kept
    AlertStore(store).create_schema()                       # idempotent


def test_alerts_payload_is_pure_and_orders_worst_first():
    firing = AlertState("r", "b", state=State.FIRING, alert_id="r:b:1", tier="watch", value=float("nan"))
    crit = AlertState("r", "a", state=State.FIRING, alert_id="r:a:1", tier="critical")
    nodata = AlertState("r", "c", state=State.NODATA, alert_id="r:c:1")
    body = alerts_payload([nodata, firing, crit, AlertState("r", "d")], [], T0)
    assert [a["series_id"] for a in body["alerts"]] == ["a", "b", "c"]
    assert body["alerts"][1]["value"] is None  # NaN never reaches JSON
    assert body["counts"] == {"firing": 2, "pending": 0, "nodata": 1, "error": 0, "resolved": 0}


def test_reset_forgets_alerts_but_keeps_silences(store):
    al = AlertStore(store)
    s1, e1, _s2, _e2 = fire_and_escalate()
    al.save([s1], e1)
    al.acknowledge(s1.alert_id, "yuki", T0)
    sil = al.add_silence(rule_id="jgb_curve_z", until=T0 + DAY, now=T0)
    al.reset()
    assert al.load_states() == {} and al.list_events() == []
    assert [x.id for x in al.active_silences(T0)] == [sil.id]
