"""The snapshot web readers serve: computed once per data update, never per page view.

`SnapshotService.current()` is what callbacks and JSON endpoints call: it checks the store's
data version at most once a second (one cheap query), refreshes the in-memory cache
incrementally when the store changed, and rebuilds the snapshot only then.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import math
import threading
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable
from zoneinfo import ZoneInfo

import pandas as pd

from alerts.incidents import incident_from_json, incident_json
from alerts.rules import TIER_RANK
from alerts.store import AlertStore
from analytics.contagion import compute_contagion
from analytics.intervention import days_from_series, watch
from analytics.intraday import BAR_HISTORY
from analytics.moves import change
from analytics.movestats import compute_move_stats
from analytics.record import quotes_vs_record
from data.cache import ObservationCache
from data.clock import Clock, clock_from_meta
from data.events import load_events
from data.health import DAILY_STALE_AFTER, INTRADAY_LIVE_WINDOW, SourceRow
from data.interventions import load_interventions
from data.store import SourceHealth, Store
from universe import SOURCE_INFO, Universe

_MEMO_LOCK = threading.Lock()   # guards every Snapshot.memo (request threads share snapshots)

__all__ = ["SeriesRow", "Snapshot", "build_snapshot", "SnapshotService", "gate_summary"]

log = logging.getLogger("contagion.snapshot")


@dataclass(frozen=True)
class SeriesRow:
    id: str
    label: str
    source: str              # where the shown value came from (primary or fallback)
    primary_source: str
    fallback_source: str | None
    market: str
    kind: str
    unit: str
    group: str
    value: float | None
    prev_close: float | None
    change: float | None     # last vs previous daily close, in `unit`
    as_of: dt.datetime | None
    freq: str | None         # "I" when the last value is an intraday bar, "D" a daily close
    quality: str | None = None        # the data-quality gate's verdict on the newest daily close
    quality_note: str | None = None   # …and why (held, rejected, which source disagreed)
    stale_after: dt.timedelta = DAILY_STALE_AFTER   # the series' publication cadence allows this age
    checks: tuple[str, ...] = ()      # series this one is the second source of (quality.references)
    record_of: str | None = None      # exchange quotes: the close-of-record series (universe sigma_from)
    timezone: str = "UTC"             # the series' own calendar: its market's local dates

    def age(self, now: dt.datetime) -> dt.timedelta | None:
        return None if self.as_of is None else now - self.as_of

    def is_stale(self, now: dt.datetime) -> bool:
        """Data that stopped: the newest value is older than the series' cadence allows
        (`stale_after`). No data at all is not "stale" (the source may be backfilling or failing;
        its health says which)."""
        return self.as_of is not None and now - self.as_of > self.stale_after

    def is_live(self, now: dt.datetime) -> bool:
        return self.freq == "I" and self.as_of is not None and now - self.as_of <= INTRADAY_LIVE_WINDOW


@dataclass(frozen=True)
class Snapshot:
    version: int
    built_at: dt.datetime
    mode: str
    clock: Clock
    rows: tuple[SeriesRow, ...]
    sources: tuple[SourceRow, ...]
    series_count: int = 0
    observations: int = 0
    revision: int = 0                     # bumps on every rebuild: callbacks compare it
    moves: Any = None                     # analytics.movestats.MoveTable (None before data)
    contagion: Any = None                 # analytics.contagion.ContagionSnapshot
    alerts: dict = field(default_factory=dict)   # alerts.store payload: states, events, silences
    # When the newest stored value arrived (wall clock, from the store: the same in every web
    # process) — what "last update" means on screen, unlike built_at (this process's rebuild).
    data_at: dt.datetime | None = None
    # What the data-quality gate held back, per source: {source: {verdict: count}}, and the
    # newest notes (shown on /sources).
    gate: dict = field(default_factory=dict)
    # Readers' views derived from this snapshot, built once and shared by every request (e.g. the
    # wall's rendered parts); it dies with the snapshot, so nothing outlives its data. Use remember().
    memo: dict = field(default_factory=dict, compare=False, repr=False)
    # A view pinned to the end of a past date (`?asof=` on the overview and wall): Snapshot.as_of.
    pinned: dt.date | None = None
    pin_notes: tuple[str, ...] = ()
    # The event calendar (events.toml, data/events.py), loaded once when the service starts.
    events: tuple = ()
    # The USD/JPY intervention watch (analytics/intervention.py), computed with the daily closes.
    intervention: Any = None
    # Exchange quotes against the close of record per tenor (analytics/record.py; the Sources page).
    record: Any = None

    def remember(self, key: tuple, build: Callable[[], Any], *, keep: int) -> Any:
        """The view `key` of this snapshot, built at most once per key and shared by all request
        threads. `key[0]` names a family of views (e.g. "wall"); a family holding `keep` views is
        emptied before the next is added, so a stream of distinct keys never grows the memo."""
        with _MEMO_LOCK:
            if key in self.memo:
                return self.memo[key]
        value = build()   # outside the lock: a rare second build of the same key is harmless
        with _MEMO_LOCK:
            family = [k for k in self.memo if k[0] == key[0]]
            if key not in self.memo and len(family) >= keep:
                for k in family:
                    del self.memo[k]
            return self.memo.setdefault(key, value)

    @property
    def simulated(self) -> bool:
        return self.mode == "demo"

    def view(self, asof: "dt.date | str | None") -> "Snapshot":
        """This snapshot (asof None/'') or its view pinned to `asof` (a date or ISO text; an
        unreadable text is the live view — URL parsing reports it before this)."""
        if isinstance(asof, str):
            try:
                asof = dt.date.fromisoformat(asof[:10]) if asof else None
            except ValueError:
                asof = None
        return self.as_of(asof) if isinstance(asof, dt.date) and self.pinned is None else self

    def as_of(self, day: dt.date) -> "Snapshot":
        """This snapshot as it stood at the end of `day` (24:00 New York, after the last US close
        of that date): every series' newest accepted close at or before then, with the statistics
        the live table had for it (MoveTable.frame_at), the curves on that day, and the alert
        states the kept events give. Built once per day and snapshot (the memo); never a fetch."""
        return self.remember(("asof", day), lambda: _pinned(self, day), keep=8)

    def now(self) -> dt.datetime:
        return self.clock.now()

    def stale_series(self) -> list[str]:
        """Series whose data stopped — an outage. A second source that is behind while the series
        it checks is fresh is not one (it is shown as behind, not as an outage)."""
        now = self.now()
        by_id = {r.id: r for r in self.rows}
        out = []
        for r in self.rows:
            if not r.is_stale(now):
                continue
            checked = [by_id[c] for c in r.checks if c in by_id]
            if checked and all(c.as_of is not None and not c.is_stale(now) for c in checked):
                continue
            out.append(r.id)
        return out

    def behind_series(self) -> list[str]:
        """Second sources that are stale while what they check is fresh (not an outage)."""
        now = self.now()
        stale = set(self.stale_series())
        return [r.id for r in self.rows if r.is_stale(now) and r.id not in stale]

    def labels(self, series_ids) -> list[str]:
        """What a trader reads for these ids (the id itself for an unknown one)."""
        by_id = {r.id: r.label for r in self.rows}
        return [by_id.get(i, i) for i in series_ids]

    def source_states(self) -> dict[str, str]:
        wall = dt.datetime.now(dt.timezone.utc)
        return {s.health.source: s.state(wall) for s in self.sources}

    def row(self, series_id: str) -> SeriesRow | None:
        return next((r for r in self.rows if r.id == series_id), None)

    def quotes_row(self, series_id: str) -> SeriesRow | None:
        """The exchange quotes of a close-of-record series (`jgb_30y` → `jgb_30y_x`) when they are
        newer than its last close — the move while the market trades — in a live view only (a
        pinned view ends at a day's closes)."""
        if self.pinned is not None:
            return None
        base = self.row(series_id)
        quotes = [r for r in self.rows if r.record_of == series_id and r.value is not None and r.as_of is not None]
        newest = max(quotes, key=lambda r: r.as_of, default=None)
        if newest is None or (base is not None and base.as_of is not None and newest.as_of <= base.as_of):
            return None
        return newest

    def move_frame(self) -> pd.DataFrame:
        """Latest move statistics, one row per series × kind × horizon (empty before data)."""
        return self.moves.frame if self.moves is not None else pd.DataFrame()

    def active_alerts(self) -> list[dict]:
        return [a for a in self.alerts.get("alerts", []) if a.get("state") in ("firing", "pending", "nodata", "error")]

    def top_tier(self) -> str | None:
        """The highest tier among firing alerts: what the wall screen's banner shouts."""
        order = {"watch": 1, "warning": 2, "critical": 3}
        tiers = [a.get("tier") for a in self.alerts.get("alerts", []) if a.get("state") == "firing"]
        return max(tiers, key=lambda t: order.get(t or "", 0), default=None)


# A pinned day ends at midnight New York: after the US close, before the next Tokyo session.
PIN_ZONE = "America/New_York"


class PinnedClock:
    """The clock of a pinned view: always the end of the pinned day."""

    def __init__(self, at: dt.datetime) -> None:
        self.at = at

    def now(self) -> dt.datetime:
        return self.at

    def to_meta(self) -> str:
        return json.dumps({"kind": "pinned", "at": self.at.isoformat()})


class _PinnedMoves:
    """What readers ask a MoveTable for (`frame`, history for sparklines) in a pinned view."""

    def __init__(self, frame: pd.DataFrame, parent) -> None:
        self.frame = frame
        self._parent = parent

    @property
    def full(self):
        """The whole table this pinned view reads its history from (readers cut it at the pin)."""
        return self._parent

    def __getattr__(self, name):          # history, rows_of, …: the full table (readers cut at the pin)
        return getattr(self._parent, name)


def pin_cut(day: dt.date) -> dt.datetime:

    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=ZoneInfo(PIN_ZONE))
    return end.astimezone(dt.timezone.utc) - dt.timedelta(microseconds=1)


def _parse_iso(text: str | None) -> dt.datetime | None:
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None
    except ValueError:
        return None


def _pinned(snap: "Snapshot", day: dt.date) -> "Snapshot":
    cut = pin_cut(day)
    notes: list[str] = []
    frame = snap.moves.frame_at(pd.Timestamp(cut)) if snap.moves is not None else pd.DataFrame()
    by_id = {}
    if len(frame):
        one = frame[frame["horizon"] == 1]
        by_id = {r["series_id"]: r for r in one.to_dict("records")}
    rows = []
    for r in snap.rows:
        d = by_id.get(r.id)
        if d is None:
            rows.append(replace(r, value=None, prev_close=None, change=None, as_of=None, freq=None,
                                quality=None, quality_note=None))
            continue
        move = d.get("move")
        move = float(move) if move is not None and move == move else None
        value = float(d["value"])
        # the close before, from the close and its 1-day move (the move's inverse transform)
        prev = None if move is None else (value - move / 100.0 if r.unit == "bp" else value * math.exp(-move / 100.0))
        rows.append(replace(r, value=value, prev_close=prev, change=move, as_of=d["ts"].to_pydatetime(), freq="D",
                            quality=d.get("quality") if isinstance(d.get("quality"), str) else None,
                            quality_note=d.get("quality_note") or None))
    contagion = snap.contagion
    if contagion is not None and getattr(contagion, "curve_levels", None):
        contagion = replace(contagion, curves=contagion.curves_at(day))
    else:
        notes.append("curves: no stored levels for that day")
    # Alert events about closes dated on or before the day (data_ts; `at` when an event has no
    # close): the same rule as the values, so the day's alerts show with the day's closes.
    def about(e: dict) -> dt.datetime | None:
        return _parse_iso(e.get("data_ts")) or _parse_iso(e.get("at"))

    all_events = (snap.alerts or {}).get("events", [])
    events = [e for e in all_events if (t := about(e)) is not None and t <= cut]
    kept = [t for e in all_events if (t := about(e)) is not None]
    if kept and min(kept) > cut:
        notes.append(f"alerts: the kept alert history starts {min(kept):%Y-%m-%d}, after this day — "
                     "alert states are not shown (see /alerts and the backtest)")
    last: dict[str, dict] = {}
    for e in sorted(events, key=lambda e: (e.get("at") or "", e.get("seq") or 0)):
        if e.get("kind") in ("acknowledged", "silenced", "unsilenced"):
            continue
        last[e["alert_id"]] = e
    states = [{k: e.get(k) for k in ("alert_id", "rule_id", "series_id", "label", "state", "tier", "text",
                                      "statistics", "silenced", "value")} | {"last_data_ts": e.get("data_ts")}
              for e in last.values() if e.get("state") not in ("normal", "resolved")]
    alerts = {"generated_at": cut.isoformat(), "alerts": states,
              "events": sorted(events, key=lambda e: e.get("at") or "", reverse=True),
              "silences": [], "counts": {}, "incidents": _incidents_at((snap.alerts or {}).get("incidents", []), cut)}
    notes.append("intraday bars are not part of a pinned view: daily closes only")
    return replace(snap, rows=tuple(rows), sources=(), moves=_PinnedMoves(frame, snap.moves), contagion=contagion,
                   alerts=alerts, clock=PinnedClock(cut), memo={}, pinned=day, pin_notes=tuple(notes),
                   gate={}, intervention=None)    # the Yen watch is a live page: not pinned


def _incidents_at(incidents: list[dict], cut: dt.datetime) -> list[dict]:
    """The kept incidents as they stood at `cut`: members whose data point is dated by then (the
    headline, count and tier follow from them), open unless resolved by then."""

    out = []
    for body in incidents:
        first = _parse_iso(body.get("first_data_ts"))
        if first is None or first > cut:
            continue
        inc = incident_from_json(body)
        members = tuple(m for m in inc.members if m.data_ts is None or m.data_ts <= cut)
        if not members:
            continue
        resolved = inc.resolved_at if inc.resolved_at is not None and inc.resolved_at <= cut else None
        tier = max((m.tier for m in members if m.tier), key=lambda t: TIER_RANK.get(t, -1), default=None)
        out.append(incident_json(replace(inc, members=members, tier=tier, resolved_at=resolved,
                                         state="resolved" if resolved is not None else "open")))
    return out


def _latest_rows(universe: Universe, obs: pd.DataFrame) -> list[SeriesRow]:
    rows: list[SeriesRow] = []
    if len(obs):
        obs = obs.sort_values("ts")
        last_by = obs.groupby(["series_id", "freq"], sort=False).tail(2)
    else:
        last_by = obs
    grouped = {k: g for k, g in last_by.groupby(["series_id", "freq"])} if len(last_by) else {}
    for s in universe:
        daily = grouped.get((s.id, "D"))
        intra = grouped.get((s.id, "I"))
        value = prev = chg = None
        as_of = None
        freq = None
        src = s.source
        quality = note = None
        if daily is not None and len(daily):
            last = daily.iloc[-1]
            value, as_of, freq, src = float(last["value"]), last["ts"].to_pydatetime(), "D", str(last["source"])
            if len(daily) > 1:
                prev = float(daily.iloc[-2]["value"])
            if "quality" in daily.columns:
                quality = last["quality"] if isinstance(last["quality"], str) else "unjudged"
                note = last["quality_note"] if isinstance(last.get("quality_note"), str) else None
        if intra is not None and len(intra):
            last_i = intra.iloc[-1]
            if as_of is None or last_i["ts"].to_pydatetime() > as_of:
                # Intraday bar newer than the last close: the move is measured from that close.
                if value is not None:
                    prev = value
                value, as_of, freq, src = float(last_i["value"]), last_i["ts"].to_pydatetime(), "I", str(last_i["source"])
        if value is not None and prev is not None:
            chg = change(prev, value, s.unit)
        rows.append(SeriesRow(id=s.id, label=s.label, source=src, primary_source=s.source,
                              fallback_source=s.fallback.source if s.fallback else None, market=s.market,
                              kind=s.kind, unit=s.unit, group=s.group, value=value, prev_close=prev,
                              change=chg, as_of=as_of, freq=freq, quality=quality, quality_note=note,
                              stale_after=s.stale_after, checks=universe.checked_by(s.id),
                              record_of=s.sigma_from, timezone=s.timezone))
    return rows


def gate_summary(observations: pd.DataFrame, limit: int = 12) -> dict:
    """{"by_source": {source: {verdict: count}}, "recent": [newest held/rejected closes]}."""
    if observations.empty or "quality" not in observations.columns:
        return {}
    d = observations[(observations["freq"] == "D")]
    flagged = d[d["quality"].isin(["unconfirmed", "rejected", "gap", "splice"]) | d["quality"].isna()]
    by = {}
    for (src, q), n in flagged.assign(quality=flagged["quality"].fillna("unjudged")).groupby(
            ["source", "quality"]).size().items():
        by.setdefault(str(src), {})[str(q)] = int(n)
    held = d[d["quality"].isin(["unconfirmed", "rejected"])].sort_values("ts").tail(limit)
    recent = [{"series_id": r.series_id, "ts": r.ts.isoformat(), "quality": r.quality, "note": r.quality_note or ""}
              for r in held.itertuples(index=False)][::-1]
    return {"by_source": by, "recent": recent}


def _problems(raw: str | None) -> list[str]:
    if not raw:
        return []
    try:
        v = json.loads(raw)
    except ValueError:
        return [raw]
    return [str(x) for x in v] if isinstance(v, list) else [str(v)]


# The Yen watch reads these three stored series (universe.toml): the close of record and the
# same bars' High and Low.
WATCH_SERIES = ("usdjpy", "usdjpy_high", "usdjpy_low")


def intervention_watch(daily: pd.DataFrame, universe: Universe, record):
    """The Yen watch panel (analytics.intervention.watch) from the stored daily series; None when
    the universe or the store lacks one of them."""

    if not all(sid in universe for sid in WATCH_SERIES) or daily.empty:
        return None
    parts = [daily[daily["series_id"] == sid] for sid in WATCH_SERIES]
    if any(p.empty for p in parts):
        return None
    s = universe.get(WATCH_SERIES[0])
    return watch(days_from_series(*parts, s.timezone, s.close), record)


def build_snapshot(universe: Universe, observations: pd.DataFrame, health: list[SourceHealth],
                   meta: dict[str, str | None], *, version: int,
                   cadences: dict[str, float] | None = None,
                   rows: tuple[SeriesRow, ...] | None = None, gate: dict | None = None) -> Snapshot:
    """Pure: cached observations + health + meta → what every page and endpoint shows.

    `rows`: the latest-value rows of these same observations when already known (a rebuild for
    source health or alerts only), instead of sorting every observation again."""
    cadences = cadences or {}
    # Sources this run mode expects but that never reported yet still get a row ("never").
    seen = {h.source for h in health}
    health = list(health) + [SourceHealth(source=name, last_attempt=None, last_success=None, last_error=None,
                                          last_error_at=None, consecutive_failures=0, rows_written_total=0,
                                          rows_last=0) for name in cadences if name not in seen]
    sources = tuple(
        SourceRow(health=h, every=cadences.get(h.source), progress=meta.get(f"progress:{h.source}") or "",
                  problems=tuple(_problems(meta.get(f"problems:{h.source}"))))
        for h in sorted(health, key=lambda h: h.source)
    )
    return Snapshot(
        version=version,
        built_at=dt.datetime.now(dt.timezone.utc),
        mode=meta.get("mode") or "live",
        clock=clock_from_meta(meta.get("clock")),
        rows=rows if rows is not None else tuple(_latest_rows(universe, observations)),
        sources=sources,
        series_count=len(universe),
        observations=len(observations),
        data_at=(observations["known_at"].max().to_pydatetime()
                 if len(observations) and "known_at" in observations else None),
        gate=gate if gate is not None else gate_summary(observations),
    )


class SnapshotService:
    """Per web process: one cache, one snapshot, rebuilt only when the store changed.

    With `background=True` (the web server) a daemon thread polls the store's data version and
    the alert tables about once a second and rebuilds the snapshot off the request path, so a
    page view never waits for statistics. With `background=False` (tests) `current()` checks
    inline at most every `check_every` seconds.
    """

    def __init__(self, store: Store, universe: Universe, *, cadences: dict[str, float] | None = None,
                 check_every: float = 1.0, background: bool = False, params=None,
                 events: tuple | None = None) -> None:
        self.store = store
        # A bad entry stops the start here, naming file and key (like the universe).
        self.events = tuple(load_events()) if events is None else tuple(events)
        self.universe = universe
        self.cadences = cadences or {}
        self.check_every = check_every
        self.background = background
        self.params = params           # analytics MoveParams (None: the defaults, base 2000)
        # Older intraday bars never change a statistic: memory stays flat over days of running.
        self._cache = ObservationCache(store, intraday_keep=BAR_HISTORY)
        self._snapshot: Snapshot | None = None
        self._lock = threading.Lock()
        self._checked = 0.0
        self._health_sig: tuple | None = None
        self._alert_sig: tuple | None = None
        self._daily_sig: tuple | None = None
        self._moves = None
        self._moves_behind = False
        self._contagion = None
        # The intervention record (interventions.toml): a bad entry stops the start here too.
        self.interventions = load_interventions()
        self._intervention = None
        self._record = None
        self._alerts: dict = {}
        self._revision = 0
        self._thread: threading.Thread | None = None
        self._alert_store = None
        self.error: str | None = None

    def _meta(self) -> dict[str, str | None]:
        names = tuple(SOURCE_INFO)
        keys = ["mode", "clock"] + [f"progress:{h}" for h in names] + [f"problems:{h}" for h in names]
        return {k: self.store.get_meta(k) for k in keys}

    def current(self) -> Snapshot:
        """The latest snapshot; never raises (a store outage keeps serving the last good one)."""
        if self.background:
            if self._thread is None:
                self._start_thread()
            if self._snapshot is None:
                self.refresh()
            return self._snapshot  # type: ignore[return-value]
        if self._snapshot is None or time.monotonic() - self._checked >= self.check_every:
            self.refresh()
        return self._snapshot  # type: ignore[return-value]

    def start(self) -> None:
        """Begin the background refresh now (a web process calls this as it starts), so the
        first full computation runs before the first page view instead of inside it: a request
        that finds no snapshot yet waits for that computation, one that finds one never waits."""
        if self.background:
            self._start_thread()

    def _start_thread(self) -> None:
        with self._lock:
            if self._thread is not None:
                return

            def loop() -> None:
                while True:
                    self.refresh()
                    time.sleep(self.check_every)

            self._thread = threading.Thread(target=loop, name="snapshot-refresh", daemon=True)
            self._thread.start()

    def refresh(self) -> None:
        """Bring the snapshot up to date with the store (cheap when nothing changed)."""
        with self._lock:
            self._checked = time.monotonic()
            try:
                self.store.create_schema()
                # Alerts before data: the collector stores a print, then judges it, so a snapshot
                # may show a print whose alert is still to come, never an alert for a print it
                # does not show yet (a tile reading WATCH under a CRITICAL banner).
                alert_sig = self._alert_version()
                if alert_sig != self._alert_sig:
                    self._alerts = self._load_alerts()
                changed = self._cache.refresh()
                health = self.store.health()
                meta = self._meta()
                sig = (tuple((h.source, h.last_attempt, h.last_success, h.consecutive_failures) for h in health),
                       tuple(sorted((k, v or "") for k, v in meta.items())))
                obs = self._cache.observations
                if changed or self._moves is None:
                    self._recompute_analytics(obs, None if self._cache.last_was_full else self._cache.last_loaded)
                if changed or self._snapshot is None or sig != self._health_sig or alert_sig != self._alert_sig:
                    self._revision += 1
                    # Health changes every collector cycle; the latest values only with the data.
                    same_data = not changed and self._snapshot is not None and self._snapshot.version == self._cache.version
                    snap = build_snapshot(self.universe, obs, health, meta, version=self._cache.version,
                                          cadences=self.cadences, rows=self._snapshot.rows if same_data else None,
                                          gate=self._snapshot.gate if same_data else None)
                    self._snapshot = replace(snap, revision=self._revision, moves=self._moves,
                                             contagion=self._contagion, alerts=self._alerts,
                                             events=self.events, intervention=self._intervention,
                                             record=self._record)
                    self._health_sig, self._alert_sig = sig, alert_sig
                self.error = None
            except Exception as exc:  # the store is down: keep the last good snapshot
                self.error = f"store unavailable: {type(exc).__name__}: {exc}"
                log.warning(self.error)
                if self._snapshot is None:
                    self._snapshot = build_snapshot(self.universe, self._cache.observations, [], {}, version=-1,
                                                    cadences=self.cadences)

    def _recompute_analytics(self, obs: pd.DataFrame, new: pd.DataFrame | None = None) -> None:
        """Move statistics on every data change — folding in only the `new` rows when there is a
        previous table (MoveTable.update: equal to a full recompute, and it recomputes by itself
        on a restatement or a new series) — and contagion only when daily closes changed."""

        try:
            if new is not None and self._moves is not None and not self._moves_behind:
                self._moves = self._moves.update(new)
            else:
                self._moves = compute_move_stats(obs, self.universe, self.params)
            self._moves_behind = False
        except Exception:
            # The table now misses these rows: the next change recomputes it from everything.
            self._moves_behind = True
            log.exception("move statistics failed; keeping the previous ones")
        try:
            self._record = quotes_vs_record(obs, self.universe)
        except Exception:
            log.exception("quotes vs close of record failed; keeping the previous table")
        daily = obs[obs["freq"] == "D"] if len(obs) else obs
        sig = (len(daily), daily["ts"].max() if len(daily) else None,
               int(daily["version"].max()) if len(daily) else 0)
        if sig != self._daily_sig:
            try:
                self._contagion = compute_contagion(daily, self.universe)
                self._daily_sig = sig
            except Exception:
                log.exception("contagion analytics failed; keeping the previous ones")
            try:
                self._intervention = intervention_watch(daily, self.universe, self.interventions)
            except Exception:
                log.exception("intervention watch failed; keeping the previous one")

    @property
    def alert_store(self):
        if self._alert_store is None:   # the read model of the alert tables
            self._alert_store = AlertStore(self.store)
        return self._alert_store

    def _alert_version(self) -> tuple:
        return self.alert_store.version()

    def _load_alerts(self) -> dict:
        snap_clock = clock_from_meta(self.store.get_meta("clock"))
        return self.alert_store.payload(snap_clock.now(), limit=500)
