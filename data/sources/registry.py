"""Every source the collector can run, by name: how to build it from the settings, whether the
collector hands it an HTTP session, and how its cursor counts.

The names, labels, run modes and cadences are the bottom layer's (`universe.SOURCE_INFO`), so
screens and settings know them without importing a source. Adding a publisher: its module here
(request → fetch → parse), one `SourceInfo` line, one `Registered` line below, its universe
entries; `tests/unit/sources/test_contract.py` then runs it through the checks every source
passes. Imported by main.py (the composition root) only: a web worker never loads yfinance.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from config import Settings
from data.sources.base import Source
from data.sources.cnbc import CnbcSource
from data.sources.demo import DemoSource
from data.sources.fred import FredSource
from data.sources.mof import MofSource
from data.sources.replay import ReplaySource
from data.sources.treasury import TreasurySource
from data.sources.yahoo import YahooSource
from universe import SOURCE_INFO, Universe

__all__ = ["Registered", "REGISTRY", "sources_for"]


@dataclass(frozen=True)
class Registered:
    build: Callable[[Settings, Universe], Source]
    # True: the collector opens a requests.Session per cycle and passes it to fetch. False: the
    # source has none (demo, replay) or manages its own (yfinance's curl_cffi session).
    http_session: bool = True
    # "date": `since` is a date (the publishers' daily files); "datetime": an exact cursor.
    cursor: str = "date"


REGISTRY: dict[str, Registered] = {
    "mof": Registered(lambda st, u: MofSource()),
    "treasury": Registered(lambda st, u: TreasurySource(backfill_years=st.backfill_years)),
    "fred": Registered(lambda st, u: FredSource(backfill_years=st.backfill_years)),
    "yahoo": Registered(lambda st, u: YahooSource(backfill_years=st.backfill_years, interval=st.yahoo_interval),
                        http_session=False, cursor="datetime"),
    "cnbc": Registered(lambda st, u: CnbcSource(), cursor="datetime"),
    "demo": Registered(lambda st, u: DemoSource(u), http_session=False, cursor="datetime"),
    "replay": Registered(lambda st, u: ReplaySource(st.replay_dir, u, history_start=st.history_start),
                         http_session=False, cursor="datetime"),
}

missing = {n for n, i in SOURCE_INFO.items() if i.scheduled} ^ set(REGISTRY)
if missing:   # a programming error, caught by any import (and the contract test)
    raise RuntimeError(f"universe.SOURCE_INFO and data.sources.registry disagree on {sorted(missing)}")


def sources_for(mode: str) -> list[str]:
    """The sources a run mode schedules, in SOURCE_INFO's order (the push feed has no job)."""
    return [n for n, i in SOURCE_INFO.items() if i.mode == mode and i.scheduled]
