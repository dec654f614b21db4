"""The banner's read model (every page): a snapshot and the store's state → a frozen `BannerView`.

Decided here: which series read STALE (by label), which sources are failing and their one-line
text with the retry, whether a replay stopped at --until. components/shell.py draws it;
callbacks/shell.py compares its digest with the tag on screen.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from views.digest import digest

__all__ = ["BannerView", "build_banner"]


@dataclass(frozen=True)
class BannerView:
    mode: str                       # live, demo, replay
    now: dt.datetime                # the data clock (a replay's)
    stale: tuple[str, ...]          # labels of the series whose data stopped
    failing: tuple[str, ...]        # one line per failing source ("MOF: no network (retrying within 40 s)")
    store_error: str | None         # a category ("store unreachable"), never the raw error
    stopped: bool                   # a replay at its --until
    digest: str                     # content only: the same in every web process


def build_banner(snap, store_error: str | None, *, now_wall: dt.datetime | None = None) -> BannerView:
    """Pure given `now_wall` (default: the wall clock, which the sources' states and retry
    times are on)."""
    wall = now_wall or dt.datetime.now(dt.timezone.utc)
    states = snap.source_states()
    failing = tuple(sorted(s.failure_text(wall) for s in snap.sources if states.get(s.health.source) == "failing"))
    stale = tuple(snap.labels(snap.stale_series()))
    stopped = bool(getattr(snap.clock, "stopped", False))
    tag = digest(repr((snap.version, snap.mode, stale, failing, store_error, stopped)))
    return BannerView(mode=snap.mode, now=snap.now(), stale=stale, failing=failing, store_error=store_error,
                      stopped=stopped, digest=tag)
