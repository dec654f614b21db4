"""The Sources page's read model: a snapshot → a frozen, typed `SourcesView` with its digest.

Decided here, once per snapshot, health state and reader kind: each source's state now (from
the wall clock: a source turns stale without a new snapshot), the age of its last success, its
rows and rejections, and whether the raw error text may be shown (`detail`: the operator only).
components/sources.py only draws a `SourcesView`; callbacks/sources.py registers the page.

The digest is over content only (the health rows as stored, their states, the gate, the
exchange-vs-record table, the reader kind), so every web process computes the same one.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from views.digest import digest

__all__ = ["SourceLine", "SourcesView", "build_sources", "sources_view"]


@dataclass(frozen=True)
class SourceLine:
    source: str
    state: str                      # ok, degraded, backfilling, never, stale, failing
    progress: str                   # a backfill's progress line ("" when none)
    last_success: dt.datetime | None
    age_s: float | None             # wall clock, at the view's build; the browser ticks it
    last_attempt: dt.datetime | None
    failures: int                   # in a row
    rows_last: int
    rows_total: int
    rejected_last: int
    rejected_total: int
    last_rejection: str
    problems: tuple[str, ...]       # inputs the source skipped (a replay's unreadable file)
    error: str | None               # the raw last error: components show its category to all,
    #                                 the text itself only when the view's `detail` is set


@dataclass(frozen=True)
class SourcesView:
    lines: tuple[SourceLine, ...]
    gate: dict                      # what the data-quality gate held back (Snapshot.gate)
    record: Any                     # exchange quotes vs the close of record (analytics/record.py) or None
    labels: dict                    # series id → label
    mode: str | None                # live, demo, replay
    detail: bool                    # the reader may see raw error text (hosts, paths)
    digest: str


def _digest(snap, states: dict[str, str], detail: bool) -> str:
    record = snap.record
    return digest(repr((snap.sources, snap.gate, None if record is None else record.to_dict("records"),
                        sorted(states.items()), int(detail))))


def build_sources(snap, *, detail: bool, states: dict[str, str] | None = None,
                  now_wall: dt.datetime | None = None) -> SourcesView:
    """Pure given `states` and `now_wall` (defaults: the sources' states and the wall clock now)."""
    states = snap.source_states() if states is None else states
    now_wall = now_wall or dt.datetime.now(dt.timezone.utc)
    lines = []
    for s in snap.sources:
        h = s.health
        lines.append(SourceLine(
            source=h.source, state=states.get(h.source, "never"), progress=s.progress,
            last_success=h.last_success,
            age_s=(now_wall - h.last_success).total_seconds() if h.last_success else None,
            last_attempt=h.last_attempt, failures=h.consecutive_failures, rows_last=h.rows_last,
            rows_total=h.rows_written_total, rejected_last=h.rejected_last, rejected_total=h.rejected_total,
            last_rejection=h.last_rejection or "", problems=tuple(s.problems), error=h.last_error))
    return SourcesView(lines=tuple(lines), gate=snap.gate or {}, record=snap.record,
                       labels={r.id: r.label for r in snap.rows}, mode=snap.mode, detail=detail,
                       digest=_digest(snap, states, detail))


def sources_view(snap, *, detail: bool) -> SourcesView:
    """build_sources, once per snapshot, health state and reader kind (the snapshot's memo)."""
    states = snap.source_states()
    key = _digest(snap, states, detail)
    return snap.remember(("sources", key), lambda: build_sources(snap, detail=detail, states=states), keep=2)
