"""A page test's app: a SQLite store holding the real daily closes published by a cut, and the Dash
app reading it through its own SnapshotService."""
from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from config import Settings
from data.frame import COLUMNS
from data.store import Store
from universe import load_universe
from views.snapshot import SnapshotService


@contextlib.contextmanager
def app_on_closes(market_dir: Path, db: Path, cut: pd.Timestamp, *, since: str,
                  series: tuple[str, ...] | None = None) -> Iterator[tuple]:
    """→ (dash_app, service, hist): the daily rows of `series` (all by default) published by
    `cut` (`available_at`) and dated from `since`, stored under each series' source."""
    import app as app_module
    from data.sources.replay import load_history

    universe = load_universe()
    hist = load_history(market_dir, universe)
    hist = hist[(hist["available_at"] <= cut) & (hist["freq"] == "D") & (hist["ts"] >= pd.Timestamp(since, tz="UTC"))]
    if series is not None:
        hist = hist[hist["series_id"].isin(series)]
    store = Store(f"sqlite:///{db}")
    store.create_schema()
    for source, part in hist.groupby(hist["series_id"].map(lambda s: universe.get(s).source)):
        store.upsert(part[COLUMNS], source=source, known_at=cut.to_pydatetime())
    service = SnapshotService(store, universe, check_every=3600)
    try:
        yield app_module.create_app(Settings(), service), service, hist
    finally:
        store.dispose()
