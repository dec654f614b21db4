"""Hand-built MoveStats (the statistics module is written in parallel) and small rule builders.

Numbers follow BRIEF §2: JGB 30Y on 2026-01-20 moved +20.3 bp, z60 7.63, z250 5.60, z_EWMA 5.71,
seen about once in 12.7 years ≈ a 3.6σ normal event.
"""
from __future__ import annotations

import datetime as dt
import http.server
import json
import threading
from dataclasses import replace

from alerts.rules import Rule
from analytics.types import MoveStat

UTC = dt.UTC
T0 = dt.datetime(2026, 1, 20, 6, 0, tzinfo=UTC)          # JGB close 15:00 Tokyo
DAY = dt.timedelta(days=1)


def jgb30(ts: dt.datetime = T0, **kw) -> MoveStat:
    """The real 2026-01-20 JGB 30Y move; override any field."""
    base = MoveStat(
        series_id="jgb_30y", ts=ts, kind="daily", horizon=1, move=20.3, unit="bp",
        sigma={"w60": 2.66, "w250": 3.63, "ewma": 3.56, "mad250": 3.1},
        z={"w60": 7.63, "w250": 5.60, "ewma": 5.71},
        window_end=ts - DAY, rarity_share=0.000313, return_period_years=12.7, normal_equiv_sigma=3.6,
        n_history=6390, source="mof", sigma_raw={"w60": 2.66, "w250": 3.63, "ewma": 3.56, "mad250": 3.1},
        floor=0.9, n_valid=6461, min_history=250, rarity_base=dt.datetime(2000, 1, 1, tzinfo=UTC),
        largest_since=dt.datetime(2016, 3, 8, 6, tzinfo=UTC), largest_since_signed=None,
        series_start=dt.datetime(1999, 9, 2, 6, tzinfo=UTC),
    )
    return replace(base, **kw)


def zstat(series_id: str, ts: dt.datetime, z: float, *, sigma: float = 2.0, unit: str = "bp",
          kind: str = "daily", horizon: int = 1, source: str = "mof", single_print: bool = False,
          estimator: str = "w60", return_period: float | None = 50.0, quality: str = "ok") -> MoveStat:
    """A move of `z` σ with σ = `sigma` (move = z·σ), rare enough (50 years by default) for every
    rarity requirement of the default rules, so the z alone decides the tier."""
    return MoveStat(series_id=series_id, ts=ts, kind=kind, horizon=horizon, move=z * sigma, unit=unit,
                    sigma={estimator: sigma}, z={estimator: z}, window_end=ts - DAY, source=source,
                    single_print=single_print, n_history=5000, return_period_years=return_period,
                    quality=quality, sigma_raw={estimator: sigma})


def z_rule(**kw) -> Rule:
    base = dict(id="jgb_curve_z", type="z", groups=("jgb_curve",), confirm_groups=("jgb_curve",),
                tiers=(("watch", 3.0), ("warning", 4.0), ("critical", 6.0)), hysteresis=0.5)
    base.update(kw)
    return Rule(**base)


def intraday_rule(**kw) -> Rule:
    base = dict(id="ust_intraday_z", groups=("ust_intraday",), kind="intraday",
                confirm_groups=("ust_intraday", "ust_futures", "ust_etf"))
    base.update(kw)
    return z_rule(**base)


class Hook:
    """A local webhook receiver on 127.0.0.1 (http.server in a thread).

    `plan` is a list of status codes answered in turn (the last one repeats); `hold` (an Event)
    makes every request wait until it is set — a hanging receiver.
    """

    def __init__(self, plan=(200,), hold: threading.Event | None = None):
        self.plan = list(plan)
        self.hold = hold
        self.bodies: list[dict] = []
        self.paths: list[str] = []
        self.received = threading.Event()
        hook = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(n) or b"{}")
                hook.bodies.append(body)
                hook.paths.append(self.path)
                hook.received.set()
                if hook.hold is not None:
                    hook.hold.wait(30)
                i = len(hook.bodies) - 1
                code = hook.plan[min(i, len(hook.plan) - 1)]
                self.send_response(code)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *a):  # keep test output quiet
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/services/T000/B000/s3cr3tTOKEN"

    def close(self) -> None:
        if self.hold is not None:
            self.hold.set()
        self.server.shutdown()
        self.server.server_close()


def run_replay(market_dir, store_, start: dt.datetime, end: dt.datetime, step: dt.timedelta, *, rules=None):
    """The live path as `python app.py --replay` runs it — replay source → gate → store → alert
    pipeline (shipped rules, or the `rules` file) — one collector cycle every `step` of data time
    from `start` to `end`; returns the pipeline (its notifiers still open)."""
    from config import Settings
    from data.clock import ReplayClock
    from data.collector import Collector, SourceJob
    from main import build_alert_pipeline
    from data.sources.replay import ReplaySource
    from universe import load_universe

    universe = load_universe()
    clock = ReplayClock.starting(start, 1.0, held=True)
    kw = {"alert_rules": rules} if rules is not None else {}
    settings = Settings(mode="replay", replay_dir=market_dir, replay_start=start.date(), **kw)
    pipeline = build_alert_pipeline(settings, universe, store_, clock)
    c = Collector(store_, universe, {"replay": SourceJob(ReplaySource(market_dir, universe), 2, session_factory=None,
                                                        cursor="datetime")}, mode="replay", clock=clock,
                  after_cycle=pipeline.run, judge=pipeline.gate.judge)
    c.claim()
    t = start
    while t <= end:
        clock.start, clock.t0 = t, None
        store_.set_meta("clock", clock.to_meta())
        assert c.run_once("replay").ok
        t += step
    return pipeline
