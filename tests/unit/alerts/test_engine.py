"""The pure evaluator: every transition of the state machine, on hand-built MoveStats."""
from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from alerts.engine import (
    AlertState,
    Level,
    RuleInput,
    Silence,
    State,
    acknowledge,
    alert_text,
    confirming_peer,
    evaluate,
    make_alert_id,
    normalise_status,
)
from alerts.rules import Rule
from tests.unit.alerts.helpers import DAY, T0, UTC, intraday_rule, jgb30, z_rule, zstat

MIN = dt.timedelta(minutes=1)


def run(rule, points, state=None, *, label="JGB 30Y", subject="jgb_30y", status="ok", peers=(), silences=()):
    """Feed (stat, now) points in turn; return final state and all events."""
    events = []
    for p in points:
        stat, now = (p, p.ts) if not isinstance(p, tuple) else p
        state, evs = evaluate(rule, state, RuleInput(subject=subject, label=label, stat=stat, status=status,
                                                     peers=peers, source="mof"), now, silences=silences)
        events += evs
    return state, events


def days(*zs, series="jgb_30y", start=T0):
    return [zstat(series, start + i * DAY, z) for i, z in enumerate(zs)]


# ------------------------------------------------------------------------------ basic lifecycle
def test_below_lowest_tier_stays_normal_without_events():
    state, events = run(z_rule(), days(1.0, -2.9, 2.99))
    assert state.state == State.NORMAL and state.alert_id is None and events == []


def test_first_point_over_a_tier_fires_at_once_with_pending_zero():
    state, events = run(z_rule(), [jgb30()])
    assert state.state == State.FIRING and state.tier == "critical"
    assert state.alert_id == "jgb_curve_z:jgb_30y:20260120T060000Z" == make_alert_id("jgb_curve_z", "jgb_30y", T0)
    [e] = events
    assert (e.kind, e.prev_state, e.state, e.seq, e.notify) == ("firing", State.NORMAL, State.FIRING, 1, True)
    assert e.detail["z"]["w60"] == 7.63 and e.detail["rarity_share"] == pytest.approx(0.000313)


def test_pending_period_counts_new_points_not_calls():
    rule = z_rule(pending_for=2)
    p1, p2, p3 = days(4.5, 4.6, 4.2)
    s, ev = run(rule, [p1])
    assert s.state == State.PENDING and [e.kind for e in ev] == ["pending"] and not ev[0].notify
    # The same point evaluated again later (another source's update) does not count.
    s, ev = run(rule, [(p1, p1.ts + 3 * MIN), (p1, p1.ts + 9 * MIN)], s)
    assert s.state == State.PENDING and s.held == 1 and ev == []
    s, ev = run(rule, [p2], s)
    assert s.state == State.PENDING and ev == []
    s, ev = run(rule, [p3], s)
    assert s.state == State.FIRING and [e.kind for e in ev] == ["firing"]
    assert s.alert_id.endswith(f"{p1.ts:%Y%m%dT%H%M%SZ}")  # the episode started at the first point
    assert ev[0].seq == 2


def test_pending_cleared_goes_back_to_normal_quietly():
    s, ev = run(z_rule(pending_for=1), days(4.5, 1.0))
    assert s.state == State.NORMAL and [e.kind for e in ev] == ["pending", "normal"]
    assert ev[0].alert_id == ev[1].alert_id and not any(e.notify for e in ev)


def test_firing_resolves_then_normal_and_a_new_episode_gets_a_new_id():
    pts = days(6.5, 1.0, 0.5, 3.5)
    s, ev = run(z_rule(), pts[:2])
    assert s.state == State.RESOLVED and [e.kind for e in ev] == ["firing", "resolved"]
    assert ev[1].tier == "critical" and ev[1].notify
    first_id = ev[0].alert_id
    s, ev2 = run(z_rule(), pts[2:3], s)
    assert s.state == State.NORMAL and ev2 == [] and s.alert_id is None
    s, ev3 = run(z_rule(), pts[3:], s)
    assert s.state == State.FIRING and s.tier == "watch" and ev3[0].alert_id != first_id and ev3[0].seq == 1


def test_resolved_then_immediately_over_again_opens_a_new_episode():
    s, ev = run(z_rule(), days(6.5, 1.0, 4.1))
    assert [e.kind for e in ev] == ["firing", "resolved", "firing"]
    assert ev[2].alert_id != ev[0].alert_id and s.tier == "warning"


def test_keep_firing_for():
    s, ev = run(z_rule(keep_firing_for=2), days(5.0, 1.0, 1.0))
    assert s.state == State.FIRING and s.cleared == 2 and [e.kind for e in ev] == ["firing"]
    s, ev = run(z_rule(keep_firing_for=2), days(1.0, start=T0 + 3 * DAY), s)
    assert s.state == State.RESOLVED and [e.kind for e in ev] == ["resolved"]


def test_keep_firing_counter_resets_when_the_condition_returns():
    s, ev = run(z_rule(keep_firing_for=1), days(5.0, 1.0, 3.2, 1.0))
    assert s.state == State.FIRING and s.cleared == 1 and [e.kind for e in ev] == ["firing"]


def test_hysteresis_resolves_only_below_threshold_minus_hysteresis():
    rule = z_rule(hysteresis=0.5)
    s, ev = run(rule, days(3.4, 2.7, -2.6))
    assert s.state == State.FIRING and [e.kind for e in ev] == ["firing"]  # |z| ≥ 3 − 0.5 keeps it
    s, ev = run(rule, days(2.4, start=T0 + 3 * DAY), s)
    assert s.state == State.RESOLVED and [e.kind for e in ev] == ["resolved"]


def test_hysteresis_does_not_apply_while_pending():
    s, ev = run(z_rule(pending_for=1, hysteresis=0.5), days(3.2, 2.9))
    assert s.state == State.NORMAL and [e.kind for e in ev] == ["pending", "normal"]


# ------------------------------------------------------------------------------ escalation
def test_escalation_keeps_one_alert_and_never_drops_the_tier_while_firing():
    s, ev = run(z_rule(), days(3.2, 4.4, 3.5, 6.8, 4.0, 2.0))
    assert [e.kind for e in ev] == ["firing", "escalated", "escalated", "resolved"]
    assert len({e.alert_id for e in ev}) == 1
    assert [e.seq for e in ev] == [1, 2, 3, 4]
    assert [(e.prev_tier, e.tier) for e in ev[1:3]] == [("watch", "warning"), ("warning", "critical")]
    assert ev[3].tier == "critical"  # de-escalates only by resolving
    assert all(e.notify for e in ev)


def test_escalation_straight_from_watch_to_critical_is_one_event():
    s, ev = run(z_rule(), days(3.1, 7.0))
    assert [e.kind for e in ev] == ["firing", "escalated"] and ev[1].tier == "critical"


# ------------------------------------------------------------------------------ NoData / Error
def test_nodata_and_error_are_separate_states_and_keep_the_episode():
    rule = z_rule()
    s, ev = run(rule, [jgb30()])
    fid = s.alert_id
    s, ev = evaluate(rule, s, RuleInput("jgb_30y", "JGB 30Y", status="stale", source="mof"), T0 + DAY)
    assert s.state == State.NODATA and s.prior == State.FIRING and s.alert_id == fid and s.tier == "critical"
    assert [e.kind for e in ev] == ["nodata"] and "no fresh data from MOF" in ev[0].text
    assert not ev[0].notify  # not in the default notify_on
    s2, ev = evaluate(rule, s, RuleInput("jgb_30y", "JGB 30Y", status="stale", source="mof"), T0 + DAY + MIN)
    assert ev == [] and s2 == s  # repeated stale: no change
    s, ev = evaluate(rule, s, RuleInput("jgb_30y", "JGB 30Y", status="failing", error="HTTP 503", source="mof"),
                     T0 + DAY + 2 * MIN)
    assert s.state == State.ERROR and s.prior == State.FIRING and [e.kind for e in ev] == ["error"]
    assert "HTTP 503" in ev[0].text and ev[0].alert_id == fid
    # Source back, same close as before: the firing episode continues.
    s, ev = evaluate(rule, s, RuleInput("jgb_30y", "JGB 30Y", stat=jgb30()), T0 + DAY + 5 * MIN)
    assert s.state == State.FIRING and s.alert_id == fid and [e.kind for e in ev] == ["restored"]
    assert [e.seq for e in ev] == [4] and s.seq == 4
    # Next close is quiet: the same alert resolves.
    s, ev = run(rule, days(0.5, start=T0 + DAY), s)
    assert s.state == State.RESOLVED and ev[0].alert_id == fid and ev[0].seq == 5


def test_nodata_from_normal_opens_its_own_episode_and_restores_to_normal():
    rule = z_rule()
    now = T0 + 2 * DAY
    s, ev = evaluate(rule, None, RuleInput("jgb_30y", "JGB 30Y", status="stale", source="mof"), now)
    assert s.state == State.NODATA and s.prior == State.NORMAL and s.alert_id == make_alert_id(rule.id, "jgb_30y", now)
    s, ev = evaluate(rule, s, RuleInput("jgb_30y", "JGB 30Y", stat=zstat("jgb_30y", now, 0.3)), now + MIN)
    assert s.state == State.NORMAL and s.alert_id is None and [e.kind for e in ev] == ["restored"]


def test_data_back_with_a_big_move_after_nodata_from_normal():
    rule = z_rule()
    s, _ = evaluate(rule, None, RuleInput("jgb_30y", "JGB 30Y", status="failing", source="mof"), T0 - MIN)
    nd_id = s.alert_id
    s, ev = evaluate(rule, s, RuleInput("jgb_30y", "JGB 30Y", stat=jgb30()), T0 + MIN)
    assert [e.kind for e in ev] == ["restored", "firing"]
    assert ev[0].alert_id == nd_id and ev[1].alert_id != nd_id and s.state == State.FIRING


@pytest.mark.parametrize("raw,want", [("ok", "ok"), ("backfilling", "ok"), ("never", "ok"), (None, "ok"),
                                      ("stale", "stale"), ("failing", "failing"), ("ERROR", "failing")])
def test_normalise_status(raw, want):
    assert normalise_status(raw) == want


# ------------------------------------------------------------------------------ bad-tick guard
def test_single_print_critical_stays_pending_until_the_next_print():
    rule = intraday_rule()
    t = dt.datetime(2026, 1, 20, 14, 30, tzinfo=UTC)
    tick = zstat("ust_10y_yh", t, 7.5, kind="intraday", source="yahoo", single_print=True)
    s, ev = run(rule, [tick], subject="ust_10y_yh", label="UST 10Y (^TNX)")
    assert s.state == State.PENDING and s.tier == "critical" and s.guard_ts == t
    assert [e.kind for e in ev] == ["pending"] and "single print" in ev[0].text
    nxt = zstat("ust_10y_yh", t + MIN, 7.2, kind="intraday", source="yahoo")
    s, ev = run(rule, [nxt], s, subject="ust_10y_yh")
    assert s.state == State.FIRING and s.tier == "critical" and s.guard_ts is None
    assert [e.kind for e in ev] == ["firing"] and ev[0].alert_id.endswith("20260120T143000Z")


def test_single_print_that_the_next_print_contradicts_is_dropped():
    rule = intraday_rule()
    t = dt.datetime(2026, 1, 20, 14, 30, tzinfo=UTC)
    s, ev = run(rule, [zstat("ust_10y_yh", t, 8.0, kind="intraday", single_print=True),
                       zstat("ust_10y_yh", t + MIN, 0.4, kind="intraday")], subject="ust_10y_yh")
    assert s.state == State.NORMAL and [e.kind for e in ev] == ["pending", "normal"]
    assert not any(e.notify for e in ev)


def test_second_source_confirms_a_single_print_at_once():
    rule = intraday_rule()
    t = dt.datetime(2026, 1, 20, 14, 30, tzinfo=UTC)
    tnx = zstat("ust_10y_yh", t, 7.5, kind="intraday", source="yahoo", single_print=True)
    zn = zstat("zn_f", t + 2 * MIN, -6.8, unit="logpct", sigma=0.3, kind="intraday", source="yahoo")  # price down
    s, ev = run(rule, [tnx], subject="ust_10y_yh", peers=(zn,))
    assert s.state == State.FIRING and s.tier == "critical" and ev[0].detail["confirmed_by"] == "zn_f@yahoo"


@pytest.mark.parametrize("peer,why", [
    (zstat("zn_f", T0, +6.8, unit="logpct", kind="intraday"), "price UP = yields down: wrong way"),
    (zstat("ust_30y_yh", T0, -5.0, kind="intraday"), "yield down: wrong way"),
    (zstat("ust_30y_yh", T0 + 20 * MIN, 5.0, kind="intraday"), "outside the 15-minute window"),
    (zstat("ust_30y_yh", T0, 2.0, kind="intraday"), "below the lowest tier"),
    (zstat("ust_30y_yh", T0, 5.0, kind="intraday", single_print=True), "itself a single print"),
    (zstat("ust_10y_yh", T0, 7.0, kind="intraday", source="yahoo"), "same series, same source"),
])
def test_what_does_not_confirm(peer, why):
    tnx = zstat("ust_10y_yh", T0, 7.5, kind="intraday", source="yahoo", single_print=True)
    assert confirming_peer(intraday_rule(), tnx, [peer]) is None, why


def test_same_series_from_another_source_confirms():
    tnx = zstat("ust_10y", T0, 7.5, kind="intraday", source="treasury", single_print=True)
    other = zstat("ust_10y", T0, 7.1, kind="intraday", source="fred")
    assert confirming_peer(intraday_rule(), tnx, [other]) is other


def test_single_print_below_guard_tier_is_not_held_back():
    s, ev = run(intraday_rule(), [zstat("ust_10y_yh", T0, 4.5, kind="intraday", single_print=True)],
                subject="ust_10y_yh")
    assert s.state == State.FIRING and s.tier == "warning"


def test_guard_holds_back_an_escalation_until_the_next_print():
    rule = intraday_rule()
    s, ev = run(rule, [zstat("ust_10y_yh", T0, 4.5, kind="intraday"),
                       zstat("ust_10y_yh", T0 + MIN, 9.0, kind="intraday", single_print=True)], subject="ust_10y_yh")
    assert s.state == State.FIRING and s.tier == "warning" and s.guard_ts == T0 + MIN
    assert [e.kind for e in ev] == ["firing"]
    s, ev = run(rule, [zstat("ust_10y_yh", T0 + 2 * MIN, 8.5, kind="intraday")], s, subject="ust_10y_yh")
    assert s.tier == "critical" and [e.kind for e in ev] == ["escalated"]


def test_guard_disabled():
    s, _ = run(intraday_rule(guard_tier=None), [zstat("ust_10y_yh", T0, 9.0, kind="intraday", single_print=True)],
               subject="ust_10y_yh")
    assert s.state == State.FIRING


# ------------------------------------------------------------------------------ silence / ack
def test_silenced_alert_changes_state_but_does_not_notify():
    sil = Silence(id="s1", until=T0 + 2 * DAY, series_id="jgb_30y", created_by="desk")
    s, ev = run(z_rule(), days(6.5, 1.0), silences=[sil])
    assert s.state == State.RESOLVED and [e.kind for e in ev] == ["firing", "resolved"]
    assert all(e.silenced and not e.notify for e in ev)


@pytest.mark.parametrize("sil,hit", [
    (Silence(id="a", until=T0 + DAY, rule_id="jgb_curve_z"), True),
    (Silence(id="b", until=T0 + DAY, rule_id="jgb_curve_z", series_id="jgb_30y"), True),
    (Silence(id="c", until=T0 + DAY, series_id="jgb_10y"), False),
    (Silence(id="d", until=T0 + DAY, rule_id="ust_curve_z"), False),
    (Silence(id="e", until=T0, series_id="jgb_30y"), False),        # expired exactly now
    (Silence(id="f", until=T0 + DAY), False),                      # names nothing: never mutes all
])
def test_silence_matching(sil, hit):
    _, [e] = run(z_rule(), [jgb30()], silences=[sil])
    assert e.silenced is hit and e.notify is (not hit)


def test_acknowledge_is_shown_and_cleared_by_a_new_episode():
    s, _ = run(z_rule(), [jgb30()])
    s, ev = acknowledge(s, "yuki", T0 + MIN)
    assert (s.acked_by, s.acked_at, ev.kind, ev.by) == ("yuki", T0 + MIN, "acknowledged", "yuki")
    assert "acknowledged by yuki" in ev.text
    s, evs = run(z_rule(), days(7.0, start=T0 + DAY), s)
    assert s.acked_by == "yuki" and evs == []              # same episode: still acknowledged
    s, evs = run(z_rule(), days(1.0, 1.0, 5.0, start=T0 + 2 * DAY), s)
    assert s.state == State.FIRING and s.acked_by is None  # new episode
    with pytest.raises(ValueError):
        acknowledge(AlertState("r", "x"), "yuki", T0)


# ------------------------------------------------------------------------------ level and spread
def level_rule(**kw) -> Rule:
    base = dict(id="usdjpy_level", type="level", series=("usdjpy",), direction="above",
                tiers=(("warning", 160.0),), hysteresis=0.5)
    base.update(kw)
    return Rule(**base)


def run_levels(rule, values, state=None):
    events = []
    for i, v in enumerate(values):
        lv = Level("usdjpy", T0 + i * MIN, v, source="yahoo", unit="")
        state, evs = evaluate(rule, state, RuleInput("usdjpy", "USD/JPY", level=lv), T0 + i * MIN)
        events += evs
    return state, events


def test_level_above_with_hysteresis():
    s, ev = run_levels(level_rule(), [159.2, 160.05, 159.7, 159.4])
    assert [e.kind for e in ev] == ["firing", "resolved"] and ev[0].tier == "warning"
    assert "USD/JPY 160.05 ≥ 160.00" in ev[0].text and "Yahoo" in ev[0].text


def test_level_below():
    rule = level_rule(direction="below", tiers=(("warning", 140.0), ("critical", 135.0)), hysteresis=1.0)
    s, ev = run_levels(rule, [141.0, 139.9, 134.5, 140.5, 141.2])
    assert [e.kind for e in ev] == ["firing", "escalated", "resolved"]
    assert ev[1].tier == "critical" and "≤ 140.00" in ev[0].text


def test_jgb_40y_level_rule():
    rule = Rule(id="jgb_40y_level", type="level", series=("jgb_40y",), direction="above",
                tiers=(("warning", 4.0),), hysteresis=0.05)
    lv = Level("jgb_40y", T0, 4.02, source="mof")
    s, [e] = evaluate(rule, None, RuleInput("jgb_40y", "JGB 40Y", level=lv), T0)
    assert s.state == State.FIRING and "JGB 40Y 4.02 % ≥ 4.00 %" in e.text


def spread_rule(**kw) -> Rule:
    base = dict(id="ust10_jgb10_spread", type="spread", legs=("ust_10y", "jgb_10y"),
                tiers=(("watch", 10.0), ("warning", 15.0), ("critical", 25.0)), hysteresis=2.0)
    base.update(kw)
    return Rule(**base)


def test_spread_move_fires_on_the_difference_of_same_day_moves():
    ust = dataclasses.replace(zstat("ust_10y", T0.replace(hour=20, minute=30), 4.0, sigma=3.0, source="treasury"))
    jgb = dataclasses.replace(zstat("jgb_10y", T0, -1.0, sigma=4.0))  # −4 bp
    inp = RuleInput("ust_10y-jgb_10y", "UST 10Y − JGB 10Y", legs=(ust, jgb), leg_labels=("UST 10Y", "JGB 10Y"))
    s, [e] = evaluate(spread_rule(), None, inp, T0 + DAY)
    assert s.state == State.FIRING and s.tier == "warning" and s.value == pytest.approx(16.0)
    assert "UST 10Y − JGB 10Y +16.0 bp" in e.text and "UST 10Y +12.0 bp, JGB 10Y −4.0 bp" in e.text


def test_spread_never_pairs_different_days():
    ust = zstat("ust_10y", T0 - DAY + dt.timedelta(hours=14), 9.0, source="treasury")
    jgb = zstat("jgb_10y", T0, -9.0)
    s, ev = evaluate(spread_rule(), None, RuleInput("ust_10y-jgb_10y", legs=(ust, jgb)), T0 + MIN)
    assert s.state == State.NORMAL and ev == []


# ------------------------------------------------------------------------------ text and purity
def test_alert_text_names_series_move_sigma_window_z_rarity_time_source():
    text = alert_text(jgb30(), "JGB 30Y")
    assert text == ("JGB 30Y +20.3 bp = 7.6σ (σ60 2.7 bp, window to 2026-01-19) · z250 5.6 · z_ewma 5.7 · "
                    "about once in 12.7 years since 2000 (≈3.6σ normal) · "
                    "largest one-day rise on record (series since 1999-09-02) · "
                    "largest move of either sign since 2016-03-08 · 2026-01-20 06:00 UTC · MOF")


def test_alert_text_says_when_the_floor_binds_and_never_rounds_across_a_tier():
    m = jgb30(z={"w60": 5.96}, sigma={"w60": 1.8}, sigma_raw={"w60": 0.6})
    text = alert_text(m, "JGB 30Y")
    assert "= 5.9σ (σ60 0.6 bp, floored to 1.8 bp, window to 2026-01-19)" in text
    assert "6.0σ" not in text
    assert "= −5.9σ" in alert_text(jgb30(move=-20.3, z={"w60": -5.96}), "JGB 30Y")


def test_alert_text_of_a_record_move_gives_the_tail_models_interval():
    m = jgb30(rarity_share=1e-5, return_period_years=126.0, tail=True, return_period_low=12.1,
              return_period_high=1310.0, normal_equiv_sigma=4.2)
    assert "about once in 126 years since 2000 (tail model; 95 % CI 12–1,310 years; ≈4.2σ normal)" in alert_text(m, "")


def test_alert_text_of_a_held_print_and_of_a_short_history():
    held = jgb30(quality="unconfirmed", quality_note="held: +20.3 bp is 9× the typical move")
    assert "UNCONFIRMED: held: +20.3 bp is 9× the typical move" in alert_text(held, "JGB 30Y")
    short = jgb30(n_valid=84, min_history=250)
    assert "insufficient history (84 of 250 valid moves)" in alert_text(short, "JGB 30Y")


def test_alert_text_other_estimator_negative_logpct_and_never_seen():
    m = zstat("usdjpy", T0, -6.2, unit="logpct", sigma=0.45, source="yahoo", kind="intraday", estimator="ewma")
    m = dataclasses.replace(m, rarity_share=0.0, return_period_years=None, z={"ewma": -6.2, "w60": -5.1})
    text = alert_text(m, "USD/JPY (JPY=X)", "ewma")
    assert text.startswith("USD/JPY (JPY=X) −2.79 % intraday = −6.2σ (σ_ewma 0.45 %, window to 2026-01-19)")
    assert "z60 −5.1" in text and "never seen in 5,000 moves" in text and text.endswith("Yahoo")


def test_two_day_horizon_in_text():
    m = jgb30(move=30.3, horizon=2, z={"w60": 6.1})
    assert "JGB 30Y +30.3 bp over 2d = 6.1σ" in alert_text(m, "JGB 30Y")


def test_evaluate_is_pure_and_deterministic():
    prev, _ = run(z_rule(), days(3.5))
    before = dataclasses.asdict(prev)
    inp = RuleInput("jgb_30y", "JGB 30Y", stat=zstat("jgb_30y", T0 + DAY, 6.6))
    a = evaluate(z_rule(), prev, inp, T0 + DAY)
    b = evaluate(z_rule(), prev, inp, T0 + DAY)
    assert a == b and dataclasses.asdict(prev) == before


def test_missing_estimator_or_no_stat_changes_nothing():
    prev, _ = run(z_rule(), [jgb30()])
    m = zstat("jgb_30y", T0 + DAY, 1.0, estimator="w250")  # no w60 yet (window not full)
    s, ev = evaluate(z_rule(), prev, RuleInput("jgb_30y", stat=m), T0 + DAY)
    assert s == prev and ev == []
    s, ev = evaluate(z_rule(), prev, RuleInput("jgb_30y"), T0 + DAY)
    assert s == prev and ev == []


def test_naive_now_is_refused():
    with pytest.raises(ValueError):
        evaluate(z_rule(), None, RuleInput("jgb_30y", stat=jgb30()), dt.datetime(2026, 1, 20))


# ---------------------------------------------------------------- the data-quality gate and rarity tiers
def test_a_held_print_goes_pending_never_firing_then_fires_when_confirmed():
    """Issue 9: a print the gate holds may make an alert Pending, never Firing, on its own; once
    the same print is confirmed (same ts, quality ok) it is judged again and fires."""
    held = zstat("jgb_30y", T0, 7.6, quality="unconfirmed")
    s, ev = run(z_rule(), [held])
    assert [e.kind for e in ev] == ["pending"] and s.state == State.PENDING
    # The same print seen again, still held: nothing new.
    s, ev = run(z_rule(), [(held, T0 + dt.timedelta(minutes=5))], s)
    assert ev == []
    # Confirmed (the next tenor, a second source or the next print): now it fires, at critical.
    ok = dataclasses.replace(held, quality="ok")
    s, ev = run(z_rule(), [(ok, T0 + dt.timedelta(hours=2))], s)
    assert [(e.kind, e.tier) for e in ev] == [("firing", "critical")]
    assert s.state == State.FIRING


def test_a_held_print_that_is_rejected_never_fires():
    held = zstat("jgb_30y", T0, 7.6, quality="unconfirmed")
    s, _ = run(z_rule(), [held])
    # Rejected: the next close is measured from the print before the spike: calm.
    s, ev = run(z_rule(), [zstat("jgb_30y", T0 + DAY, 0.4)], s)
    assert [e.kind for e in ev] == ["normal"] and not any(e.kind == "firing" for e in ev)


def test_insufficient_history_does_not_alert_on_z():
    short = dataclasses.replace(zstat("ust_1_5m", T0, 9.0), n_valid=84, min_history=250)
    s, ev = run(z_rule(), [short], subject="ust_1_5m")
    assert ev == [] and s.state == State.NORMAL


def test_tiers_also_need_rarity_on_the_declared_base():
    """rarity_years: a 7σ move seen every few months is a watch, not a critical; the same z once
    in 13 years is critical; rarity_earns lifts a record move whose σ adapted to the episode."""
    rule = z_rule(rarity=(("warning", 1.0), ("critical", 4.0)))
    _, ev = run(rule, [zstat("ust_3m", T0, 7.0, return_period=0.3)], subject="ust_3m")
    assert [(e.kind, e.tier) for e in ev] == [("firing", "watch")]
    _, ev = run(rule, [zstat("jgb_30y", T0, 7.0, return_period=13.0)])
    assert [(e.kind, e.tier) for e in ev] == [("firing", "critical")]
    _, ev = run(rule, [zstat("jgb_30y", T0, 7.0, return_period=2.0)])
    assert [(e.kind, e.tier) for e in ev] == [("firing", "warning")]
    earn = z_rule(rarity=(("warning", 1.0), ("critical", 4.0)), earns=(("critical", 20.0),))
    _, ev = run(earn, [zstat("jgb_10y", T0, 3.5, return_period=25.0)], subject="jgb_10y")
    assert [(e.kind, e.tier) for e in ev] == [("firing", "critical")]
    assert rule.tier_for(7.0, None) == "watch"       # unknown rarity never reaches a rarity tier


def test_an_outage_alert_says_the_category_never_the_raw_error():
    raw = ("FetchError: network error: ConnectionError: HTTPSConnectionPool(host='www.mof.go.jp', port=443): "
           "Max retries exceeded with url: /jgbs/reference/interest_rate/jgbcm.csv (Caused by NameResolutionError")
    _s, ev = evaluate(z_rule(), None, RuleInput("jgb_30y", "JGB 30Y", status="failing", error=raw, source="mof"), T0)
    assert [e.kind for e in ev] == ["error"]
    assert ev[0].text.endswith("JGB 30Y: MOF failing: no network") or "MOF failing: no network" in ev[0].text
    assert "mof.go.jp" not in ev[0].text and "Max retries" not in ev[0].text
