"""The alert evaluator: a pure function `(rule, previous state, data, now) → (new state, events)`.

Nothing here reads a clock, a database or the network (Grafana's model, docs/STYLE): the service
loads the previous state, calls `evaluate`, stores what comes back and hands the events to the
notifiers.

States (Grafana's vocabulary; the machine is documented as a table in `evaluate`):
  normal → pending → firing → resolved, and nodata (source stale) / error (source failing),
  which remember the state they interrupted (`prior`) so a firing episode survives an outage.

Counting is in NEW data points: a re-evaluation of the same point (same `ts`, e.g. the run was
triggered by another source's update) changes nothing, so `pending_for` and `keep_firing_for`
cannot be satisfied by calling more often.

Data-quality hold: a move whose closing print the gate holds (`MoveStat.quality` "unconfirmed")
goes Pending at most; when the same print is confirmed later (same `ts`, quality "ok") it is
judged again and fires then. A series with fewer valid moves than it needs
(`MoveStat.insufficient_history`) does not alert on z.

Bad-tick guard: a move at or above `rule.guard_tier` (critical by default) that rests on a
single intraday print (`MoveStat.single_print`) stays Pending — or, when already firing, does
not escalate — until either
  * the next print: a newer data point of the same series that still reaches the guard tier, or
  * a confirmation: another print that independently shows the move, i.e. a MoveStat in
    `RuleInput.peers` that
      - is a different instrument (another series id — ^TNX vs ZN=F vs IEF are separate
        exchange feeds even though all come through Yahoo) or the same series from another
        source (e.g. FRED vs Treasury),
      - is not itself a single print,
      - ends within `rule.confirm_window_minutes` of the suspect print,
      - reaches at least the rule's lowest tier on the same estimator, and
      - points the same way in rate terms: same sign for the same unit, opposite sign between
        a yield (bp) and a price (logpct), since prices fall when yields rise.
"""
from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from alerts.rules import Rule, tier_rank
from alerts.text import largest_text, plain, quality_text, rarity_text, sigma_text, signed
from analytics.types import MoveStat
from errors import plain_reason
from universe import SOURCE_LABELS

__all__ = [
    "SOURCE_LABEL",
    "WINDOW_LABEL",
    "AlertEvent",
    "AlertState",
    "Intervention",
    "Level",
    "RuleInput",
    "Signal",
    "Silence",
    "State",
    "acknowledge",
    "alert_text",
    "confirming_peer",
    "evaluate",
    "level_text",
    "make_alert_id",
    "normalise_status",
    "spread_text",
    "stat_detail",
    "stat_from_detail",
]


class State(StrEnum):
    NORMAL = "normal"
    PENDING = "pending"
    FIRING = "firing"
    RESOLVED = "resolved"
    NODATA = "nodata"
    ERROR = "error"


SOURCE_LABEL = SOURCE_LABELS
WINDOW_LABEL = {"w60": "60d", "w250": "250d", "ewma": "EWMA", "mad250": "MAD 250d"}
_Z_NAME = {"w60": "z60", "w250": "z250", "ewma": "z_ewma", "mad250": "z_mad"}
_UNIT_TEXT = {"bp": "bp", "logpct": "%"}
_ACTIVE = (State.PENDING, State.FIRING, State.NODATA, State.ERROR)


@dataclass(frozen=True)
class Level:
    """A level reading for a level rule (yield in %, USD/JPY in yen)."""

    series_id: str
    ts: dt.datetime
    value: float
    source: str = ""
    unit: str = "%"


@dataclass(frozen=True)
class Silence:
    """Mute notifications for a rule and/or a series until `until` (state keeps being tracked)."""

    id: str
    until: dt.datetime
    rule_id: str | None = None
    series_id: str | None = None
    created_by: str = ""
    reason: str = ""
    created_at: dt.datetime | None = None

    def matches(self, rule_id: str, subject: str, now: dt.datetime) -> bool:
        if now >= self.until:
            return False
        if self.rule_id is None and self.series_id is None:
            return False  # a silence must name something: never mute everything by accident
        return (self.rule_id in (None, rule_id)) and (self.series_id in (None, subject))


@dataclass(frozen=True)
class Signal:
    """A contagion condition (analytics.contagion.ContagionSignal, as the engine sees it)."""

    kind: str
    subject: str
    active: bool
    value: float
    threshold: float
    ts: dt.datetime
    text: str


@dataclass(frozen=True)
class Intervention:
    """One reading of the possible-intervention detector (analytics/intervention.py) as the
    engine sees it (built by alerts/intervention.py)."""

    series_id: str
    kind: str                   # daily | intraday
    ts: dt.datetime             # the day's close instant, or the bar's
    value: float                # daily: range ÷ trailing median (×); intraday: |move| in % within the window
    shaped: bool                # the move has the detector's shape (one way against the month; two prints agree)
    direction: str              # yen-buying | yen-selling | two-way | ""
    text: str
    detail: dict[str, Any] = field(default_factory=dict)
    held: bool = False          # the data-quality gate holds one of the day's prints: Pending at most


@dataclass(frozen=True)
class RuleInput:
    """What one evaluation of one rule × subject sees."""

    subject: str                                  # series id, or "a-b" for a spread
    label: str = ""
    status: str = "ok"                            # ok | stale | failing (see normalise_status)
    stat: MoveStat | None = None                  # z rule: the move judged
    peers: tuple[MoveStat, ...] = ()              # z rule: moves that may confirm a single print
    level: Level | None = None                    # level rule
    legs: tuple[MoveStat, MoveStat] | None = None  # spread rule: (a, b)
    signal: Signal | None = None                  # signal rule
    intervention: Intervention | None = None      # intervention rule
    leg_labels: tuple[str, str] = ("", "")
    error: str | None = None                      # last source error (Error state text)
    source: str = ""                              # source named in NoData/Error texts


@dataclass(frozen=True)
class AlertState:
    """Current state of one rule × subject; one row in `alert_states`."""

    rule_id: str
    subject: str
    state: State = State.NORMAL
    alert_id: str | None = None          # rule:subject:start — stable for the whole episode
    tier: str | None = None
    seq: int = 0                         # last event seq of this alert id
    started_at: dt.datetime | None = None  # data time of the episode's first point
    fired_at: dt.datetime | None = None
    resolved_at: dt.datetime | None = None
    last_ts: dt.datetime | None = None   # newest data point evaluated
    held: int = 0                        # consecutive new points with the condition held
    cleared: int = 0                     # consecutive new points below the release threshold
    value: float | None = None           # last raw value: z, level, or spread move
    guard_ts: dt.datetime | None = None  # a guarded single print waiting for its next print
    prior: State | None = None           # state interrupted by NoData/Error
    silenced: bool = False
    acked_by: str | None = None
    acked_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    label: str = ""
    text: str = ""
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class AlertEvent:
    """One state change (or escalation/acknowledgement) of one alert; key (alert_id, seq)."""

    alert_id: str
    seq: int
    rule_id: str
    subject: str
    kind: str                      # pending firing escalated resolved normal nodata error restored acknowledged
    state: State
    prev_state: State
    tier: str | None
    prev_tier: str | None
    at: dt.datetime                # evaluation time
    data_ts: dt.datetime | None    # time of the data point behind it
    value: float | None
    text: str
    label: str = ""
    silenced: bool = False
    notify: bool = False           # the rule's notify_on has this kind and no silence matched
    by: str | None = None          # acknowledged: who
    detail: Mapping[str, Any] = field(default_factory=dict)


# ------------------------------------------------------------------------------------- helpers
def normalise_status(status: str | None) -> str:
    """Source status → ok | stale | failing.

    The snapshot's `never` and `backfilling` carry no verdict on the data: treated as ok, so a
    fresh start does not open a NoData alert on every series.
    """
    s = (status or "ok").lower()
    if s in ("stale", "nodata", "no_data"):
        return "stale"
    if s in ("failing", "error", "failed"):
        return "failing"
    return "ok"


def make_alert_id(rule_id: str, subject: str, start: dt.datetime) -> str:
    return f"{rule_id}:{subject}:{start.astimezone(dt.UTC):%Y%m%dT%H%M%SZ}"


def _finite(x: float | None) -> float | None:
    return None if x is None or not math.isfinite(float(x)) else float(x)


def _iso(t: dt.datetime | None) -> str | None:
    return None if t is None else t.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def stat_detail(s: MoveStat) -> dict[str, Any]:
    """A MoveStat as JSON-safe data (for events, states and the API)."""
    return {
        "series_id": s.series_id, "ts": _iso(s.ts), "kind": s.kind, "horizon": s.horizon,
        "move": _finite(s.move), "unit": s.unit,
        "sigma": {k: _finite(v) for k, v in s.sigma.items()}, "z": {k: _finite(v) for k, v in s.z.items()},
        "window_end": _iso(s.window_end), "rarity_share": _finite(s.rarity_share),
        "return_period_years": _finite(s.return_period_years), "normal_equiv_sigma": _finite(s.normal_equiv_sigma),
        "n_history": s.n_history, "source": s.source, "single_print": s.single_print,
        "sigma_raw": {k: _finite(v) for k, v in s.sigma_raw.items()}, "floor": _finite(s.floor),
        "quality": s.quality, "quality_note": s.quality_note, "n_valid": s.n_valid, "min_history": s.min_history,
        "rarity_base": _iso(s.rarity_base), "tail": s.tail, "return_period_low": _finite(s.return_period_low),
        "return_period_high": _finite(s.return_period_high), "largest_since": _iso(s.largest_since),
        "largest_since_signed": _iso(s.largest_since_signed), "series_start": _iso(s.series_start),
    }


def stat_from_detail(d: Mapping[str, Any]) -> MoveStat | None:
    """The MoveStat back from `stat_detail`'s JSON (an alert's statistics), None if not a move."""
    if not isinstance(d, Mapping) or "move" not in d or d.get("move") is None:
        return None

    def t(k: str) -> dt.datetime | None:
        v = d.get(k)
        try:
            return dt.datetime.fromisoformat(str(v).replace("Z", "+00:00")) if v else None
        except ValueError:
            return None

    num = lambda k: d.get(k) if isinstance(d.get(k), (int, float)) and not isinstance(d.get(k), bool) else None
    sig = lambda k: {e: float(v) for e, v in (d.get(k) or {}).items() if isinstance(v, (int, float))} \
        if isinstance(d.get(k), Mapping) else {}
    try:
        return MoveStat(
            series_id=str(d.get("series_id", "")), ts=t("ts") or dt.datetime(1970, 1, 1, tzinfo=dt.UTC),
            kind=str(d.get("kind", "daily")), horizon=int(d.get("horizon") or 1), move=float(d["move"]),
            unit=str(d.get("unit", "bp")), sigma=sig("sigma"), z=sig("z"), window_end=t("window_end"),
            rarity_share=num("rarity_share"), return_period_years=num("return_period_years"),
            normal_equiv_sigma=num("normal_equiv_sigma"), n_history=int(d.get("n_history") or 0),
            source=str(d.get("source", "")), single_print=bool(d.get("single_print")), sigma_raw=sig("sigma_raw"),
            floor=num("floor"), quality=str(d.get("quality") or "ok"), quality_note=str(d.get("quality_note") or ""),
            n_valid=int(d.get("n_valid") or 0), min_history=int(d.get("min_history") or 0),
            rarity_base=t("rarity_base"), tail=bool(d.get("tail")), return_period_low=num("return_period_low"),
            return_period_high=num("return_period_high"), largest_since=t("largest_since"),
            largest_since_signed=t("largest_since_signed"), series_start=t("series_start"))
    except (TypeError, ValueError):
        return None


def _when(t: dt.datetime) -> str:
    return f"{t.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC"


def _source(s: str) -> str:
    return SOURCE_LABEL.get(s, s.upper() if s else "?")


def alert_text(stat: MoveStat, label: str, estimator: str = "w60") -> str:
    """One line a trader reads: series, move, z and its σ (floored or not), the other z's, rarity
    on the declared base, "largest since", the gate's word when it held the print, time, source.

    e.g. "JGB 30Y +20.3 bp = 7.6σ (σ60 2.5 bp, window to 2026-01-19) · z250 5.6 · z_ewma 5.7 ·
    about once in 13.0 years since 2000 (≈3.6σ normal) · largest one-day rise on record (series
    since 1999-09-02) · largest move of either sign since 2016-03-08 · 2026-01-20 06:00 UTC · MOF"
    Figures are cut, not rounded (a 5.96σ move reads 5.9σ: never across a tier boundary).
    """
    nd = 1 if stat.unit == "bp" else 2
    unit = _UNIT_TEXT.get(stat.unit, stat.unit)
    what = label or stat.series_id
    move = f"{signed(stat.move, nd)} {unit}"
    if stat.kind == "intraday":
        move += " intraday"
    elif stat.horizon > 1:
        move += f" over {stat.horizon}d"
    z = _finite(stat.z.get(estimator))
    head = f"{what} {move}"
    if z is not None:
        head += f" = {plain(z, 1)}σ"
    sig = sigma_text(stat, estimator)
    win = WINDOW_LABEL.get(estimator, estimator)
    if sig:
        head += f" ({sig})"
    else:
        head += f" ({win})"
    parts = [head]
    for est, name in _Z_NAME.items():
        v = _finite(stat.z.get(est))
        if est != estimator and v is not None:
            parts.append(f"{name} {plain(v, 1)}")
    rare = rarity_text(stat)
    if rare:
        parts.append(rare)
    parts.extend(largest_text(stat))
    q = quality_text(stat)
    if q:
        parts.append(q)
    if stat.single_print:
        parts.append("single print")
    parts.append(_when(stat.ts))
    parts.append(_source(stat.source))
    return " · ".join(parts)


def level_text(level: Level, label: str, rule: Rule) -> str:
    op = "≥" if rule.direction == "above" else "≤"
    thr = rule.tiers[0][1]
    unit = f" {level.unit}" if level.unit else ""
    return (f"{label or level.series_id} {level.value:.2f}{unit} {op} {thr:.2f}{unit} · "
            f"{_when(level.ts)} · {_source(level.source)}")


def spread_text(a: MoveStat, b: MoveStat, labels: tuple[str, str], label: str, value: float, rule: Rule) -> str:
    la, lb = labels[0] or a.series_id, labels[1] or b.series_id
    span = f" over {rule.horizon}d" if rule.horizon > 1 and rule.kind == "daily" else (" intraday" if rule.kind == "intraday" else "")
    return (f"{label or f'{la} − {lb}'} {signed(value, 1)} bp{span} "
            f"({la} {signed(a.move, 1)} bp, {lb} {signed(b.move, 1)} bp; watch ≥ {rule.tiers[0][1]:g} bp) · "
            f"{_when(max(a.ts, b.ts))} · {_source(a.source)} + {_source(b.source)}")


def confirming_peer(rule: Rule, stat: MoveStat, peers: Iterable[MoveStat]) -> MoveStat | None:
    """The first peer that confirms `stat` (definition in the module docstring), or None."""
    z = _finite(stat.z.get(rule.estimator))
    if z is None or z == 0:
        return None
    window = dt.timedelta(minutes=rule.confirm_window_minutes)
    floor = rule.tiers[0][1]
    for p in peers:
        if (p.series_id == stat.series_id and p.source == stat.source) or p.single_print:
            continue
        if abs(p.ts - stat.ts) > window:
            continue
        pz = _finite(p.z.get(rule.estimator))
        if pz is None or abs(pz) < floor:
            continue
        same_way = (pz > 0) == (z > 0)
        if same_way == (p.unit == stat.unit):  # same unit: same sign; yield vs price: opposite
            return p
    return None


@dataclass(frozen=True)
class _Reading:
    ts: dt.datetime
    value: float          # raw: z, level, or spread move in bp
    norm: float           # normalised: larger = worse
    tier: str | None
    single_print: bool
    confirmed_by: str | None
    text: str
    detail: dict[str, Any]
    held: bool = False    # the data-quality gate holds the print (unconfirmed): Pending at most


def _reading(rule: Rule, data: RuleInput) -> _Reading | None:
    """Turn the rule's inputs into one comparable value; None when nothing usable arrived."""
    if rule.type == "z":
        s = data.stat
        if s is None:
            return None
        z = _finite(s.z.get(rule.estimator))
        if z is None:
            return None  # the σ window is not full yet, or no move (a new segment): nothing to judge
        if s.kind == "daily" and s.insufficient_history:
            return None  # "insufficient history": the series may not alert on z yet
        norm = abs(z) if rule.direction == "both" else rule.sign * z
        peer = confirming_peer(rule, s, data.peers) if s.single_print else None
        detail = stat_detail(s) | {"estimator": rule.estimator,
                                   "confirmed_by": None if peer is None else f"{peer.series_id}@{peer.source}"}
        held = s.quality in ("unconfirmed", "unjudged")
        return _Reading(s.ts, z, norm, rule.tier_for(norm, s.return_period_years), s.single_print,
                        None if peer is None else peer.series_id, alert_text(s, data.label, rule.estimator), detail,
                        held=held)
    if rule.type == "level":
        lv = data.level
        if lv is None or _finite(lv.value) is None:
            return None
        norm = rule.sign * lv.value
        detail = {"series_id": lv.series_id, "ts": _iso(lv.ts), "level": lv.value, "unit": lv.unit,
                  "direction": rule.direction, "thresholds": dict(rule.tiers), "source": lv.source}
        return _Reading(lv.ts, lv.value, norm, rule.tier_for(norm), False, None,
                        level_text(lv, data.label, rule), detail)
    if rule.type == "signal":
        sg = data.signal
        if sg is None:
            return None
        value = 1.0 if sg.active else 0.0
        detail = {"signal": sg.kind, "subject": sg.subject, "active": sg.active, "value": sg.value,
                  "threshold": sg.threshold, "ts": _iso(sg.ts)}
        return _Reading(sg.ts, value, value, rule.tier_for(value), False, None,
                        f"{data.label or 'Contagion'}: {sg.text}", detail)
    if rule.type == "intervention":
        iv = data.intervention
        if iv is None or _finite(iv.value) is None:
            return None
        norm = iv.value if iv.shaped else 0.0
        detail = iv.detail | {"kind": iv.kind, "value": iv.value, "shaped": iv.shaped, "direction": iv.direction,
                              "thresholds": dict(rule.tiers), "ts": _iso(iv.ts), "series_id": iv.series_id}
        return _Reading(iv.ts, iv.value, norm, rule.tier_for(norm), False, None, iv.text, detail, held=iv.held)
    # spread
    if data.legs is None or data.legs[0] is None or data.legs[1] is None:
        return None
    a, b = data.legs
    if _finite(a.move) is None or _finite(b.move) is None:
        return None
    if rule.kind == "daily":
        # Same trading day in UTC (JGB closes 06:00 UTC, UST ~20:00 UTC): never pair today's JGB
        # move with yesterday's UST move.
        if a.ts.astimezone(dt.UTC).date() != b.ts.astimezone(dt.UTC).date():
            return None
    elif abs(a.ts - b.ts) > dt.timedelta(minutes=rule.max_skew_minutes):
        return None
    value = a.move - b.move
    norm = abs(value) if rule.direction == "both" else rule.sign * value
    detail = {"move": value, "unit": "bp", "legs": [stat_detail(a), stat_detail(b)], "ts": _iso(max(a.ts, b.ts))}
    return _Reading(max(a.ts, b.ts), value, norm, rule.tier_for(norm), False, None,
                    spread_text(a, b, data.leg_labels, data.label, value, rule), detail)


def _guarded(rule: Rule, base: AlertState, r: _Reading) -> bool:
    """True while a guard-tier move rests on one unconfirmed print (see module docstring), or
    while the data-quality gate holds the print (any tier: Pending, never Firing, on it alone)."""
    if r.held and r.tier is not None:
        return True
    if rule.guard_tier is None or not r.single_print or r.tier is None:
        return False
    if tier_rank(r.tier) < tier_rank(rule.guard_tier) or r.confirmed_by is not None:
        return False
    # The next print: a newer point after a guarded one, still at the guard tier.
    return not (base.guard_ts is not None and r.ts > base.guard_ts)


_PHRASE = {"pending": "pending", "firing": "firing", "escalated": "escalated", "resolved": "resolved",
           "normal": "back to normal", "nodata": "no data", "error": "source error", "restored": "data restored",
           "acknowledged": "acknowledged"}


def _headline(kind: str, tier: str | None, body: str, by: str | None = None) -> str:
    tag = (tier or "").upper()
    phrase = _PHRASE.get(kind, kind) + (f" by {by}" if by else "")
    return f"{tag + ' · ' if tag else ''}{phrase} — {body}"


class _Events:
    """Collects events for one evaluation with per-alert seq numbers."""

    def __init__(self, rule: Rule, subject: str, label: str, now: dt.datetime, silenced: bool) -> None:
        self.rule, self.subject, self.label, self.now, self.silenced = rule, subject, label, now, silenced
        self.items: list[AlertEvent] = []

    def add(self, kind: str, alert_id: str, seq: int, prev: AlertState, new_state: State, tier: str | None,
            body: str, data_ts: dt.datetime | None, value: float | None, detail: Mapping[str, Any]) -> int:
        seq += 1
        self.items.append(AlertEvent(
            alert_id=alert_id, seq=seq, rule_id=self.rule.id, subject=self.subject, kind=kind, state=new_state,
            prev_state=prev.state, tier=tier, prev_tier=prev.tier, at=self.now, data_ts=data_ts, value=value,
            text=_headline(kind, tier, body), label=self.label, silenced=self.silenced,
            notify=(kind in self.rule.notify_on) and not self.silenced, detail=dict(detail)))
        return seq


def _outage_text(data: RuleInput, status: str) -> str:
    who = data.label or data.subject
    src = _source(data.source) if data.source else "its source"
    if status == "stale":
        return f"{who}: no fresh data from {src} (stale)"
    # The category only ("no network"): raw error text carries hosts and paths (Sources page).
    return f"{who}: {src} failing" + (f": {plain_reason(data.error)}" if data.error else "")


def _reset(s: AlertState) -> AlertState:
    """Back to Normal: the episode is over (its history stays in the events)."""
    return replace(s, state=State.NORMAL, alert_id=None, tier=None, seq=0, started_at=None, fired_at=None,
                   resolved_at=None, held=0, cleared=0, guard_ts=None, prior=None, acked_by=None, acked_at=None)


def evaluate(rule: Rule, previous: AlertState | None, data: RuleInput, now: dt.datetime, *,
             silences: Iterable[Silence] = ()) -> tuple[AlertState, list[AlertEvent]]:
    """One evaluation of one rule for one subject. Pure: same inputs, same outputs.

    | from \\ on                  | source stale | source failing | below lowest tier    | tier reached (¹)           |
    |-----------------------------|--------------|----------------|----------------------|----------------------------|
    | Normal / Resolved           | NoData       | Error          | Normal               | Pending, or Firing if held > pending_for |
    | Pending                     | NoData       | Error          | Normal ("normal")    | Pending; Firing once held > pending_for |
    | Firing                      | NoData       | Error          | Firing while < keep_firing_for clear points (²); then Resolved | Firing; higher tier → "escalated" |
    | NoData / Error              | Error/NoData | NoData/Error   | continue from `prior` (³)                            |

    (¹) a guard-tier single print without confirmation counts as not yet held (stays Pending /
        does not escalate). (²) while firing, "below" means below lowest − hysteresis.
    (³) "restored" is emitted when data comes back and no other transition happens.
    Same data point as last time (ts not newer) → no change, no events.
    """
    if now.tzinfo is None:
        raise ValueError("evaluate() needs an aware UTC `now`")
    prev = previous or AlertState(rule_id=rule.id, subject=data.subject, label=data.label)
    silenced = any(s.matches(rule.id, data.subject, now) for s in silences)
    ev = _Events(rule, data.subject, data.label or prev.label, now, silenced)
    status = normalise_status(data.status)

    # ---- source outage: NoData / Error, keeping the episode (if any) underneath
    if status != "ok":
        target = State.NODATA if status == "stale" else State.ERROR
        if prev.state == target:
            return (prev if prev.silenced == silenced else replace(prev, silenced=silenced, updated_at=now)), []
        in_episode = prev.state in _ACTIVE and prev.alert_id is not None
        alert_id = prev.alert_id if in_episode else make_alert_id(rule.id, data.subject, now)
        seq = prev.seq if in_episode else 0
        if prev.state in (State.NODATA, State.ERROR):
            prior = prev.prior
        else:
            prior = prev.state if prev.state in (State.PENDING, State.FIRING) else State.NORMAL
        tier = prev.tier if in_episode else None
        body = _outage_text(data, status)
        base = prev if in_episode else _reset(prev)
        seq = ev.add(target.value, alert_id, seq, prev, target, tier, body, prev.last_ts, prev.value, prev.detail)
        new = replace(base, state=target, alert_id=alert_id, seq=seq, tier=tier, prior=prior, silenced=silenced,
                      updated_at=now, text=body, label=ev.label,
                      started_at=base.started_at if in_episode else now)
        return new, ev.items

    # ---- data OK: leave NoData/Error for the interrupted state
    restored_from: AlertState | None = None
    base = replace(prev, silenced=silenced, label=ev.label)
    if prev.state in (State.NODATA, State.ERROR):
        restored_from = prev
        prior = prev.prior or State.NORMAL
        base = _reset(base) if prior == State.NORMAL else replace(base, state=prior, prior=None)

    r = _reading(rule, data)
    if r is None or (base.last_ts is not None and r.ts <= base.last_ts and not _released(base, r)):
        if restored_from is None:
            return (prev if prev.silenced == silenced else replace(prev, silenced=silenced, updated_at=now)), []
        seq = _restored(ev, restored_from, base)
        if base.alert_id is not None and base.alert_id == restored_from.alert_id:
            base = replace(base, seq=seq)
        return replace(base, updated_at=now), ev.items

    new = _step(rule, base, r, ev, now)
    if restored_from is not None:
        # Data is back and the interrupted episode simply continues: say so once.
        if not any(e.alert_id == restored_from.alert_id for e in ev.items):
            same = new.alert_id is not None and new.alert_id == restored_from.alert_id
            seq = _restored(ev, restored_from, new if same else base)
            if same:
                new = replace(new, seq=seq)
        ev.items.sort(key=lambda e: (e.alert_id != restored_from.alert_id, e.seq))
    return new, ev.items


def _released(base: AlertState, r: _Reading) -> bool:
    """The same print as last time, which the gate held then and has confirmed since: judge it
    again (a held move that turns out real fires now, not never)."""
    return (r.ts == base.last_ts and not r.held and base.detail.get("quality") in ("unconfirmed", "unjudged"))


def _restored(ev: _Events, was: AlertState, now_state: AlertState) -> int:
    return ev.add("restored", was.alert_id or "", was.seq, was, now_state.state, was.tier,
           f"{ev.label or ev.subject}: data restored", was.last_ts, was.value, was.detail)


def _step(rule: Rule, base: AlertState, r: _Reading, ev: _Events, now: dt.datetime) -> AlertState:
    """The Normal/Pending/Firing/Resolved machine on one new data point."""
    guarded = _guarded(rule, base, r)
    seen = dict(last_ts=r.ts, value=r.value, detail=r.detail, text=r.text, updated_at=now,
                guard_ts=r.ts if guarded else None)
    s = base.state

    if s in (State.NORMAL, State.RESOLVED):
        if r.tier is None:
            return replace(_reset(base), **seen)
        alert_id = make_alert_id(rule.id, base.subject, r.ts)
        fresh = replace(_reset(base), alert_id=alert_id, started_at=r.ts, held=1, **seen)
        return _pending_or_firing(rule, fresh, base, r, guarded, ev, now)

    if s == State.PENDING:
        if r.tier is None:
            ev.add("normal", base.alert_id or "", base.seq, base, State.NORMAL, base.tier, r.text, r.ts, r.value, r.detail)
            return replace(_reset(base), **seen)
        nxt = replace(base, held=base.held + 1, **seen)
        return _pending_or_firing(rule, nxt, base, r, guarded, ev, now)

    # Firing
    if r.norm >= rule.lowest - rule.hysteresis:
        nxt = replace(base, cleared=0, **seen)
        if r.tier is not None and tier_rank(r.tier) > tier_rank(base.tier) and not guarded:
            seq = ev.add("escalated", base.alert_id or "", base.seq, base, State.FIRING, r.tier, r.text,
                         r.ts, r.value, r.detail)
            nxt = replace(nxt, tier=r.tier, seq=seq)
        return nxt  # tier never drops while firing
    cleared = base.cleared + 1
    if cleared > rule.keep_firing_for:
        seq = ev.add("resolved", base.alert_id or "", base.seq, base, State.RESOLVED, base.tier, r.text,
                     r.ts, r.value, r.detail)
        return replace(base, state=State.RESOLVED, cleared=cleared, held=0, seq=seq, resolved_at=now, **seen)
    return replace(base, cleared=cleared, **seen)  # keep firing for a while (keep_firing_for)


def _pending_or_firing(rule: Rule, nxt: AlertState, base: AlertState, r: _Reading, guarded: bool,
                       ev: _Events, now: dt.datetime) -> AlertState:
    if nxt.held > rule.pending_for and not guarded:
        seq = ev.add("firing", nxt.alert_id or "", nxt.seq, base, State.FIRING, r.tier, r.text, r.ts, r.value, r.detail)
        return replace(nxt, state=State.FIRING, tier=r.tier, seq=seq, fired_at=now, cleared=0)
    if base.state != State.PENDING or nxt.alert_id != base.alert_id:
        seq = ev.add("pending", nxt.alert_id or "", nxt.seq, base, State.PENDING, r.tier, r.text, r.ts, r.value, r.detail)
        return replace(nxt, state=State.PENDING, tier=r.tier, seq=seq)
    return replace(nxt, tier=r.tier)  # still pending: the candidate tier follows the data


def acknowledge(state: AlertState, who: str, now: dt.datetime) -> tuple[AlertState, AlertEvent]:
    """Mark the current episode acknowledged (shown on screen; notifications continue)."""
    if state.alert_id is None:
        raise ValueError(f"{state.rule_id}:{state.subject} has no open alert to acknowledge")
    if not who or not who.strip():
        raise ValueError("acknowledge needs a name (who)")
    ev = AlertEvent(alert_id=state.alert_id, seq=0, rule_id=state.rule_id, subject=state.subject,
                    kind="acknowledged", state=state.state, prev_state=state.state, tier=state.tier,
                    prev_tier=state.tier, at=now, data_ts=state.last_ts, value=state.value,
                    text=_headline("acknowledged", state.tier, state.text or state.subject, by=who),
                    label=state.label, by=who, detail=dict(state.detail))
    return replace(state, acked_by=who, acked_at=now), ev
