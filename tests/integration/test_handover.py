"""Collector handover as a supervisor does it, on SQLite and PostgreSQL: `python app.py collect`
killed with -9 or stopped with SIGTERM in the middle of a cycle, then restarted, or replaced by a
`python app.py` standing by.

What must hold: a dead holder is recognised at once (not after the 45 s lease TTL); nothing the
stopped collector does after it released the lease writes the store; every alert is notified
once across the old and the new collector; a collector stuck in a write leaves within its grace
and leaves no lock behind.
"""
from __future__ import annotations

import datetime as dt
import http.server
import json
import os
import signal
import sys
import threading
import time

import pandas as pd
import pytest
from sqlalchemy import select

from alerts.store import alert_events
from data.store import Store
from tests.backends import store_url  # noqa: F401  (SQLite, and PostgreSQL when configured)
from tests.integration.proc import OFFLINE, AppProcess

pytestmark = pytest.mark.slow

SLOW_APP = os.path.join(os.path.dirname(__file__), "slow_app.py")
# Generous for a loaded 2-core machine; the lease TTL these bounds replace is 45 s.
TAKEOVER_WITHIN = 10.0


class Webhook:
    """A local webhook receiver: every alert the collectors notify, as (alert_id, seq)."""

    def __init__(self) -> None:
        received = self.received = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                received.append((body["alert"]["alert_id"], body["alert"]["seq"]))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def procs(tmp_path, store_url):
    # Depends on store_url so that the processes are stopped before the store is dropped (a
    # collector left stuck in a transaction would block the DROP SCHEMA of the teardown).
    started: list[AppProcess] = []

    def start(*args, slow: bool = False, env: dict | None = None) -> AppProcess:
        cmd = [sys.executable, SLOW_APP, *args] if slow else None
        p = AppProcess(list(args), data_dir=tmp_path, env={**OFFLINE, **(env or {})}, cmd=cmd)
        started.append(p)
        return p

    yield start
    for p in started:
        p.stop()


def _kill9(p: AppProcess) -> None:
    os.killpg(p.proc.pid, signal.SIGKILL)
    p.proc.wait(10)


def _started(p: AppProcess) -> bool:
    out = p.output()
    return "collector" in out and " started (" in out


def _wait_started(p: AppProcess, timeout: float) -> float:
    """Seconds until `p` logged its collector start; fails if it exited first (exit 2: refused)."""
    t0 = time.monotonic()
    p.wait_until(lambda: _started(p), timeout=timeout, what="the collector to start")
    return time.monotonic() - t0


def _holder(url: str) -> str | None:
    st = Store(url)
    try:
        h = st.collector_lease_holder()
        return h[0] if h else None
    finally:
        st.dispose()


def test_kill_9_then_a_supervisor_restart_collects_within_seconds(procs, store_url):
    first = procs("collect", "--demo", "--db", store_url)
    _wait_started(first, 60)
    _kill9(first)
    t0 = time.monotonic()
    again = procs("collect", "--demo", "--db", store_url)     # what systemd's Restart= does
    again.wait_until(lambda: _started(again), timeout=30, what="the restarted collector to start")
    took = time.monotonic() - t0
    print(f"restart after kill -9 collected after {took:.1f} s ({store_url.split(':')[0]})")
    assert took < TAKEOVER_WITHIN, again.output()[-2000:]


def test_kill_9_then_the_standby_web_takes_over_within_seconds(procs, store_url):
    holder = procs("collect", "--demo", "--db", store_url)
    _wait_started(holder, 60)
    web = procs("--demo", "--db", store_url)
    web.wait_until(lambda: "standing by" in web.output() and web.json("/healthz"), timeout=60,
                   what="the web process to serve and stand by")
    _kill9(holder)
    t0 = time.monotonic()
    web.wait_until(lambda: "took over the lease" in web.output(), timeout=60, what="standby takeover")
    took = time.monotonic() - t0
    print(f"standby took over {took:.1f} s after kill -9 ({store_url.split(':')[0]})")
    assert took < TAKEOVER_WITHIN
    before = web.json("/healthz")["data_version"]
    web.wait_until(lambda: web.json("/healthz")["data_version"] > before, timeout=60,
                   what="new data from the collector that took over")


@pytest.mark.parametrize("during", ["fetch", "evaluate"])
def test_sigterm_mid_cycle_hands_over_with_no_write_after_release_and_one_notification_per_alert(
        procs, store_url, tmp_path, during):
    """SIGTERM while the cycle fetches (and upserts chunk after chunk), or while the alert
    pipeline evaluates: from the moment the lease is free, the old collector writes nothing
    (observations, alert events), the next collector starts at once, and every alert reaches
    the webhook once."""
    hook = Webhook()
    marker = tmp_path / "marker"
    live = {"CM_TEST_LIVE_DEMO": "1", "CM_ALERT_WEBHOOK": hook.url}
    slow = {"CM_TEST_MARKER": str(marker)} | (
        {"CM_TEST_FETCH_DELAY": "0.4"} if during == "fetch" else {"CM_TEST_EVALUATE_DELAY": "0.08"})
    store = Store(store_url)
    try:
        old = procs("collect", "--db", store_url, slow=True, env=live | slow)
        old.wait_until(marker.exists, timeout=90, what=f"the old collector to {during}")
        os.killpg(old.proc.pid, signal.SIGTERM)
        t_sig = time.monotonic()
        deadline = t_sig + 30
        while store.collector_lease_holder() is not None:
            assert time.monotonic() < deadline, "the stopped collector never released its lease"
            time.sleep(0.01)
        released = dt.datetime.now(dt.timezone.utc)
        version = store.data_version()
        with store.engine.connect() as conn:
            seen = set(conn.execute(select(alert_events.c.alert_id, alert_events.c.seq)).all())

        new = procs("collect", "--db", store_url, slow=True, env=live)
        took = _wait_started(new, 30)
        assert took < TAKEOVER_WITHIN
        assert old.proc.wait(30) == 0, old.output()[-3000:]
        new.wait_until(lambda: "[test] alert run done" in new.output(), timeout=60,
                       what="the new collector's first alert run")
        assert new.stop() == 0

        rows = store.read()
        late = rows[(rows["version"] > version) & (rows["known_at"] < pd.Timestamp(released))]
        assert late.empty, f"{len(late)} rows of the old collector's cycle written after it released the lease"
        with store.engine.connect() as conn:
            events = conn.execute(select(alert_events.c.alert_id, alert_events.c.seq, alert_events.c.at_ns)).all()
        released_ns = int(pd.Timestamp(released).value)
        late_events = [(a, s) for a, s, at in events if (a, s) not in seen and at < released_ns]
        assert not late_events, f"alert events of the old collector stored after the release: {late_events}"
        assert hook.received, "no alert was notified at all: the scenario did not exercise the pipeline"
        dupes = {k for k in hook.received if hook.received.count(k) > 1}
        assert not dupes, f"notified more than once: {sorted(dupes)}"
        assert set(hook.received) <= {(a, s) for a, s, _ in events}, "notified an alert that is not stored"
    finally:
        store.dispose()
        hook.close()


def test_a_collector_stuck_in_a_write_leaves_within_its_grace_and_leaves_no_lock(procs, store_url, tmp_path):
    marker = tmp_path / "marker"
    stuck = procs("collect", "--demo", "--db", store_url, slow=True,
                  env={"CM_TEST_HANG_UPSERT": "1", "CM_TEST_MARKER": str(marker), "CM_SHUTDOWN_GRACE": "2"})
    stuck.wait_until(marker.exists, timeout=90, what="the collector to hang inside its upsert")
    os.killpg(stuck.proc.pid, signal.SIGTERM)
    t0 = time.monotonic()
    try:
        stuck.proc.wait(2 + 8)
    except Exception:
        pytest.fail(f"a collector stuck in a write was still running {time.monotonic() - t0:.0f} s after "
                    f"SIGTERM (grace 2 s):\n{stuck.output()[-2000:]}")
    nxt = procs("collect", "--demo", "--db", store_url)
    assert _wait_started(nxt, 30) < TAKEOVER_WITHIN
    store = Store(store_url)
    try:
        # Its first upsert goes through: no row lock (PostgreSQL) or write lock (SQLite) was left.
        nxt.wait_until(lambda: store.data_version() > 0 and len(store.read()) > 0, timeout=20,
                       what="the next collector's first write")
    finally:
        store.dispose()
