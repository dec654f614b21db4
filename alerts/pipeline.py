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
from data.errors import WritesClosed
from data.snapshot import DAILY_STALE_AFTER, SourceRow
from data.store import Store
from data.universe import Universe

__all__ = ["AlertPipeline", "latest_levels", "series_status"]

log = logging.getLogger("contagion.alerts")

# A catch-up judges at most this many missed daily closes per run (a day of closes across
# markets); older gaps are left to the backtest rather than flooding the feed.
MAX_CATCH_UP = 20


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
        self._judged_until: pd.Timestamp | None = None   # newest daily close already judged
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
        """Evaluate every rule on the data that arrived since the last run; returns the events.

        When one cycle brings several daily closes (a slow cycle, a catch-up after downtime, a
        fast replay), each close is judged in time order, so a 6σ day followed by a calm day in
        the same batch still alerts. The first run judges only the latest data: a backfill does
        not replay years of history as fresh alerts (that is what `backtest` is for).
        """
        with self._lock:
            try:
                changed = self.cache.refresh()
                obs = self.cache.observations
                sources, errors = self._source_states()
                events: list[AlertEvent] = []
                for cut in self._catch_up_cuts(obs):
                    past = obs[obs["ts"] <= cut]
                    events += self._evaluate(compute_move_stats(past, self.universe), past, sources, errors,
                                             cut.to_pydatetime())
                if changed or self.table is None:
                    self.table = compute_move_stats(obs, self.universe)
                self._update_signals(obs)
                if len(obs):
                    self._judged_until = obs.loc[obs["freq"] == "D", "ts"].max() if (obs["freq"] == "D").any() else None
                events += self._evaluate(self.table, obs, sources, errors, self.clock.now())
                for e in events:
                    if e.kind in ("firing", "escalated"):
                        log.warning("ALERT %s: %s", e.tier, e.text)
                return events
            except WritesClosed as exc:   # the collector is stopping: the next one judges this data
                log.info("alert evaluation abandoned: %s", exc)
                return []
            except Exception:
                log.exception("alert evaluation failed; will retry after the next cycle")
                return []

    def _catch_up_cuts(self, obs: pd.DataFrame) -> list[pd.Timestamp]:
        """Daily close instants that arrived since the last run, except the newest (judged by
        the regular evaluation); at most MAX_CATCH_UP of them."""
        if self._judged_until is None or obs.empty:
            return []
        daily_ts = obs.loc[(obs["freq"] == "D") & (obs["ts"] > self._judged_until), "ts"]
        cuts = sorted(daily_ts.unique())
        return [pd.Timestamp(c) for c in cuts[:-1]][-MAX_CATCH_UP:]

    def _evaluate(self, table: MoveTable, obs: pd.DataFrame, sources: dict[str, str], errors: dict[str, str],
                  now: dt.datetime) -> list[AlertEvent]:
        levels = latest_levels(obs, self.universe)
        status = series_status(self.universe, levels, sources, now)
        return self.service.run(table.latest(), levels, status, now, source_errors=errors, signals=self.signals)

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

    def close(self, timeout: float = 5.0) -> None:
        """Deliver the notifications already queued (within `timeout` s), then stop notifying."""
        self.service.close(timeout)
