"""Store benchmark: a 10-year backfill of 40 daily series and the steady-state operations.

    python bench/bench_store.py                 # SQLite (temp file), plus PostgreSQL if
                                                # CM_BENCH_PG_URL or CM_TEST_PG_URL is set
    python bench/bench_store.py --repeat 3      # best of 3 for each figure

Measures: backfill (~104k rows in one upsert), one new point per series (the collector's
steady state), a no-op re-upsert of the whole backfill (the daily overlap re-read), a changed
re-upsert of 1 % of the rows (restatements), the cache's full load and an incremental refresh.
PostgreSQL runs in a fresh schema that is dropped afterwards.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from data.cache import ObservationCache  # noqa: E402
from data.frame import make_frame  # noqa: E402
from data.store import Store  # noqa: E402

N_SERIES = 40
YEARS = 10


def backfill_frame(n_series: int = N_SERIES, years: int = YEARS, seed: int = 7) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    days = pd.bdate_range("2016-01-04", periods=years * 260)
    ts = (days + pd.Timedelta(hours=6)).tz_localize("UTC")
    parts = [make_frame(f"bench_{i:02d}", "D", ts, 1.0 + np.cumsum(rng.normal(0, 0.03, len(ts))))
             for i in range(n_series)]
    return pd.concat(parts, ignore_index=True)


def timed(fn, repeat: int = 1):
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def run(label: str, url: str, repeat: int) -> list[tuple[str, str, float, str]]:
    rows: list[tuple[str, str, float, str]] = []
    full = backfill_frame()
    now = dt.datetime.now(dt.timezone.utc)
    best = {}
    for _ in range(repeat):  # each repeat on an empty store, so the backfill is a real backfill
        st = Store(url)
        st.create_schema()
        _reset(st)
        t, r = timed(lambda: st.upsert(full, source="bench", known_at=now))
        best.setdefault("backfill", []).append((t, f"{r.inserted:,} inserted"))

        cache = ObservationCache(st)
        t, _ = timed(cache.refresh)
        best.setdefault("cache full load", []).append((t, f"{len(cache.observations):,} rows"))

        last = full.groupby("series_id")["ts"].max()
        nxt = pd.concat([make_frame(sid, "D", pd.DatetimeIndex([ts + pd.Timedelta(days=1)]), [1.5])
                         for sid, ts in last.items()], ignore_index=True)
        t, r = timed(lambda: st.upsert(nxt, source="bench", known_at=now))
        best.setdefault("incremental: +1 point/series", []).append((t, f"{r.inserted} inserted"))

        t, ok = timed(cache.refresh)
        best.setdefault("cache incremental refresh", []).append((t, f"{len(cache.observations):,} rows"))

        t, _ = timed(cache.refresh)
        best.setdefault("cache refresh, no change", []).append((t, "1 version query"))

        t, r = timed(lambda: st.upsert(full, source="bench", known_at=now))
        best.setdefault("no-op re-upsert (all rows)", []).append((t, f"{r.unchanged:,} unchanged"))

        changed = full.copy()
        changed.loc[::100, "value"] += 0.01
        t, r = timed(lambda: st.upsert(changed, source="bench", known_at=now))
        best.setdefault("re-upsert, 1% restated", []).append((t, f"{r.restated:,} restated"))

        t, df = timed(lambda: st.read())
        best.setdefault("read() all rows", []).append((t, f"{len(df):,} rows"))

        t, v = timed(lambda: [st.data_version() for _ in range(100)])
        best.setdefault("data_version() x100", []).append((t, "poll cost"))
        _reset(st)
        st.dispose()
    for op, runs in best.items():
        t, note = min(runs)
        rows.append((label, op, t, note))
    return rows


def _reset(st: Store) -> None:
    with st.engine.begin() as c:
        for tbl in ("observations", "source_health", "meta"):
            c.execute(text(f"DELETE FROM {tbl}"))
        c.execute(text("UPDATE counters SET value = 0"))
    if st.backend == "sqlite":
        with st.engine.connect() as c:
            c.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")


def pg_schema_url(base: str) -> tuple[str, callable]:
    u = make_url(base)
    if u.drivername in ("postgres", "postgresql"):
        u = u.set(drivername="postgresql+psycopg")
    schema = f"cm_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(u, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    q = dict(u.query)
    q["options"] = f"-csearch_path={schema}"

    def drop() -> None:
        with admin.connect() as c:
            c.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()

    return u.set(query=q).render_as_string(hide_password=False), drop


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(next(l for l in Path("/proc/meminfo").read_text().splitlines() if l.startswith("MemTotal")).split()[1])
        mem = f", {kb / 1024 / 1024:.1f} GiB RAM"
    except (OSError, StopIteration):
        pass
    return f"{os.cpu_count()} cores ({cpu}){mem}, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=1, help="best of N (each on an empty store)")
    args = ap.parse_args()
    print(f"machine: {machine()}")
    import sqlalchemy
    print(f"SQLAlchemy {sqlalchemy.__version__}, pandas {pd.__version__}, numpy {np.__version__}")
    print(f"data: {N_SERIES} series x {YEARS} years of business days = {len(backfill_frame()):,} rows\n")
    results = []
    with tempfile.TemporaryDirectory() as d:
        results += run("SQLite (WAL, file)", f"sqlite:///{d}/bench.db", args.repeat)
    pg = os.environ.get("CM_BENCH_PG_URL") or os.environ.get("CM_TEST_PG_URL")
    if pg:
        url, drop = pg_schema_url(pg)
        try:
            st = Store(url)
            with st.engine.connect() as c:
                ver = c.execute(text("SHOW server_version")).scalar()
            st.dispose()
            results += run(f"PostgreSQL {ver.split()[0]}", url, args.repeat)
        finally:
            drop()
    else:
        print("(PostgreSQL skipped: set CM_BENCH_PG_URL or CM_TEST_PG_URL)\n")
    w = max(len(r[1]) for r in results)
    print(f"| backend | operation{' ' * (w - 9)} | seconds | result |")
    print(f"|---|{'-' * (w + 2)}|---:|---|")
    for label, op, t, note in results:
        print(f"| {label} | {op.ljust(w)} | {t:7.3f} | {note} |")


if __name__ == "__main__":
    main()
