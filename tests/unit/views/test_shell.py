"""The banner's read model (views/shell.py) on a seeded store: failing sources with their retry
line, stale series by label, and a digest that moves with content only."""
from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from data.store import Store
from tests.unit.web.helpers import UNIVERSE, seed
from views.shell import build_banner
from views.snapshot import SnapshotService

UTC = dt.timezone.utc


@pytest.fixture
def snap(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'b.db'}")
    store.create_schema()
    seed(store)
    yield SnapshotService(store, UNIVERSE, check_every=0).current()
    store.dispose()


def test_failing_sources_and_stale_series_are_named(snap):
    wall = dt.datetime.now(UTC)
    view = build_banner(snap, None, now_wall=wall)
    states = snap.source_states()
    expected = sorted(s.failure_text(wall) for s in snap.sources if states.get(s.health.source) == "failing")
    assert list(view.failing) == expected and len(expected) == 2          # fred and treasury, not mof
    assert view.failing[0].startswith("FRED") and "fred.stlouisfed.org" not in " ".join(view.failing)
    # The seeded closes are from January: on the wall clock of today they stopped.
    assert set(view.stale) == {UNIVERSE.get(i).label for i in snap.stale_series()} >= {"JGB 30Y"}
    assert view.mode == "live" and view.store_error is None and not view.stopped


def test_the_digest_moves_with_content_only(snap):
    wall = dt.datetime.now(UTC)
    view = build_banner(snap, None, now_wall=wall)
    other = dataclasses.replace(snap, memo={}, built_at=snap.built_at + dt.timedelta(hours=1), revision=3)
    assert build_banner(other, None, now_wall=wall).digest == view.digest
    assert build_banner(snap, "store unreachable", now_wall=wall).digest != view.digest
    assert build_banner(dataclasses.replace(snap, mode="demo"), None, now_wall=wall).digest != view.digest
