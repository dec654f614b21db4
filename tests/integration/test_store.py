"""The store on real databases: SQLite always, PostgreSQL when CM_TEST_PG_URL is set (CI)."""
from __future__ import annotations

import datetime as dt
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from data.frame import make_frame
from data.store import ERROR_TEXT_MAX, READ_COLUMNS, Store, UpsertResult
from errors import CollectorAlreadyRunning, MalformedPayload, WritesClosed
from tests.backends import store, store_url  # noqa: F401  (fixtures)
from tests.conftest import ROOT

T0 = dt.datetime(2026, 1, 20, 6, 0, tzinfo=dt.timezone.utc)


def frame(series_id: str, dates, values, freq: str = "D") -> pd.DataFrame:
    ts = pd.DatetimeIndex(pd.to_datetime(dates)).tz_localize("UTC") + pd.Timedelta(hours=6)
    return make_frame(series_id, freq, ts, values)


def big_frame(n_series: int, n_days: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    days = pd.date_range("2010-01-01 06:00", periods=n_days, freq="D", tz="UTC")
    return pd.concat([make_frame(f"s{i:02d}", "D", days, 1 + rng.random(n_days)) for i in range(n_series)],
                     ignore_index=True)


# ---------------------------------------------------------------- upsert rules
def test_insert_unchanged_restatement_and_priority_skip_are_counted(store):
    d = ["2026-01-19", "2026-01-20", "2026-01-21"]
    r = store.upsert(frame("jgb_30y", d, [3.48, 3.683, 3.60]), source="mof", known_at=T0)
    assert r == UpsertResult(inserted=3, restated=0, unchanged=0, skipped=0)
    v1 = store.data_version()
    assert v1 == 1

    r = store.upsert(frame("jgb_30y", d, [3.48, 3.683, 3.60]), source="mof", known_at=T0)
    assert r == UpsertResult(inserted=0, restated=0, unchanged=3, skipped=0)
    assert store.data_version() == v1                        # nothing changed: no bump

    # A lower-priority fallback with a different value never overwrites the primary.
    r = store.upsert(frame("jgb_30y", d[:2], [3.50, 3.683]), source="fred", known_at=T0, priority=50)
    assert r == UpsertResult(inserted=0, restated=0, unchanged=1, skipped=1)
    assert store.data_version() == v1

    # The primary restates one day and adds one.
    later = T0 + dt.timedelta(days=2)
    r = store.upsert(frame("jgb_30y", d[1:] + ["2026-01-22"], [3.69, 3.60, 3.55]), source="mof", known_at=later)
    assert r == UpsertResult(inserted=1, restated=1, unchanged=1, skipped=0)
    assert store.data_version() == v1 + 1

    got = store.read(series_ids=["jgb_30y"])
    assert list(got.columns) == READ_COLUMNS
    assert list(got["value"]) == [3.48, 3.69, 3.60, 3.55]
    assert list(got["restatements"]) == [0, 1, 0, 0]
    assert list(got["version"]) == [1, 2, 1, 2]               # stamped by the write that changed them
    assert (got["source"] == "mof").all()
    assert got.loc[1, "known_at"] == pd.Timestamp(later)
    assert str(got["ts"].dtype) == "datetime64[ns, UTC]"
    # Same priority restating again counts again.
    store.upsert(frame("jgb_30y", ["2026-01-20"], [3.70]), source="mof", known_at=later)
    assert store.read(series_ids=["jgb_30y"])["restatements"].tolist() == [0, 2, 0, 0]


def test_fallback_fills_gaps_and_primary_takes_over(store):
    store.upsert(frame("ust_10y", ["2026-01-20"], [4.29]), source="treasury", known_at=T0)
    r = store.upsert(frame("ust_10y", ["2026-01-20", "2026-01-21"], [4.30, 4.25]), source="fred",
                     known_at=T0, priority=50)
    assert (r.inserted, r.skipped) == (1, 1)
    got = store.read(series_ids=["ust_10y"])
    assert list(got["source"]) == ["treasury", "fred"] and list(got["value"]) == [4.29, 4.25]
    # The primary confirms the fallback's value: same value, but the primary now owns the row...
    v = store.data_version()
    r = store.upsert(frame("ust_10y", ["2026-01-21"], [4.25]), source="treasury", known_at=T0)
    assert r == UpsertResult(inserted=0, restated=0, unchanged=1, skipped=0)
    assert store.read(series_ids=["ust_10y"])["source"].tolist() == ["treasury", "treasury"]
    assert store.data_version() == v + 1                      # readers must see the new source
    # ...so a later fallback value is skipped, and the row is not counted as restated.
    r = store.upsert(frame("ust_10y", ["2026-01-21"], [4.26]), source="fred", known_at=T0, priority=50)
    assert r.skipped == 1
    got = store.read(series_ids=["ust_10y"])
    assert got["value"].tolist() == [4.29, 4.25] and got["restatements"].tolist() == [0, 0]


@pytest.mark.parametrize("breakage", ["nan", "duplicate", "naive_ts", "missing_column", "bad_freq"])
def test_malformed_frame_is_rejected_and_nothing_is_written(store, breakage):
    good = frame("jgb_10y", ["2026-01-19", "2026-01-20", "2026-01-21"], [1.2, 1.3, 1.25])
    bad = good.copy()
    if breakage == "nan":
        bad.loc[2, "value"] = float("nan")
    elif breakage == "duplicate":
        bad = pd.concat([bad, bad.iloc[[0]]], ignore_index=True)
    elif breakage == "naive_ts":
        bad["ts"] = bad["ts"].dt.tz_localize(None)
    elif breakage == "missing_column":
        bad = bad.drop(columns=["freq"])
    elif breakage == "bad_freq":
        bad.loc[0, "freq"] = "W"
    with pytest.raises(MalformedPayload):
        store.upsert(bad, source="mof", known_at=T0)
    assert store.read().empty
    assert store.data_version() == 0


def test_timestamps_round_trip_exactly_and_read_filters(store):
    ts = pd.DatetimeIndex(["2026-01-20 15:00:00.123456789", "2026-01-21 15:00"], tz="Asia/Tokyo")
    store.upsert(make_frame("jgb_10y", "D", ts, [1.0, 2.0]), source="mof", known_at=T0)
    bars = pd.date_range("2026-01-21 00:00", periods=4, freq="5min", tz="UTC")
    store.upsert(make_frame("ust_10y", "I", bars, [4.1, 4.2, 4.3, 4.4]), source="yahoo", known_at=T0)
    store.upsert(make_frame("ust_10y", "D", bars[:1], [4.0]), source="fred", known_at=T0)

    got = store.read(series_ids=["jgb_10y"])
    assert list(got["ts"]) == list(ts.tz_convert("UTC"))     # ns precision kept, as UTC
    assert store.read(freq="I")["series_id"].unique().tolist() == ["ust_10y"]
    assert len(store.read(series_ids=["ust_10y"], freq="I", start=bars[1], end=bars[2])) == 2
    assert store.read(series_ids=[]).empty
    assert store.read(since_version=2)["source"].tolist() == ["fred"]
    assert store.last_ts() == {("jgb_10y", "D"): ts[1].tz_convert("UTC"), ("ust_10y", "I"): bars[-1],
                               ("ust_10y", "D"): bars[0]}
    empty = Store(store.url).read(series_ids=["nope"])
    assert list(empty.columns) == READ_COLUMNS and str(empty["ts"].dtype) == "datetime64[ns, UTC]"


def test_data_version_bumps_only_on_changes(store):
    assert store.data_version() == 0
    store.set_meta("mode", "live")
    store.record_attempt("mof", T0)
    store.upsert(frame("jgb_10y", [], []), source="mof", known_at=T0)
    assert store.data_version() == 0
    store.upsert(frame("jgb_10y", ["2026-01-20"], [1.3]), source="mof", known_at=T0)
    store.upsert(frame("jgb_10y", ["2026-01-20"], [1.3]), source="mof", known_at=T0)
    store.upsert(frame("jgb_10y", ["2026-01-20"], [1.4]), source="fred", known_at=T0, priority=50)
    assert store.data_version() == 1
    store.upsert(frame("jgb_10y", ["2026-01-20"], [1.31]), source="mof", known_at=T0)
    assert store.data_version() == 2


def test_bulk_upsert_counts_large_frames(store):
    big = big_frame(10, 2000)
    t = time.perf_counter()
    r = store.upsert(big, source="mof", known_at=T0)
    assert r.inserted == 20_000
    big.loc[::100, "value"] += 0.01                          # 200 restatements in a bulk write
    r = store.upsert(big, source="mof", known_at=T0)
    assert (r.inserted, r.restated, r.unchanged) == (0, 200, 19_800)
    assert time.perf_counter() - t < 30                       # bulk, not a query per row
    assert len(store.read(since_version=1)) == 200


# ---------------------------------------------------------------- health and meta
def test_source_health_bookkeeping(store):
    store.record_attempt("fred", T0)
    store.record_failure("fred", T0, "HTTP 503")
    store.record_failure("fred", T0 + dt.timedelta(minutes=1), "x" * 5000)
    h = {x.source: x for x in store.health()}["fred"]
    assert h.consecutive_failures == 2 and h.last_success is None
    assert len(h.last_error) == ERROR_TEXT_MAX and h.last_error_at == T0 + dt.timedelta(minutes=1)
    store.record_success("fred", T0 + dt.timedelta(minutes=2), 7)
    store.record_success("fred", T0 + dt.timedelta(minutes=3), 3)
    h = {x.source: x for x in store.health()}["fred"]
    assert h.consecutive_failures == 0                       # reset by a success
    assert h.last_error.startswith("xxx")                    # the last error stays visible
    assert (h.rows_written_total, h.rows_last) == (10, 3)
    assert h.last_success == T0 + dt.timedelta(minutes=3) and h.last_success.tzinfo is not None
    assert h.last_attempt == T0
    store.record_failure("mof", T0, "boom")                 # a failure before any attempt row
    assert [x.source for x in store.health()] == ["fred", "mof"]


def test_meta_get_set(store):
    assert store.get_meta("mode") is None
    store.set_meta("mode", "replay")
    store.set_meta("clock", '{"t": 1}')
    store.set_meta("mode", "demo")
    assert store.get_meta("mode") == "demo" and store.get_meta("clock") == '{"t": 1}'


def _create_schema_at_once(stores: list[Store]) -> list[BaseException]:
    """Every store's create_schema() on its own thread at the same time; the errors raised."""
    errors: list[BaseException] = []

    def go(st):
        try:
            st.create_schema()
        except BaseException as exc:  # pragma: no cover - reported by the caller
            errors.append(exc)

    threads = [threading.Thread(target=go, args=(s,)) for s in stores]
    [t.start() for t in threads]
    [t.join() for t in threads]
    return errors


def test_create_schema_is_idempotent_and_safe_to_race(store_url):
    stores = [Store(store_url) for _ in range(4)]
    assert not _create_schema_at_once(stores)
    stores[0].create_schema()
    assert stores[1].data_version() == 0
    for s in stores:
        s.dispose()


def test_a_new_sqlite_file_opened_by_many_at_once_never_reports_locked(tmp_path):
    # Regression (CI, 2026-11): switching a brand-new file to WAL needs an exclusive lock, and
    # SQLite refuses it at once ("database is locked") while another connection opens the
    # same file; the collector, web workers and CLI all open the store at start-up.
    failures = []
    for i in range(40):
        stores = [Store(f"sqlite:///{tmp_path}/fresh-{i}.db") for _ in range(8)]
        failures += _create_schema_at_once(stores)
        with stores[0].engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        for s in stores:
            s.dispose()
    assert not failures, failures[:3]


def test_prune_intraday_keeps_each_series_window_and_every_close(store):
    def bars(sid, start, hours):
        ts = pd.date_range(start, periods=hours, freq="h", tz="UTC")
        return make_frame(sid, "I", ts, np.linspace(100, 101, hours))

    store.upsert(bars("usdjpy", "2026-01-01", 90 * 24), source="yahoo", known_at=T0)
    store.upsert(bars("tlt", "2026-02-01", 30 * 24), source="yahoo", known_at=T0)
    closes = make_frame("jgb_30y", "D", pd.date_range("2020-01-01", periods=2000, freq="D", tz="UTC"),
                        np.linspace(0.1, 3.6, 2000))
    store.upsert(closes, source="mof", known_at=T0)
    before, version = store.read(), store.data_version()
    keep = dt.timedelta(days=60)
    removed = store.prune_intraday(keep)
    after = store.read()
    intra = before[before["freq"] == "I"]
    newest = intra.groupby("series_id")["ts"].transform("max")
    expected_gone = int((intra["ts"] < newest - pd.Timedelta(keep)).sum())
    assert removed == expected_gone == 90 * 24 - (60 * 24 + 1)     # usdjpy's first 30 days
    assert expected_gone > 0 and len(after) == len(before) - removed
    assert (after["freq"] == "D").sum() == 2000                     # closes: never pruned
    assert (after["series_id"] == "tlt").sum() == 30 * 24            # inside its own window
    u = after[after["series_id"] == "usdjpy"]["ts"]
    assert u.min() == u.max() - pd.Timedelta(keep)
    assert store.data_version() == version and store.prune_intraday(keep) == 0


def test_repr_never_shows_the_password():
    st = Store("postgresql://cm:s3cret-pw@db.example:5432/contagion")
    assert "s3cret" not in repr(st) and "***" in repr(st)
    assert st.url.drivername == "postgresql+psycopg"
    assert repr(Store.sqlite_default("/tmp/cm-x")) == "Store(sqlite:////tmp/cm-x/contagion.db)"


# ---------------------------------------------------------------- collector lease
def test_second_collector_is_refused_with_a_clear_message(store):
    store.acquire_collector_lease("host-a:pid11:ab", ttl=45, now=T0)
    with pytest.raises(CollectorAlreadyRunning) as err:
        store.acquire_collector_lease("host-b:pid22:cd", ttl=45, now=T0 + dt.timedelta(seconds=10))
    msg = str(err.value)
    assert "host-a:pid11:ab" in msg and "last seen 2026-01-20T06:00:00+00:00" in msg and "10 s ago" in msg
    # The holder may re-acquire (restart with the same owner) and renew.
    store.acquire_collector_lease("host-a:pid11:ab", ttl=45, now=T0 + dt.timedelta(seconds=20))
    assert store.renew_collector_lease("host-a:pid11:ab", T0 + dt.timedelta(seconds=30))
    assert store.collector_lease_holder() == ("host-a:pid11:ab", T0 + dt.timedelta(seconds=30))
    store.release_collector_lease("host-b:pid22:cd")         # not the holder: no effect
    with pytest.raises(CollectorAlreadyRunning):
        store.acquire_collector_lease("host-b:pid22:cd", ttl=45, now=T0 + dt.timedelta(seconds=40))
    store.release_collector_lease("host-a:pid11:ab")
    assert store.collector_lease_holder() is None
    store.acquire_collector_lease("host-b:pid22:cd", ttl=45, now=T0 + dt.timedelta(seconds=41))


def test_stale_lease_is_taken_over_and_the_old_holder_notices(store):
    store.acquire_collector_lease("crashed:pid1", ttl=45, now=T0)
    with pytest.raises(CollectorAlreadyRunning):
        store.acquire_collector_lease("new:pid2", ttl=45, now=T0 + dt.timedelta(seconds=44))
    store.acquire_collector_lease("new:pid2", ttl=45, now=T0 + dt.timedelta(seconds=46))
    assert not store.renew_collector_lease("crashed:pid1", T0 + dt.timedelta(seconds=47))
    assert store.renew_collector_lease("new:pid2", T0 + dt.timedelta(seconds=47))


def test_racing_collectors_exactly_one_wins(store_url):
    n = 8
    stores = [Store(store_url) for _ in range(n)]
    stores[0].create_schema()
    barrier = threading.Barrier(n)
    winners, losers, errors = [], [], []

    def race(i: int) -> None:
        st = stores[i]
        st.data_version()        # connect before the start line, so the race is on the lease
        barrier.wait()
        try:
            st.acquire_collector_lease(f"racer-{i}", ttl=45, now=dt.datetime.now(dt.timezone.utc))
            winners.append(i)
        except CollectorAlreadyRunning:
            losers.append(i)
        except BaseException as exc:  # pragma: no cover
            errors.append(exc)

    threads = [threading.Thread(target=race, args=(i,)) for i in range(n)]
    [t.start() for t in threads]
    [t.join(60) for t in threads]
    assert not errors and len(winners) == 1 and len(losers) == n - 1
    assert stores[0].collector_lease_holder()[0] == f"racer-{winners[0]}"
    for s in stores:
        s.dispose()


# ---------------------------------------------------------------- crash safety
CHILD = textwrap.dedent("""
    import datetime as dt, os, sys, time
    sys.path.insert(0, {root!r})
    import numpy as np, pandas as pd
    from sqlalchemy import event
    from data.frame import make_frame
    from data.store import Store

    url, marker, hook = sys.argv[1], sys.argv[2], sys.argv[3]
    st = Store(url)
    st.create_schema()
    days = pd.date_range("2000-01-01 06:00", periods=4000, freq="D", tz="UTC")
    frame = pd.concat([make_frame(f"s{{i:02d}}", "D", days, np.linspace(1, 2, len(days))) for i in range(50)],
                      ignore_index=True)

    def before_commit(conn):
        # Every row is written and the transaction is still open: tell the parent, then hang.
        tmp = marker + ".tmp"
        with open(tmp, "w") as fh:
            fh.write(str(os.getpid()))
        os.replace(tmp, marker)
        time.sleep(600)

    if hook == "precommit":
        event.listen(st.engine, "commit", before_commit)
    else:
        open(marker, "w").close()
    st.upsert(frame, source="killed", known_at=dt.datetime.now(dt.timezone.utc))
    print("committed", flush=True)
""")


def _transaction_is_open(url: str) -> bool:
    """True if another connection holds an open write transaction on the store."""
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        con = sqlite3.connect(u.database, timeout=0, isolation_level=None)
        try:
            con.execute("BEGIN IMMEDIATE")            # fails at once if a writer holds the lock
        except sqlite3.OperationalError as exc:
            return "locked" in str(exc)
        finally:
            con.close()
        return False
    st = Store(url)
    try:
        with st.engine.connect() as conn:
            n = conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                  "AND state = 'idle in transaction' AND pid <> pg_backend_pid()")).scalar()
        return n >= 1
    finally:
        st.dispose()


@pytest.mark.slow
@pytest.mark.parametrize("when", ["precommit", "random"])
def test_writer_killed_mid_upsert_leaves_no_partial_rows(store_url, tmp_path, when):
    """SIGKILL a process in the middle of a 200k-row upsert: afterwards 0 rows, or all of them."""
    script = tmp_path / "child.py"
    script.write_text(CHILD.format(root=str(ROOT)))
    marker = tmp_path / "in-transaction"
    proc = subprocess.Popen([sys.executable, str(script), store_url, str(marker), when],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            if proc.poll() is not None:
                pytest.fail(f"writer exited early ({proc.returncode}): {proc.stderr.read()[-2000:]}")
            assert time.monotonic() < deadline, "writer never reached the upsert"
            time.sleep(0.02)
        if when == "precommit":
            assert proc.poll() is None
            assert _transaction_is_open(store_url), "the writer's transaction should be open"
        else:
            time.sleep(float(np.random.default_rng().uniform(0.1, 1.5)))  # somewhere in the upsert
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()

    st = Store(store_url)
    try:
        n = len(st.read())
        if when == "precommit":
            assert n == 0 and st.data_version() == 0
        else:
            assert n in (0, 200_000), f"partial upsert visible: {n} rows"
            assert st.data_version() == (1 if n else 0)
        # The dead writer's locks are gone: the next writer proceeds and sees a consistent store.
        r = st.upsert(frame("jgb_10y", ["2026-01-20"], [1.3]), source="mof", known_at=T0)
        assert r.inserted == 1
        assert len(st.read()) == n + 1
        st.acquire_collector_lease("after-crash", ttl=45, now=dt.datetime.now(dt.timezone.utc))
    finally:
        st.dispose()


# ---------------------------------------------------------------- lease: liveness and fencing
def _pg_end_lease_sessions(url: str) -> int:
    """End every session that holds a collector lease lock in this store's schema (what the
    server does when the holder's process dies, or what an operator's pg_terminate_backend does)."""
    st = Store(url)
    try:
        with st.engine.connect() as conn:
            n = conn.execute(text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_locks WHERE locktype = 'advisory' "
                "AND classid = 1668107347 AND objid = hashtext(current_schema())::oid AND granted")).scalar()
            conn.commit()
        return int(n)
    finally:
        st.dispose()


def test_old_lease_tables_get_the_holder_columns(store_url):
    from sqlalchemy import create_engine

    eng = create_engine(store_url)
    with eng.begin() as conn:    # the lease table as stores made before the holder identity have it
        conn.execute(text("CREATE TABLE collector_lease (id INTEGER PRIMARY KEY, owner VARCHAR(256), "
                          "acquired_ns BIGINT, seen_ns BIGINT)"))
        conn.execute(text("INSERT INTO collector_lease (id, owner, seen_ns) VALUES (1, 'old:pid1', 1000)"))
    eng.dispose()
    st = Store(store_url)
    try:
        st.create_schema()
        assert st.collector_lease_holder()[0] == "old:pid1"
        st.acquire_collector_lease("new:pid2", ttl=45, now=T0)      # expired long ago
        with st.engine.connect() as conn:
            row = conn.execute(text("SELECT host, pid FROM collector_lease")).one()
        assert row.pid == os.getpid() and row.host
    finally:
        st.dispose()


POSTGRES_ONLY = pytest.mark.parametrize("store_url", [pytest.param("postgres", marks=pytest.mark.postgres)],
                                        indirect=True)


@POSTGRES_ONLY
def test_postgres_sessions_carry_lock_and_idle_transaction_timeouts(store):
    from data.store import PG_SESSION

    with store.engine.connect() as conn:
        got = {k: conn.execute(text(f"SHOW {k}")).scalar() for k in PG_SESSION}
    assert got == PG_SESSION


@POSTGRES_ONLY
def test_a_holder_whose_database_session_ended_is_replaced_at_once_and_writes_nothing(store_url):
    """PostgreSQL ends a dead collector's session, and with it the lease lock: the next collector
    takes over at once although the row was renewed a second ago; were the old one still
    around, it may not write."""
    old, new = Store(store_url), Store(store_url)
    try:
        now = dt.datetime.now(dt.timezone.utc)
        old.acquire_collector_lease("old:pid1", ttl=45, now=now)
        with pytest.raises(CollectorAlreadyRunning):
            new.acquire_collector_lease("new:pid2", ttl=45, now=now + dt.timedelta(seconds=1))
        assert _pg_end_lease_sessions(store_url) == 1
        why = new.acquire_collector_lease("new:pid2", ttl=45, now=now + dt.timedelta(seconds=1))
        assert why and "session ended" in why
        with pytest.raises(WritesClosed):
            old.upsert(frame("jgb_10y", ["2026-01-20"], [1.3]), source="mof", known_at=T0)
        assert not old.renew_collector_lease("old:pid1", now + dt.timedelta(seconds=2))
        assert new.renew_collector_lease("new:pid2", now + dt.timedelta(seconds=2))
        assert old.data_version() == 0
        # A holder whose session was lost while nobody took over (a server restart) takes the
        # lock again at its next write and goes on.
        assert _pg_end_lease_sessions(store_url) == 1
        assert new.upsert(frame("jgb_10y", ["2026-01-20"], [1.3]), source="mof", known_at=T0).inserted == 1
        with pytest.raises(CollectorAlreadyRunning):
            old.acquire_collector_lease("old:pid1", ttl=45, now=now + dt.timedelta(seconds=3))
    finally:
        old.dispose()
        new.dispose()


def test_an_expired_holder_that_still_looks_alive_is_fenced(store_url):
    """A holder that stopped renewing (hung, SIGSTOP) but whose process — and on PostgreSQL its
    lease session — is still there: after the TTL the lease is taken; on PostgreSQL its session
    is ended, so it can neither keep the lock nor write."""
    hung, new = Store(store_url), Store(store_url)
    try:
        hung.acquire_collector_lease("hung:pid1", ttl=45, now=T0)
        with pytest.raises(CollectorAlreadyRunning):
            new.acquire_collector_lease("new:pid2", ttl=45, now=T0 + dt.timedelta(seconds=44))
        new.acquire_collector_lease("new:pid2", ttl=45, now=T0 + dt.timedelta(seconds=46))
        assert new.collector_lease_holder()[0] == "new:pid2"
        assert not hung.renew_collector_lease("hung:pid1", T0 + dt.timedelta(seconds=47))
        if hung.backend == "postgresql":
            with pytest.raises(WritesClosed):
                hung.set_meta("late", "write")
    finally:
        hung.dispose()
        new.dispose()
