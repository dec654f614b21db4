"""Exponential back-off with jitter, shared by the collector and the webhook notifier."""
from __future__ import annotations

import random

__all__ = ["backoff_delay"]


def backoff_delay(failures: int, *, base: float, cap: float, rng: random.Random) -> float:
    """uniform(0.5, 1) × min(cap, base·2^(k−1)): jitter keeps clients throttled together from
    retrying in lockstep; the 0.5 floor keeps the wait from collapsing to zero. k ≤ 0 → 0."""
    if failures <= 0:
        return 0.0
    raw = min(cap, base * (2.0 ** min(failures - 1, 60)))  # capped exponent: no float overflow
    return raw * (0.5 + 0.5 * rng.random())
