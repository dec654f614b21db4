"""The composition root: which sources the collector runs in a run mode, at which cadence, with
which data-quality gate, alert pipeline and notifiers.

The only module that imports every layer (config, data, analytics, alerts) to wire them; nothing
below imports it. app.py's `serve`/`collect` commands import it lazily, so a `gunicorn app:server`
web worker never loads yfinance or APScheduler.
"""
from __future__ import annotations

import datetime as dt

from alerts.deliveries import RoutedNotifier
from alerts.notify import WebhookNotifier
from alerts.pipeline import AlertPipeline
from alerts.routes import load_routes
from alerts.rules import load_rules
from alerts.store import AlertStore
from analytics.stats import MoveParams
from config import Settings
from data.clock import Clock, ReplayClock, ReplayControl, SystemClock
from data.collector import Collector, SourceJob
from data.ingest import IngestServer
from data.sources.registry import REGISTRY, sources_for
from data.store import Store
from universe import Universe

__all__ = ["build_jobs", "build_clock", "build_collector", "replay_control"]


def build_clock(settings: Settings) -> Clock:
    if settings.mode == "replay":
        # Held until the first cycle has loaded the history before the start (data/clock.py).
        return ReplayClock.starting(settings.replay_start, settings.replay_speed, held=True,
                                    until=settings.replay_cut)
    return SystemClock()


def build_jobs(settings: Settings, universe: Universe) -> dict[str, SourceJob]:
    """One collector job per source of the run mode (data/sources/registry.py)."""
    every = settings.cadences()
    jobs = {}
    for name in sources_for(settings.mode):
        r = REGISTRY[name]
        jobs[name] = SourceJob(r.build(settings, universe), every[name], cursor=r.cursor,
                               **({} if r.http_session else {"session_factory": None}))
    return jobs


def build_alert_pipeline(settings: Settings, universe: Universe, store: Store, clock: Clock):
    """Rules from CM_ALERT_RULES; a webhook when CM_ALERT_WEBHOOK is set (the feed is the store)."""
    rules = load_rules(settings.alert_rules, universe)
    # Per-alert events: the plain JSON webhook as before. Incidents: the routes of alerts.toml
    # (none configured → critical only to CM_ALERT_WEBHOOK), delivered through Apprise.
    routes = load_routes(settings.alert_rules, webhook=settings.alert_webhook)
    notifiers: list = [WebhookNotifier(settings.alert_webhook)] if settings.alert_webhook else []
    if routes.routes:
        notifiers.append(RoutedNotifier(routes, store.engine,
                                        group_of=lambda sid: universe.get(sid).group if sid in universe else None))
    return AlertPipeline(store, universe, rules, notifiers, clock=clock, cadences=settings.cadences(),
                         params=MoveParams.with_base(settings.rarity_base))


def build_collector(settings: Settings, universe: Universe, store: Store) -> Collector:
    clock = build_clock(settings)
    pipeline = build_alert_pipeline(settings, universe, store, clock)
    # One data-quality gate: it judges each batch before the upsert (judge) and, after the
    # cycle, any stored close still without a verdict (pipeline.run).
    collector = Collector(store, universe, build_jobs(settings, universe), mode=settings.mode, clock=clock,
                          timeout=settings.http_timeout, after_cycle=pipeline.run,
                          intraday_keep=dt.timedelta(days=settings.intraday_days),
                          on_reset=AlertStore(store).reset, judge=pipeline.gate.judge, on_stop=pipeline.close,
                          shutdown_grace=settings.shutdown_grace)
    if settings.ingest_port is not None:
        # The push feed: listens once this process collects (it holds the lease), stores through it.
        collector.services.append(IngestServer(collector, universe, token=settings.ingest_token or "",
                                               host=settings.ingest_host, port=settings.ingest_port,
                                               max_body=settings.max_body))
    return collector


def replay_control(collector: Collector) -> ReplayControl | None:
    """Pause / resume / step for the web side of this process (None unless it replays): each
    change is written to the store's meta at once, which every web process reads."""
    clock = getattr(collector, "clock", None)
    if isinstance(clock, ReplayClock):
        return ReplayControl(clock, collector.publish_clock)
    return None
