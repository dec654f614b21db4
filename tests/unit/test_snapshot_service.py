"""The web process's SnapshotService: after the first load it folds only the new rows into the
move table (MoveTable.update), and what it then serves equals a full recompute of the store."""
from __future__ import annotations

import datetime as dt

import pandas as pd

import analytics.movestats as movestats
from analytics.movestats import compute_move_stats
from views.snapshot import SnapshotService
from tests.unit.analytics.test_movestats import assert_tables_equal
from tests.unit.realjgb import UNIVERSE, add_closes, seed

LATER = dt.datetime(2026, 1, 23, 1, 0, tzinfo=dt.UTC)


def test_new_closes_take_the_incremental_path_and_equal_a_full_recompute(market_dir, tmp_path, monkeypatch):
    store = seed(tmp_path / "s.db", market_dir, last="2026-01-19")
    service = SnapshotService(store, UNIVERSE, check_every=3600)
    first = service.current()
    assert first.moves is not None and first.data_at is not None

    full_calls = []
    real = movestats.compute_move_stats
    monkeypatch.setattr(movestats, "compute_move_stats", lambda *a, **k: full_calls.append(1) or real(*a, **k))
    add_closes(store, market_dir, "2026-01-20", LATER)       # the real +20 bp JGB 30Y day
    add_closes(store, market_dir, "2026-01-21", LATER)
    service.refresh()
    snap = service.current()
    assert full_calls == []                                   # folded in, not recomputed
    assert snap.revision > first.revision
    assert snap.data_at == LATER                              # when the newest rows arrived (store time)

    expected = compute_move_stats(store.read(), UNIVERSE)
    assert_tables_equal(snap.moves.frame, expected.frame)
    row = snap.moves.frame.query("series_id == 'jgb_30y' and kind == 'daily' and horizon == 1").iloc[0]
    assert pd.Timestamp(row["ts"]).tz_convert("Asia/Tokyo").date() == dt.date(2026, 1, 21)


def test_a_failed_update_is_made_good_by_a_full_recompute_next_time(market_dir, tmp_path, monkeypatch):
    store = seed(tmp_path / "s.db", market_dir, last="2026-01-16")
    service = SnapshotService(store, UNIVERSE, check_every=3600)
    service.current()

    def boom(self, new):
        raise RuntimeError("simulated failure")

    monkeypatch.setattr(movestats.MoveTable, "update", boom)
    add_closes(store, market_dir, "2026-01-19", LATER)
    service.refresh()                                         # update fails: the old table stays
    monkeypatch.undo()
    add_closes(store, market_dir, "2026-01-20", LATER)
    service.refresh()                                         # only 01-20 is new, but 01-19 is missing
    assert_tables_equal(service.current().moves.frame, compute_move_stats(store.read(), UNIVERSE).frame)


def test_a_health_only_rebuild_reuses_the_latest_rows_and_they_stay_right(market_dir, tmp_path):
    from views.snapshot import build_snapshot

    store = seed(tmp_path / "s.db", market_dir, last="2026-01-19")
    service = SnapshotService(store, UNIVERSE, check_every=3600)
    first = service.current()
    store.record_failure("mof", LATER, "HTTP 503")              # health changes, data does not
    service.refresh()
    second = service.current()
    assert second.revision > first.revision and second.version == first.version
    assert any(s.health.source == "mof" and s.health.last_error == "HTTP 503" for s in second.sources)
    assert second.rows is first.rows                          # not re-derived from every observation
    fresh = build_snapshot(UNIVERSE, store.read(), store.health(), {}, version=second.version)
    assert second.rows == fresh.rows
    add_closes(store, market_dir, "2026-01-20", LATER)          # new data: rows are rebuilt
    service.refresh()
    third = service.current()
    assert third.rows is not second.rows
    assert third.row("jgb_30y").value == build_snapshot(UNIVERSE, store.read(), [], {}, version=0).row("jgb_30y").value


def test_snapshot_memo_is_shared_bounded_and_safe_across_request_threads():
    import threading

    from views.snapshot import build_snapshot

    snap = build_snapshot(UNIVERSE, pd.DataFrame(columns=["series_id", "freq", "ts", "value", "known_at"]),
                          [], {}, version=0)
    builds: list[tuple] = []
    assert snap.remember(("wall", 1), lambda: builds.append(("wall", 1)) or "v1", keep=3) == "v1"
    assert snap.remember(("wall", 1), lambda: builds.append(("wall", 1)) or "other", keep=3) == "v1"
    assert builds == [("wall", 1)]                                  # built once, then shared
    errors: list[BaseException] = []

    def hammer(i):
        try:
            for j in range(300):   # two families at once, as wall and overview requests do
                fam = "wall" if (i + j) % 2 else "overview"
                snap.remember((fam, j % 7), lambda: (fam, j), keep=1 if fam == "overview" else 3)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=hammer, args=(i,)) for i in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert not errors
    assert sum(1 for k in snap.memo if k[0] == "wall") <= 3
    assert sum(1 for k in snap.memo if k[0] == "overview") <= 1


def test_a_web_process_computes_its_first_snapshot_before_any_page_asks(market_dir, tmp_path):
    """The last CI run: a replay's first /api/series waited for the whole first computation
    (the thread only began with the first request) and timed out on a loaded machine."""
    import time

    store = seed(tmp_path / "s.db", market_dir, last="2026-01-19")
    service = SnapshotService(store, UNIVERSE, check_every=3600, background=True)
    service.start()
    deadline = time.monotonic() + 120
    while service._snapshot is None and time.monotonic() < deadline:   # no current(): nobody asked
        time.sleep(0.2)
    assert service._snapshot is not None and service._snapshot.moves is not None
    started = time.monotonic()
    assert service.current() is service._snapshot                    # served as it stands, no wait
    assert time.monotonic() - started < 1.0
