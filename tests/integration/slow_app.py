"""`python app.py …` with test-only slowdowns, so a signal can land in the middle of a cycle.

    python tests/integration/slow_app.py collect --demo --db URL

Everything else is the real program (app.main: signals, collector, store, alert pipeline,
webhook). Environment variables pick the slowdowns:

    CM_TEST_LIVE_DEMO=1          the simulated market as the only source of a *live* store (a
                                 restart keeps data and alert states, unlike --demo's fresh start)
    CM_TEST_FETCH_DELAY=S        the demo source answers in chunks of 4 series, S seconds each
    CM_TEST_EVALUATE_DELAY=S     every rule evaluation takes S seconds longer (a big rule set)
    CM_TEST_HANG_UPSERT=1        the first upsert hangs inside its transaction (after the data
                                 version bump: its row lock / the SQLite write lock is held)
    CM_TEST_MARKER=PATH          written when the slow step is first reached ("fetch 3",
                                 "evaluate", "upsert")
"""
from __future__ import annotations

import os
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
os.chdir(ROOT)

_marked = threading.Lock()


def _mark(what: str) -> None:
    path = os.environ.get("CM_TEST_MARKER")
    if not path or not _marked.acquire(blocking=False):
        return
    tmp = path + ".tmp"
    with open(tmp, "w") as fh:
        fh.write(what)
    os.replace(tmp, path)


def _patch() -> None:
    fetch_delay = float(os.environ.get("CM_TEST_FETCH_DELAY") or 0)
    if fetch_delay:
        from data.sources.base import Request
        from data.sources.demo import DemoSource

        plain_build, plain_fetch = DemoSource.build_requests, DemoSource.fetch

        def build_requests(self, series, *, since, now):
            (req,) = plain_build(self, series, since=since, now=now)
            chunks = [tuple(series[i:i + 4]) for i in range(0, len(series), 4)]
            return [Request(source=req.source, series=c, meta={**req.meta, "chunk": i})
                    for i, c in enumerate(chunks)]

        def fetch(self, request, **kw):
            if request.meta.get("chunk") == 3:
                _mark("fetch 3")
            time.sleep(fetch_delay)
            return plain_fetch(self, request, **kw)

        DemoSource.build_requests, DemoSource.fetch = build_requests, fetch

    evaluate_delay = float(os.environ.get("CM_TEST_EVALUATE_DELAY") or 0)
    if evaluate_delay:
        import alerts.service

        plain_evaluate = alerts.service.evaluate

        def evaluate(*a, **kw):
            _mark("evaluate")
            time.sleep(evaluate_delay)
            return plain_evaluate(*a, **kw)

        alerts.service.evaluate = evaluate

    if os.environ.get("CM_TEST_HANG_UPSERT"):
        from data.store import Store

        def hang(self, conn, rows):
            _mark("upsert")
            time.sleep(3600)

        Store._load_stage = hang

    # Tell the test when an alert run (evaluate → persist → notify) has finished.
    from alerts.pipeline import AlertPipeline

    plain_run = AlertPipeline.run

    def run(self):
        events = plain_run(self)
        print(f"[test] alert run done: {len(events)} events", flush=True)
        return events

    AlertPipeline.run = run

    if os.environ.get("CM_TEST_LIVE_DEMO"):
        import main
        from data.collector import SourceJob
        from data.sources.demo import DemoSource

        def build_jobs(settings, universe):
            return {"demo": SourceJob(DemoSource(universe), 60.0, session_factory=None, cursor="datetime")}

        main.build_jobs = build_jobs


if __name__ == "__main__":
    _patch()
    import app

    sys.exit(app.main(sys.argv[1:]))
