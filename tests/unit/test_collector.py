"""The collector on a real SQLite store with scripted sources: it never crashes, never stores
a malformed row, records health, backs off, and respects fallback priority."""
from __future__ import annotations

import dataclasses
import datetime as dt
import random

import pandas as pd
import pytest

from data.backoff import backoff_delay
from data.collector import Collector, SourceJob
from data.frame import daily_close_ts, make_frame
from data.sources.base import Request
from data.store import Store
from errors import CollectorAlreadyRunning, ConfigError, FetchError, MalformedPayload, RateLimited, WritesClosed
from universe import load_universe

UNIVERSE = load_universe()
UTC = dt.timezone.utc


class ScriptedSource:
    """A source whose fetch answers are scripted per call (payload or exception)."""

    def __init__(self, name: str, answers: list):
        self.name = name
        self.answers = list(answers)
        self.calls: list[dict] = []

    def build_requests(self, series, *, since, now):
        self.calls.append({"since": since, "now": now, "series": [s.id for s in series]})
        n = len(self.answers[0]) if self.answers and isinstance(self.answers[0], list) else 1
        return [Request(source=self.name, series=tuple(series), meta={"i": i}) for i in range(n)]

    def fetch(self, request, *, session, timeout):
        answer = self.answers[0]
        if isinstance(answer, list):
            answer = answer[request.meta["i"]]
            if request.meta["i"] == len(self.answers[0]) - 1:
                self.answers.pop(0)
        else:
            self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    def parse(self, raw, request):
        if isinstance(raw, str) and raw == "boom":
            raise ZeroDivisionError("parser bug")
        return raw


def daily(series_id: str, dates: list[str], values: list[float]) -> pd.DataFrame:
    s = UNIVERSE.get(series_id)
    return make_frame(series_id, "D", daily_close_ts(dates, s.timezone, s.close), values)


@pytest.fixture
def store(tmp_path):
    st = Store(f"sqlite:///{tmp_path / 't.db'}")
    st.create_schema()
    yield st
    st.dispose()


def collector(store, jobs, **kw) -> Collector:
    c = Collector(store, UNIVERSE, jobs, rng=random.Random(1), **kw)
    c.claim()
    return c


def health(store, name):
    return next(h for h in store.health() if h.source == name)


def test_cycle_writes_rows_records_health_and_moves_cursor(store):
    src = ScriptedSource("mof", [daily("jgb_30y", ["2026-01-19", "2026-01-20"], [3.48, 3.683]),
                                 daily("jgb_30y", ["2026-01-21"], [3.60])])
    c = collector(store, {"mof": SourceJob(src, 60, session_factory=None)})
    r = c.run_once("mof")
    assert r.ok and r.rows == 2
    assert src.calls[0]["since"] is None  # first start: backfill
    assert "jgb_30y" in src.calls[0]["series"] and "ust_10y" not in src.calls[0]["series"]
    h = health(store, "mof")
    assert h.consecutive_failures == 0 and h.last_success is not None and h.rows_last == 2
    r2 = c.run_once("mof")
    assert r2.ok and r2.rows == 1
    assert isinstance(src.calls[1]["since"], dt.date)  # incremental, with an overlap for restatements
    got = store.read(series_ids=["jgb_30y"])
    assert list(got["value"]) == [3.48, 3.683, 3.60]
    assert (got["source"] == "mof").all()


def test_fallback_never_overwrites_primary(store):
    prim = ScriptedSource("treasury", [daily("ust_10y", ["2026-01-20"], [4.29])])
    fb = ScriptedSource("fred", [daily("ust_10y", ["2026-01-20", "2026-01-21"], [4.30, 4.25])])
    c = collector(store, {"treasury": SourceJob(prim, 60, session_factory=None),
                          "fred": SourceJob(fb, 60, session_factory=None)})
    assert c.run_once("treasury").ok
    assert c.run_once("fred").ok
    got = store.read(series_ids=["ust_10y"]).set_index("ts")
    assert list(got["value"]) == [4.29, 4.25]          # 01-20 kept from Treasury, 01-21 filled by FRED
    assert list(got["source"]) == ["treasury", "fred"]


def test_a_bad_row_is_rejected_and_counted_the_rest_lands_and_the_cursor_moves(store):
    """Issue 14: one bad row never stops a source."""
    bad = daily("jgb_10y", ["2026-01-19", "2026-01-20"], [1.2, 1.3])
    bad.loc[1, "value"] = float("inf")
    good = daily("jgb_30y", ["2026-01-20"], [3.683])
    src = ScriptedSource("mof", [[bad, good]])
    c = collector(store, {"mof": SourceJob(src, 60, session_factory=None)})
    r = c.run_once("mof")
    assert r.ok and r.errors == [] and len(r.rejected) == 1 and "not finite" in r.rejected[0]
    got = store.read()
    assert sorted(zip(got["series_id"], got["value"])) == [("jgb_10y", 1.2), ("jgb_30y", 3.683)]
    h = health(store, "mof")
    assert h.consecutive_failures == 0 and h.rejected_last == 1 and h.rejected_total == 1
    assert "jgb_10y" in h.last_rejection and "not finite" in h.last_rejection
    assert store.get_meta("cursor:mof")                  # the source moves on


def test_implausible_values_are_rejected_rows(store):
    tnx_times_ten = daily("ust_10y", ["2026-01-19", "2026-01-20"], [4.29, 42.9])  # a ×10 slip
    src = ScriptedSource("treasury", [tnx_times_ten])
    c = collector(store, {"treasury": SourceJob(src, 60, session_factory=None)})
    r = c.run_once("treasury")
    assert r.ok and any("outside the plausible range" in x for x in r.rejected)
    assert list(store.read()["value"]) == [4.29]


def test_a_bad_cell_in_the_real_treasury_file_does_not_freeze_the_curve(store, market_dir):
    """The 2026 Treasury file with a 30Y value of 49.0 (out of range) used to reject the whole
    answer every cycle, freezing 14 series; now that one value is rejected and counted."""
    from data.sources.treasury import parse_treasury_csv

    raw = (market_dir / "raw" / "daily-treasury-rates-2026.csv").read_bytes()
    lines = raw.split(b"\n")
    cells = lines[1].split(b",")
    cells[-1] = b"49.00"                                 # the 30 Yr column of the newest row
    lines[1] = b",".join(cells)
    ust = [s for s in UNIVERSE if s.source == "treasury"]
    frame = parse_treasury_csv(b"\n".join(lines), ust)
    src = ScriptedSource("treasury", [frame])
    c = collector(store, {"treasury": SourceJob(src, 60, session_factory=None)})
    r = c.run_once("treasury")
    assert r.ok and len(r.rejected) == 1 and "ust_30y" in r.rejected[0]
    got = store.read()
    newest = got["ts"].max()
    assert set(got.loc[got["ts"] == newest, "series_id"]) == {s.id for s in ust} - {"ust_30y"}
    assert health(store, "treasury").rejected_last == 1


def test_failures_are_recorded_backed_off_and_never_raise(store):
    src = ScriptedSource("fred", [FetchError("HTTP 503", status=503), FetchError("timeout"),
                                  "boom", daily("ust_10y", ["2026-01-20"], [4.29])])
    c = collector(store, {"fred": SourceJob(src, 60, session_factory=None)})
    r1 = c.run_once("fred")
    assert not r1.ok and "HTTP 503" in r1.errors[0]
    r2 = c.run_once("fred")                      # first failure retries at the next scheduled run
    assert not r2.ok and health(store, "fred").consecutive_failures == 2
    assert c.run_once("fred").skipped            # now backing off
    c._not_before.clear()
    r3 = c.run_once("fred")                      # a parser bug is an error, not a crash
    assert not r3.ok and "ZeroDivisionError" in r3.errors[0]
    c._not_before.clear()
    assert c.run_once("fred").ok
    h = health(store, "fred")
    assert h.consecutive_failures == 0 and "ZeroDivisionError" in h.last_error


def test_rate_limit_backs_off_longer():
    rng = random.Random(3)
    d = [backoff_delay(k, base=60, cap=3600, rng=rng) for k in range(1, 8)]
    assert 30 <= d[0] <= 60 and d[-1] <= 3600
    assert all(b >= a * 0.5 for a, b in zip(d, d[1:]))
    assert backoff_delay(0, base=60, cap=3600, rng=rng) == 0


def test_rate_limited_cycle_is_a_failure(store):
    src = ScriptedSource("yahoo", [RateLimited("HTTP 429", status=429)])
    c = collector(store, {"yahoo": SourceJob(src, 60, session_factory=None)})
    r = c.run_once("yahoo")
    assert not r.ok and "RateLimited" in r.errors[0]


def test_second_collector_is_refused(store):
    collector(store, {}, owner="host-a:pid1")
    with pytest.raises(CollectorAlreadyRunning, match="host-a:pid1"):
        collector(store, {}, owner="host-b:pid2")


def _wait(pred, timeout=10.0):
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.02)
    return False


def test_standby_takes_over_when_the_holder_releases_its_lease(store):
    first = Collector(store, UNIVERSE, {}, owner="host-a:pid1")
    first.start()
    second = Collector(store, UNIVERSE, {}, owner="host-b:pid2")
    try:
        assert second.start_or_stand_by(retry_every=0.05) is False
        assert not second.running and store.collector_lease_holder()[0] == "host-a:pid1"
        first.shutdown()  # a clean stop (SIGTERM) releases the lease
        assert _wait(lambda: second.running), "standby never took over"
        assert store.collector_lease_holder()[0] == "host-b:pid2"
    finally:
        first.shutdown()
        second.shutdown()


def test_standby_takes_over_an_expired_lease_and_stops_trying_when_shut_down(store):
    import time

    crashed = Collector(store, UNIVERSE, {}, owner="crashed", lease_ttl=0.3)
    crashed.claim()  # holds the lease, never renews: a process killed with -9
    late = Collector(store, UNIVERSE, {}, owner="late", lease_ttl=0.3)
    assert late.start_or_stand_by(retry_every=0.05) is False
    try:
        assert _wait(lambda: late.running), "standby never took over the expired lease"
    finally:
        late.shutdown()
    # Shut down while standing by: the thread ends and never starts a scheduler afterwards.
    holder = Collector(store, UNIVERSE, {}, owner="holder")
    holder.start()
    idle = Collector(store, UNIVERSE, {}, owner="idle")
    try:
        assert idle.start_or_stand_by(retry_every=0.05) is False
        idle.shutdown()
        holder.shutdown()
        time.sleep(0.3)
        assert not idle.running and idle._standby is not None and not idle._standby.is_alive()
        assert store.collector_lease_holder() is None
    finally:
        holder.shutdown()
        idle.shutdown()


def test_collector_prunes_old_intraday_bars_on_a_schedule(store):
    ts = pd.date_range("2026-01-01", periods=80 * 24, freq="h", tz="UTC")
    store.upsert(make_frame("usdjpy", "I", ts, [150.0 + i / 1e3 for i in range(len(ts))]), source="yahoo",
                 known_at=dt.datetime(2026, 3, 22, tzinfo=UTC))
    c = Collector(store, UNIVERSE, {}, owner="pruner", intraday_keep=dt.timedelta(days=60))
    sched = c.start()
    try:
        job = sched.get_job("_prune")
        assert job is not None and job.trigger.interval == dt.timedelta(hours=6)
        assert _wait(lambda: len(store.read()) == 60 * 24 + 1), len(store.read())  # first run at start
    finally:
        c.shutdown()
    assert Collector(store, UNIVERSE, {}, owner="keeper").prune() == 0     # no keep: never prunes


def test_demo_data_never_goes_into_a_live_store(store):
    c = collector(store, {}, owner="a", mode="live")
    c.shutdown()
    with pytest.raises(ConfigError, match="holds live data"):
        collector(store, {}, owner="b", mode="demo")


def test_scheduler_runs_each_source_with_safe_job_defaults(store):
    import time

    src = ScriptedSource("mof", [daily("jgb_30y", ["2026-01-20"], [3.683])] + [MalformedPayload("x")] * 50)
    c = Collector(store, UNIVERSE, {"mof": SourceJob(src, 3600, session_factory=None)})
    sched = c.start()
    try:
        job = sched.get_job("mof")
        assert job.max_instances == 1 and job.coalesce is True and job.misfire_grace_time == 60
        deadline = time.time() + 10
        while time.time() < deadline and store.read().empty:
            time.sleep(0.05)
        assert len(store.read()) == 1
    finally:
        c.shutdown()
    # The lease is released on shutdown: another collector may start right away.
    collector(store, {}, owner="next")


def test_the_gate_judges_each_batch_before_it_is_stored(store, market_dir):
    """A plausible-but-wrong JGB 2Y print (12.35 for 1.235) is stored held — not as a 1,100 bp
    move — and rejected once the next print reverses it; the verdicts sit beside the values."""
    from alerts.gate import QualityGate
    from analytics.movestats import compute_move_stats
    from data.sources.mof import parse_mof_csv

    jgb = [s for s in UNIVERSE if s.source == "mof"]
    hist = parse_mof_csv((market_dir / "jgb" / "jgbcme_all.csv").read_bytes(), jgb)
    hist = hist[hist["ts"] >= pd.Timestamp("2023-01-01", tz="UTC")]
    day = lambda d: hist[hist["ts"].dt.tz_convert("Asia/Tokyo").dt.date == dt.date.fromisoformat(d)]
    before = hist[hist["ts"] < pd.Timestamp("2026-01-20", tz="UTC")]
    shock = day("2026-01-20").copy()
    two = shock["series_id"] == "jgb_2y"
    shock.loc[two, "value"] = shock.loc[two, "value"] * 10           # 12.35-style slip
    src = ScriptedSource("mof", [before, shock, day("2026-01-21")])
    gate = QualityGate(store, UNIVERSE)
    c = collector(store, {"mof": SourceJob(src, 60, session_factory=None)}, judge=gate.judge)
    assert c.run_once("mof").ok
    assert c.run_once("mof").ok
    got = store.read(series_ids=["jgb_2y", "jgb_30y"])
    slip = got[(got["series_id"] == "jgb_2y") & (got["ts"] == shock.loc[two, "ts"].iloc[0])].iloc[0]
    assert slip["quality"] == "unconfirmed" and "decimal shift" in slip["quality_note"]
    real = got[(got["series_id"] == "jgb_30y") & (got["ts"] == slip["ts"])].iloc[0]
    assert real["quality"] == "ok"                       # the 30Y's +20.3 bp is confirmed by its peers
    r2 = next(s for s in compute_move_stats(store.read(), UNIVERSE).for_series("jgb_2y") if s.horizon == 1)
    assert r2.quality == "unconfirmed" and r2.move > 1000  # shown as held, with its note
    n_before = r2.n_valid                                  # the valid moves before the held print
    assert c.run_once("mof").ok                           # the next print: back near 1.2 %
    got = store.read(series_ids=["jgb_2y"])
    slip = got[got["ts"] == slip["ts"]].iloc[0]
    assert slip["quality"] == "rejected" and "reversed" in slip["quality_note"]
    r2 = next(s for s in compute_move_stats(store.read(), UNIVERSE).for_series("jgb_2y") if s.horizon == 1)
    assert abs(r2.move) < 20 and r2.quality == "ok"      # measured from the last good close
    assert r2.n_valid == n_before                         # the rejected print never joined a window


def test_a_skipped_replay_file_is_a_source_problem_on_sources_and_healthz(store, market_dir, tmp_path):
    """Issue 14: replay skipped an unreadable file with only a log line while /healthz said ok."""
    from data.clock import ReplayClock
    from views.snapshot import build_snapshot
    from data.sources.replay import ReplaySource

    root = tmp_path / "market"
    (root / "jgb").mkdir(parents=True)
    (root / "fx").mkdir()
    (root / "jgb" / "jgbcme_all.csv").write_bytes((market_dir / "jgb" / "jgbcme_all.csv").read_bytes())
    (root / "fx" / "USDJPY.csv").write_bytes(b"<html><body>503</body></html>")
    clock = ReplayClock.starting(dt.date(2026, 1, 10), 3600.0, held=True)
    c = Collector(store, UNIVERSE, {"replay": SourceJob(ReplaySource(root, UNIVERSE), 2, session_factory=None,
                                                       cursor="datetime")}, mode="replay", clock=clock)
    c.claim()
    r = c.run_once("replay")
    assert r.ok and r.rows > 1000                         # the readable file still plays
    assert not clock.held                                  # the backfill is in: the clock runs now
    meta = {k: store.get_meta(k) for k in ("mode", "clock", "problems:replay")}
    assert "USDJPY.csv skipped" in meta["problems:replay"]
    snap = build_snapshot(UNIVERSE, store.read(), store.health(), meta, version=1, cadences={"replay": 2})
    row = next(s for s in snap.sources if s.health.source == "replay")
    assert row.state(dt.datetime.now(UTC)) == "degraded" and "USDJPY.csv" in row.problems[0]


# ---------------------------------------------------------------- handover: liveness and shutdown
def test_a_holder_whose_process_is_gone_is_taken_over_at_once(store, tmp_path):
    import os
    import signal
    import subprocess
    import sys

    from tests.conftest import ROOT

    # A collector on this host takes the lease, then is killed with -9 (nothing released).
    code = ("import datetime as dt, sys, time; sys.path.insert(0, sys.argv[2]); from data.store import Store; "
            "Store(sys.argv[1]).acquire_collector_lease('box:crashed', ttl=45, now=dt.datetime.now(dt.timezone.utc)); "
            "print('held', flush=True); time.sleep(60)")
    child = subprocess.Popen([sys.executable, "-c", code, str(store.url), str(ROOT)], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "held"
        with pytest.raises(CollectorAlreadyRunning, match="box:crashed"):
            Collector(store, UNIVERSE, {}, owner="box:early").claim()     # alive: refused
        os.kill(child.pid, signal.SIGKILL)
        child.wait(10)
    finally:
        child.kill()
        child.wait()
    c = Collector(store, UNIVERSE, {}, owner="box:next")
    c.claim()                          # 1 s after it renewed, yet no CollectorAlreadyRunning
    assert store.collector_lease_holder()[0] == "box:next"


def test_a_holder_on_another_host_keeps_its_lease_until_the_ttl(store):
    from data.lease import this_process

    far = dataclasses.replace(this_process(), host="far-away", pid=999_999)   # no such pid here
    store.acquire_collector_lease("far:1", ttl=45, now=dt.datetime.now(UTC), holder=far)
    with pytest.raises(CollectorAlreadyRunning, match="far:1"):
        Collector(store, UNIVERSE, {}, owner="box:next").claim()


class BlockingSource(ScriptedSource):
    """Answers once `release` is set; tells when its fetch has started."""

    def __init__(self, name, answers):
        super().__init__(name, answers)
        import threading

        self.fetching, self.release = threading.Event(), threading.Event()

    def fetch(self, request, *, session, timeout):
        self.fetching.set()
        assert self.release.wait(10)
        return super().fetch(request, session=session, timeout=timeout)


def test_shutdown_abandons_the_cycle_in_flight_and_no_write_follows_the_release(store):
    import threading
    import time

    src = BlockingSource("mof", [daily("jgb_30y", ["2026-01-20"], [3.683])])
    hooks = []
    c = Collector(store, UNIVERSE, {"mof": SourceJob(src, 3600, session_factory=None)}, owner="stopping",
                  after_cycle=lambda: hooks.append("alerts"))
    c.start()
    assert src.fetching.wait(10)
    done = []
    stopper = threading.Thread(target=lambda: done.append(c.shutdown()))
    stopper.start()
    # Nothing writes while the cycle waits on the network: the lease is released at once...
    assert _wait(lambda: store.collector_lease_holder() is None), "lease not released"
    version = store.data_version()
    src.release.set()                      # ...and the answer that comes back is never stored
    stopper.join(10)
    assert _wait(lambda: src.answers == []), "the cycle never got its answer"
    time.sleep(0.2)
    assert store.data_version() == version and store.read().empty, "written after the lease was released"
    assert hooks == []                     # no alert evaluation after the stop began
    assert done == [True]                  # stopped within the grace
    assert health(store, "mof").consecutive_failures == 0   # abandoned, not a source failure


def test_shutdown_flushes_notifications_within_what_is_left_of_the_grace(store):
    left = []
    c = Collector(store, UNIVERSE, {}, owner="flush", on_stop=left.append, shutdown_grace=3)
    c.start()
    assert c.shutdown() is True
    assert len(left) == 1 and 2 < left[0] <= 3


def test_shutdown_keeps_the_lease_while_a_write_is_in_flight(store):
    import threading

    c = Collector(store, UNIVERSE, {}, owner="busy")
    c.start()
    writing, finish = threading.Event(), threading.Event()

    def long_write():
        with store.write_permit():         # e.g. an upsert waiting on a lock
            writing.set()
            finish.wait(10)

    t = threading.Thread(target=long_write)
    t.start()
    assert writing.wait(5)
    assert c.shutdown(grace=0.3) is False  # the caller then ends the process (app.py)
    assert store.collector_lease_holder()[0] == "busy"
    finish.set()
    t.join(5)
    with pytest.raises(WritesClosed):
        store.set_meta("after", "stop")


def test_a_lost_lease_closes_the_writes_of_the_old_holder(tmp_path):
    url = f"sqlite:///{tmp_path / 'lost.db'}"
    old_store, new_store = Store(url), Store(url)
    try:
        old = Collector(old_store, UNIVERSE, {}, owner="hung", lease_ttl=0.2)
        old.claim()
        import time

        time.sleep(0.3)                     # it stopped renewing: another collector takes over
        new = Collector(new_store, UNIVERSE, {}, owner="fresh", lease_ttl=0.2)
        new.claim()
        old._renew_lease()                  # it wakes up and finds out
        with pytest.raises(WritesClosed):
            old_store.set_meta("late", "write")
        new_store.set_meta("ok", "write")
    finally:
        old_store.dispose()
        new_store.dispose()


def test_logs_one_line_per_state_change_not_per_cycle(store, caplog):
    import logging

    net = FetchError("network error: ConnectionError: HTTPSConnectionPool(host='x', port=443): Max retries exceeded")
    src = ScriptedSource("fred", [net] * 12 + [FetchError("HTTP 503", status=503)] * 3
                         + [daily("ust_10y", ["2026-01-20"], [4.29])] * 3)
    c = collector(store, {"fred": SourceJob(src, 60, session_factory=None)})
    with caplog.at_level(logging.INFO, logger="contagion"):
        for _ in range(18):
            c._not_before.clear()
            c.run_once("fred")
    lines = [r for r in caplog.records if r.name.startswith("contagion") and r.levelno >= logging.INFO
             and "fred" in r.getMessage()]
    warnings = [r.getMessage() for r in lines if r.levelno >= logging.WARNING]
    # 12 network failures → one line; a new reason (HTTP 503) → one line; recovery → one line.
    assert len(warnings) == 2 and "network error" in warnings[0] and "HTTP 503" in warnings[1], warnings
    assert [r.getMessage() for r in lines if r.levelno == logging.INFO and "recovered" in r.getMessage()] \
        == ["fred: recovered after 15 failed cycle(s)"]
    assert len(lines) <= 4
