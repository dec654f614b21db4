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


@dataclass(frozen=True)
class ReplayClock:
    """now = start + (wall time since t0) × speed."""

    start: dt.datetime
    speed: float
    t0: float  # wall-clock epoch seconds when the replay started

    @classmethod
    def starting(cls, start: dt.date | dt.datetime, speed: float) -> "ReplayClock":
        if isinstance(start, dt.datetime):
            s = start if start.tzinfo else start.replace(tzinfo=UTC)
        else:
            s = dt.datetime(start.year, start.month, start.day, tzinfo=UTC)
        return cls(start=s, speed=float(speed), t0=time.time())

    def now(self) -> dt.datetime:
        return self.start + dt.timedelta(seconds=(time.time() - self.t0) * self.speed)

    def to_meta(self) -> str:
        return json.dumps({"kind": "replay", "start": self.start.isoformat(), "speed": self.speed, "t0": self.t0})


def clock_from_meta(raw: str | None) -> Clock:
    """Web processes rebuild the collector's clock from the store's meta table."""
    if not raw:
        return SystemClock()
    try:
        d = json.loads(raw)
        if d.get("kind") == "replay":
            return ReplayClock(dt.datetime.fromisoformat(d["start"]), float(d["speed"]), float(d["t0"]))
    except (ValueError, KeyError, TypeError):
        pass
    return SystemClock()
