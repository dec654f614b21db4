"""The durable store: observations, source health, meta and the collector lease.

SQLAlchemy Core (no ORM sessions); the same schema and the same statements run on SQLite
(one file, WAL) and PostgreSQL (`postgresql+psycopg://…`).

Timestamps are stored as BIGINT nanoseconds since the Unix epoch, UTC (columns `*_ns`):
exact for pandas' datetime64[ns] on both databases, no driver time-zone conversions, cheap
integer comparisons and indexes. `read()` turns them back into datetime64[ns, UTC].

Upsert rules (key = series_id, freq, ts):
- new key → inserted;
- stored value differs and new priority >= stored priority → overwritten, `restatements` + 1;
- stored value differs and new priority < stored → skipped (a fallback source, written with a
  lower priority, never overwrites the primary's value);
- same value → unchanged; if the new priority is higher, the row's source/priority are taken
  over by the higher-priority source (no restatement counted, but the data version moves since
  the shown source changed) so a later fallback value cannot overwrite a confirmed one.

Writes:
- `upsert` loads the frame into a temporary staging table (COPY on PostgreSQL, executemany on
  SQLite), classifies every row with one join, then applies one UPDATE…FROM and one
  INSERT…SELECT, all in one transaction. No statement per row: a 10-year backfill of 40 series
  takes seconds.
- Every changing write bumps a global data version (row `data_version` of `counters`) in the
  same transaction and stamps the rows it changed with it. Readers poll `data_version()` and load
  only `version > cached` rows. The bump happens first in the transaction, so its row lock on
  PostgreSQL (and BEGIN IMMEDIATE on SQLite) orders writers: versions commit in order.
- SQLite write transactions start with BEGIN IMMEDIATE (take the write lock up front, waiting
  on busy_timeout), so two writers never deadlock on a read→write lock upgrade.
- PostgreSQL sessions carry lock, statement and idle-in-transaction timeouts (`PG_SESSION`): a
  writer that was killed, hangs or stopped mid-transaction cannot hold row locks others wait on
  for long, and a waiter gives up (its cycle fails and retries) instead of queueing forever.
- Every write passes a gate (`close_writes`): once the collector stops or loses its lease, this
  process writes nothing more — a write already in flight finishes (one transaction), any later
  one raises `WritesClosed` — so releasing the lease never opens a two-writer window.

Collector lease (one writer per store): a row naming the holder (owner, host, pid, boot id, pid
namespace, process start) and when it was last renewed. A holder is presumed alive until its
lease is `ttl` seconds old, unless it is provably gone: on PostgreSQL the holder keeps a
session-level advisory lock on a dedicated connection for its lifetime, which the server drops
the moment that process dies; on SQLite (one host) `data.lease.holder_gone` checks the pid.
"""
from __future__ import annotations

import datetime as dt
import logging
import sqlite3
import threading
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np
import pandas as pd
from sqlalchemy import (
    BigInteger, Column, Connection, Double, Integer, MetaData, String, Table, Text, and_, case,
    create_engine, event, func, literal, or_, select, text, update,
)
from sqlalchemy.dialects import postgresql as pg_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect
from sqlalchemy.engine import URL, Engine, make_url

from data import lease
from data.frame import validate_frame
from errors import CollectorAlreadyRunning, WritesClosed

__all__ = ["Store", "UpsertResult", "SourceHealth", "READ_COLUMNS", "ERROR_TEXT_MAX", "PG_SESSION",
           "empty_observations"]

log = logging.getLogger("contagion.store")

ERROR_TEXT_MAX = 500
READ_COLUMNS = ["series_id", "freq", "ts", "value", "source", "known_at", "restatements", "version",
                "quality", "quality_note"]
_SQLITE_BUSY_MS = 15000
# Session settings of every PostgreSQL connection. Transactions here are short (a 10-year backfill
# upsert takes seconds), so: a statement waits at most 20 s for a lock, runs at most 2 min, and a
# session left idle inside a transaction for 15 s (its process hung or was stopped) is ended by
# the server, which releases its locks before the waiters' lock_timeout runs out.
PG_SESSION = {"lock_timeout": "20s", "statement_timeout": "2min", "idle_in_transaction_session_timeout": "15s"}
# Server-side keep-alives on the lease session: a holder whose host vanished (no FIN ever comes)
# loses its advisory lock within about a minute instead of the kernel's two hours.
_PG_LEASE_KEEPALIVE = {"tcp_keepalives_idle": "20", "tcp_keepalives_interval": "5", "tcp_keepalives_count": "4"}

metadata = MetaData()

observations = Table(
    "observations", metadata,
    Column("series_id", String(64), primary_key=True),
    Column("freq", String(1), primary_key=True),
    Column("ts_ns", BigInteger, primary_key=True),          # UTC, ns since epoch
    Column("value", Double, nullable=False),
    Column("source", String(32), nullable=False),
    Column("priority", Integer, nullable=False),
    Column("known_at_ns", BigInteger, nullable=False),
    Column("restatements", Integer, nullable=False, default=0),
    Column("version", BigInteger, nullable=False, index=True),  # data version of the last change
    # The data-quality gate's verdict (analytics/quality.py: ok | gap | splice | unconfirmed |
    # rejected; NULL = not judged yet) and why, written by the collector beside the value.
    Column("quality", String(16)),
    Column("quality_note", Text),
)

# Second-source values the gate compares against (e.g. FRED DGS10 for the Treasury par 10Y):
# the fallback publisher's value for a key the primary owns is kept here, not in observations.
reference_values = Table(
    "reference_values", metadata,
    Column("series_id", String(64), primary_key=True),
    Column("ts_ns", BigInteger, primary_key=True),
    Column("source", String(32), primary_key=True),
    Column("value", Double, nullable=False),
    Column("known_at_ns", BigInteger, nullable=False),
)

meta_table = Table(
    "meta", metadata,
    Column("key", String(128), primary_key=True),
    Column("value", Text, nullable=False),
)

counters = Table(
    "counters", metadata,
    Column("name", String(64), primary_key=True),
    Column("value", BigInteger, nullable=False),
)

source_health = Table(
    "source_health", metadata,
    Column("source", String(64), primary_key=True),
    Column("last_attempt_ns", BigInteger),
    Column("last_success_ns", BigInteger),
    Column("last_error", Text),
    Column("last_error_at_ns", BigInteger),
    Column("consecutive_failures", Integer, nullable=False, default=0),
    Column("rows_written_total", BigInteger, nullable=False, default=0),
    Column("rows_last", Integer, nullable=False, default=0),
    # Rows the last cycle dropped (a bad row never stops a source) and the latest reason.
    Column("rejected_last", Integer, nullable=False, default=0),
    Column("rejected_total", BigInteger, nullable=False, default=0),
    Column("last_rejection", Text),
)

# Columns added after the first release: create_schema adds them to an existing database.
_ADDED_COLUMNS = {
    "observations": (("quality", "VARCHAR(16)"), ("quality_note", "TEXT")),
    "source_health": (("rejected_last", "INTEGER NOT NULL DEFAULT 0"), ("rejected_total", "BIGINT NOT NULL DEFAULT 0"),
                      ("last_rejection", "TEXT")),
}

collector_lease = Table(
    "collector_lease", metadata,
    Column("id", Integer, primary_key=True),   # always 1: one lease per store
    Column("owner", String(256)),
    Column("acquired_ns", BigInteger),
    Column("seen_ns", BigInteger),
    # Who holds it (data.lease.ProcessIdentity): diagnostics, and the liveness check on one host.
    Column("host", String(255)),
    Column("pid", Integer),
    Column("boot_id", String(64)),
    Column("pid_ns", String(64)),
    Column("pid_start", BigInteger),
)
_LEASE_IDENTITY = ("host", "pid", "boot_id", "pid_ns", "pid_start")

# Staging table for upserts: only an expression object; created per transaction as TEMP.
_stage = Table(
    "cm_stage", MetaData(),
    Column("series_id", String(64)), Column("freq", String(1)),
    Column("ts_ns", BigInteger), Column("value", Double),
    Column("quality", String(16)), Column("quality_note", Text),
)

_PG_ADVISORY_SCHEMA_LOCK = 0x636D5343  # "cmSC": serialises concurrent create_schema on PG
# "cmLS": the collector lease's session advisory lock, keyed (this, hashtext(current_schema())) so
# stores in different schemas of one database have their own lease.
_PG_LEASE_LOCK = 0x636D4C53
_PG_LEASE_KEY = f"{_PG_LEASE_LOCK}, hashtext(current_schema())"


@dataclass(frozen=True)
class UpsertResult:
    inserted: int = 0
    restated: int = 0    # existing key, different value, priority >= stored: overwritten
    unchanged: int = 0   # same value already stored (a higher priority may take ownership)
    skipped: int = 0     # lower priority than the stored row: a fallback never overwrites

    @property
    def changed(self) -> int:
        return self.inserted + self.restated


@dataclass(frozen=True)
class SourceHealth:
    source: str
    last_attempt: dt.datetime | None
    last_success: dt.datetime | None
    last_error: str | None
    last_error_at: dt.datetime | None
    consecutive_failures: int
    rows_written_total: int
    rows_last: int
    rejected_last: int = 0
    rejected_total: int = 0
    last_rejection: str | None = None


def _clip(msg: str | None) -> str | None:
    if msg is None:
        return None
    return msg if len(msg) <= ERROR_TEXT_MAX else msg[: ERROR_TEXT_MAX - 1] + "…"


def _to_ns(at: dt.datetime | pd.Timestamp) -> int:
    ts = pd.Timestamp(at)
    if ts.tz is None:
        raise ValueError(f"naive datetime {at!r}: the store only takes UTC-aware instants")
    return int(ts.tz_convert("UTC").as_unit("ns").value)


def _from_ns(ns: int | None) -> dt.datetime | None:
    if ns is None:
        return None
    return pd.Timestamp(int(ns), unit="ns", tz="UTC").to_pydatetime()


def _normalise_url(url: str | URL) -> URL:
    u = make_url(url)
    if u.drivername in ("postgres", "postgresql"):
        u = u.set(drivername="postgresql+psycopg")  # one PG driver for the whole project
    return u


class Store:
    """One database: SQLite file or PostgreSQL. Thread-safe (pooled connections)."""

    def __init__(self, url: str | URL) -> None:
        self.url = _normalise_url(url)
        self.backend = self.url.get_backend_name()
        if self.backend not in ("sqlite", "postgresql"):
            raise ValueError(f"unsupported database backend {self.backend!r} in {self.safe_url}")
        if self.backend == "sqlite":
            db = self.url.database
            if db and db != ":memory:" and not db.startswith("file:"):
                Path(db).parent.mkdir(parents=True, exist_ok=True)
            self.engine: Engine = create_engine(self.url)
            event.listen(self.engine, "connect", _sqlite_on_connect)
            event.listen(self.engine, "begin", _sqlite_on_begin)
        else:
            self.engine = create_engine(self.url, pool_pre_ping=True, pool_size=5, max_overflow=5)
            event.listen(self.engine, "connect", _pg_on_connect)
        self._schema_ok = False
        self._schema_lock = threading.Lock()
        self._gate = _WriteGate(check=self._check_lease_session)
        # PostgreSQL: the dedicated connection that holds the lease's advisory lock, for whom it
        # holds it, and the owner this Store holds the lease for (its writes need that lock).
        self._lease_conn = None
        self._lease_for: str | None = None
        self._lease_owner: str | None = None
        self._lease_mutex = threading.RLock()

    @classmethod
    def sqlite_default(cls, data_dir: str | Path) -> "Store":
        return cls(f"sqlite:///{Path(data_dir).resolve() / 'contagion.db'}")

    @property
    def safe_url(self) -> str:
        return self.url.render_as_string(hide_password=True)

    def __repr__(self) -> str:
        return f"Store({self.safe_url})"

    def dispose(self) -> None:
        with self._lease_mutex:
            self._drop_lease_conn()      # ends the lease session: its advisory lock goes with it
            self._lease_owner = None
        self.engine.dispose()

    # ------------------------------------------------------------------ transactions
    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction: BEGIN IMMEDIATE on SQLite, plain BEGIN on PostgreSQL. Public so
        tables that live beside the observations (alerts) write the same way. Raises
        WritesClosed once `close_writes` was called."""
        with self._gate.permit(), self._transaction() as conn:
            yield conn

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            conn.execution_options(cm_immediate=True)
            with conn.begin():
                yield conn

    def write_permit(self):
        """Hold the write gate across several steps that must happen together or not at all (the
        alert service: persist, then notify): `close_writes` waits for it. Re-entrant; raises
        WritesClosed once writes are closed."""
        return self._gate.permit()

    def close_writes(self, reason: str, *, timeout: float | None = None) -> bool:
        """From now on every write of this Store raises WritesClosed; waits up to `timeout` s for
        the writes in flight. True when none is left (the lease may then be released safely)."""
        return self._gate.close(reason, timeout)

    def open_writes(self) -> None:
        """Let writes through again (a collector that takes the lease on this Store)."""
        self._gate.open()

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            yield conn

    # ------------------------------------------------------------------ schema
    def create_schema(self) -> None:
        """Create missing tables and seed rows; idempotent and safe to race.

        Cheap after the first success on this instance (web readers call it on every poll):
        no transaction is opened again.
        """
        if self._schema_ok:
            return
        with self._schema_lock:
            if self._schema_ok:
                return
            with self._transaction() as conn:
                if self.backend == "postgresql":
                    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_ADVISORY_SCHEMA_LOCK})
                metadata.create_all(conn, checkfirst=True)
                _add_missing_columns(conn)
                self._add_lease_identity(conn)
                conn.execute(self.insert(counters).values(name="data_version", value=0)
                             .on_conflict_do_nothing(index_elements=["name"]))
                conn.execute(self.insert(collector_lease).values(id=1)
                             .on_conflict_do_nothing(index_elements=["id"]))
            self._schema_ok = True
        log.debug("schema ready in %s", self.safe_url)

    def _add_lease_identity(self, conn: Connection) -> None:
        """Stores made before the lease recorded its holder's identity get the columns (the
        schema lock / BEGIN IMMEDIATE serialises racing migrations)."""
        if self.backend == "postgresql":
            have = set(conn.execute(text(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND table_name = 'collector_lease'")).scalars())
        else:
            have = {r[1] for r in conn.exec_driver_sql("PRAGMA table_info(collector_lease)")}
        dialect = conn.dialect
        for name in _LEASE_IDENTITY:
            if name not in have:
                col = collector_lease.c[name]
                conn.exec_driver_sql(f"ALTER TABLE collector_lease ADD COLUMN {name} "
                                     f"{col.type.compile(dialect=dialect)}")

    def _ready(self) -> None:
        if not self._schema_ok:  # a fresh database works without an explicit create_schema()
            self.create_schema()

    def insert(self, table: Table):
        """INSERT with the dialect's ON CONFLICT support (SQLite or PostgreSQL)."""
        return (pg_dialect.insert if self.backend == "postgresql" else sqlite_dialect.insert)(table)

    # ------------------------------------------------------------------ observations
    def upsert(self, frame: pd.DataFrame, *, source: str, known_at: dt.datetime,
               priority: int = 100) -> UpsertResult:
        """Write a standard frame in one transaction; see the module docstring for the rules.

        Raises MalformedPayload (nothing written) when the frame fails `validate_frame`.
        """
        f = validate_frame(frame)
        if f.empty:
            return UpsertResult()
        self._ready()
        known_ns = _to_ns(known_at)
        if "quality" in frame.columns:   # the gate's verdicts travel with the rows they judge
            q = frame[["series_id", "freq", "ts", "quality"] + (["quality_note"] if "quality_note" in frame else [])].copy()
            q["ts"] = pd.DatetimeIndex(q["ts"]).tz_convert("UTC").as_unit("ns")
            f = f.merge(q, on=["series_id", "freq", "ts"], how="left")
        quality = f["quality"].tolist() if "quality" in f else [None] * len(f)
        notes = f["quality_note"].tolist() if "quality_note" in f else [None] * len(f)
        rows = list(zip(f["series_id"].astype(str).tolist(), f["freq"].astype(str).tolist(),
                        f["ts"].to_numpy(dtype="datetime64[ns]").view("int64").tolist(),
                        f["value"].to_numpy(dtype="float64").tolist(),
                        [q if isinstance(q, str) else None for q in quality],
                        [n if isinstance(n, str) else None for n in notes]))
        o, s = observations, _stage
        key = and_(o.c.series_id == s.c.series_id, o.c.freq == s.c.freq, o.c.ts_ns == s.c.ts_ns)
        with self._gate.permit(), self.engine.connect() as conn:
            conn.execution_options(cm_immediate=True)
            with conn.begin() as trans:
                # Version first: on PG this row lock orders concurrent writers.
                version = conn.execute(
                    update(counters).where(counters.c.name == "data_version")
                    .values(value=counters.c.value + 1).returning(counters.c.value)).scalar_one()
                self._load_stage(conn, rows)
                new = o.c.series_id.is_(None)
                counts = conn.execute(select(
                    func.count().filter(new),
                    func.count().filter(and_(~new, o.c.value != s.c.value, o.c.priority <= priority)),
                    func.count().filter(and_(~new, o.c.value == s.c.value)),
                    func.count().filter(and_(~new, o.c.value != s.c.value, o.c.priority > priority)),
                    func.count().filter(and_(~new, o.c.value == s.c.value, o.c.priority < priority)),
                ).select_from(s.outerjoin(o, key))).one()
                inserted, restated, unchanged, skipped, promoted = (int(x) for x in counts)
                if inserted + restated + promoted == 0:
                    trans.rollback()  # nothing to write: no version bump either
                    return UpsertResult(0, 0, unchanged, skipped)
                stamp = dict(source=source, priority=priority, known_at_ns=known_ns, version=version)
                if restated:
                    conn.execute(update(o).where(key, o.c.value != s.c.value, o.c.priority <= priority)
                                 .values(value=s.c.value, restatements=o.c.restatements + 1,
                                         quality=s.c.quality, quality_note=s.c.quality_note, **stamp))
                if promoted:
                    # Same value from a higher priority (primary confirms a fallback's value): the
                    # primary owns the row from now on, so a later fallback cannot overwrite it.
                    conn.execute(update(o).where(key, o.c.value == s.c.value, o.c.priority < priority)
                                 .values(**stamp))
                if inserted:
                    ins = select(s.c.series_id, s.c.freq, s.c.ts_ns, s.c.value,
                                 literal(source, String), literal(priority, Integer), literal(known_ns, BigInteger),
                                 literal(0, Integer), literal(version, BigInteger), s.c.quality, s.c.quality_note,
                                 ).select_from(s.outerjoin(o, key)).where(new)
                    conn.execute(o.insert().from_select(
                        ["series_id", "freq", "ts_ns", "value", "source", "priority", "known_at_ns",
                         "restatements", "version", "quality", "quality_note"], ins))
                conn.execute(text("DROP TABLE cm_stage"))
        return UpsertResult(inserted, restated, unchanged, skipped)

    def _load_stage(self, conn: Connection, rows: list[tuple]) -> None:
        if self.backend == "postgresql":
            conn.exec_driver_sql("CREATE TEMP TABLE cm_stage (series_id text NOT NULL, freq text NOT NULL, "
                                 "ts_ns bigint NOT NULL, value double precision NOT NULL, quality text, "
                                 "quality_note text) ON COMMIT DROP")
            cur = conn.connection.driver_connection.cursor()
            with cur.copy("COPY cm_stage (series_id, freq, ts_ns, value, quality, quality_note) FROM STDIN") as cp:
                for r in rows:
                    cp.write_row(r)
            if len(rows) > 1000:
                conn.exec_driver_sql("ANALYZE cm_stage")  # temp tables have no stats: plan the join well
        else:
            conn.exec_driver_sql("DROP TABLE IF EXISTS temp.cm_stage")
            conn.exec_driver_sql("CREATE TEMP TABLE cm_stage (series_id TEXT NOT NULL, freq TEXT NOT NULL, "
                                 "ts_ns INTEGER NOT NULL, value REAL NOT NULL, quality TEXT, quality_note TEXT)")
            conn.exec_driver_sql("INSERT INTO cm_stage VALUES (?, ?, ?, ?, ?, ?)", rows)

    def read(self, *, series_ids: Iterable[str] | None = None, freq: str | None = None,
             start: dt.datetime | pd.Timestamp | None = None, end: dt.datetime | pd.Timestamp | None = None,
             since_version: int | None = None) -> pd.DataFrame:
        """Observations as a long frame (READ_COLUMNS), sorted by series_id, freq, ts.

        `start`/`end` are inclusive UTC instants; `since_version` keeps rows changed after it.
        """
        self._ready()
        o = observations
        q = select(o.c.series_id, o.c.freq, o.c.ts_ns, o.c.value, o.c.source, o.c.known_at_ns,
                   o.c.restatements, o.c.version, o.c.quality, o.c.quality_note)
        if series_ids is not None:
            ids = list(series_ids)
            if not ids:
                return empty_observations()
            q = q.where(o.c.series_id.in_(ids))
        if freq is not None:
            q = q.where(o.c.freq == freq)
        if start is not None:
            q = q.where(o.c.ts_ns >= _to_ns(start))
        if end is not None:
            q = q.where(o.c.ts_ns <= _to_ns(end))
        if since_version is not None:
            q = q.where(o.c.version > since_version)
        q = q.order_by(o.c.series_id, o.c.freq, o.c.ts_ns)
        with self._read() as conn:
            rows = conn.execute(q).all()
        if not rows:
            return empty_observations()
        cols = list(zip(*rows))
        return pd.DataFrame({
            "series_id": pd.array(cols[0], dtype=object),
            "freq": pd.array(cols[1], dtype=object),
            "ts": pd.to_datetime(np.fromiter(cols[2], dtype="int64", count=len(rows)), unit="ns", utc=True),
            "value": np.fromiter(cols[3], dtype="float64", count=len(rows)),
            "source": pd.array(cols[4], dtype=object),
            "known_at": pd.to_datetime(np.fromiter(cols[5], dtype="int64", count=len(rows)), unit="ns", utc=True),
            "restatements": np.fromiter(cols[6], dtype="int64", count=len(rows)),
            "version": np.fromiter(cols[7], dtype="int64", count=len(rows)),
            "quality": pd.array(cols[8], dtype=object),
            "quality_note": pd.array(cols[9], dtype=object),
        })

    def set_quality(self, verdicts: pd.DataFrame) -> int:
        """Store the gate's verdicts (series_id, freq, ts, quality, quality_note) on existing rows
        whose verdict differs; one transaction, one data-version bump (readers reload those rows).
        Returns the number of rows changed."""
        if verdicts is None or verdicts.empty:
            return 0
        self._ready()
        o = observations
        ts_ns = pd.DatetimeIndex(verdicts["ts"]).tz_convert("UTC").as_unit("ns").asi8
        params = [{"k_sid": str(a), "k_freq": str(b), "k_ts": int(c), "q": q if isinstance(q, str) else None,
                   "n": n if isinstance(n, str) else None}
                  for a, b, c, q, n in zip(verdicts["series_id"], verdicts["freq"], ts_ns, verdicts["quality"],
                                           verdicts.get("quality_note", pd.Series([None] * len(verdicts))))]
        from sqlalchemy import bindparam

        with self.write() as conn:
            version = conn.execute(
                update(counters).where(counters.c.name == "data_version")
                .values(value=counters.c.value + 1).returning(counters.c.value)).scalar_one()
            stmt = (update(o).where(o.c.series_id == bindparam("k_sid"), o.c.freq == bindparam("k_freq"),
                                    o.c.ts_ns == bindparam("k_ts"))
                    .values(quality=bindparam("q"), quality_note=bindparam("n"), version=version))
            res = conn.execute(stmt, params)
        return int(res.rowcount or 0) if res.rowcount is not None and res.rowcount >= 0 else len(params)

    def upsert_references(self, frame: pd.DataFrame, *, source: str, known_at: dt.datetime) -> int:
        """Keep a second source's values (series_id, ts, value) for the gate; newest value wins."""
        if frame is None or frame.empty:
            return 0
        self._ready()
        ts_ns = pd.DatetimeIndex(frame["ts"]).tz_convert("UTC").as_unit("ns").asi8
        known = _to_ns(known_at)
        rows = [{"series_id": str(a), "ts_ns": int(b), "source": source, "value": float(v), "known_at_ns": known}
                for a, b, v in zip(frame["series_id"], ts_ns, frame["value"].to_numpy(dtype="float64"))]
        stmt = self.insert(reference_values)
        stmt = stmt.on_conflict_do_update(index_elements=["series_id", "ts_ns", "source"],
                                          set_={"value": stmt.excluded.value, "known_at_ns": stmt.excluded.known_at_ns},
                                          where=reference_values.c.value != stmt.excluded.value)
        with self.write() as conn:
            conn.execute(stmt, rows)
        return len(rows)

    def read_references(self, *, since_known: int | None = None) -> pd.DataFrame:
        """Second-source values (series_id, ts, value, source, known_at), optionally only those
        written after `since_known` (ns)."""
        self._ready()
        r = reference_values.c
        q = select(r.series_id, r.ts_ns, r.value, r.source, r.known_at_ns).order_by(r.series_id, r.ts_ns)
        if since_known is not None:
            q = q.where(r.known_at_ns > since_known)
        with self._read() as conn:
            rows = conn.execute(q).all()
        cols = list(zip(*rows)) if rows else [[]] * 5
        return pd.DataFrame({
            "series_id": pd.array(cols[0], dtype=object),
            "ts": pd.to_datetime(np.asarray(cols[1], dtype="int64"), unit="ns", utc=True),
            "value": np.asarray(cols[2], dtype="float64"),
            "source": pd.array(cols[3], dtype=object),
            "known_at": pd.to_datetime(np.asarray(cols[4], dtype="int64"), unit="ns", utc=True),
        })

    def data_version(self) -> int:
        """The version of the last changing write (0: never written). One indexed read."""
        self._ready()
        with self._read() as conn:
            v = conn.execute(select(counters.c.value).where(counters.c.name == "data_version")).scalar()
        return int(v or 0)

    def last_ts(self) -> dict[tuple[str, str], pd.Timestamp]:
        """Latest stored ts per (series_id, freq): where incremental fetches resume."""
        self._ready()
        o = observations
        with self._read() as conn:
            rows = conn.execute(select(o.c.series_id, o.c.freq, func.max(o.c.ts_ns))
                                .group_by(o.c.series_id, o.c.freq)).all()
        return {(sid, fq): pd.Timestamp(int(ns), unit="ns", tz="UTC") for sid, fq, ns in rows}

    # ------------------------------------------------------------------ source health
    def _health_upsert(self, source: str, values: dict, on_conflict: dict) -> None:
        self._ready()
        stmt = self.insert(source_health).values(source=source, **values)
        stmt = stmt.on_conflict_do_update(index_elements=["source"], set_=on_conflict)
        with self.write() as conn:
            conn.execute(stmt)

    def record_attempt(self, source: str, at: dt.datetime) -> None:
        ns = _to_ns(at)
        self._health_upsert(source, {"last_attempt_ns": ns}, {"last_attempt_ns": ns})

    def record_success(self, source: str, at: dt.datetime, rows: int, *, rejected: int = 0,
                       last_rejection: str | None = None) -> None:
        """A cycle that worked: rows written, and the rows it dropped (bad rows) with a reason."""
        ns, h = _to_ns(at), source_health.c
        why = _clip(last_rejection) if rejected else None
        values = {"last_attempt_ns": ns, "last_success_ns": ns, "consecutive_failures": 0,
                  "rows_written_total": int(rows), "rows_last": int(rows),
                  "rejected_last": int(rejected), "rejected_total": int(rejected), "last_rejection": why}
        update_ = {"last_success_ns": ns, "consecutive_failures": 0,
                   "rows_written_total": h.rows_written_total + int(rows), "rows_last": int(rows),
                   "rejected_last": int(rejected), "rejected_total": h.rejected_total + int(rejected)}
        if rejected:
            update_["last_rejection"] = why
        self._health_upsert(source, values, update_)

    def record_failure(self, source: str, at: dt.datetime, error: str) -> None:
        ns, h = _to_ns(at), source_health.c
        msg = _clip(str(error))
        self._health_upsert(
            source,
            {"last_attempt_ns": ns, "last_error": msg, "last_error_at_ns": ns, "consecutive_failures": 1},
            {"last_error": msg, "last_error_at_ns": ns, "consecutive_failures": h.consecutive_failures + 1},
        )

    def health(self) -> list[SourceHealth]:
        self._ready()
        h = source_health.c
        with self._read() as conn:
            rows = conn.execute(select(source_health).order_by(h.source)).all()
        return [SourceHealth(source=r.source, last_attempt=_from_ns(r.last_attempt_ns),
                             last_success=_from_ns(r.last_success_ns), last_error=r.last_error,
                             last_error_at=_from_ns(r.last_error_at_ns),
                             consecutive_failures=int(r.consecutive_failures or 0),
                             rows_written_total=int(r.rows_written_total or 0), rows_last=int(r.rows_last or 0),
                             rejected_last=int(r.rejected_last or 0), rejected_total=int(r.rejected_total or 0),
                             last_rejection=r.last_rejection)
                for r in rows]

    # ------------------------------------------------------------------ meta
    def get_meta(self, key: str) -> str | None:
        self._ready()
        with self._read() as conn:
            return conn.execute(select(meta_table.c.value).where(meta_table.c.key == key)).scalar()

    def set_meta(self, key: str, value: str) -> None:
        self._ready()
        stmt = self.insert(meta_table).values(key=key, value=str(value))
        stmt = stmt.on_conflict_do_update(index_elements=["key"], set_={"value": stmt.excluded.value})
        with self.write() as conn:
            conn.execute(stmt)

    def reset_data(self) -> int:
        """Empty a disposable store (demo, replay) before a fresh run; returns rows removed.

        Deletes observations, source health and collector cursors in one transaction, bumps the
        data version and changes the store `epoch`, so readers' caches reload from scratch
        instead of merging into rows that no longer exist.
        """
        self._ready()
        with self.write() as conn:
            removed = conn.execute(observations.delete()).rowcount or 0
            conn.execute(reference_values.delete())
            conn.execute(source_health.delete())
            conn.execute(meta_table.delete().where(or_(meta_table.c.key.like("cursor:%"),
                                                        meta_table.c.key.like("progress:%"),
                                                        meta_table.c.key.like("alerts:%"))))
            conn.execute(update(counters).where(counters.c.name == "data_version")
                         .values(value=counters.c.value + 1))
            stmt = self.insert(meta_table).values(key="epoch", value=uuid.uuid4().hex)
            conn.execute(stmt.on_conflict_do_update(index_elements=["key"], set_={"value": stmt.excluded.value}))
        return int(removed)

    def prune_intraday(self, keep: dt.timedelta) -> int:
        """Delete intraday bars older than `keep` before their series' newest bar; returns rows
        removed. Daily closes are never pruned. The data version does not move: no reader needs
        these rows again (their caches drop them by the same rule, see ObservationCache)."""
        self._ready()
        o = observations
        newer = observations.alias("newer")
        newest = (select(func.max(newer.c.ts_ns))
                  .where(newer.c.series_id == o.c.series_id, newer.c.freq == "I")
                  .scalar_subquery())
        keep_ns = int(keep.total_seconds() * 1e9)
        with self.write() as conn:
            removed = conn.execute(o.delete().where(o.c.freq == "I", o.c.ts_ns < newest - keep_ns)).rowcount or 0
        if removed:
            log.info("pruned %d intraday bars older than %s before each series' newest", removed, keep)
        return int(removed)

    # ------------------------------------------------------------------ collector lease
    def acquire_collector_lease(self, owner: str, *, ttl: float, now: dt.datetime,
                                holder: lease.ProcessIdentity | None = None) -> str | None:
        """Take the one-writer lease, or raise CollectorAlreadyRunning naming the holder.

        Taken when it is free, already ours, not renewed for `ttl` seconds, or its holder is
        provably gone: on PostgreSQL this Store's lease session gets the advisory lock every
        holder keeps for its lifetime (the server dropped it when the holder died); on SQLite the
        holder ran on this host and its process is gone (`data.lease.holder_gone`). Returns why a
        live-looking lease was taken over (None when it was free, expired or ours).

        The row changes by one conditional UPDATE on the row as it was read (compare and set):
        atomic on both backends, so two racers never both win. `holder` is who we are (default:
        this process).
        """
        self._ready()
        me = holder or lease.this_process()
        now_ns = _to_ns(now)
        row = self._lease_row()
        free = row.owner is None or row.owner == owner
        expired = not free and (row.seen_ns is None or row.seen_ns < now_ns - int(ttl * 1e9))
        reason = None
        if self.backend == "postgresql":
            if not self._pg_lock(owner):
                if not expired or not self._pg_fence(owner):
                    self._refuse(owner, ttl, now_ns)
            elif not free and not expired and row.host is None:
                # A holder from before the lease lock (no identity recorded): only the TTL tells.
                self._pg_unlock(owner)
                self._refuse(owner, ttl, now_ns)
            elif not free and not expired:
                reason = "its database session ended (the server released its lease lock)"
        elif not free and not expired:
            reason = lease.holder_gone(_identity(row), me)
            if reason is None:
                self._refuse(owner, ttl, now_ns)
        l = collector_lease.c
        with self._transaction() as conn:
            res = conn.execute(
                update(collector_lease)
                .where(l.id == 1, l.owner.is_not_distinct_from(row.owner), l.seen_ns.is_not_distinct_from(row.seen_ns))
                .values(owner=owner, seen_ns=now_ns,
                        acquired_ns=case((l.owner == owner, l.acquired_ns), else_=now_ns),
                        host=me.host, pid=me.pid, boot_id=me.boot_id, pid_ns=me.pid_ns, pid_start=me.start))
        if res.rowcount != 1:  # another collector changed the row since we read it: it won
            if self.backend == "postgresql":
                self._pg_unlock(owner)
            self._refuse(owner, ttl, now_ns)
        if self.backend == "postgresql":
            self._lease_owner = owner
        if reason or expired:
            log.warning("collector lease taken over by %s from %s: %s", owner, row.owner,
                        reason or f"not renewed for more than {ttl:g} s")
        else:
            log.info("collector lease taken by %s", owner)
        return reason

    def _refuse(self, owner: str, ttl: float, now_ns: int) -> None:
        row = self._lease_row()
        if row.owner is None:  # released between our look and now: the next try takes it
            raise CollectorAlreadyRunning(
                f"another collector is taking or leaving the lease of {self.safe_url} right now; retry")
        seen = _from_ns(row.seen_ns)
        age = (now_ns - int(row.seen_ns)) / 1e9 if row.seen_ns is not None else float("nan")
        raise CollectorAlreadyRunning(
            f"another collector already writes {self.safe_url}: {row.owner}, last seen "
            f"{seen.isoformat() if seen else '?'} ({age:.0f} s ago; its lease expires after {ttl:g} s "
            "without renewal, or as soon as its process is gone). Stop it, or run this process as a "
            "web reader only.")

    def renew_collector_lease(self, owner: str, now: dt.datetime) -> bool:
        """Refresh our lease; False if another collector took it over (we must stop writing)."""
        self._ready()
        if self.backend == "postgresql" and not self._pg_still_locked(owner):
            return False
        l = collector_lease.c
        with self._transaction() as conn:
            res = conn.execute(update(collector_lease).where(l.id == 1, l.owner == owner)
                               .values(seen_ns=_to_ns(now)))
        if res.rowcount != 1 and self.backend == "postgresql":
            self._pg_unlock(owner)
            if self._lease_owner == owner:
                self._lease_owner = None
        return res.rowcount == 1

    def release_collector_lease(self, owner: str) -> None:
        """Give the lease up (only if `owner` holds it). The caller must have stopped writing:
        see `close_writes`."""
        self._ready()
        if self.backend == "postgresql":
            if self._lease_owner == owner:
                self._lease_owner = None
            self._pg_unlock(owner)   # first: a contender that sees the lock free may take the row
        l = collector_lease.c
        with self._transaction() as conn:
            conn.execute(update(collector_lease).where(l.id == 1, l.owner == owner)
                         .values(owner=None, seen_ns=None, acquired_ns=None,
                                 **{name: None for name in _LEASE_IDENTITY}))

    def collector_lease_holder(self) -> tuple[str, dt.datetime] | None:
        """(owner, last seen) of the current lease, or None when free."""
        row = self._lease_row()
        if row is None or row.owner is None:
            return None
        return row.owner, _from_ns(row.seen_ns)

    def _lease_row(self):
        self._ready()
        l = collector_lease.c
        with self._read() as conn:
            return conn.execute(select(l.owner, l.seen_ns, *(l[n] for n in _LEASE_IDENTITY))
                                .where(l.id == 1)).one_or_none()

    # PostgreSQL: the lease session. One dedicated connection, outside the pool and in autocommit
    # (never "idle in transaction"), holds pg_advisory_lock(cmLS, schema) while this Store's
    # collector holds the lease; the server releases it the moment the session ends.
    def _pg_cursor(self):
        if self._lease_conn is None:
            raw = self.engine.raw_connection()
            dbapi = raw.driver_connection
            raw.detach()                 # never back into the pool: it may carry the session lock
            dbapi.rollback()
            dbapi.autocommit = True
            with dbapi.cursor() as cur:
                for k, v in _PG_LEASE_KEEPALIVE.items():
                    cur.execute(f"SET {k} = {v}")
            self._lease_conn = dbapi
        return self._lease_conn.cursor()

    def _drop_lease_conn(self) -> None:
        conn, self._lease_conn, self._lease_for = self._lease_conn, None, None
        if conn is not None:
            try:
                conn.close()
            except Exception:  # already broken: closing it is all we wanted
                pass

    def _pg_lock(self, owner: str) -> bool:
        """Take the lease lock for `owner` on our lease session, without waiting."""
        with self._lease_mutex:
            if self._lease_for is not None:
                return self._lease_for == owner    # another owner on this very Store: held, alive
            try:
                with self._pg_cursor() as cur:
                    cur.execute(f"SELECT pg_try_advisory_lock({_PG_LEASE_KEY})")
                    got = bool(cur.fetchone()[0])
            except Exception:
                self._drop_lease_conn()
                raise
            if got:
                self._lease_for = owner
            return got

    def _pg_unlock(self, owner: str) -> None:
        with self._lease_mutex:
            if self._lease_for != owner:
                return
            try:
                with self._pg_cursor() as cur:
                    cur.execute(f"SELECT pg_advisory_unlock({_PG_LEASE_KEY})")
                self._lease_for = None
            except Exception:  # a broken session holds nothing any more; a new one starts clean
                log.warning("could not unlock the collector lease lock; closing its session", exc_info=True)
                self._drop_lease_conn()

    def _pg_still_locked(self, owner: str) -> bool:
        """Our lease session is alive and holds the lock for `owner` — or, if that session was
        lost (server restart, ended by another collector), the lock could be taken again."""
        with self._lease_mutex:
            if self._lease_for == owner:
                try:
                    with self._pg_cursor() as cur:
                        cur.execute("SELECT 1")
                    return True
                except Exception:
                    log.warning("collector lease session lost; trying to take the lease lock again", exc_info=True)
                    self._drop_lease_conn()
            elif self._lease_for is not None:
                return False
        try:
            return self._pg_lock(owner)
        except Exception:
            log.warning("could not take the collector lease lock again", exc_info=True)
            return False

    def _check_lease_session(self) -> None:
        """Before each write of a PostgreSQL lease holder: its lease session still holds the lock
        (after a server restart it takes the lock again if no one else did). Otherwise another
        collector may hold the lease now: refuse the write (WritesClosed) — the holder's next
        renewal then finds the lease lost and stops."""
        owner = self._lease_owner
        if owner is None:
            return
        with self._lease_mutex:
            if self._lease_for == owner:
                try:
                    with self._pg_cursor() as cur:
                        cur.execute("SELECT 1")
                    return
                except Exception:
                    log.warning("collector lease session lost", exc_info=True)
                    self._drop_lease_conn()
            if self._lease_for is None:
                try:
                    if self._pg_lock(owner):
                        row = self._lease_row()
                        if row is not None and row.owner == owner:
                            log.warning("collector lease lock taken again by %s on a new session", owner)
                            return
                        self._pg_unlock(owner)
                except Exception:
                    log.warning("could not take the collector lease lock again", exc_info=True)
        raise WritesClosed(f"collector {owner} no longer holds the lease lock on the database (its "
                           "session was lost and another session holds it, or the database is unreachable)")

    def _pg_fence(self, owner: str, wait: float = 5.0) -> bool:
        """The lease is expired but its holder's session still holds the lock (the process hangs
        or was stopped): end that session, so the lock and any transaction of it go, and take the
        lock. False when that is not allowed or the lock does not come free in `wait` s."""
        with self._lease_mutex:
            if self._lease_for is not None:   # held on this very Store for another owner
                self._lease_for = owner
                return True
            try:
                with self._pg_cursor() as cur:
                    cur.execute(
                        "SELECT pid, pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' "
                        "AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                        f"AND classid = {_PG_LEASE_LOCK} AND objid = hashtext(current_schema())::oid "
                        "AND objsubid = 2")
                    ended = cur.fetchall()
            except Exception:
                log.warning("could not end the session of the expired lease holder", exc_info=True)
                return False
        log.warning("collector lease expired but its holder's session still holds the lease lock: ended "
                    "backend(s) %s", ", ".join(f"{pid}{'' if ok else ' (refused)'}" for pid, ok in ended))
        deadline = time.monotonic() + wait
        while True:
            if self._pg_lock(owner):
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.05)


def _identity(row) -> lease.ProcessIdentity:
    return lease.ProcessIdentity(host=row.host or "", pid=int(row.pid or 0), boot_id=row.boot_id,
                                 pid_ns=row.pid_ns, start=int(row.pid_start) if row.pid_start is not None else None)


class _WriteGate:
    """Lets writes through until closed; `close` waits for the ones in flight. Re-entrant per
    thread, so a permit held across several writes (persist + notify) counts once."""

    def __init__(self, check: Callable[[], None] | None = None) -> None:
        self._cv = threading.Condition()
        self._closed: str | None = None
        self._active = 0
        self._local = threading.local()
        self._check = check          # raises WritesClosed when this writer lost its right to write

    @contextmanager
    def permit(self) -> Iterator[None]:
        depth = getattr(self._local, "depth", 0)
        if depth == 0:
            with self._cv:
                if self._closed is not None:
                    raise WritesClosed(f"the store takes no more writes from this process: {self._closed}")
                self._active += 1
            try:
                if self._check is not None:
                    self._check()
            except BaseException:
                self._release()
                raise
        self._local.depth = depth + 1
        try:
            yield
        finally:
            self._local.depth = depth
            if depth == 0:
                self._release()

    def _release(self) -> None:
        with self._cv:
            self._active -= 1
            self._cv.notify_all()

    def close(self, reason: str, timeout: float | None) -> bool:
        with self._cv:
            self._closed = reason
            return self._cv.wait_for(lambda: self._active == 0, timeout)

    def open(self) -> None:
        with self._cv:
            self._closed = None


def _add_missing_columns(conn: Connection) -> None:
    """ALTER TABLE … ADD COLUMN for columns a newer release added (both backends support it)."""
    from sqlalchemy import inspect

    insp = inspect(conn)
    for table, cols in _ADDED_COLUMNS.items():
        have = {c["name"] for c in insp.get_columns(table)}
        for name, ddl in cols:
            if name not in have:
                conn.exec_driver_sql(f'ALTER TABLE {table} ADD COLUMN {name} {ddl}')
                log.info("store: added column %s.%s", table, name)


def empty_observations() -> pd.DataFrame:
    """An empty frame with the columns and dtypes `Store.read` returns."""
    return pd.DataFrame({
        "series_id": pd.Series([], dtype=object), "freq": pd.Series([], dtype=object),
        "ts": pd.Series([], dtype="datetime64[ns, UTC]"), "value": pd.Series([], dtype="float64"),
        "source": pd.Series([], dtype=object), "known_at": pd.Series([], dtype="datetime64[ns, UTC]"),
        "restatements": pd.Series([], dtype="int64"), "version": pd.Series([], dtype="int64"),
        "quality": pd.Series([], dtype=object), "quality_note": pd.Series([], dtype=object),
    })


def _sqlite_on_connect(dbapi_conn, _record) -> None:
    # Let SQLAlchemy emit BEGIN itself (see _sqlite_on_begin): the sqlite3 module's implicit
    # transactions would otherwise skip BEGIN for SELECT/DDL and never use IMMEDIATE.
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute(f"PRAGMA busy_timeout={_SQLITE_BUSY_MS}")
    _sqlite_wal(cur)                            # readers never block the writer
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA temp_store=MEMORY")     # the upsert staging table never touches disk
    # With WAL, NORMAL never corrupts: a process crash loses nothing committed, a power cut at
    # most the last transactions; FULL would fsync on every collector cycle for no gain here.
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.close()


def _sqlite_wal(cur) -> None:
    """Switch a fresh database to WAL. The switch needs an exclusive lock and SQLite answers
    "database is locked" at once, without its busy handler, when other connections open the
    same new file at the same moment: retry within the busy timeout instead of failing."""
    deadline = time.monotonic() + _SQLITE_BUSY_MS / 1000
    pause = 0.005
    while True:
        try:
            mode = cur.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            break
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.1)
    if str(mode).lower() != "wal":  # e.g. ":memory:" answers "memory"; anything else is a fault
        log.debug("SQLite journal_mode is %s, not wal", mode)


def _pg_on_connect(dbapi_conn, _record) -> None:
    with dbapi_conn.cursor() as cur:
        for k, v in PG_SESSION.items():
            cur.execute(f"SET {k} = '{v}'")
    dbapi_conn.commit()   # a SET inside a transaction that is rolled back would not stick


def _sqlite_on_begin(conn: Connection) -> None:
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get("cm_immediate") else "BEGIN")
