"""The snapshot web readers serve: computed once per data update, never per page view.

`SnapshotService.current()` is what callbacks and JSON endpoints call: it checks the store's
data version at most once a second (one cheap query), refreshes the in-memory cache
incrementally when the store changed, and rebuilds the snapshot only then.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from dataclasses import dataclass, field

import pandas as pd

from analytics.moves import change
from data.cache import ObservationCache
from data.clock import Clock, clock_from_meta
from data.store import SourceHealth, Store
from data.universe import Universe

__all__ = ["SeriesRow", "SourceRow", "Snapshot", "build_snapshot", "SnapshotService",
           "DAILY_STALE_AFTER", "INTRADAY_LIVE_WINDOW"]

log = logging.getLogger("contagion.snapshot")

# A daily series is stale when its newest close is older than this (a weekend plus a holiday).
DAILY_STALE_AFTER = dt.timedelta(days=4)
# An intraday series counts as "live" while its newest bar is younger than this.
INTRADAY_LIVE_WINDOW = dt.timedelta(minutes=20)
# A source is stale when its last success is older than this many cadences (min 15 minutes).
SOURCE_STALE_CYCLES = 3


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

    def age(self, now: dt.datetime) -> dt.timedelta | None:
        return None if self.as_of is None else now - self.as_of

    def is_stale(self, now: dt.datetime) -> bool:
        """Data that stopped: the newest value is older than a long weekend. No data at all is
        not "stale" (the source may be backfilling or failing; its health says which)."""
        return self.as_of is not None and now - self.as_of > DAILY_STALE_AFTER

    def is_live(self, now: dt.datetime) -> bool:
        return self.freq == "I" and self.as_of is not None and now - self.as_of <= INTRADAY_LIVE_WINDOW


@dataclass(frozen=True)
class SourceRow:
    health: SourceHealth
    every: float | None
    progress: str = ""

    def state(self, now_wall: dt.datetime) -> str:
        """ok | failing | stale | never | backfilling."""
        h = self.health
        if self.progress:
            return "backfilling"
        if h.last_success is None:
            return "failing" if h.consecutive_failures else "never"
        if h.consecutive_failures:
            return "failing"
        limit = max(dt.timedelta(minutes=15), dt.timedelta(seconds=(self.every or 900) * SOURCE_STALE_CYCLES))
        if now_wall - h.last_success > limit:
            return "stale"
        return "ok"


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
    extra: dict = field(default_factory=dict)

    @property
    def simulated(self) -> bool:
        return self.mode == "demo"

    def now(self) -> dt.datetime:
        return self.clock.now()

    def stale_series(self) -> list[str]:
        now = self.now()
        return [r.id for r in self.rows if r.is_stale(now)]

    def source_states(self) -> dict[str, str]:
        wall = dt.datetime.now(dt.timezone.utc)
        return {s.health.source: s.state(wall) for s in self.sources}

    def row(self, series_id: str) -> SeriesRow | None:
        return next((r for r in self.rows if r.id == series_id), None)


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
        if daily is not None and len(daily):
            last = daily.iloc[-1]
            value, as_of, freq, src = float(last["value"]), last["ts"].to_pydatetime(), "D", str(last["source"])
            if len(daily) > 1:
                prev = float(daily.iloc[-2]["value"])
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
                              change=chg, as_of=as_of, freq=freq))
    return rows


def build_snapshot(universe: Universe, observations: pd.DataFrame, health: list[SourceHealth],
                   meta: dict[str, str | None], *, version: int,
                   cadences: dict[str, float] | None = None) -> Snapshot:
    """Pure: cached observations + health + meta → what every page and endpoint shows."""
    cadences = cadences or {}
    # Sources this run mode expects but that never reported yet still get a row ("never").
    seen = {h.source for h in health}
    health = list(health) + [SourceHealth(source=name, last_attempt=None, last_success=None, last_error=None,
                                          last_error_at=None, consecutive_failures=0, rows_written_total=0,
                                          rows_last=0) for name in cadences if name not in seen]
    sources = tuple(
        SourceRow(health=h, every=cadences.get(h.source), progress=meta.get(f"progress:{h.source}") or "")
        for h in sorted(health, key=lambda h: h.source)
    )
    return Snapshot(
        version=version,
        built_at=dt.datetime.now(dt.timezone.utc),
        mode=meta.get("mode") or "live",
        clock=clock_from_meta(meta.get("clock")),
        rows=tuple(_latest_rows(universe, observations)),
        sources=sources,
        series_count=len(universe),
        observations=len(observations),
    )


class SnapshotService:
    """Per web process: one cache, one snapshot, rebuilt only when the store's data changed."""

    def __init__(self, store: Store, universe: Universe, *, cadences: dict[str, float] | None = None,
                 check_every: float = 1.0) -> None:
        self.store = store
        self.universe = universe
        self.cadences = cadences or {}
        self.check_every = check_every
        self._cache = ObservationCache(store)
        self._snapshot: Snapshot | None = None
        self._lock = threading.Lock()
        self._checked = 0.0
        self._health_sig: tuple | None = None
        self.error: str | None = None

    def _meta(self) -> dict[str, str | None]:
        keys = ["mode", "clock"] + [f"progress:{h}" for h in ("mof", "treasury", "fred", "yahoo", "demo", "replay")]
        return {k: self.store.get_meta(k) for k in keys}

    def current(self) -> Snapshot:
        """The latest snapshot; never raises (a store outage keeps serving the last good one)."""
        if self._snapshot is not None and time.monotonic() - self._checked < self.check_every:
            return self._snapshot
        with self._lock:
            if self._snapshot is not None and time.monotonic() - self._checked < self.check_every:
                return self._snapshot
            self._checked = time.monotonic()
            try:
                self.store.create_schema()
                changed = self._cache.refresh()
                health = self.store.health()
                meta = self._meta()
                sig = (tuple((h.source, h.last_attempt, h.last_success, h.consecutive_failures) for h in health),
                       tuple(sorted((k, v or "") for k, v in meta.items())))
                if changed or self._snapshot is None or sig != self._health_sig:
                    self._snapshot = build_snapshot(self.universe, self._cache.observations, health, meta,
                                                    version=self._cache.version, cadences=self.cadences)
                    self._health_sig = sig
                self.error = None
            except Exception as exc:  # the store is down: keep the last good snapshot
                self.error = f"store unavailable: {type(exc).__name__}: {exc}"
                log.warning(self.error)
                if self._snapshot is None:
                    self._snapshot = build_snapshot(self.universe, self._cache.observations, [], {}, version=-1,
                                                    cadences=self.cadences)
            return self._snapshot
