"""The one collector that writes the store: one APScheduler job per source.

Each cycle of a source: build requests → fetch (network, with a timeout) → parse → validate →
upsert, and source health bookkeeping. A cycle never raises: errors are recorded in source
health, logged, and the source backs off with jitter; the last good data stays served.

Exactly one collector per store: a lease row in the store (see Store.acquire_collector_lease)
makes a second collector refuse to start with a clear message — or, through `start_or_stand_by`
(what `python app.py` uses), wait and take over once the holder stops, dies (seen at once: its
PostgreSQL session ended, or its pid is gone on this host) or its lease expires, so a restart that
overlaps the old process (or follows a crash) still ends with a collector running.

Logging is one line per state change: a source starting to fail (or failing for another reason
— a new error category) is one WARNING, its recovery one INFO; the same failure cycle after cycle,
the per-request details and repeated identical notices go to DEBUG (`--log-level DEBUG`).

Shutdown (`shutdown`, on SIGTERM/SIGINT): no new runs are scheduled; the store is closed for
writes from this process, so the cycle in flight is abandoned at its next write (a write already
in flight finishes: each is one transaction) and the alert pipeline neither persists nor notifies;
only once no write is in flight is the lease released. A lost lease closes the writes the same way.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
import random
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Callable

import pandas as pd
import requests
from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MISSED, JobExecutionEvent
from apscheduler.schedulers.background import BackgroundScheduler

from data.backoff import backoff_delay
from data.clock import Clock, SystemClock
from data.frame import validate_rows
from data.health import RETRY_BASE_MIN_S, RETRY_CAP_S
from data.store import Store
from errors import (CollectorAlreadyRunning, ConfigError, EmptyPayload, RateLimited, SourceError, WritesClosed,
                    error_category)
from universe import SOURCE_INFO, Universe

__all__ = ["SourceJob", "Collector", "CycleResult"]

log = logging.getLogger("contagion.collector")

PRIMARY, FALLBACK = 100, 50
DISPOSABLE_MODES = ("demo", "replay")
LEASE_TTL = 45.0           # s without renewal after which a holder that looks alive is presumed hung
STANDBY_RETRY = 1.0        # s between a standby's attempts (one cheap look at the lease row)
SHUTDOWN_GRACE = 10.0      # s a stopping collector waits for its write in flight and its cycle
# Daily sources re-read a few days back each cycle so late restatements are picked up.
DAILY_OVERLAP = dt.timedelta(days=7)
LOG_TEXT_MAX = 400         # characters of an error in a log line (the full text is in source health)


def _feeds_all(name: str) -> bool:
    """A synthetic feed (demo, replay) writes every series of the universe, as their primary."""
    info = SOURCE_INFO.get(name)
    return info is not None and info.feeds_all


@dataclass
class SourceJob:
    source: Any                       # implements data.sources.base.Source
    every: float                      # seconds between cycles
    session_factory: Callable[[], Any] | None = requests.Session
    # "date": since is a date (publishers' daily files); "datetime": exact cursor (demo, replay).
    cursor: str = "date"


@dataclass
class CycleResult:
    source: str
    ok: bool
    rows: int = 0
    requests: int = 0
    errors: list[str] = field(default_factory=list)
    skipped: bool = False
    rejected: list[str] = field(default_factory=list)   # bad rows dropped (the good ones were stored)
    held: int = 0                                        # rows the quality gate held or rejected


class Collector:
    def __init__(self, store: Store, universe: Universe, jobs: dict[str, SourceJob], *,
                 mode: str = "live", clock: Clock | None = None, timeout: float = 20.0,
                 owner: str | None = None, rng: random.Random | None = None,
                 lease_ttl: float = LEASE_TTL, after_cycle: Callable[[], Any] | None = None,
                 on_reset: Callable[[], Any] | None = None, on_stop: Callable[[float], Any] | None = None,
                 intraday_keep: dt.timedelta | None = None, shutdown_grace: float = SHUTDOWN_GRACE,
                 judge: Callable[..., tuple[pd.DataFrame, pd.DataFrame]] | None = None,
                 services: list[Any] | None = None) -> None:
        self.store = store
        self.universe = universe
        self.jobs = jobs
        self.mode = mode
        self.clock = clock or SystemClock()
        self.timeout = timeout
        self.owner = owner or f"{socket.gethostname()}:pid{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.rng = rng or random.Random()
        self.lease_ttl = lease_ttl
        # Hooks: after every cycle (alert evaluation; skipped once writes are closed), after a
        # disposable store is reset, at shutdown once the lease is released (flush notifications,
        # given the seconds left of the grace).
        self._after_cycle = after_cycle
        self.after_cycle = self._after_cycle_unless_halted if after_cycle is not None else None
        self.on_reset = on_reset
        self.on_stop = on_stop
        self.intraday_keep = intraday_keep     # None: never prune intraday bars
        # The data-quality gate (alerts.gate.QualityGate.judge): verdicts for a part's daily rows
        # before they are stored, plus stored rows whose verdict the new data changed.
        self.judge = judge
        self.shutdown_grace = shutdown_grace
        self._sessions: dict[str, Any] = {}
        self._not_before: dict[str, float] = {}
        self._failures: dict[str, int] = {}
        self._failing_as: dict[str, str] = {}  # source → error category last logged (one line per change)
        self._said: dict[str, set[str]] = {}   # source → notices already logged during this state
        self._scheduler: BackgroundScheduler | None = None
        self._lease_lost = threading.Event()
        self._halted = threading.Event()       # shutting down or lease lost: this process writes no more
        self._stopped = threading.Event()
        self._life = threading.Lock()          # start (incl. from standby) vs shutdown
        self._standby: threading.Thread | None = None
        self._claimed = False
        self._cycles = threading.Condition()   # scheduled cycles (and pushed batches) in flight
        self._in_flight = 0
        self._ingest_lock = threading.Lock()   # pushed batches one at a time
        # Started once this process collects, stopped first at shutdown: the push feed's listener
        # (data/ingest.py), anything with start() / stop().
        self.services: list[Any] = list(services or ())

    # ------------------------------------------------------------------ lifecycle
    def claim(self) -> None:
        """Take the store's collector lease and stamp the run mode; refuse a mismatched store."""
        self.store.create_schema()
        existing = self.store.get_meta("mode")
        if existing and existing != self.mode:
            raise ConfigError(
                f"store {self.store!r} holds {existing} data: refusing to write {self.mode} data into it "
                "(use another --db, or the default per-mode SQLite file)")
        self.store.acquire_collector_lease(self.owner, ttl=self.lease_ttl, now=dt.datetime.now(dt.timezone.utc))
        self._claimed = True
        self.store.open_writes()
        if self.mode in DISPOSABLE_MODES:
            # A demo path depends on the day it starts, a replay on its start date: a restart
            # begins from scratch rather than appending to a different history.
            removed = self.store.reset_data()
            if self.on_reset is not None:
                self.on_reset()
            log.info("%s store reset for a fresh run (%d rows removed)", self.mode, removed)
        self.store.set_meta("mode", self.mode)
        to_meta = getattr(self.clock, "to_meta", None)
        if to_meta:
            self.store.set_meta("clock", to_meta())

    def start(self) -> BackgroundScheduler:
        """Claim the lease and start one scheduled job per source (first runs immediately), then
        the services (the push feed's listener)."""
        self.claim()
        sched = BackgroundScheduler(
            timezone=dt.timezone.utc,
            job_defaults={"max_instances": 1, "coalesce": True, "misfire_grace_time": 60},
        )
        sched.add_listener(self._on_job_event, EVENT_JOB_ERROR | EVENT_JOB_MISSED)
        now = dt.datetime.now(dt.timezone.utc)
        for name, job in self.jobs.items():
            sched.add_job(self._scheduled_cycle, "interval", seconds=job.every, args=[name], id=name,
                          name=f"collect:{name}", next_run_time=now)
        sched.add_job(self._renew_lease, "interval", seconds=max(1.0, self.lease_ttl / 3), id="_lease")
        if self.intraday_keep is not None:
            sched.add_job(self.prune, "interval", hours=6, id="_prune", next_run_time=now)
        sched.start()
        self._scheduler = sched
        for svc in self.services:
            try:
                svc.start()
            except Exception as exc:   # a port in use must not stop the collection; it shows as the source's error
                log.error("%s did not start: %s", svc, exc)
                self.store.record_failure(getattr(svc, "source", str(svc)), dt.datetime.now(dt.timezone.utc),
                                          f"{svc} did not start: {exc}")
        log.info("collector %s started (%s mode): %s", self.owner, self.mode,
                 ", ".join(f"{n} every {j.every:g}s" for n, j in self.jobs.items()))
        return sched

    def start_or_stand_by(self, retry_every: float = STANDBY_RETRY) -> bool:
        """Start now (True), or — when another collector holds the lease — stand by (False):
        a daemon thread retries every `retry_every` s and starts as soon as the lease is free,
        its holder is gone, or it expired. Other errors propagate."""
        try:
            with self._life:
                self.start()
            return True
        except CollectorAlreadyRunning as exc:
            log.warning("%s — standing by: this process takes over when that collector stops or dies, "
                        "or its lease expires", exc)
        every = retry_every
        self._standby = threading.Thread(target=self._stand_by, args=(every,), daemon=True,
                                         name="collector-standby")
        self._standby.start()
        return False

    @property
    def running(self) -> bool:
        return self._scheduler is not None

    def _stand_by(self, every: float) -> None:
        while not self._stopped.wait(every):
            with self._life:
                if self._stopped.is_set():
                    return
                try:
                    self.start()
                except CollectorAlreadyRunning:
                    continue
                except Exception:  # store down, mode mismatch...: keep serving, keep trying
                    log.exception("standby collector could not start; retrying in %g s", every)
                    continue
            log.info("collector %s took over the lease", self.owner)
            return

    def shutdown(self, grace: float | None = None) -> bool:
        """Stop: no new runs; close the store for writes from this process and wait (up to
        `grace` s, default `shutdown_grace`) for the write in flight; release the lease only then;
        wait for the cycle in flight within what is left of the grace; flush notifications.

        True when everything finished within the grace. False when a write was still in flight
        (the lease is then kept: it frees itself when this process exits, which its caller should
        do now, see app.py) or a cycle still runs (it can no longer write)."""
        grace = self.shutdown_grace if grace is None else grace
        deadline = time.monotonic() + max(0.0, grace)
        self._stopped.set()
        self._halted.set()
        with self._life:
            if self._scheduler is not None:
                self._scheduler.shutdown(wait=False)     # running jobs go on; none starts
                self._scheduler = None
        for svc in self.services:
            try:
                svc.stop()
            except Exception:
                log.warning("%s did not stop cleanly", svc, exc_info=True)
        if not self._claimed:       # never collected (stood by, or refused): nothing to wait for
            return True
        drained = self.store.close_writes("the collector is shutting down", timeout=self._left(deadline))
        if drained:
            try:
                self.store.release_collector_lease(self.owner)
            except Exception:  # the store may be gone at exit; the lease frees itself when we exit
                log.warning("could not release collector lease", exc_info=True)
        else:
            log.error("a write was still in flight %g s after the stop: keeping the collector lease, so no "
                      "other collector writes beside it; it frees when this process exits", grace)
        with self._cycles:
            finished = self._cycles.wait_for(lambda: self._in_flight == 0, timeout=self._left(deadline))
        if not finished:
            log.warning("a collection cycle was still running %g s after the stop; it writes nothing more", grace)
        if self.on_stop is not None:
            try:
                self.on_stop(max(0.5, self._left(deadline)))
            except Exception:
                log.warning("collector stop hook failed", exc_info=True)
        self._claimed = False
        return drained and finished

    @staticmethod
    def _left(deadline: float) -> float:
        return max(0.0, deadline - time.monotonic())

    def _halt(self, reason: str) -> None:
        """Stop writing from this process at once (the cycle in flight fails at its next write)."""
        self._halted.set()
        self.store.close_writes(reason, timeout=0)

    def publish_clock(self) -> None:
        """Write the clock's state to the store's meta now (after a pause, resume or step): the
        web processes pick it up at their next look (about a second)."""
        to_meta = getattr(self.clock, "to_meta", None)
        if to_meta is not None:
            self.store.set_meta("clock", to_meta())

    def _scheduled_cycle(self, name: str) -> CycleResult | None:
        with self._cycles:
            if self._halted.is_set():
                return None
            self._in_flight += 1
        try:
            return self.run_once(name)
        finally:
            with self._cycles:
                self._in_flight -= 1
                self._cycles.notify_all()

    def _after_cycle_unless_halted(self) -> Any:
        if self._halted.is_set():
            log.info("collector stopping: no alert evaluation for this cycle")
            return None
        try:
            return self._after_cycle()
        except WritesClosed as exc:
            log.info("alert evaluation abandoned: %s", exc)
            return None

    def prune(self) -> int:
        """Drop intraday bars older than `intraday_keep` before each series' newest (never raises)."""
        if self.intraday_keep is None or self._lease_lost.is_set() or self._halted.is_set():
            return 0
        try:
            return self.store.prune_intraday(self.intraday_keep)
        except Exception:
            log.exception("pruning old intraday bars failed; retrying at the next run")
            return 0

    def _renew_lease(self) -> None:
        if not self.store.renew_collector_lease(self.owner, dt.datetime.now(dt.timezone.utc)):
            log.error("collector lease lost (another collector took over): stopping collection")
            self._lease_lost.set()
            self._halt("the collector lease was lost to another collector")
            if self._scheduler is not None:
                for name in self.jobs:
                    try:
                        self._scheduler.remove_job(name)
                    except Exception:
                        pass

    def _on_job_event(self, event: JobExecutionEvent) -> None:
        if event.job_id not in self.jobs or self._halted.is_set():
            return
        at = dt.datetime.now(dt.timezone.utc)
        try:
            if event.code == EVENT_JOB_MISSED:
                self.store.record_failure(event.job_id, at, f"missed scheduled run at {event.scheduled_run_time}")
            elif event.exception is not None:
                self.store.record_failure(event.job_id, at,
                                          f"job crashed: {type(event.exception).__name__}: {event.exception}")
        except WritesClosed:
            pass

    # ------------------------------------------------------------------ one cycle
    def _session(self, name: str) -> Any:
        job = self.jobs[name]
        if job.session_factory is None:
            return None
        if name not in self._sessions:
            self._sessions[name] = job.session_factory()
        return self._sessions[name]

    def _since(self, name: str, now: dt.datetime):
        cursor = self.store.get_meta(f"cursor:{name}")
        if not cursor:
            return None  # first start: full backfill
        at = dt.datetime.fromisoformat(cursor)
        if self.jobs[name].cursor == "datetime":
            return at
        return (at - DAILY_OVERLAP).date()

    def _priority_split(self, name: str, frame: pd.DataFrame) -> list[tuple[int, pd.DataFrame]]:
        primary = {s.id for s in self.universe if s.source == name}
        if _feeds_all(name):
            return [(PRIMARY, frame)]
        is_primary = frame["series_id"].isin(primary)
        return [(p, f) for p, f in ((PRIMARY, frame[is_primary]), (FALLBACK, frame[~is_primary])) if len(f)]

    def run_once(self, name: str) -> CycleResult:
        """One collection cycle for one source. Never raises."""
        result = CycleResult(source=name, ok=False)
        if self._lease_lost.is_set():
            result.skipped = True
            return result
        wall = time.monotonic()
        if wall < self._not_before.get(name, 0.0):
            result.skipped = True
            return result
        job = self.jobs[name]
        source = job.source
        now = self.clock.now()
        at = dt.datetime.now(dt.timezone.utc)
        try:
            self.store.record_attempt(name, at)
            since = self._since(name, now)
            series = self.universe.series if _feeds_all(name) else self.universe.for_source(name)
            reqs = source.build_requests(series, since=since, now=now)
            result.requests = len(reqs)
            if since is None and hasattr(source, "problems"):
                # Inputs the source skipped (replay: an unreadable file): shown as a source problem.
                probs = list(source.problems)
                self.store.set_meta(f"problems:{name}", json.dumps(probs))
                result.rejected.extend(probs)
            known, bounds = self.universe.ids, self.universe.bounds()
            empties = 0
            for i, req in enumerate(reqs, 1):
                if since is None and len(reqs) > 1:
                    self.store.set_meta(f"progress:{name}", f"backfill {i}/{len(reqs)}: {req.describe()}")
                try:
                    raw = source.fetch(req, session=self._session(name), timeout=self.timeout)
                    # Bad rows are dropped with their reasons; the good rows of the answer go on.
                    frame, rejects = validate_rows(source.parse(raw, req), known_series=known, bounds=bounds)
                except EmptyPayload as exc:
                    empties += 1
                    self._once(name, logging.INFO, "%s: no data for %s (%s)", name, req.describe(), exc)
                    continue
                except RateLimited:
                    raise  # stop hammering: the whole cycle backs off
                except SourceError as exc:
                    # One bad answer (malformed, HTTP error) is rejected and logged, never
                    # stored; the other requests of the cycle still count.
                    # The cycle fails on it below: that is the one line; the details are DEBUG.
                    result.errors.append(f"{type(exc).__name__}: {exc} [{req.describe()}]")
                    log.debug("%s: rejected %s: %s", name, req.describe(), exc)
                    continue
                if rejects:
                    result.rejected.extend(rejects)
                    # Daily sources re-read a week each cycle: the same bad row comes back; say it once.
                    self._once(name, logging.WARNING, "%s: %d bad row(s) dropped from %s, e.g. %s", name,
                               len(rejects), req.describe(), rejects[0])
                self._store(name, frame, at, result)
            if result.errors:
                raise SourceError("; ".join(result.errors[:3]) + (f" (+{len(result.errors) - 3} more)" if len(result.errors) > 3 else ""))
            self.store.set_meta(f"cursor:{name}", now.isoformat())
            if since is None and getattr(self.clock, "held", False):
                # The history before the replay start is in: let the replay clock tick from here.
                self.clock.release()
                self.publish_clock()
            self.store.record_success(name, dt.datetime.now(dt.timezone.utc), result.rows,
                                      rejected=len(result.rejected),
                                      last_rejection=result.rejected[-1] if result.rejected else None)
            failed_before = self._failures.get(name, 0)
            self._failures[name] = 0
            self._not_before.pop(name, None)
            result.ok = True
            if failed_before or name in self._failing_as:
                log.info("%s: recovered after %d failed cycle(s)", name, failed_before)
                self._failing_as.pop(name, None)
                self._said.pop(name, None)
            if empties and empties == len(reqs):
                self._once(name, logging.INFO, "%s: cycle ok but every request was empty", name)
        except SourceError as exc:
            self._fail(name, job, result, f"{type(exc).__name__}: {exc}", rate_limited=isinstance(exc, RateLimited))
        except Exception as exc:  # a bug or an unexpected library error must not kill the collector
            # The traceback once (again at DEBUG while the same bug repeats every cycle).
            again = self._failing_as.get(name) == "unexpected error"
            log.log(logging.DEBUG if again else logging.ERROR, "%s: unexpected error", name, exc_info=True)
            self._fail(name, job, result, f"unexpected {type(exc).__name__}: {exc}")
        finally:
            if result.requests > 1:
                self._clear_progress(name)
        if self.after_cycle is not None:
            try:
                self.after_cycle()
            except Exception:
                log.exception("after-cycle hook failed")
        return result

    def ingest(self, name: str, frame: pd.DataFrame) -> CycleResult:
        """Store one pushed batch (POST /ingest, data/ingest.py) the way a cycle stores an answer:
        row validation, the data-quality gate, source health, then the alert pipeline — in this
        process, so the collector stays the one writer. `frame` is a parse step's output (its
        rejects travel in its attrs). Raises WritesClosed when this process may not write (it is
        stopping, lost the lease, or stands by)."""
        with self._cycles:
            if self._halted.is_set() or not self._claimed:
                raise WritesClosed("the collector is not writing (stopping, standing by, or lease lost)")
            self._in_flight += 1
        result = CycleResult(source=name, ok=False, requests=1)
        try:
            with self._ingest_lock:
                at = dt.datetime.now(dt.timezone.utc)
                self.store.record_attempt(name, at)
                clean, rejects = validate_rows(frame, known_series=self.universe.ids, bounds=self.universe.bounds(),
                                               now=self.clock.now())
                result.rejected.extend(rejects)
                if len(clean):
                    self._store(name, clean, at, result)
                self.store.record_success(name, dt.datetime.now(dt.timezone.utc), result.rows,
                                          rejected=len(result.rejected),
                                          last_rejection=result.rejected[-1] if result.rejected else None)
                result.ok = True
                if rejects:
                    self._once(name, logging.WARNING, "%s: %d bad row(s) dropped from a pushed batch, e.g. %s",
                               name, len(rejects), rejects[0])
        finally:
            with self._cycles:
                self._in_flight -= 1
                self._cycles.notify_all()
        if self.after_cycle is not None and result.rows:
            try:
                self.after_cycle()
            except Exception:
                log.exception("after-cycle hook failed")
        return result

    def _store(self, name: str, frame: pd.DataFrame, at: dt.datetime, result: CycleResult) -> None:
        """Write one validated answer: second-source values to the reference table, observations
        with the gate's verdicts, then the stored rows whose verdict the new data changed."""
        rejudge: set[str] = set()
        refs = frame["role"].eq("reference") if "role" in frame.columns else pd.Series(False, index=frame.index)
        if refs.any():   # replay: the fallback publisher's values for keys the primary owns
            for src, part in frame[refs].groupby("source" if "source" in frame.columns else "role"):
                self.store.upsert_references(part, source=str(src), known_at=at)
                rejudge |= set(part["series_id"])
            frame = frame[~refs]
        for priority, part in self._priority_split(name, frame):
            if priority < PRIMARY and len(part):
                daily = part[part["freq"] == "D"]
                if len(daily):
                    self.store.upsert_references(daily, source=name, known_at=at)
                    rejudge |= set(daily["series_id"])
            changes = None
            if self.judge is not None:
                part, changes = self.judge(part, primary=priority >= PRIMARY, rejudge=rejudge)
                result.held += int(part["quality"].isin(["unconfirmed", "rejected"]).sum())
            res = self.store.upsert(part, source=name, known_at=at, priority=priority)
            result.rows += res.inserted + res.restated
            if changes is not None and len(changes):
                self.store.set_quality(changes)

    def _clear_progress(self, name: str) -> None:
        try:
            if self.store.get_meta(f"progress:{name}"):
                self.store.set_meta(f"progress:{name}", "")
        except WritesClosed:    # abandoned: the next collector's backfill overwrites it
            pass
        except Exception:
            log.warning("%s: could not clear backfill progress", name, exc_info=True)

    def _once(self, name: str, level: int, msg: str, *args) -> None:
        """Log a notice once while the source stays in its state (again at DEBUG)."""
        text = msg % args
        said = self._said.setdefault(name, set())
        if text in said:
            log.debug(text)
            return
        if len(said) > 200:        # many distinct notices: forget the old ones rather than grow
            said.clear()
        said.add(text)
        log.log(level, text)

    def _fail(self, name: str, job: SourceJob, result: CycleResult, message: str, *, rate_limited: bool = False) -> None:
        if self._halted.is_set():   # WritesClosed: the cycle was abandoned, the source did not fail
            result.errors = [message]
            log.info("%s: cycle abandoned, the collector is stopping: %s", name, message)
            return
        k = self._failures.get(name, 0) + 1
        self._failures[name] = k
        result.errors = [message]
        base = max(job.every, RETRY_BASE_MIN_S) * (4 if rate_limited else 1)
        delay = backoff_delay(k, base=base, cap=RETRY_CAP_S, rng=self.rng)
        # The first failure retries on the next scheduled run; later ones back off.
        self._not_before[name] = time.monotonic() + (delay if k > 1 else 0.0)
        # One line when the source starts failing or fails for another reason; the same failure
        # again is DEBUG (its count and last error are in source health and on /sources).
        category = error_category(message) or "failing"
        changed = self._failing_as.get(name) != category
        self._failing_as[name] = category
        text = message if len(message) <= LOG_TEXT_MAX else message[:LOG_TEXT_MAX] + "…"
        log.log(logging.WARNING if changed else logging.DEBUG,
                "%s: failing (%s; %d in a row), next try in ≥%.0fs: %s", name, category, k,
                delay if k > 1 else job.every, text)
        try:
            self.store.record_failure(name, dt.datetime.now(dt.timezone.utc), message)
        except Exception:
            log.exception("%s: could not record failure in source health", name)
