"""Clocks: the wall clock for live and demo, an accelerated clock for replay.

Everything that asks "what time is it" (collector, snapshot ages, staleness) takes a clock,
so a replay of January 2026 ages and goes stale exactly as the live path would.
"""
from __future__ import annotations

import datetime as dt
import json
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Protocol

__all__ = ["Clock", "SystemClock", "ReplayClock", "ReplayControl", "clock_from_meta"]

UTC = dt.timezone.utc


class Clock(Protocol):
    def now(self) -> dt.datetime: ...


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(UTC)

    def to_meta(self) -> str:
        return json.dumps({"kind": "system"})


HOLD, RUN, PAUSE = "held", "running", "paused"


@dataclass
class ReplayClock:
    """now = start + (wall time since t0) × speed, never past `until`; `start` stands still
    while t0 is None (held while the history loads, or paused).

    The collector holds the clock while it backfills the history before the replay start (a
    28-year backfill takes seconds; at 86,400× those seconds would be weeks of market time the
    alert pipeline never saw close by close), then releases it: every replayed close arrives
    after the backfill and is judged in time order.

    Once released, the operator may pause, resume and step it (`ReplayControl`). Each re-anchors
    the clock — `start` becomes where it stands, t0 when it ticks on — so it stays monotonic and
    the same formula holds in every reader: web processes rebuild it from the store's meta
    (`to_meta`/`clock_from_meta`) and the browsers' tickers (assets/age.js, wall.js) compute it
    from the same fields. `origin` keeps the replay's own start for labels.
    """

    start: dt.datetime
    speed: float
    t0: float | None  # wall-clock epoch seconds when it (last) started ticking from `start`; None: still
    until: dt.datetime | None = None   # --until: the clock stops here and stays (the app keeps serving)
    state: str | None = None           # held | running | paused (None: from t0, held when t0 is None)
    origin: dt.datetime | None = None  # the replay's start (None: `start`)
    _high: dt.datetime | None = field(default=None, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.state not in (HOLD, RUN, PAUSE):
            self.state = HOLD if self.t0 is None else RUN
        if self.state == RUN and self.t0 is None:
            self.t0 = time.time()
        if self.state != RUN:
            self.t0 = None
        if self.origin is None:
            self.origin = self.start

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
        return self.state == HOLD

    @property
    def paused(self) -> bool:
        return self.state == PAUSE

    def release(self) -> None:
        """Start ticking now (no-op unless held)."""
        with self._lock:
            if self.state == HOLD:
                self.t0, self.state = time.time(), RUN

    def now(self) -> dt.datetime:
        t = self.start
        if self.t0 is not None:
            t = self.start + dt.timedelta(seconds=max(0.0, time.time() - self.t0) * self.speed)
        if self.until is not None:
            t = min(t, self.until)
        # Never back (a wall clock stepped back by NTP): at least what it said before.
        if self._high is not None and t < self._high:
            return self._high
        self._high = t
        return t

    @property
    def stopped(self) -> bool:
        """Reached --until: the data clock stands there."""
        return self.until is not None and self.now() >= self.until

    def pause(self) -> None:
        """Stand still where it is now (no-op unless running)."""
        with self._lock:
            if self.state == RUN:
                self.start, self.t0, self.state = self.now(), None, PAUSE

    def resume(self) -> None:
        """Tick on from where it stands (no-op unless paused)."""
        with self._lock:
            if self.state == PAUSE:
                self.start, self.t0, self.state = self.now(), time.time(), RUN

    def step(self, by: dt.timedelta) -> dt.datetime:
        """Pause (when running) and move the data clock forward by `by`, never past `until`."""
        if by <= dt.timedelta(0):
            raise ValueError(f"a step of {by} does not move forward")
        if self.held:
            raise ValueError("the replay clock is held while the history loads")
        self.pause()
        with self._lock:
            target = self.now() + by
            self.start = target if self.until is None else min(target, self.until)
        return self.now()

    def status(self) -> dict:
        """What a screen says: state (held, running, paused, stopped), speed, data time, until."""
        now = self.now()
        state = "stopped" if not self.held and self.until is not None and now >= self.until else self.state
        return {"state": state, "speed": self.speed, "now": now, "until": self.until, "origin": self.origin}

    def to_meta(self) -> str:
        return json.dumps({"kind": "replay", "start": self.start.isoformat(), "speed": self.speed, "t0": self.t0,
                           "until": None if self.until is None else self.until.isoformat(),
                           "state": self.state, "origin": self.origin.isoformat() if self.origin else None})


def clock_from_meta(raw: str | None) -> Clock:
    """Web processes rebuild the collector's clock from the store's meta table."""
    if not raw:
        return SystemClock()
    try:
        d = json.loads(raw)
        if d.get("kind") == "replay":
            t0, until, origin = d.get("t0"), d.get("until"), d.get("origin")
            return ReplayClock(dt.datetime.fromisoformat(d["start"]), float(d["speed"]),
                               None if t0 is None else float(t0),
                               None if until is None else dt.datetime.fromisoformat(until),
                               state=d.get("state"), origin=None if origin is None else dt.datetime.fromisoformat(origin))
    except (ValueError, KeyError, TypeError):
        pass
    return SystemClock()


class ReplayControl:
    """Pause / resume / step of the replay clock in the collector's own process, each published
    at once (`publish`: the collector writes the clock to the store's meta, which every web
    process reads about once a second). Only `python app.py` (collector and web in one process)
    has one; a web worker without the collector only shows the clock's state."""

    STEPS = {"1h": dt.timedelta(hours=1), "1d": dt.timedelta(days=1)}

    def __init__(self, clock: ReplayClock, publish: Callable[[], None]) -> None:
        self.clock = clock
        self._publish = publish

    def status(self) -> dict:
        return self.clock.status()

    def act(self, action: str) -> dict:
        """'pause', 'resume', 'step:1h' or 'step:1d' → the new status; ValueError when refused."""
        if self.clock.held:
            raise ValueError("the replay is still loading its history: try again in a moment")
        if action == "pause":
            self.clock.pause()
        elif action == "resume":
            self.clock.resume()
        elif action.startswith("step:") and action[5:] in self.STEPS:
            self.clock.step(self.STEPS[action[5:]])
        else:
            raise ValueError(f"unknown replay action {action[:40]!r}")
        self._publish()
        return self.status()
