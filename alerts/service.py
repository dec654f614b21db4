"""Thin orchestration: load states → evaluate every rule × series → persist → notify.

The collector calls `AlertService.run(...)` once per data update. Evaluation is pure
(alerts/engine.py); this module only gathers inputs, writes, and hands the notifiable events to
the notifiers (which queue and return at once).
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from alerts.engine import AlertEvent, AlertState, Intervention, Level, RuleInput, Signal, evaluate
from alerts.incidents import IncidentEvent, market_resolver, track
from alerts.notify import Notifier
from alerts.rules import Rule, RuleSet
from alerts.store import AlertStore
from alerts.text import event_note
from analytics.types import MoveStat
from data.events import load_events
from data.store import Store
from universe import Universe, load_universe

__all__ = ["AlertService", "rule_inputs"]

log = logging.getLogger("contagion.alerts")


class AlertService:
    def __init__(self, store: Store, rules: RuleSet, notifiers: Sequence[Notifier] = (),
                 universe: Universe | None = None, *, alert_store: AlertStore | None = None,
                 calendar: Sequence | None = None) -> None:
        if universe is None:
            universe = load_universe()
        self.store = store
        self.rules = rules
        self.notifiers = list(notifiers)
        self.universe = universe
        self.alerts = alert_store or AlertStore(store)
        self.alerts.create_schema()
        self.market_of = market_resolver(universe, rules)
        if calendar is None:       # events.toml (data/events.py): "1 day after the 30Y auction" in alert text
            calendar = load_events()
        self.calendar = tuple(calendar)
        self.incident_events: list[IncidentEvent] = []   # the last run's (tests, the backtest)
        self._lock = threading.Lock()  # one run at a time: states are read-modify-written

    # ------------------------------------------------------------------ inputs
    def inputs(self, rule: Rule, move_stats: Sequence[MoveStat], levels: Mapping[str, Level],
               source_status: Mapping[str, str], errors: Mapping[str, str] | None = None) -> list[RuleInput]:
        """Every RuleInput a rule needs this run (see `rule_inputs`)."""
        return rule_inputs(rule, self.universe, move_stats, levels, source_status, errors)

    # ------------------------------------------------------------------ the run
    def run(self, move_stats: Iterable[MoveStat], levels: Mapping[str, Level] | None = None,
            source_status: Mapping[str, str] | None = None, now: dt.datetime | None = None, *,
            source_errors: Mapping[str, str] | None = None, signals: Sequence[Signal] = (),
            interventions: Sequence[Intervention] = ()) -> list[AlertEvent]:
        """Evaluate every enabled rule × series, store states and events, notify; returns the events.

        `source_status` maps a source name ("mof", "yahoo", …) or a series id to ok | stale |
        failing (the snapshot's never/backfilling count as ok). Safe to call again with the same
        data: nothing changes and nothing is sent twice.
        """
        now = now or dt.datetime.now(dt.UTC)
        stats = list(move_stats)
        levels = dict(levels or {})
        status = dict(source_status or {})
        with self._lock:
            previous = self.alerts.load_states()
            silences = self.alerts.active_silences(now)
            changed: list[AlertState] = []
            events: list[AlertEvent] = []
            for rule in self.rules.enabled():
                for inp in rule_inputs(rule, self.universe, stats, levels, status, source_errors, signals,
                                       interventions):
                    prev = previous.get((rule.id, inp.subject))
                    try:
                        new, evs = evaluate(rule, prev, inp, now, silences=silences)
                    except Exception:  # one bad input must not stop the other alerts
                        log.exception("alert rule %s on %s failed to evaluate", rule.id, inp.subject)
                        continue
                    if self.calendar and evs:
                        new, evs = self._with_event_note(rule.id, new, evs)
                    if new != prev:
                        changed.append(new)
                    events.extend(evs)
            outgoing = [e for e in events if e.notify]
            # The run's alerts folded into incidents (one event per market event and run).
            by_id = {s.alert_id: s for s in previous.values() if s.alert_id}
            by_id.update({s.alert_id: s for s in changed if s.alert_id})
            incidents, inc_events = track(self.alerts.load_open_incidents(), events, by_id, now, self.market_of) \
                if events or changed else ([], [])
            self.incident_events = inc_events
            # Persist and notify under one write permit. Once the collector stops (or loses its
            # lease) the store refuses it (WritesClosed): this run then does neither, and the
            # next collector judges the same data once; a permit already held makes the stop
            # wait until the notifications are queued, before the lease is released. Never both
            # collectors, never a notification without its stored event.
            if changed or events or incidents:
                with self.store.write_permit():
                    # before notifying: a crash never sends an unstored alert or incident
                    self.alerts.save(changed, events, incidents, inc_events)
                    for n in self.notifiers if outgoing else ():
                        try:
                            n.notify(outgoing)         # queues and returns at once
                        except Exception:
                            log.exception("notifier %s failed", getattr(n, "name", n))
                    for n in self.notifiers if inc_events else ():
                        told = getattr(n, "notify_incidents", None)
                        try:
                            if told is not None:
                                told(inc_events)       # queues and returns at once (routes decide)
                        except Exception:
                            log.exception("notifier %s failed on incidents", getattr(n, "name", n))
        return events

    def _with_event_note(self, rule_id: str, new: AlertState, evs: list[AlertEvent]) -> tuple[AlertState, list[AlertEvent]]:
        """A move within a day of a calendar event of its market says so in its text."""
        out = []
        for e in evs:
            note = event_note(e.data_ts, self.calendar, self.market_of(rule_id, e.subject)) \
                if e.kind in ("firing", "escalated", "pending") and e.text else ""
            if note and note not in e.text:
                if new.alert_id == e.alert_id and new.text and note not in new.text:
                    new = replace(new, text=f"{new.text} · {note}")
                e = replace(e, text=f"{e.text} · {note}")
            out.append(e)
        return new, out

    # ------------------------------------------------------------------ operator actions
    def acknowledge(self, alert_id: str, who: str, now: dt.datetime | None = None) -> AlertEvent:
        return self.alerts.acknowledge(alert_id, who, now or dt.datetime.now(dt.UTC))

    def close(self, timeout: float = 5.0) -> None:
        """Deliver what is queued (within `timeout` s in all), then stop the notifiers."""
        deadline = time.monotonic() + timeout
        for n in self.notifiers:
            flush = getattr(n, "flush", None)
            try:
                if flush is not None and not flush(max(0.0, deadline - time.monotonic())):
                    log.warning("notifier %s: undelivered alerts dropped at close", getattr(n, "name", n))
                n.close(max(0.1, deadline - time.monotonic()))
            except Exception:
                log.exception("closing notifier %s failed", getattr(n, "name", n))


# ---------------------------------------------------------------------------- inputs (pure)
# Module-level and store-free so the backtest (alerts/backtest.py) builds exactly the inputs the
# live service builds.
def _series_for(rule: Rule, universe: Universe) -> list[str]:
    if rule.type == "level":
        return list(rule.series)
    ids = [s.id for s in universe if s.group in rule.groups]
    ids += [sid for sid in rule.series if sid not in ids]
    return ids


def _label(sid: str, universe: Universe) -> str:
    return universe.get(sid).label if sid in universe else sid


def _status(sid: str, universe: Universe, source_status: Mapping[str, str]) -> tuple[str, str]:
    """(status, source) of a series: by series id first, else by its primary source."""
    src = universe.get(sid).source if sid in universe else ""
    if sid in source_status:
        return source_status[sid], src
    return source_status.get(src, "ok"), src


def rule_inputs(rule: Rule, universe: Universe, move_stats: Sequence[MoveStat], levels: Mapping[str, Level],
                source_status: Mapping[str, str], errors: Mapping[str, str] | None = None,
                signals: Sequence[Signal] = (), interventions: Sequence[Intervention] = ()) -> list[RuleInput]:
    """Every RuleInput a rule needs this run (subjects without data and with an ok source are skipped)."""
    errors = errors or {}
    out: list[RuleInput] = []
    if rule.type == "intervention":
        # One alert per rule × FX series; the daily rule's data are the close, High and Low.
        sid = rule.series[0]
        legs = (sid, *(rule.range_legs or ())) if rule.kind == "daily" else (sid,)
        states = [_status(x, universe, source_status) for x in legs]
        worst = next((st for st in ("failing", "stale") if any(x == st for x, _ in states)), "ok")
        src = next((s for x, s in states if x == worst), states[0][1])
        iv = next((r for r in interventions if r.series_id == sid and r.kind == rule.kind), None)
        if iv is None and worst == "ok":
            return out
        return [RuleInput(subject=sid, label=rule.label or f"{_label(sid, universe)} intervention watch", status=worst,
                          intervention=iv, source=src, error=errors.get(src))]
    if rule.type == "signal":
        # One alert per signal subject ("10Y jp_to_us", "total", …); computed from daily closes.
        return [RuleInput(subject=f"{sg.kind}:{sg.subject}", label=rule.label or "Contagion", signal=sg)
                for sg in signals if sg.kind in rule.signals]
    if rule.type == "level":
        for sid in rule.series:
            status, src = _status(sid, universe, source_status)
            lv = levels.get(sid)
            if lv is None and status == "ok":
                continue
            out.append(RuleInput(subject=sid, label=rule.label or _label(sid, universe), status=status, level=lv,
                                 source=src, error=errors.get(src)))
        return out

    def latest(sid: str) -> MoveStat | None:
        cands = [m for m in move_stats if m.series_id == sid and m.kind == rule.kind and m.horizon == rule.horizon]
        return max(cands, key=lambda m: m.ts) if cands else None

    if rule.type == "spread":
        a_id, b_id = rule.legs  # type: ignore[misc]
        (sa, src_a), (sb, src_b) = _status(a_id, universe, source_status), _status(b_id, universe, source_status)
        worst = "failing" if "failing" in (sa, sb) else ("stale" if "stale" in (sa, sb) else "ok")
        a, b = latest(a_id), latest(b_id)
        if (a is None or b is None) and worst == "ok":
            return out
        bad_src = src_a if sa != "ok" else src_b
        out.append(RuleInput(subject=f"{a_id}-{b_id}",
                             label=rule.label or f"{_label(a_id, universe)} − {_label(b_id, universe)}", status=worst,
                             legs=(a, b) if a is not None and b is not None else None,
                             leg_labels=(_label(a_id, universe), _label(b_id, universe)),
                             source=bad_src, error=errors.get(bad_src)))
        return out

    peer_ids = {s.id for s in universe if s.group in rule.confirm_groups}
    peers = tuple(m for m in move_stats if m.series_id in peer_ids and m.kind == rule.kind
                  and m.horizon == rule.horizon)
    for sid in _series_for(rule, universe):
        status, src = _status(sid, universe, source_status)
        stat = latest(sid)
        if stat is None and status == "ok":
            continue
        out.append(RuleInput(subject=sid, label=_label(sid, universe), status=status, stat=stat,
                             peers=tuple(p for p in peers if p is not stat), source=src, error=errors.get(src)))
    return out
