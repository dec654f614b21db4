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

import numpy as np
import pandas as pd

from alerts.engine import AlertEvent, Intervention, Level, Signal
from alerts.gate import QualityGate, judge_stored
from alerts.intervention import daily_detected, intraday_reading, latest_daily_reading
from alerts.notify import Notifier
from alerts.rules import Rule, RuleSet
from alerts.service import AlertService
from analytics.contagion import compute_contagion
from analytics.movestats import MoveTable, compute_move_stats
from analytics.stats import MoveParams
from data.cache import ObservationCache
from data.clock import Clock, SystemClock
from data.health import SourceRow
from data.store import Store
from errors import WritesClosed
from universe import Universe

__all__ = ["AlertPipeline", "latest_levels", "series_status"]

log = logging.getLogger("contagion.alerts")

# Where the last run stopped judging daily closes (store meta): a restart catches up from there.
JUDGED_KEY = "alerts:judged_until"


def latest_levels(observations: pd.DataFrame, universe: Universe) -> dict[str, Level]:
    """The newest value per series (intraday bar or daily close, whichever is later) that the
    data-quality gate did not reject or hold."""
    if observations.empty:
        return {}
    obs = observations
    if "quality" in obs.columns:
        obs = obs[~obs["quality"].isin(["rejected", "unconfirmed"])]
    last = obs.sort_values("ts").groupby("series_id", sort=False).tail(1)
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
        elif src == "stale" or (s.id in levels and now - levels[s.id].ts > s.stale_after):
            out[s.id] = "stale"
        else:
            out[s.id] = "ok"
    return out


class AlertPipeline:
    def __init__(self, store: Store, universe: Universe, rules: RuleSet, notifiers: Sequence[Notifier] = (), *,
                 clock: Clock | None = None, cadences: dict[str, float] | None = None,
                 gate: QualityGate | None = None, params: MoveParams | None = None) -> None:
        self.store = store
        self.universe = universe
        self.clock = clock or SystemClock()
        self.cadences = cadences or {}
        self.cache = ObservationCache(store)
        # The data-quality gate (shared with the collector's judge hook): rows stored without a
        # verdict — written before this release, or by a writer without the gate — are judged
        # here before any statistic reads them.
        self.gate = gate or QualityGate(store, universe, cache=self.cache)
        self.params = params or MoveParams()
        self.service = AlertService(store, rules, notifiers, universe)
        self.table: MoveTable | None = None
        self.signals: list[Signal] = []
        self._daily_sig: tuple | None = None
        self._iv_daily: dict[str, pd.DataFrame] = {}      # daily intervention rule → detector frame
        self._iv_sig: tuple | None = None
        self._judged_until: pd.Timestamp | None = None   # newest daily close already judged
        self._held: set[tuple[str, int]] = set()          # prints the gate held at the last run
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
                loads = []
                if self.cache.refresh():
                    loads.append((self.cache.last_loaded, self.cache.last_was_full))
                if self._judge_unjudged() and self.cache.refresh():
                    loads.append((self.cache.last_loaded, self.cache.last_was_full))
                obs = self.cache.observations
                sources, errors = self._source_states()
                if self.table is None or any(full for _, full in loads):
                    self.table = compute_move_stats(obs, self.universe, self.params)
                elif loads:   # folds in only what changed; a restated row recomputes by itself
                    self.table = self.table.update(pd.concat([rows for rows, _ in loads], ignore_index=True))
                events: list[AlertEvent] = []
                self._update_intervention(obs)
                for cut, stats in self._catch_up(obs):
                    past = obs[obs["ts"] <= cut]
                    events += self._evaluate(stats, past, sources, errors, cut.to_pydatetime())
                self._update_signals(obs)
                daily = obs[obs["freq"] == "D"] if len(obs) else obs
                if len(daily):
                    self._judged_until = daily["ts"].max()
                    self.store.set_meta(JUDGED_KEY, self._judged_until.isoformat())
                self._held = self._held_now(daily)
                events += self._evaluate(self.table.latest(), obs, sources, errors, self.clock.now())
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

    def _judge_unjudged(self) -> int:
        """Judge the daily rows the store holds without a verdict; returns how many were written."""
        return judge_stored(self.store, self.universe, self.gate)

    def _catch_up(self, obs: pd.DataFrame) -> list[tuple[pd.Timestamp, list]]:
        """(cut, MoveStats) for every daily close instant that arrived since the last run (except
        the newest, judged by the regular evaluation), oldest first, each with the statistics the
        table had for that close — every close is judged, however many one cycle brought — and
        for every print the gate held at the last run and has confirmed since (judged again)."""
        if obs.empty or self.table is None:
            return []
        if self._judged_until is None:
            stored = self.store.get_meta(JUDGED_KEY)   # a restart picks up where it stopped
            if not stored:
                return []          # a first start: a backfill is not replayed as fresh alerts
            self._judged_until = pd.Timestamp(stored)
        daily = obs[obs["freq"] == "D"]
        fresh = daily[daily["ts"] > self._judged_until]
        released = daily[[(r.series_id, r.ts.value) in self._held and r.quality == "ok"
                          for r in daily[["series_id", "ts", "quality"]].itertuples(index=False)]] \
            if self._held else daily.iloc[:0]
        todo = pd.concat([fresh, released]).drop_duplicates(["series_id", "ts"])
        if todo.empty:
            return []
        newest = daily["ts"].max()
        todo = todo[(todo["ts"] < newest) | todo.index.isin(released.index)]
        out: list[tuple[pd.Timestamp, list]] = []
        for cut, g in todo.groupby("ts", sort=True):
            stats = []
            for sid in g["series_id"].unique():
                ts_rows, _, _ = self.table.rows_of(sid)
                row = int(np.searchsorted(ts_rows, pd.Timestamp(cut).value, side="left"))
                if row < len(ts_rows) and ts_rows[row] == pd.Timestamp(cut).value:
                    for h in self.table.params.horizons:
                        stats.extend(self.table.stats_at(sid, [row], h))
            if stats:
                out.append((pd.Timestamp(cut), stats))
        return out

    def _held_now(self, daily: pd.DataFrame) -> set[tuple[str, int]]:
        """The (series, ts) prints the gate holds now: judged again once confirmed."""
        if daily.empty or "quality" not in daily.columns:
            return set()
        h = daily[daily["quality"] == "unconfirmed"]
        return {(r.series_id, r.ts.value) for r in h[["series_id", "ts"]].itertuples(index=False)}

    def _evaluate(self, stats: list, obs: pd.DataFrame, sources: dict[str, str], errors: dict[str, str],
                  now: dt.datetime) -> list[AlertEvent]:
        levels = latest_levels(obs, self.universe)
        status = series_status(self.universe, levels, sources, now)
        return self.service.run(stats, levels, status, now, source_errors=errors, signals=self.signals,
                                interventions=self._interventions(obs, now))

    def _intervention_rules(self) -> list[Rule]:
        return [r for r in self.service.rules.enabled() if r.type == "intervention"]

    def _update_intervention(self, obs: pd.DataFrame) -> None:
        """The daily possible-intervention detector per daily intervention rule, recomputed only
        when daily closes changed (a few ms: one FX series)."""
        rules = [r for r in self._intervention_rules() if r.kind == "daily"]
        if not rules:
            return
        daily = obs[obs["freq"] == "D"] if len(obs) else obs
        sig = (len(daily), daily["ts"].max() if len(daily) else None,
               int(daily["version"].max()) if len(daily) and "version" in daily else 0)
        if sig == self._iv_sig:
            return
        try:
            self._iv_daily = {r.id: daily_detected(daily, r, self.universe) for r in rules}
        except Exception:
            log.exception("intervention detector failed; its rules judge nothing this cycle")
            self._iv_daily = {}
        self._iv_sig = sig

    def _interventions(self, obs: pd.DataFrame, now: dt.datetime) -> list[Intervention]:
        """The intervention rules' readings as of `now` (a catch-up cut judges that day)."""
        out: list[Intervention] = []
        for r in self._intervention_rules():
            sid = r.series[0]
            label = self.universe.get(sid).label if sid in self.universe else sid
            try:
                if r.kind == "daily":
                    det = self._iv_daily.get(r.id)
                    iv = latest_daily_reading(r, det, label, upto=pd.Timestamp(now)) if det is not None else None
                else:
                    iv = intraday_reading(r, obs, label, now)
            except Exception:        # one rule's inputs failing must not stop the other alerts
                log.exception("intervention rule %s: reading failed", r.id)
                continue
            if iv is not None:
                out.append(iv)
        return out

    def _update_signals(self, obs: pd.DataFrame) -> None:
        """Contagion signals, recomputed only when daily closes changed (≈1 s of analytics)."""
        daily = obs[obs["freq"] == "D"] if len(obs) else obs
        sig = (len(daily), daily["ts"].max() if len(daily) else None,
               int(daily["version"].max()) if len(daily) and "version" in daily else 0)
        if sig == self._daily_sig:
            return
        snap = compute_contagion(daily, self.universe)
        self.signals = [Signal(kind=c.kind, subject=c.subject, active=c.active, value=c.value,
                               threshold=c.threshold,
                               ts=dt.datetime(c.asof.year, c.asof.month, c.asof.day, 21, tzinfo=dt.timezone.utc),
                               text=c.text) for c in snap.signals]
        self._daily_sig = sig

    def close(self, timeout: float = 5.0) -> None:
        """Deliver the notifications already queued (within `timeout` s), then stop notifying."""
        self.service.close(timeout)
