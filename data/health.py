"""Source and series health: one definition of staleness and of a source's state.

What a screen, the API and the alert pipeline call a source's state (ok, degraded, failing,
stale, never, backfilling), when a series counts as stale or live, and how long until the
collector retries a failing source (its back-off constants live here and data/collector.py uses
them).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from data.store import SourceHealth
from errors import plain_reason
from universe import DEFAULT_STALE_AFTER, SOURCE_LABELS

__all__ = ["SourceRow", "DAILY_STALE_AFTER", "INTRADAY_LIVE_WINDOW", "SOURCE_STALE_CYCLES",
           "RETRY_BASE_MIN_S", "RETRY_CAP_S"]

# A series is stale when its newest value is older than its own `stale_after` (universe.toml;
# by default this: a weekend plus a holiday).
DAILY_STALE_AFTER = DEFAULT_STALE_AFTER
# An intraday series counts as "live" while its newest bar is younger than this.
INTRADAY_LIVE_WINDOW = dt.timedelta(minutes=20)
# A source is stale when its last success is older than this many cadences (min 15 minutes).
SOURCE_STALE_CYCLES = 3
# The collector's back-off (data/collector.py): base max(cadence, 60 s), doubling per failure, cap.
RETRY_BASE_MIN_S, RETRY_CAP_S = 60.0, 3600.0



@dataclass(frozen=True)
class SourceRow:
    health: SourceHealth
    every: float | None
    progress: str = ""
    problems: tuple[str, ...] = ()    # inputs the source skipped (replay: an unreadable file)

    @property
    def label(self) -> str:
        return SOURCE_LABELS.get(self.health.source, self.health.source)

    def retry_within(self, now_wall: dt.datetime) -> float | None:
        """Seconds until the collector tries a failing source again, at most (its back-off waits
        0.5–1 × min(cap, base·2^(k−1)) after the k-th failure in a row; the first failure retries
        on the next scheduled run). None when the source is not failing or never tried."""
        h = self.health
        if not h.consecutive_failures or h.last_attempt is None:
            return None
        every = self.every or 900.0
        k = h.consecutive_failures
        wait = every if k == 1 else min(RETRY_CAP_S, max(every, RETRY_BASE_MIN_S) * 2.0 ** min(k - 1, 30))
        return max(0.0, (h.last_attempt - now_wall).total_seconds() + wait)

    def failure_text(self, now_wall: dt.datetime, *, retry: bool = True) -> str:
        """'MOF: no network (retrying within 40 s)' — what a banner says; the raw error stays on
        the Sources page. `retry=False`: without the countdown (a view kept for many seconds)."""
        reason = plain_reason(self.health.last_error)
        left = self.retry_within(now_wall) if retry else None
        if left is None:
            return f"{self.label}: {reason}"
        when = "now" if left < 1 else f"within {left:.0f} s" if left < 120 else f"within {left / 60:.0f} min"
        return f"{self.label}: {reason} (retrying {when})"

    def state(self, now_wall: dt.datetime) -> str:
        """ok | degraded | failing | stale | never | backfilling (degraded: working, but it skipped
        an input or dropped bad rows in its last cycle)."""
        h = self.health
        if self.progress:
            return "backfilling"
        if h.last_success is None:
            return "failing" if h.consecutive_failures else "never"
        if h.consecutive_failures:
            return "failing"
        limit = max(dt.timedelta(minutes=15), dt.timedelta(seconds=(self.every or 900) * SOURCE_STALE_CYCLES))
        if now_wall - h.last_success > limit:
            return "stale"
        if self.problems or h.rejected_last:
            return "degraded"
        return "ok"
