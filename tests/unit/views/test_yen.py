"""The Yen watch read model (views/yen.py) on the real USD/JPY file as it stood on 2026-06-30:
which past yen-buying levels count as near, recomputed here from the raw export and the
intervention record, the live print, and a digest that moves with content only."""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from data.interventions import load_interventions
from tests.webapp import app_on_closes
from views.yen import BUY, NEAR_PCT, SERIES, build_yen, yen_view

CUT = pd.Timestamp("2026-06-30 06:00", tz="UTC")


@pytest.fixture(scope="module")
def snap(market_dir, tmp_path_factory):
    with app_on_closes(market_dir, tmp_path_factory.mktemp("yenview") / "y.db", CUT, since="1990-01-01",
                       series=("usdjpy", "usdjpy_high", "usdjpy_low")) as (_app, service, _hist):
        yield service.current()


def test_near_levels_are_the_yen_buying_highs_within_two_percent_of_the_close_of_record(snap, market_dir):
    raw = pd.read_csv(market_dir / "fx/USDJPY.csv")
    raw = raw.assign(Date=pd.to_datetime(raw["Date"])).set_index("Date")
    close = raw["Open"].shift(-1).dropna()          # close of record = the next bar's Open
    now = close.loc[:"2026-06-26"].iloc[-1]
    expected = []
    for iv in load_interventions():
        if iv.direction != BUY:
            continue
        high = raw.loc[pd.Timestamp(iv.date), "High"]
        d = 100 * np.log(now / high)
        if abs(d) < NEAR_PCT:
            expected.append((iv.date.isoformat(), d))
    view = yen_view(snap)
    got = [(p["date"].date().isoformat(), p["distance_pct"]) for p in view.near]
    assert [g[0] for g in got] == sorted({e[0] for e in expected}) and got
    assert [g[1] for g in got] == pytest.approx([dict(expected)[g[0]] for g in got])
    nearest = min(expected, key=lambda e: abs(e[1]))[0]
    assert view.nearest["date"].date().isoformat() == nearest == "2024-07-11"
    assert all(view.is_near(p) == (p in view.near) for p in view.watch.past)


def test_the_live_print_is_the_usdjpy_row_and_the_view_is_built_once_per_snapshot(snap):
    view = yen_view(snap)
    row = snap.row(SERIES)
    assert view.live == row.value and view.live_at == row.as_of and not view.simulated
    assert yen_view(snap) is view                       # the memo: one build per snapshot
    again = build_yen(snap)
    assert again is not view and dataclasses.replace(again, now=view.now) == view


def test_the_digest_moves_with_content_only(snap):
    view = yen_view(snap)
    later = dataclasses.replace(snap, memo={}, built_at=snap.built_at + pd.Timedelta(hours=1), revision=99)
    assert build_yen(later).digest == view.digest       # another process, another build time
    moved = dataclasses.replace(snap, memo={}, rows=tuple(
        dataclasses.replace(r, value=r.value + 0.5) if r.id == SERIES else r for r in snap.rows))
    assert build_yen(moved).digest != view.digest       # a new print
    assert build_yen(dataclasses.replace(snap, memo={}, mode="demo")).digest != view.digest
    empty = build_yen(dataclasses.replace(snap, memo={}, intervention=None))
    assert empty.watch is None and empty.near == () and empty.nearest is None and empty.digest != view.digest
