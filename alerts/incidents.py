"""Incidents: the alerts of one market event, grouped, with one headline (Alertmanager's groups).

One move on the JGB curve fires a dozen alerts (the 1-day and the 2-day rule on every tenor from
9Y to 40Y); the desk sees one event. An **incident** is the set of alerts of one market that
overlap in time:

- the market of an alert is the universe `market` of its series (JP → JGB, US → US Treasuries,
  FX → USD/JPY); a spread or a contagion signal looks at two markets at once: "cross-market";
- an alert that *fires* opens an incident for its market when none is open, else joins the open
  one; an alert going Pending joins an open incident (shown as a member) but never opens one;
- the incident stays open while any member is Pending or Firing (or in NoData/Error after
  either: an outage does not end the event) and resolves when the last one has cleared. The
  next alert of that market after resolution opens a new incident;
- its tier is the worst tier any member fired at (a Pending member's candidate tier does not
  count until the rule confirms it), and never drops while it is open;
- its headline is the 1-day move of the member with the highest rarity (the return period on
  the declared base; ties by |z|), the move the desk and the press quote ("JGB 30Y +20.3 bp,
  7.6σ"), then the count of members and the worst tier. A 2-day or level alert heads an incident
  only when no 1-day move is in it.

`track` is pure (no clock, store or network): the service gives it the open incidents, the alert
events of one run and the alert states after it, stores what comes back and hands the incident
events to the notifiers. One run gives at most one event per incident — `opened` (with every
alert of that print in it), `escalated` (the tier rose), `joined` (members were added), `resolved`
— so the alerts of one print arrive as one notification; the routes' group wait (alerts/routes)
folds what arrives in the next runs.
"""
from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from alerts.engine import AlertEvent, AlertState, State, stat_from_detail
from alerts.rules import TIER_RANK, RuleSet
from alerts.text import UNIT_TEXT, plain, signed
from universe import Universe

__all__ = ["CROSS", "MARKET_LABELS", "Incident", "IncidentEvent", "Member", "incident_json", "incident_from_json",
           "incident_event_json", "market_resolver", "track"]

CROSS = "cross"
MARKET_LABELS = {"JP": "JGB", "US": "US Treasuries", "FX": "USD/JPY", "GLOBAL": "Global", CROSS: "Cross-market"}
_JOINING = ("firing", "escalated", "pending")
_LIVE = (State.PENDING, State.FIRING)


def _rank(tier: str | None) -> int:
    return TIER_RANK.get(tier or "", -1)


def _utc(t: dt.datetime | None) -> str | None:
    return None if t is None else t.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _parse(v: Any) -> dt.datetime | None:
    if not v:
        return None
    try:
        return dt.datetime.fromisoformat(str(v).replace("Z", "+00:00"))
    except ValueError:
        return None


def _num(x: Any) -> float | None:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x) else None


@dataclass(frozen=True)
class Member:
    """One alert in an incident, with the strongest reading it showed while in it."""

    alert_id: str
    rule_id: str
    subject: str
    label: str
    state: str                       # the alert's state now
    tier: str | None                 # the highest tier it reached in the incident
    joined_at: dt.datetime           # evaluation time it joined
    data_ts: dt.datetime | None      # the data point of its strongest reading
    text: str                        # the alert text of that reading
    kind: str = ""                   # daily | intraday | "" (level, spread, signal)
    horizon: int = 0                 # 1, 2, 5 for moves; 0 when not a move
    move: float | None = None
    unit: str = ""
    z: float | None = None
    rarity_years: float | None = None

    @property
    def one_day(self) -> bool:
        return self.horizon == 1

    def strength(self) -> tuple[float, float, int]:
        """Sort key of a reading: return period, then |z|, then tier."""
        rp = self.rarity_years if self.rarity_years is not None else -1.0
        return (rp, abs(self.z) if self.z is not None else -1.0, _rank(self.tier))

    def short(self) -> str:
        """'JGB 30Y +20.3 bp, 7.6σ' — the move as the desk quotes it (figures cut, not rounded)."""
        if self.move is None:   # a level, spread or signal alert: its text after the "TIER · firing — "
            body = self.text.split(" — ", 1)[-1] if self.text else ""
            return body.split(" · ")[0] if body else self.label
        nd = 1 if self.unit == "bp" else 2
        move = f"{signed(self.move, nd)} {UNIT_TEXT.get(self.unit, self.unit)}"
        if self.kind == "intraday":
            move += " intraday"
        elif self.horizon > 1:
            move += f" over {self.horizon}d"
        z = f", {plain(abs(self.z), 1)}σ" if self.z is not None else ""
        return f"{self.label} {move}{z}"


@dataclass(frozen=True)
class Incident:
    """The alerts of one market event. `id` = market + the data time of its first member."""

    id: str
    market: str
    state: str                       # open | resolved
    tier: str | None
    opened_at: dt.datetime           # evaluation times
    updated_at: dt.datetime
    resolved_at: dt.datetime | None = None
    first_ts: dt.datetime | None = None   # data time of the move that opened it
    seq: int = 0                     # last event seq
    members: tuple[Member, ...] = ()
    notified: bool = False           # its opening was notifiable (not silenced, rule notifies firing)

    @property
    def market_label(self) -> str:
        return MARKET_LABELS.get(self.market, self.market)

    @property
    def is_open(self) -> bool:
        return self.state == "open"

    @property
    def lead(self) -> Member | None:
        """The headline member: the rarest 1-day move; a longer horizon or a level only when no
        1-day move is in the incident."""
        if not self.members:
            return None
        ones = [m for m in self.members if m.one_day]
        pool = ones or [m for m in self.members if m.move is not None] or list(self.members)
        return max(pool, key=lambda m: (m.strength(), m.alert_id))

    @property
    def headline(self) -> str:
        lead = self.lead
        return lead.short() if lead is not None else self.market_label

    @property
    def title(self) -> str:
        """'JGB 30Y +20.3 bp, 7.6σ · critical · 12 alerts'."""
        n = len(self.members)
        parts = [self.headline, self.tier or "—", f"{n} alert{'s' if n != 1 else ''}"]
        if not self.is_open:
            parts.append("resolved")
        return " · ".join(parts)

    def member(self, alert_id: str) -> Member | None:
        return next((m for m in self.members if m.alert_id == alert_id), None)

    def series(self) -> list[str]:
        return sorted({m.subject for m in self.members})


@dataclass(frozen=True)
class IncidentEvent:
    """One change of an incident in one run; key (incident_id, seq)."""

    incident_id: str
    seq: int
    kind: str                        # opened | escalated | joined | resolved
    tier: str | None
    prev_tier: str | None
    at: dt.datetime
    incident: Incident               # as it stands after this event
    added: tuple[str, ...] = ()      # alert ids that joined in this run
    notify: bool = False             # an alert event behind it notifies (a silence or notify_on may stop it)

    @property
    def text(self) -> str:
        verb = {"opened": "", "escalated": f"escalated to {self.tier} · ", "joined": "more alerts · ",
                "resolved": "resolved · "}.get(self.kind, "")
        return f"{self.incident.market_label}: {verb}{self.incident.title}"


# ------------------------------------------------------------------------------------ grouping
def market_resolver(universe: Universe, rules: RuleSet | None = None) -> Callable[[str, str], str]:
    """(rule_id, subject) → market key: the series' universe market; spreads and contagion
    signals (and any subject that is no series) are cross-market."""
    types = {r.id: r.type for r in rules.rules} if rules is not None else {}

    def market(rule_id: str, subject: str) -> str:
        if types.get(rule_id) in ("spread", "signal"):
            return CROSS
        return universe.get(subject).market if subject in universe else CROSS

    return market


def _member(e: AlertEvent, prev: Member | None, now: dt.datetime) -> Member:
    stat = stat_from_detail(e.detail)
    z = None
    if stat is not None:
        est = e.detail.get("estimator") if isinstance(e.detail, Mapping) else None
        z = _num(stat.z.get(est or "w60")) if stat.z else None
        if z is None:
            z = _num(e.value)
    new = Member(alert_id=e.alert_id, rule_id=e.rule_id, subject=e.subject, label=e.label or e.subject,
                 state=str(e.state), tier=e.tier, joined_at=prev.joined_at if prev else now, data_ts=e.data_ts,
                 text=e.text, kind=stat.kind if stat else "", horizon=stat.horizon if stat else 0,
                 move=_num(stat.move) if stat else None, unit=stat.unit if stat else "", z=z,
                 rarity_years=_num(stat.return_period_years) if stat else None)
    if prev is None:
        return new
    best = new if new.strength() >= prev.strength() else prev
    tier = e.tier if _rank(e.tier) > _rank(prev.tier) else prev.tier
    return replace(best, state=str(e.state), tier=tier, joined_at=prev.joined_at)


def _member_from_state(s: AlertState, now: dt.datetime) -> Member:
    """A live alert that was already Pending (or Firing elsewhere) when its market's incident opened."""
    stat = stat_from_detail(s.detail)
    z = None
    if stat is not None and stat.z:
        est = s.detail.get("estimator") if isinstance(s.detail, Mapping) else None
        z = _num(stat.z.get(est or "w60"))
    if z is None:
        z = _num(s.value)
    return Member(alert_id=str(s.alert_id), rule_id=s.rule_id, subject=s.subject, label=s.label or s.subject,
                  state=str(s.state), tier=s.tier, joined_at=now, data_ts=s.last_ts, text=s.text,
                  kind=stat.kind if stat else "", horizon=stat.horizon if stat else 0,
                  move=_num(stat.move) if stat else None, unit=stat.unit if stat else "", z=z,
                  rarity_years=_num(stat.return_period_years) if stat else None)


def _live(m: Member, states: Mapping[str, AlertState]) -> bool:
    s = states.get(m.alert_id)
    if s is None:
        return State(m.state) in _LIVE if m.state in State._value2member_map_ else False
    if s.alert_id != m.alert_id:     # the rule × subject has moved on to another episode
        return False
    return s.state in _LIVE or (s.state in (State.NODATA, State.ERROR) and s.prior in _LIVE)


def _new_id(market: str, t: dt.datetime) -> str:
    return f"{market}:{t.astimezone(dt.UTC):%Y%m%dT%H%M%SZ}"


def track(open_incidents: Iterable[Incident], events: Sequence[AlertEvent], states: Mapping[str, AlertState],
          now: dt.datetime, market_of: Callable[[str, str], str]) -> tuple[list[Incident], list[IncidentEvent]]:
    """Fold one run's alert events into the open incidents.

    `states` maps alert id → its state after the run (alerts of other episodes may be absent).
    Returns (incidents that changed, their events), at most one event per incident."""
    by_market: dict[str, Incident] = {i.market: i for i in open_incidents if i.is_open}
    before = dict(by_market)
    added: dict[str, list[str]] = {}
    notify: dict[str, bool] = {}
    opened: set[str] = set()
    for e in sorted(events, key=lambda e: (e.at, e.data_ts or e.at, e.alert_id, e.seq)):
        if e.kind == "acknowledged":
            continue
        m = market_of(e.rule_id, e.subject)
        inc = by_market.get(m)
        if inc is None:
            if e.kind not in ("firing", "escalated") or e.state != State.FIRING:
                continue
            inc = Incident(id=_new_id(m, e.data_ts or e.at), market=m, state="open", tier=None, opened_at=now,
                           updated_at=now, first_ts=e.data_ts or e.at, notified=e.notify)
            opened.add(m)
        prev = inc.member(e.alert_id)
        if prev is None and e.kind not in _JOINING:
            continue                      # a resolution of an alert that never joined this incident
        mem = _member(e, prev, now) if e.kind in _JOINING or prev is None else \
            replace(prev, state=str(e.state))
        members = tuple(x for x in inc.members if x.alert_id != e.alert_id) + (mem,)
        # Only a tier an alert FIRED at counts: a Pending member's tier is a candidate the rule
        # has not confirmed yet (pending_for, the bad-tick guard), so it never makes the incident
        # — and the wall's banner — louder.
        fired = e.kind in ("firing", "escalated") and e.state == State.FIRING
        tier = e.tier if fired and _rank(e.tier) > _rank(inc.tier) else inc.tier
        if prev is None:
            added.setdefault(m, []).append(e.alert_id)
        if e.notify and e.kind in ("firing", "escalated"):
            notify[m] = True
        by_market[m] = replace(inc, members=members, tier=tier, updated_at=now)

    # An incident that opened in this run takes in its market's alerts that were already live
    # (Pending before the firing print; Firing ones belong to an open incident, so none here).
    for m in opened:
        inc = by_market[m]
        have = {x.alert_id for x in inc.members}
        extra = [_member_from_state(s, now) for s in states.values()
                 if s.alert_id and s.alert_id not in have and s.state in _LIVE
                 and market_of(s.rule_id, s.subject) == m]
        if extra:   # Pending: members without a say in the tier (see above)
            extra.sort(key=lambda x: x.alert_id)
            added.setdefault(m, []).extend(x.alert_id for x in extra)
            by_market[m] = replace(inc, members=inc.members + tuple(extra))

    changed: list[Incident] = []
    out: list[IncidentEvent] = []
    for m, inc in by_market.items():
        old = before.get(m)
        kind = None
        if m in opened:
            kind = "opened"
        elif old is not None and _rank(inc.tier) > _rank(old.tier):
            kind = "escalated"
        elif added.get(m):
            kind = "joined"
        members = tuple(replace(x, state=str(states[x.alert_id].state))
                        if x.alert_id in states and states[x.alert_id].alert_id == x.alert_id else x
                        for x in inc.members)
        inc = replace(inc, members=members)
        if not any(_live(x, states) for x in inc.members):
            resolved = replace(inc, state="resolved", resolved_at=now, updated_at=now, seq=inc.seq + 1 + (kind is not None))
            if kind is not None:   # opened and cleared in one run (a catch-up): both are told
                first = replace(inc, seq=inc.seq + 1)
                out.append(_event(first, kind, old, now, added.get(m, ()), notify.get(m, False) or
                                  (kind == "opened" and inc.notified)))
            out.append(_event(resolved, "resolved", old or inc, now, (), inc.notified))
            changed.append(resolved)
            continue
        if kind is None:
            if old is not None and inc != old:
                changed.append(replace(inc, updated_at=now))   # states of members moved; no event
            continue
        inc = replace(inc, seq=inc.seq + 1, updated_at=now)
        out.append(_event(inc, kind, old, now, added.get(m, ()),
                          notify.get(m, False) or (kind == "opened" and inc.notified)))
        changed.append(inc)
    return changed, out


def _event(inc: Incident, kind: str, old: Incident | None, now: dt.datetime, added: Sequence[str],
           notify: bool) -> IncidentEvent:
    prev_tier = None if kind == "opened" or old is None else old.tier
    return IncidentEvent(incident_id=inc.id, seq=inc.seq, kind=kind, tier=inc.tier, prev_tier=prev_tier, at=now,
                         incident=inc, added=tuple(added), notify=bool(notify))


# ------------------------------------------------------------------------------------ JSON
def _member_json(m: Member) -> dict[str, Any]:
    return {"alert_id": m.alert_id, "rule_id": m.rule_id, "series_id": m.subject, "label": m.label,
            "state": m.state, "tier": m.tier, "joined_at": _utc(m.joined_at), "data_ts": _utc(m.data_ts),
            "text": m.text, "kind": m.kind, "horizon": m.horizon, "move": m.move, "unit": m.unit, "z": m.z,
            "return_period_years": m.rarity_years, "short": m.short()}


def _member_from(d: Mapping[str, Any]) -> Member:
    return Member(alert_id=str(d["alert_id"]), rule_id=str(d.get("rule_id", "")), subject=str(d.get("series_id", "")),
                  label=str(d.get("label", "")), state=str(d.get("state", "firing")), tier=d.get("tier"),
                  joined_at=_parse(d.get("joined_at")) or dt.datetime(1970, 1, 1, tzinfo=dt.UTC),
                  data_ts=_parse(d.get("data_ts")), text=str(d.get("text", "")), kind=str(d.get("kind", "")),
                  horizon=int(d.get("horizon") or 0), move=_num(d.get("move")), unit=str(d.get("unit", "")),
                  z=_num(d.get("z")), rarity_years=_num(d.get("return_period_years")))


def incident_json(i: Incident) -> dict[str, Any]:
    """The JSON body of one incident (API, store, snapshot, notifications)."""
    lead = i.lead
    return {"id": i.id, "market": i.market, "market_label": i.market_label, "state": i.state, "tier": i.tier,
            "headline": i.headline, "title": i.title, "lead_alert_id": lead.alert_id if lead else None,
            "opened_at": _utc(i.opened_at), "updated_at": _utc(i.updated_at), "resolved_at": _utc(i.resolved_at),
            "first_data_ts": _utc(i.first_ts), "seq": i.seq, "notified": i.notified, "count": len(i.members),
            "series": i.series(), "members": [_member_json(m) for m in
                                             sorted(i.members, key=lambda m: (-_rank(m.tier), m.alert_id))]}


def incident_from_json(d: Mapping[str, Any]) -> Incident:
    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return Incident(id=str(d["id"]), market=str(d.get("market", CROSS)), state=str(d.get("state", "open")),
                    tier=d.get("tier"), opened_at=_parse(d.get("opened_at")) or epoch,
                    updated_at=_parse(d.get("updated_at")) or epoch, resolved_at=_parse(d.get("resolved_at")),
                    first_ts=_parse(d.get("first_data_ts")), seq=int(d.get("seq") or 0),
                    members=tuple(_member_from(m) for m in d.get("members") or ()),
                    notified=bool(d.get("notified")))


def incident_event_json(e: IncidentEvent) -> dict[str, Any]:
    return {"incident_id": e.incident_id, "seq": e.seq, "kind": e.kind, "tier": e.tier, "prev_tier": e.prev_tier,
            "at": _utc(e.at), "text": e.text, "added": list(e.added), "notify": e.notify,
            "incident": incident_json(e.incident)}
