"""The Yen watch page's read model: a snapshot → a frozen, typed `YenView` with its digest.

The watch itself (analytics.intervention.Watch: levels, paces, detector) is computed once per
daily data update by the snapshot service; this module decides what the page says about it —
which live print it shows, which past yen-buying levels count as near (within `NEAR_PCT`), the
nearest one — and the content digest the refresh compares. components/intervention.py only draws
a `YenView`; callbacks/intervention.py registers the page and its one refresh.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from views.digest import digest

__all__ = ["BUY", "NEAR_PCT", "SELL", "SERIES", "YenView", "build_yen", "yen_view"]

SERIES = "usdjpy"
BUY, SELL = "buy_jpy", "sell_jpy"
NEAR_PCT = 2.0      # a close of record this close (in %) to a past yen-buying level is flagged


@dataclass(frozen=True)
class YenView:
    watch: Any                            # analytics.intervention.Watch, None before daily bars
    live: float | None                    # USD/JPY's latest print (intraday when there is one)
    live_at: dt.datetime | None
    now: dt.datetime                      # the snapshot's clock when the view was built
    events: tuple                         # the event calendar (BoJ, FOMC markers on the chart)
    simulated: bool
    near: tuple[dict, ...]                # past yen-buying levels within NEAR_PCT, in the record's order
    nearest: dict | None                  # the nearest of them
    digest: str                           # content only: the same in every web process

    def is_near(self, p: dict) -> bool:
        return p["direction"] == BUY and abs(p["distance_pct"]) < NEAR_PCT


def build_yen(snap) -> YenView:
    """Pure: the snapshot's watch and USD/JPY row → the page's view-model."""
    w, row = snap.intervention, snap.row(SERIES)
    live = row.value if row is not None and row.value is not None else None
    live_at = row.as_of if live is not None else None
    near = tuple(p for p in (w.past if w is not None else ())
                 if p["direction"] == BUY and abs(p["distance_pct"]) < NEAR_PCT)
    nearest = min(near, key=lambda q: abs(q["distance_pct"])) if near else None
    events = tuple(snap.events or ())
    content = (None if w is None else (str(w.asof), round(w.level, 6), round(w.pace_1w, 6), round(w.pace_1m, 6),
                                       len(w.past), tuple(str(f["day"]) for f in w.flags),
                                       None if w.latest is None else (str(w.latest["day"]), w.latest["ratio"])),
               live, None if live_at is None else live_at.isoformat(), snap.simulated,
               tuple((e.kind, str(e.date)) for e in events))
    return YenView(watch=w, live=live, live_at=live_at, now=snap.now(), events=events,
                   simulated=snap.simulated, near=near, nearest=nearest, digest=digest(repr(content)))


def yen_view(snap) -> YenView:
    """build_yen, once per snapshot (its memo), shared by every request of this process."""
    return snap.remember(("yen",), lambda: build_yen(snap), keep=1)
