"""Alert evaluation in the collector process, once per data update.

After every collector cycle: refresh an incremental cache of the store → recompute the move
statistics only if the data changed → build level readings and per-series source status →
`AlertService.run` (evaluate, persist, notify). Never raises: a failure is logged and the next
cycle tries again.
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
from typing import Sequence

import pandas as pd

from alerts.engine import AlertEvent, Level, Signal
from alerts.notify import Notifier
from alerts.rules import RuleSet
from alerts.service import AlertService
from analytics.movestats import MoveTable, compute_move_stats
from data.cache import ObservationCache
from data.clock import Clock, SystemClock
from data.snapshot import DAILY_STALE_AFTER, SourceRow
from data.store import Store
from data.universe import Universe

__all__ = ["AlertPipeline", "latest_levels", "series_status"]

log = logging.getLogger("contagion.alerts")


def latest_levels(observations: pd.DataFrame, universe: Universe) -> dict[str, Level]:
    """The newest value per series (intraday bar or daily close, whichever is later)."""
    if observations.empty:
        return {}
    last = observations.sort_values("ts").groupby("series_id", sort=False).tail(1)
    return {r.series_id: Level(series_id=r.series_id, ts=r.ts.to_pydatetime(), value=float(r.value),
                               source=str(r.source), unit="%" if universe.get(r.series_id).kind == "yield" else "")
            for r in last.itertuples(index=False) if r.series_id in universe}


def series_status(universe: Universe, levels: dict[str, Level], sources: dict[str, str],
                  now: dt.datetime) -> dict[str, str]:
    """ok | stale | failing per series: its source's health, and its own data age (NoData)."""
    out: dict[str, str] = {}
    for s in universe:
        src = sources.get(s.source, "ok")
        if src == "failing":
            out[s.id] = "failing"
        elif src == "stale" or (s.id in levels and now - levels[s.id].ts > DAILY_STALE_AFTER):
            out[s.id] = "stale"
        else:
            out[s.id] = "ok"
    return out


class AlertPipeline:
    def __init__(self, store: Store, universe: Universe, rules: RuleSet, notifiers: Sequence[Notifier] = (), *,
                 clock: Clock | None = None, cadences: dict[str, float] | None = None) -> None:
        self.store = store
        self.universe = universe
        self.clock = clock or SystemClock()
        self.cadences = cadences or {}
        self.cache = ObservationCache(store)
        self.service = AlertService(store, rules, notifiers, universe)
        self.table: MoveTable | None = None
        self.signals: list[Signal] = []
        self._daily_sig: tuple | None = None
        self._lock = threading.Lock()

    def _source_states(self) -> tuple[dict[str, str], dict[str, str]]:
        wall = dt.datetime.now(dt.timezone.utc)
        states, errors = {}, {}
        for h in self.store.health():
            states[h.source] = SourceRow(health=h, every=self.cadences.get(h.source)).state(wall)
            if h.last_error:
                errors[h.source] = h.last_error
        return states, errors

    def run(self) -> list[AlertEvent]:
        """Evaluate every rule on the latest data; returns the events this run produced."""
        with self._lock:
            try:
                if self.cache.refresh() or self.table is None:
                    self.table = compute_move_stats(self.cache.observations, self.universe)
                obs = self.cache.observations
                self._update_signals(obs)
                levels = latest_levels(obs, self.universe)
                now = self.clock.now()
                sources, errors = self._source_states()
                status = series_status(self.universe, levels, sources, now)
                events = self.service.run(self.table.latest(), levels, status, now, source_errors=errors,
                                          signals=self.signals)
                for e in events:
                    if e.kind in ("firing", "escalated"):
                        log.warning("ALERT %s: %s", e.tier, e.text)
                return events
            except Exception:
                log.exception("alert evaluation failed; will retry after the next cycle")
                return []

    def _update_signals(self, obs: pd.DataFrame) -> None:
        """Contagion signals, recomputed only when daily closes changed (≈1 s of analytics)."""
        daily = obs[obs["freq"] == "D"] if len(obs) else obs
        sig = (len(daily), daily["ts"].max() if len(daily) else None,
               int(daily["version"].max()) if len(daily) and "version" in daily else 0)
        if sig == self._daily_sig:
            return
        from analytics.contagion import compute_contagion

        snap = compute_contagion(daily, self.universe)
        self.signals = [Signal(kind=c.kind, subject=c.subject, active=c.active, value=c.value,
                               threshold=c.threshold,
                               ts=dt.datetime(c.asof.year, c.asof.month, c.asof.day, 21, tzinfo=dt.timezone.utc),
                               text=c.text) for c in snap.signals]
        self._daily_sig = sig

    def close(self) -> None:
        self.service.close()
