"""A real SQLite store holding the MOF JGB curve as published by 2026-01-21 (for the Overview and
Series page tests): `jgbcme_all.csv` parsed by the live parser, the alert pipeline run on it at
2026-01-21 01:00 UTC, and a replay clock at that moment (nothing is stale)."""
from __future__ import annotations

import datetime as dt
import sqlite3
from functools import lru_cache
from pathlib import Path

import pandas as pd

from data.clock import ReplayClock
from data.store import Store
from universe import load_universe
from tests.layout import find  # noqa: F401  (other test modules import it from here)

UNIVERSE = load_universe()
UTC = dt.UTC
NOW = dt.datetime(2026, 1, 21, 1, 0, tzinfo=UTC)        # JGB 2026-01-20 is out (MOF posts next day)


class FixedClock:
    def __init__(self, now: dt.datetime) -> None:
        self._now = now

    def now(self) -> dt.datetime:
        return self._now


@lru_cache(maxsize=2)
def mof_frame(path: str) -> pd.DataFrame:
    """Every JGB close in the MOF history file, via the production parser."""
    from data.sources.mof import parse_mof_csv

    return parse_mof_csv(Path(path).read_bytes(), [s for s in UNIVERSE if s.source == "mof"])


def jgb_closes(market_dir: Path, first: str | None, last: str) -> pd.DataFrame:
    f = mof_frame(str(market_dir / "jgb" / "jgbcme_all.csv"))
    local = f["ts"].dt.tz_convert("Asia/Tokyo").dt.date
    keep = local <= dt.date.fromisoformat(last)
    if first is not None:
        keep &= local >= dt.date.fromisoformat(first)
    return f[keep].reset_index(drop=True)


def seed(db: Path, market_dir: Path, *, last: str = "2026-01-20", now: dt.datetime = NOW) -> Store:
    """A store with the JGB curve up to `last`, alerts evaluated at `now`, replay clock at `now`."""
    from alerts.pipeline import AlertPipeline
    from alerts.rules import load_rules

    store = Store(f"sqlite:///{db}")
    store.create_schema()
    store.upsert(jgb_closes(market_dir, None, last), source="mof", known_at=now)
    store.set_meta("mode", "replay")
    store.set_meta("clock", ReplayClock(start=now, speed=1.0, t0=__import__("time").time()).to_meta())
    pipeline = AlertPipeline(store, UNIVERSE, load_rules(universe=UNIVERSE), clock=FixedClock(now))
    pipeline.run()
    pipeline.close()
    return store


def copy_store(store: Store, db: Path) -> Store:
    """An independent copy (SQLite online backup: WAL contents included)."""
    src_path = store.engine.url.database
    with sqlite3.connect(src_path) as src, sqlite3.connect(db) as dst:
        src.backup(dst)
    return Store(f"sqlite:///{db}")


def add_closes(store: Store, market_dir: Path, day: str, now: dt.datetime) -> None:
    """Publish one more real MOF close (every tenor) and re-run the alert pipeline at `now`."""
    from alerts.pipeline import AlertPipeline
    from alerts.rules import load_rules

    store.upsert(jgb_closes(market_dir, day, day), source="mof", known_at=now)
    pipeline = AlertPipeline(store, UNIVERSE, load_rules(universe=UNIVERSE), clock=FixedClock(now))
    pipeline.run()
    pipeline.close()
