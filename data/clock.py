"""Clocks: the wall clock for live and demo, an accelerated clock for replay.

Everything that asks "what time is it" (collector, snapshot ages, staleness) takes a clock,
so a replay of January 2026 ages and goes stale exactly as the live path would.
"""
from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass
from typing import Protocol

__all__ = ["Clock", "SystemClock", "ReplayClock", "clock_from_meta"]

UTC = dt.timezone.utc


class Clock(Protocol):
    def now(self) -> dt.datetime: ...


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(UTC)

    def to_meta(self) -> str:
        return json.dumps({"kind": "system"})


@dataclass
class ReplayClock:
    """now = start + (wall time since t0) × speed; held at `start` until `release()` (t0 None).

    The collector holds the clock while it backfills the history before the replay start (a
    28-year backfill takes seconds; at 86,400× those seconds would be weeks of market time the
    alert pipeline never saw close by close), then releases it: every replayed close arrives
    after the backfill and is judged in time order.
    """

    start: dt.datetime
    speed: float
    t0: float | None  # wall-clock epoch seconds when the replay clock started ticking
    until: dt.datetime | None = None   # --until: the clock stops here and stays (the app keeps serving)

    @classmethod
    def starting(cls, start: dt.date | dt.datetime, speed: float, *, held: bool = False,
                 until: dt.datetime | None = None) -> "ReplayClock":
        if isinstance(start, dt.datetime):
            s = start if start.tzinfo else start.replace(tzinfo=UTC)
        else:
            s = dt.datetime(start.year, start.month, start.day, tzinfo=UTC)
        return cls(start=s, speed=float(speed), t0=None if held else time.time(), until=until)

    @property
    def held(self) -> bool:
        return self.t0 is None

    def release(self) -> None:
        """Start ticking now (no-op when already running)."""
        if self.t0 is None:
            self.t0 = time.time()

    def now(self) -> dt.datetime:
        if self.t0 is None:
            return self.start
        t = self.start + dt.timedelta(seconds=(time.time() - self.t0) * self.speed)
        return t if self.until is None else min(t, self.until)

    @property
    def stopped(self) -> bool:
        """Reached --until: the data clock stands there."""
        return self.until is not None and self.now() >= self.until

    def to_meta(self) -> str:
        return json.dumps({"kind": "replay", "start": self.start.isoformat(), "speed": self.speed, "t0": self.t0,
                           "until": None if self.until is None else self.until.isoformat()})


def clock_from_meta(raw: str | None) -> Clock:
    """Web processes rebuild the collector's clock from the store's meta table."""
    if not raw:
        return SystemClock()
    try:
        d = json.loads(raw)
        if d.get("kind") == "replay":
            t0, until = d.get("t0"), d.get("until")
            return ReplayClock(dt.datetime.fromisoformat(d["start"]), float(d["speed"]),
                               None if t0 is None else float(t0),
                               None if until is None else dt.datetime.fromisoformat(until))
    except (ValueError, KeyError, TypeError):
        pass
    return SystemClock()
