"""Alert states, events, acknowledgements and silences in the store's own database.

SQLAlchemy Core on `Store.engine`: the same tables and statements on SQLite and PostgreSQL.
Times are BIGINT nanoseconds since the epoch (UTC), like `data/store.py`; statistics are JSON
text (portable, and the API serves them as they are).

Idempotence, so a restart neither loses nor duplicates alerts:
- `alert_states` is keyed by (rule_id, subject) and upserted: the evaluator continues the same
  episode from the loaded state;
- `alert_events` is keyed by (alert_id, seq) and written with ON CONFLICT DO NOTHING: writing the
  same events twice stores them once;
- states and events of one run are written in ONE transaction: never an event without its state.

Writers: the collector (one per store, leased) writes states and events; web processes write
only `alert_acks` and `alert_silences`, tables the collector never overwrites, so an
acknowledgement cannot be lost to a concurrent evaluation. Both record who acted: `by` (the
name typed on the page) and `actor` (the signed-in role and user, e.g. "alice (operator)" or
"local operator": never a secret), with the time (`at_ns`, `created_ns`).
"""
from __future__ import annotations

import datetime as dt
import json
import math
import uuid
from collections.abc import Iterable
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Double,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    inspect,
    select,
    text,
)

from alerts.engine import AlertEvent, AlertState, Silence, State, acknowledge
from alerts.incidents import Incident, IncidentEvent, incident_event_json, incident_from_json, incident_json
from alerts.rules import TIER_RANK
from data.store import Store

__all__ = ["ACTIVE_STATES", "AlertStore", "alerts_payload", "event_json", "state_json"]

ACTIVE_STATES = (State.FIRING, State.PENDING, State.NODATA, State.ERROR, State.RESOLVED)
_PG_ADVISORY_ALERTS_LOCK = 0x636D414C  # "cmAL": serialises concurrent create_schema on PG

metadata = MetaData()

alert_states = Table(
    "alert_states", metadata,
    Column("rule_id", String(64), primary_key=True),
    Column("subject", String(160), primary_key=True),
    Column("state", String(16), nullable=False),
    Column("alert_id", String(256)),
    Column("tier", String(16)),
    Column("seq", Integer, nullable=False, default=0),
    Column("started_ns", BigInteger),
    Column("fired_ns", BigInteger),
    Column("resolved_ns", BigInteger),
    Column("last_ts_ns", BigInteger),
    Column("held", Integer, nullable=False, default=0),
    Column("cleared", Integer, nullable=False, default=0),
    Column("value", Double),
    Column("guard_ns", BigInteger),
    Column("prior", String(16)),
    Column("silenced", Integer, nullable=False, default=0),
    Column("updated_ns", BigInteger),
    Column("label", Text, nullable=False, default=""),
    Column("text", Text, nullable=False, default=""),
    Column("detail", Text, nullable=False, default="{}"),
)

alert_events = Table(
    "alert_events", metadata,
    Column("alert_id", String(256), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("rule_id", String(64), nullable=False),
    Column("subject", String(160), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("state", String(16), nullable=False),
    Column("prev_state", String(16), nullable=False),
    Column("tier", String(16)),
    Column("prev_tier", String(16)),
    Column("at_ns", BigInteger, nullable=False),
    Column("data_ts_ns", BigInteger),
    Column("value", Double),
    Column("text", Text, nullable=False),
    Column("label", Text, nullable=False, default=""),
    Column("silenced", Integer, nullable=False, default=0),
    Column("notify", Integer, nullable=False, default=0),
    Column("detail", Text, nullable=False, default="{}"),
    Index("ix_alert_events_at", "at_ns"),
    Index("ix_alert_events_subject_at", "subject", "at_ns"),
)

alert_acks = Table(
    "alert_acks", metadata,
    Column("alert_id", String(256), primary_key=True),   # first acknowledgement wins
    Column("by", String(128), nullable=False),
    Column("at_ns", BigInteger, nullable=False),
    Column("rule_id", String(64), nullable=False),
    Column("subject", String(160), nullable=False),
    Column("state", String(16), nullable=False),
    Column("tier", String(16)),
    Column("text", Text, nullable=False, default=""),
    Column("label", Text, nullable=False, default=""),
    Column("actor", String(128)),                       # signed-in role/user (None before issue 14)
)

alert_silences = Table(
    "alert_silences", metadata,
    Column("id", String(32), primary_key=True),
    Column("rule_id", String(64)),
    Column("series_id", String(160)),
    Column("until_ns", BigInteger, nullable=False),
    Column("created_by", String(128), nullable=False, default=""),
    Column("reason", Text, nullable=False, default=""),
    Column("created_ns", BigInteger),
    Column("actor", String(128)),
)
# Incidents (alerts/incidents.py): the current body of each, and one row per change. Written by the
# collector in the same transaction as the alert states and events of the run that changed them.
alert_incidents = Table(
    "alert_incidents", metadata,
    Column("id", String(64), primary_key=True),
    Column("market", String(16), nullable=False),
    Column("state", String(16), nullable=False),
    Column("tier", String(16)),
    Column("opened_ns", BigInteger, nullable=False),
    Column("updated_ns", BigInteger, nullable=False),
    Column("resolved_ns", BigInteger),
    Column("seq", Integer, nullable=False, default=0),
    Column("body", Text, nullable=False),
    Index("ix_alert_incidents_state", "state", "updated_ns"),
)

incident_events = Table(
    "incident_events", metadata,
    Column("incident_id", String(64), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("tier", String(16)),
    Column("prev_tier", String(16)),
    Column("at_ns", BigInteger, nullable=False),
    Column("notify", Integer, nullable=False, default=0),
    Column("body", Text, nullable=False),
    Index("ix_incident_events_at", "at_ns"),
)
# Columns added after a table was first created: create_schema adds them to older databases.
_ADDED_COLUMNS = (("alert_acks", "actor", "VARCHAR(128)"), ("alert_silences", "actor", "VARCHAR(128)"))


# ------------------------------------------------------------------------------------ conversions
def _ns(t: dt.datetime | None) -> int | None:
    if t is None:
        return None
    if t.tzinfo is None:
        raise ValueError(f"naive datetime {t!r}: alerts only take UTC-aware instants")
    delta = t.astimezone(dt.UTC) - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000


def _dt(ns: int | None) -> dt.datetime | None:
    if ns is None:
        return None
    return dt.datetime(1970, 1, 1, tzinfo=dt.UTC) + dt.timedelta(microseconds=int(ns) // 1_000)


def _iso(t: dt.datetime | None) -> str | None:
    return None if t is None else t.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


def _clean(x: Any) -> Any:
    """JSON-safe: NaN/inf → None, recursively."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {str(k): _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    return x


def _dumps(d: Any) -> str:
    return json.dumps(_clean(dict(d)), sort_keys=True, ensure_ascii=False)


def _state_row(s: AlertState) -> dict[str, Any]:
    return dict(rule_id=s.rule_id, subject=s.subject, state=str(s.state), alert_id=s.alert_id, tier=s.tier,
                seq=s.seq, started_ns=_ns(s.started_at), fired_ns=_ns(s.fired_at), resolved_ns=_ns(s.resolved_at),
                last_ts_ns=_ns(s.last_ts), held=s.held, cleared=s.cleared,
                value=None if s.value is None or not math.isfinite(s.value) else float(s.value),
                guard_ns=_ns(s.guard_ts), prior=None if s.prior is None else str(s.prior),
                silenced=int(s.silenced), updated_ns=_ns(s.updated_at), label=s.label, text=s.text,
                detail=_dumps(s.detail))


def _event_row(e: AlertEvent) -> dict[str, Any]:
    return dict(alert_id=e.alert_id, seq=e.seq, rule_id=e.rule_id, subject=e.subject, kind=e.kind,
                state=str(e.state), prev_state=str(e.prev_state), tier=e.tier, prev_tier=e.prev_tier,
                at_ns=_ns(e.at), data_ts_ns=_ns(e.data_ts),
                value=None if e.value is None or not math.isfinite(e.value) else float(e.value),
                text=e.text, label=e.label, silenced=int(e.silenced), notify=int(e.notify), detail=_dumps(e.detail))


def _incident_row(i: Incident) -> dict[str, Any]:
    return {"id": i.id, "market": i.market, "state": i.state, "tier": i.tier, "opened_ns": _ns(i.opened_at),
            "updated_ns": _ns(i.updated_at), "resolved_ns": _ns(i.resolved_at), "seq": i.seq,
            "body": _dumps(incident_json(i))}


def _incident_event_row(e: IncidentEvent) -> dict[str, Any]:
    return {"incident_id": e.incident_id, "seq": e.seq, "kind": e.kind, "tier": e.tier, "prev_tier": e.prev_tier,
            "at_ns": _ns(e.at), "notify": int(e.notify), "body": _dumps(incident_event_json(e))}


def _state_from(r: Any) -> AlertState:
    return AlertState(
        rule_id=r.rule_id, subject=r.subject, state=State(r.state), alert_id=r.alert_id, tier=r.tier,
        seq=int(r.seq or 0), started_at=_dt(r.started_ns), fired_at=_dt(r.fired_ns), resolved_at=_dt(r.resolved_ns),
        last_ts=_dt(r.last_ts_ns), held=int(r.held or 0), cleared=int(r.cleared or 0), value=r.value,
        guard_ts=_dt(r.guard_ns), prior=None if r.prior is None else State(r.prior), silenced=bool(r.silenced),
        acked_by=r.ack_by, acked_at=_dt(r.ack_at_ns), updated_at=_dt(r.updated_ns), label=r.label or "",
        text=r.text or "", detail=json.loads(r.detail or "{}"))


def _event_from(r: Any) -> AlertEvent:
    return AlertEvent(
        alert_id=r.alert_id, seq=int(r.seq), rule_id=r.rule_id, subject=r.subject, kind=r.kind,
        state=State(r.state), prev_state=State(r.prev_state), tier=r.tier, prev_tier=r.prev_tier,
        at=_dt(r.at_ns), data_ts=_dt(r.data_ts_ns), value=r.value, text=r.text, label=r.label or "",
        silenced=bool(r.silenced), notify=bool(r.notify), detail=json.loads(r.detail or "{}"))


def _ack_event(r: Any) -> AlertEvent:
    st = State(r.state)
    return AlertEvent(alert_id=r.alert_id, seq=0, rule_id=r.rule_id, subject=r.subject, kind="acknowledged",
                      state=st, prev_state=st, tier=r.tier, prev_tier=r.tier, at=_dt(r.at_ns), data_ts=None,
                      value=None, text=r.text or "", label=r.label or "", by=r.by)


def _states_query():
    s, a = alert_states, alert_acks
    return (select(s, a.c.by.label("ack_by"), a.c.at_ns.label("ack_at_ns"))
            .select_from(s.outerjoin(a, a.c.alert_id == s.c.alert_id)))


def _as_list(x: str | Iterable[str] | None) -> list[str] | None:
    if x is None:
        return None
    return [x] if isinstance(x, str) else [str(v) for v in x]


# ------------------------------------------------------------------------------------ the store
class AlertStore:
    """Alert persistence on an existing `Store` (same engine, same database)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.engine = store.engine
        self.backend = store.backend
        self._schema_ok = False

    def create_schema(self) -> None:
        """Create the alert tables if missing; idempotent and safe to race."""
        if self._schema_ok:
            return
        with self.store.write() as conn:
            if self.backend == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_ADVISORY_ALERTS_LOCK})
            metadata.create_all(conn, checkfirst=True)
            for table, column, sql_type in _ADDED_COLUMNS:
                if column not in {c["name"] for c in inspect(conn).get_columns(table)}:
                    conn.execute(text(f"ALTER TABLE {table} ADD COLUMN {column} {sql_type}"))
        self._schema_ok = True

    def _ready(self) -> None:
        if not self._schema_ok:
            self.create_schema()

    def version(self) -> tuple[int, ...]:
        """A cheap fingerprint of everything the alert views show; web readers poll it."""
        self._ready()
        with self.engine.connect() as conn:
            row = conn.execute(select(
                select(func.count()).select_from(alert_events).scalar_subquery(),
                select(func.coalesce(func.max(alert_events.c.at_ns), 0)).scalar_subquery(),
                select(func.coalesce(func.max(alert_states.c.updated_ns), 0)).scalar_subquery(),
                select(func.count()).select_from(alert_acks).scalar_subquery(),
                select(func.count()).select_from(alert_silences).scalar_subquery(),
                select(func.coalesce(func.max(alert_incidents.c.updated_ns), 0)).scalar_subquery(),
                select(func.count()).select_from(incident_events).scalar_subquery(),
                select(func.count()).select_from(alert_deliveries).scalar_subquery(),
            )).one()
        return tuple(int(x) for x in row)

    # -------------------------------------------------------------- states and events
    def load_states(self) -> dict[tuple[str, str], AlertState]:
        """Every stored state, keyed by (rule_id, subject), with its acknowledgement if any."""
        self._ready()
        with self.engine.connect() as conn:
            rows = conn.execute(_states_query()).all()
        return {(r.rule_id, r.subject): _state_from(r) for r in rows}

    def save(self, states: Iterable[AlertState], events: Iterable[AlertEvent],
             incidents: Iterable[Incident] = (), incident_changes: Iterable[IncidentEvent] = ()) -> int:
        """Upsert states and incidents, append events and incident events, in one transaction;
        returns alert events newly stored."""
        self._ready()
        state_rows = [_state_row(x) for x in states]
        event_rows = [_event_row(e) for e in events if e.kind != "acknowledged"]
        inc_rows = [_incident_row(i) for i in incidents]
        ie_rows = [_incident_event_row(e) for e in incident_changes]
        if not state_rows and not event_rows and not inc_rows and not ie_rows:
            return 0
        written = 0
        with self.store.write() as conn:
            for row in state_rows:
                stmt = self.store.insert(alert_states).values(**row)
                conn.execute(stmt.on_conflict_do_update(
                    index_elements=["rule_id", "subject"],
                    set_={k: stmt.excluded[k] for k in row if k not in ("rule_id", "subject")}))
            written = self._append(conn, event_rows)
            for row in inc_rows:
                stmt = self.store.insert(alert_incidents).values(**row)
                conn.execute(stmt.on_conflict_do_update(index_elements=["id"],
                                                        set_={k: stmt.excluded[k] for k in row if k != "id"}))
            for row in ie_rows:   # replaying the same run stores each change once
                conn.execute(self.store.insert(incident_events).values(**row)
                             .on_conflict_do_nothing(index_elements=["incident_id", "seq"]))
        return written

    # -------------------------------------------------------------- incidents
    def load_open_incidents(self) -> list[Incident]:
        self._ready()
        with self.engine.connect() as conn:
            rows = conn.execute(select(alert_incidents.c.body).where(alert_incidents.c.state == "open")).all()
        return [incident_from_json(json.loads(r.body)) for r in rows]

    def list_incidents(self, *, series: str | Iterable[str] | None = None, state: str | Iterable[str] | None = None,
                       tier: str | Iterable[str] | None = None, since: dt.datetime | None = None,
                       rule: str | Iterable[str] | None = None, market: str | Iterable[str] | None = None,
                       limit: int = 200) -> list[dict[str, Any]]:
        """Incidents as JSON bodies, open ones first, then the most recently changed; `series`
        and `rule` match any member, `since` the last change."""
        self._ready()
        limit = max(1, min(int(limit), 5000))
        t = alert_incidents
        q = select(t.c.body)
        if (states := _as_list(state)) is not None:
            q = q.where(t.c.state.in_(states))
        if (tiers := _as_list(tier)) is not None:
            q = q.where(t.c.tier.in_(tiers))
        if (markets := _as_list(market)) is not None:
            q = q.where(t.c.market.in_(markets))
        if since is not None:
            q = q.where(t.c.updated_ns >= _ns(since))
        sel, rules = _as_list(series), _as_list(rule)
        # Member filters are applied on the bodies: scan in pages so `limit` counts matches.
        q = q.order_by((t.c.state == "open").desc(), t.c.updated_ns.desc(), t.c.id)
        out: list[dict[str, Any]] = []
        page, offset = max(limit, 200), 0
        with self.engine.connect() as conn:
            while len(out) < limit:
                rows = conn.execute(q.limit(page).offset(offset)).all()
                for r in rows:
                    body = json.loads(r.body)
                    members = body.get("members") or []
                    if sel is not None and not any(m.get("series_id") in sel for m in members):
                        continue
                    if rules is not None and not any(m.get("rule_id") in rules for m in members):
                        continue
                    out.append(body)
                if len(rows) < page:
                    break
                offset += page
        return out[:limit]

    def list_incident_events(self, incident_id: str | None = None, *, limit: int = 200) -> list[dict[str, Any]]:
        """Incident changes newest first (each with the incident as it stood)."""
        self._ready()
        t = incident_events
        q = select(t.c.body).order_by(t.c.at_ns.desc(), t.c.seq.desc()).limit(max(1, min(int(limit), 5000)))
        if incident_id is not None:
            q = q.where(t.c.incident_id == incident_id)
        with self.engine.connect() as conn:
            return [json.loads(r.body) for r in conn.execute(q).all()]

    def _append(self, conn: Connection, rows: list[dict[str, Any]]) -> int:
        n = 0
        for row in rows:  # a handful per run: one statement each gives an exact "newly stored" count
            # RETURNING (not rowcount, which drivers report unevenly) tells whether the row was new.
            res = conn.execute(self.store.insert(alert_events).values(**row)
                               .on_conflict_do_nothing(index_elements=["alert_id", "seq"])
                               .returning(alert_events.c.seq))
            n += len(res.all())
        return n

    def append_events(self, events: Iterable[AlertEvent]) -> int:
        """Append events idempotently (key alert_id + seq); returns how many were new."""
        self._ready()
        rows = [_event_row(e) for e in events if e.kind != "acknowledged"]
        if not rows:
            return 0
        with self.store.write() as conn:
            return self._append(conn, rows)

    def list_events(self, *, series: str | Iterable[str] | None = None, state: str | Iterable[str] | None = None,
                    tier: str | Iterable[str] | None = None, since: dt.datetime | None = None,
                    rule: str | Iterable[str] | None = None, kind: str | Iterable[str] | None = None,
                    alert_id: str | None = None, limit: int = 200, include_acks: bool = True) -> list[AlertEvent]:
        """Events newest first, filtered (each filter takes one value or several)."""
        self._ready()
        limit = max(1, min(int(limit), 5000))
        e, a = alert_events, alert_acks
        filters = dict(series=_as_list(series), state=_as_list(state), tier=_as_list(tier),
                       rule=_as_list(rule), kind=_as_list(kind))

        def where(q, t, kind_col: bool):
            if filters["series"] is not None:
                q = q.where(t.c.subject.in_(filters["series"]))
            if filters["state"] is not None:
                q = q.where(t.c.state.in_(filters["state"]))
            if filters["tier"] is not None:
                q = q.where(t.c.tier.in_(filters["tier"]))
            if filters["rule"] is not None:
                q = q.where(t.c.rule_id.in_(filters["rule"]))
            if since is not None:
                q = q.where(t.c.at_ns >= _ns(since))
            if alert_id is not None:
                q = q.where(t.c.alert_id == alert_id)
            if kind_col and filters["kind"] is not None:
                q = q.where(t.c.kind.in_(filters["kind"]))
            return q

        with self.engine.connect() as conn:
            rows = conn.execute(where(select(e), e, True).order_by(e.c.at_ns.desc(), e.c.seq.desc()).limit(limit)).all()
            out = [_event_from(r) for r in rows]
            if include_acks and (filters["kind"] is None or "acknowledged" in filters["kind"]):
                acks = conn.execute(where(select(a), a, False).order_by(a.c.at_ns.desc()).limit(limit)).all()
                out += [_ack_event(r) for r in acks]
        out.sort(key=lambda ev: (ev.at, ev.seq), reverse=True)
        return out[:limit]

    # -------------------------------------------------------------- acknowledgements
    def acknowledge(self, alert_id: str, who: str, now: dt.datetime, *, actor: str | None = None) -> AlertEvent:
        """Acknowledge an alert by id (first acknowledgement wins; repeating it is harmless).
        `actor`: the signed-in role/user that did it (see the module docstring).

        Raises KeyError for an unknown alert id, ValueError without a name.
        """
        self._ready()
        with self.engine.connect() as conn:
            row = conn.execute(_states_query().where(alert_states.c.alert_id == alert_id)).first()
            if row is not None:
                current = _state_from(row)
            else:  # a past episode: known from its events only
                ev = conn.execute(select(alert_events).where(alert_events.c.alert_id == alert_id)
                                  .order_by(alert_events.c.seq.desc()).limit(1)).first()
                if ev is None:
                    raise KeyError(f"unknown alert id {alert_id!r}")
                last = _event_from(ev)
                current = AlertState(rule_id=last.rule_id, subject=last.subject, state=last.state,
                                     alert_id=alert_id, tier=last.tier, label=last.label, text=last.text,
                                     last_ts=last.data_ts, value=last.value)
        _, event = acknowledge(current, who, now)
        stmt = self.store.insert(alert_acks).values(
            alert_id=alert_id, by=event.by, at_ns=_ns(now), rule_id=event.rule_id, subject=event.subject,
            state=str(event.state), tier=event.tier, text=event.text, label=event.label,
            actor=None if actor is None else str(actor)[:128])
        with self.store.write() as conn:
            conn.execute(stmt.on_conflict_do_nothing(index_elements=["alert_id"]))
            stored = conn.execute(select(alert_acks).where(alert_acks.c.alert_id == alert_id)).one()
        return _ack_event(stored)

    # -------------------------------------------------------------- silences
    def add_silence(self, *, until: dt.datetime, rule_id: str | None = None, series_id: str | None = None,
                    created_by: str = "", reason: str = "", now: dt.datetime | None = None,
                    actor: str | None = None) -> Silence:
        """Silence a rule and/or a series until `until`; at least one of them must be named."""
        if rule_id is None and series_id is None:
            raise ValueError("a silence names a rule_id, a series_id, or both")
        self._ready()
        sil = Silence(id=uuid.uuid4().hex[:16], until=until, rule_id=rule_id, series_id=series_id,
                      created_by=created_by, reason=reason, created_at=now)
        with self.store.write() as conn:
            conn.execute(alert_silences.insert().values(
                id=sil.id, rule_id=rule_id, series_id=series_id, until_ns=_ns(until), created_by=created_by,
                reason=reason, created_ns=_ns(now), actor=None if actor is None else str(actor)[:128]))
        return sil

    def active_silences(self, now: dt.datetime) -> list[Silence]:
        self._ready()
        t = alert_silences
        with self.engine.connect() as conn:
            rows = conn.execute(select(t).where(t.c.until_ns > _ns(now)).order_by(t.c.until_ns)).all()
        return [Silence(id=r.id, until=_dt(r.until_ns), rule_id=r.rule_id, series_id=r.series_id,
                        created_by=r.created_by or "", reason=r.reason or "", created_at=_dt(r.created_ns))
                for r in rows]

    def delete_silence(self, silence_id: str) -> bool:
        self._ready()
        with self.store.write() as conn:
            return (conn.execute(alert_silences.delete().where(alert_silences.c.id == silence_id)).rowcount or 0) > 0

    def reset(self) -> None:
        """Forget every alert (states, events, acknowledgements; silences stay).

        For disposable stores: after `Store.reset_data()` (demo, replay) the data restarts in the
        past, and states remembering a later `last_ts` would ignore it as already seen.
        """
        self._ready()
        with self.store.write() as conn:
            for t in (alert_events, alert_acks, alert_states, alert_incidents, incident_events,
                      alert_deliveries):
                conn.execute(t.delete())

    # -------------------------------------------------------------- API body
    def payload(self, now: dt.datetime, *, limit: int = 200, **filters: Any) -> dict[str, Any]:
        """`alerts_payload` over the stored states and the filtered events."""
        states = self.load_states().values()
        sel = _as_list(filters.get("series"))
        if sel is not None:
            states = [s for s in states if s.subject in sel]
        body = alerts_payload(states, self.list_events(limit=limit, **filters), now,
                              silences=self.active_silences(now))
        body["incidents"] = self.list_incidents(series=filters.get("series"), limit=50)
        body["deliveries"] = list_deliveries(self.engine, limit=50)   # routed notifications' log
        return self._with_actors(body)

    def _with_actors(self, body: dict[str, Any]) -> dict[str, Any]:
        """Add each acknowledgement's and silence's `actor` (who was signed in) to the payload."""
        acked = sorted({a["alert_id"] for a in body["alerts"] if a.get("acknowledged")}
                       | {e["alert_id"] for e in body["events"] if e.get("kind") == "acknowledged"})
        sil_ids = [s["id"] for s in body["silences"]]
        acks: dict = {}
        sils: dict = {}
        with self.engine.connect() as conn:
            for i in range(0, len(acked), 500):        # bounded IN lists
                acks.update(conn.execute(select(alert_acks.c.alert_id, alert_acks.c.actor)
                                         .where(alert_acks.c.alert_id.in_(acked[i:i + 500]))).all())
            if sil_ids:
                sils = dict(conn.execute(select(alert_silences.c.id, alert_silences.c.actor)
                                         .where(alert_silences.c.id.in_(sil_ids))).all())
        for a in body["alerts"]:
            if a.get("acknowledged"):
                a["acknowledged"]["actor"] = acks.get(a["alert_id"])
        for e in body["events"]:
            if e.get("kind") == "acknowledged":
                e["actor"] = acks.get(e["alert_id"])
        for s in body["silences"]:
            s["actor"] = sils.get(s["id"])
        return body


# ------------------------------------------------------------------------------------ JSON body
def state_json(s: AlertState) -> dict[str, Any]:
    return _clean({
        "alert_id": s.alert_id, "rule_id": s.rule_id, "series_id": s.subject, "label": s.label,
        "state": str(s.state), "tier": s.tier, "started_at": _iso(s.started_at), "fired_at": _iso(s.fired_at),
        "resolved_at": _iso(s.resolved_at), "last_data_ts": _iso(s.last_ts), "value": s.value,
        "interrupted_state": None if s.prior is None else str(s.prior),
        "awaiting_confirmation": s.guard_ts is not None,
        "silenced": s.silenced,
        "acknowledged": None if s.acked_by is None else {"by": s.acked_by, "at": _iso(s.acked_at)},
        "text": s.text, "statistics": dict(s.detail), "updated_at": _iso(s.updated_at),
    })


def event_json(e: AlertEvent) -> dict[str, Any]:
    return _clean({
        "alert_id": e.alert_id, "seq": e.seq, "rule_id": e.rule_id, "series_id": e.subject, "label": e.label,
        "kind": e.kind, "state": str(e.state), "prev_state": str(e.prev_state), "tier": e.tier,
        "prev_tier": e.prev_tier, "at": _iso(e.at), "data_ts": _iso(e.data_ts), "value": e.value,
        "text": e.text, "silenced": e.silenced, "notified": e.notify, "by": e.by, "statistics": dict(e.detail),
    })


_STATE_ORDER = {State.FIRING: 0, State.PENDING: 1, State.ERROR: 2, State.NODATA: 3, State.RESOLVED: 4, State.NORMAL: 5}


def alerts_payload(states: Iterable[AlertState], events: Iterable[AlertEvent], now: dt.datetime, *,
                   silences: Iterable[Silence] = (), include_normal: bool = False) -> dict[str, Any]:
    """The JSON body of `/api/alerts`: open alerts (worst first), counts, events, silences. Pure."""
    sts = [s for s in states if include_normal or s.state != State.NORMAL]
    sts.sort(key=lambda s: (_STATE_ORDER.get(s.state, 9), -TIER_RANK.get(s.tier or "", -1),
                            -(s.started_at.timestamp() if s.started_at else 0.0), s.rule_id, s.subject))
    counts = {str(k): 0 for k in (State.FIRING, State.PENDING, State.NODATA, State.ERROR, State.RESOLVED)}
    for s in sts:
        if str(s.state) in counts:
            counts[str(s.state)] += 1
    return {
        "generated_at": _iso(now),
        "counts": counts,
        "alerts": [state_json(s) for s in sts],
        "events": [event_json(e) for e in events],
        "silences": [{"id": x.id, "rule_id": x.rule_id, "series_id": x.series_id, "until": _iso(x.until),
                      "created_by": x.created_by, "reason": x.reason} for x in silences if x.until > now],
    }


# The delivery log of routed notifications (alerts/deliveries.py writes it): on this metadata, so
# create_schema creates it and version/payload/reset see it.
alert_deliveries = Table(
    "alert_deliveries", metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", String(64), nullable=False),
    Column("event_kind", String(16), nullable=False),
    Column("event_seq", Integer, nullable=False, default=0),
    Column("route", String(64), nullable=False),
    Column("target", String(256), nullable=False),     # masked: scheme://host only
    Column("status", String(16), nullable=False),      # sent | retried | failed
    Column("reason", Text, nullable=False, default=""),
    Column("attempts", Integer, nullable=False, default=1),
    Column("at_ns", BigInteger, nullable=False),
    Index("ix_alert_deliveries_at", "at_ns"),
)


def record_delivery(engine, row: dict[str, Any]) -> None:
    with engine.begin() as conn:
        conn.execute(alert_deliveries.insert().values(**row))


def list_deliveries(engine, limit: int = 100) -> list[dict[str, Any]]:
    """Newest first, JSON-ready (the Alerts page's delivery log)."""
    with engine.connect() as conn:
        rows = conn.execute(select(alert_deliveries).order_by(alert_deliveries.c.at_ns.desc(),
                                                              alert_deliveries.c.id.desc()).limit(limit)).all()
    return [{"incident_id": r.incident_id, "event_kind": r.event_kind, "event_seq": r.event_seq, "route": r.route,
             "target": r.target, "status": r.status, "reason": r.reason, "attempts": r.attempts,
             "at": _iso(_dt(r.at_ns))} for r in rows]
