"""The Sources read model (views/sources.py) on a seeded store: each source's line read from the
stored health, the state the snapshot gives it now, ages on the wall clock, and a digest that
moves with content and with the reader kind (raw errors are the operator's only)."""
from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from data.store import Store
from tests.unit.web.helpers import UNIVERSE, seed
from views.snapshot import SnapshotService
from views.sources import build_sources, sources_view

UTC = dt.timezone.utc


@pytest.fixture
def snap(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 's.db'}")
    store.create_schema()
    seed(store)
    yield SnapshotService(store, UNIVERSE, check_every=0).current()
    store.dispose()


def test_each_line_is_the_stored_health_with_its_state_now(snap):
    now = dt.datetime.now(UTC)
    view = build_sources(snap, detail=False, now_wall=now)
    by = {s.source: s for s in view.lines}
    stored = {s.health.source: s.health for s in snap.sources}
    assert set(by) == set(stored) >= {"mof", "fred", "treasury"}
    states = snap.source_states()
    for name, line in by.items():
        h = stored[name]
        assert line.state == states.get(name, "never")
        assert (line.failures, line.rows_last, line.rows_total) == (h.consecutive_failures, h.rows_last,
                                                                     h.rows_written_total)
        assert line.age_s == (None if h.last_success is None else (now - h.last_success).total_seconds())
    assert by["mof"].rows_last == 3 and by["mof"].error is None and by["mof"].age_s >= 0
    assert by["fred"].failures == 1 and "fred.stlouisfed.org" in by["fred"].error and by["fred"].age_s is None
    assert view.labels["jgb_30y"] == "JGB 30Y" and view.mode == "live"


def test_one_view_per_snapshot_health_and_reader_kind(snap):
    viewer, operator = sources_view(snap, detail=False), sources_view(snap, detail=True)
    assert sources_view(snap, detail=False) is viewer and sources_view(snap, detail=True) is operator
    assert not viewer.detail and operator.detail and viewer.digest != operator.digest
    again = dataclasses.replace(snap, memo={}, built_at=snap.built_at + dt.timedelta(hours=1), revision=7)
    assert sources_view(again, detail=False).digest == viewer.digest      # another process, same content
    failing = build_sources(snap, detail=False, states={s.health.source: "failing" for s in snap.sources})
    assert failing.digest != viewer.digest and {s.state for s in failing.lines} == {"failing"}
    fewer = dataclasses.replace(snap, memo={}, sources=snap.sources[:1])
    assert sources_view(fewer, detail=False).digest != viewer.digest
