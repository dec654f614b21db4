"""Replay: plays real history files through the live pipeline on an accelerated clock.

`python app.py --replay ../shared/data/market --start 2026-01-05 --speed 3600` reads the folder
exactly as it is (MOF CSV, Treasury par-curve CSV, FRED-style CSV, Yahoo daily/hourly exports)
with the same parsers the live sources use, then releases each observation only when the
replay clock passes the moment it would have been published. The collector, store, cache and
pages are the live ones.

The manifest below says which file feeds which series; files that are absent are skipped (a
series with no file simply has no data in the replay).
"""
from __future__ import annotations

import datetime as dt
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import pandas as pd

from data.frame import COLUMNS, empty_frame, rejects_of
from data.sources import fred, mof, treasury, yahoo
from data.sources.base import Request
from errors import EmptyPayload, MalformedPayload
from universe import Series, Universe

__all__ = ["ReplaySource", "MANIFEST", "load_history"]

log = logging.getLogger("contagion.replay")

# When each publisher makes day T public (BRIEF §1), as the replay releases it:
# - MOF: 00:30 JST on the next business day (15:30 UTC; Friday's on Sunday 15:30 UTC); its
#   next business day is its next date in the files (its holidays are the weekdays it skips),
#   else the next weekday when that is more than a week away (a hole in the files);
# - Treasury's par curve: the same afternoon (an hour after its 3:30 pm ET quotes);
# - Yahoo: 15 minutes delayed;
# - FRED: 18 h after the close. Checked against the Fed's schedule, this is early: the H.15
#   (the DGS* series) posts at 4:15 pm ET on the next business day (federalreserve.gov/feeds/
#   h15.html) and the noon USD/JPY (DEXJPUS) comes weekly with the H.10. Not modelled yet:
#   a pinned day is cut by observation date, not by when a value became known, so a later
#   release would put values in a pinned view that its screen never showed.
SCHEDULE = {"mof": ("Asia/Tokyo", dt.time(0, 30))}
LAG = {"fred": dt.timedelta(hours=18), "treasury": dt.timedelta(hours=1), "yahoo": dt.timedelta(minutes=15)}


def _next_weekday(day: pd.Series) -> pd.Series:
    """The weekday after each date (Friday → Monday)."""
    step = day.dt.day_of_week.map({4: 3, 5: 2}).fillna(1).astype(int)
    return day + pd.to_timedelta(step, unit="D")


def published_at(ts: pd.Series, publisher: str) -> pd.Series:
    """When each observation (stamped at its close, UTC) became public from `publisher`."""
    if publisher in LAG:
        return ts + LAG[publisher]
    zone, at = SCHEDULE[publisher]
    day = ts.dt.tz_convert(zone).dt.tz_localize(None).dt.normalize()
    dates = pd.DatetimeIndex(sorted(day.unique()))
    pos = dates.searchsorted(day.to_numpy(), side="right")
    following = pd.Series(dates.append(pd.DatetimeIndex([pd.NaT]))[pos], index=day.index)
    far = following.isna() | (following - day > pd.Timedelta(days=7))
    release = following.where(~far, _next_weekday(day))
    stamp = release + pd.Timedelta(hours=at.hour, minutes=at.minute)
    return stamp.dt.tz_localize(zone, nonexistent="shift_forward", ambiguous=False).dt.tz_convert("UTC")


@dataclass(frozen=True)
class Entry:
    pattern: str            # glob under the replay folder
    parser: str             # mof | treasury | fred | yahoo_csv | yahoo_hourly | yahoo_json
    series: tuple[str, ...] # universe ids it feeds (the parser maps columns via each series' symbol)
    publisher: str          # the source the rows are stored under
    value_symbol: str | None = None  # FRED `date,value` files: which FRED id the file holds
    tz: str | None = None   # naive hourly files: their time zone


def _fred(path: str, symbol: str, series_id: str) -> Entry:
    return Entry(path, "fred", (series_id,), "fred", value_symbol=symbol)


_UST = {"ust_1m": "DGS1MO", "ust_3m": "DGS3MO", "ust_6m": "DGS6MO", "ust_1y": "DGS1", "ust_2y": "DGS2",
        "ust_5y": "DGS5", "ust_7y": "DGS7", "ust_10y": "DGS10", "ust_20y": "DGS20", "ust_30y": "DGS30"}
_JGB = tuple(f"jgb_{t}y" for t in (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20, 25, 30, 40))
_UST_PAR = ("ust_1m", "ust_1_5m", "ust_2m", "ust_3m", "ust_4m", "ust_6m", "ust_1y", "ust_2y", "ust_3y",
            "ust_5y", "ust_7y", "ust_10y", "ust_20y", "ust_30y")

# Order matters: for the same (series, freq, ts) a later entry wins, as the primary source
# (Treasury) wins over its FRED fallback in the live store, and newer snapshots over older.
MANIFEST: tuple[Entry, ...] = (
    Entry("jgb/jgbcme_all.csv", "mof", _JGB, "mof"),
    *(_fred(f"ust/fred/{sym}.csv", sym, sid) for sid, sym in _UST.items()),
    *(_fred(f"ust/fred_latest/{sym}.csv", sym, sid) for sid, sym in _UST.items()
      if sym in ("DGS2", "DGS10", "DGS30")),
    Entry("raw/daily-treasury-rates-all-1990-2022.csv", "treasury", _UST_PAR, "treasury"),
    Entry("raw/daily-treasury-rates-2024.csv", "treasury", _UST_PAR, "treasury"),
    Entry("raw/daily-treasury-rates-2025.csv", "treasury", _UST_PAR, "treasury"),
    Entry("raw/daily-treasury-rates-2026.csv", "treasury", _UST_PAR, "treasury"),
    Entry("raw/DEXJPUS.csv", "fred", ("usdjpy_noon",), "fred"),
    Entry("ust/US10Y.csv", "yahoo_csv", ("ust_10y_yh",), "yahoo"),
    Entry("fx/USDJPY.csv", "yahoo_csv", ("usdjpy",), "yahoo"),
    # The same bars' High and Low (the intervention detector's daily range).
    Entry("fx/USDJPY.csv", "yahoo_csv", ("usdjpy_high",), "yahoo"),
    Entry("fx/USDJPY.csv", "yahoo_csv", ("usdjpy_low",), "yahoo"),
    # yfinance formats FX bars in the exchange zone: the weekly open is Monday 00:00 London.
    Entry("fx/usdjpy_hourly.csv", "yahoo_hourly", ("usdjpy",), "yahoo", tz="Europe/London"),
    Entry("ust_prices/tlt.csv", "yahoo_csv", ("tlt",), "yahoo"),
    Entry("ust_prices/prices_tlt.json", "yahoo_json", ("tlt",), "yahoo"),
    Entry("ust_prices/tlt_hourly.csv", "yahoo_hourly", ("tlt",), "yahoo", tz="America/New_York"),
    Entry("ust_prices/ief.csv", "yahoo_csv", ("ief",), "yahoo"),
    Entry("ust_prices/ief_hourly.csv", "yahoo_hourly", ("ief",), "yahoo", tz="America/New_York"),
    Entry("ust_prices/ZN=F.csv", "yahoo_csv", ("zn_f",), "yahoo"),
)


def _parsers() -> dict[str, Callable[[bytes, list[Series], Entry], pd.DataFrame]]:
    return {
        "mof": lambda raw, ss, e: mof.parse_mof_csv(raw, ss),
        "treasury": lambda raw, ss, e: treasury.parse_treasury_csv(raw, ss),
        "fred": lambda raw, ss, e: fred.parse_fred_csv(raw, ss, value_symbol=e.value_symbol),
        "yahoo_csv": lambda raw, ss, e: yahoo.parse_yahoo_csv_export(raw, ss[0], freq="D"),
        "yahoo_hourly": lambda raw, ss, e: yahoo.parse_yahoo_csv_export(raw, ss[0], freq="I", tz=e.tz),
        "yahoo_json": lambda raw, ss, e: yahoo.parse_yahoo_prices_json(raw, ss[0]),
    }


def load_history(root: Path, universe: Universe, *, references: bool = False) -> pd.DataFrame:
    """Every manifest file under `root`, parsed → standard frame + `available_at` (publication),
    `source` (publisher) and `role` ("primary", or "reference" for a second publisher's value of
    a key another one owns — only with `references=True`; the default is one row per key).
    `attrs["problems"]` lists skipped files and dropped rows."""
    parsers = _parsers()
    parts: list[pd.DataFrame] = []
    problems: list[str] = []     # skipped files and dropped rows: a source error on /sources
    for entry in MANIFEST:
        ids = [s for s in entry.series if s in universe]
        paths = sorted(root.glob(entry.pattern))
        if not ids or not paths:
            continue
        series = [universe.get(s) for s in ids]
        for path in paths:
            try:
                frame = parsers[entry.parser](path.read_bytes(), series, entry)
            except (MalformedPayload, EmptyPayload) as exc:
                log.warning("replay: skipping %s: %s", path, exc)
                problems.append(f"{path.name} skipped: {exc}")
                continue
            except OSError as exc:
                log.warning("replay: cannot read %s: %s", path, exc)
                problems.append(f"{path.name} unreadable: {exc.strerror or type(exc).__name__}")
                continue
            bad = rejects_of(frame)
            frame = frame[COLUMNS].copy()
            frame["source"] = entry.publisher
            frame["order"] = len(parts)
            parts.append(frame)
            if bad:
                problems.append(f"{path.name}: {len(bad)} bad row(s) dropped, e.g. {bad[0]}")
                log.warning("replay: %s: %d bad row(s) dropped, e.g. %s", path, len(bad), bad[0])
    if not parts:
        raise EmptyPayload(f"no replayable files under {root} (expected e.g. jgb/jgbcme_all.csv)")
    hist = pd.concat(parts, ignore_index=True)
    # Release times per publisher over all its files at once: its next business day is the next
    # date any of them has (the current-month file continues the history file).
    hist["available_at"] = pd.concat([published_at(rows["ts"], publisher)
                                      for publisher, rows in hist.groupby("source")])
    # Later manifest entries win for the same key (primary over fallback, newer over older); a
    # losing value from ANOTHER publisher is kept as that series' second source (role
    # "reference": FRED DGS10 beside the Treasury par 10Y), which the quality gate compares.
    hist = hist.sort_values("order", kind="stable")
    last = ~hist.duplicated(["series_id", "freq", "ts"], keep="last")
    winner_src = hist[last].set_index(["series_id", "freq", "ts"])["source"]
    losers = hist[~last]
    other = losers["source"].to_numpy() != winner_src.reindex(
        pd.MultiIndex.from_frame(losers[["series_id", "freq", "ts"]])).to_numpy()
    refs = losers[other & (losers["freq"] == "D").to_numpy()].drop_duplicates(["series_id", "ts", "source"], keep="last")
    out = pd.concat([hist[last].assign(role="primary")] + ([refs.assign(role="reference")] if references else []),
                    ignore_index=True)
    out = out.drop(columns="order").sort_values("available_at", kind="stable").reset_index(drop=True)
    out.attrs["problems"] = problems
    return out


class ReplaySource:
    """Source protocol over local history files; `fetch` releases what the clock has reached."""

    name = "replay"

    def __init__(self, root: str | Path, universe: Universe, *, history_start: dt.date = dt.date(1998, 1, 1)) -> None:
        self.root = Path(root)
        self.universe = universe
        self.history_start = history_start     # the first start backfills from here (as live does)
        self._history: pd.DataFrame | None = None
        self._lock = threading.Lock()

    def history(self) -> pd.DataFrame:
        with self._lock:
            if self._history is None:
                self._history = load_history(self.root, self.universe, references=True)
                log.info("replay: %d observations from %s", len(self._history), self.root)
            return self._history

    def build_requests(self, series: Sequence[Series], *, since: dt.datetime | None,
                       now: dt.datetime) -> list[Request]:
        return [Request(source=self.name, series=tuple(series),
                        meta={"since": since, "now": now, "root": str(self.root)})]

    def fetch(self, request: Request, *, session=None, timeout: float | None = None) -> pd.DataFrame:
        hist = self.history()
        now = pd.Timestamp(request.meta["now"])
        since = request.meta["since"]
        avail = hist["available_at"]
        if since is None:
            # First start: the history before the replay clock, from the history start (as live).
            floor = pd.Timestamp(self.history_start, tz="UTC")
            mask = (avail <= now) & (hist["ts"] >= floor)
        else:
            mask = (avail > pd.Timestamp(since)) & (avail <= now)
        wanted = {s.id for s in request.series}
        rows = hist[mask & hist["series_id"].isin(wanted)]
        if rows.empty:
            raise EmptyPayload(f"nothing published between {since} and {now}")
        return rows

    def parse(self, raw: pd.DataFrame, request: Request) -> pd.DataFrame:
        if raw.empty:
            return empty_frame()
        return raw[COLUMNS + ["role", "source"]].reset_index(drop=True)

    @property
    def problems(self) -> list[str]:
        """Files skipped and rows dropped while loading the folder (shown as a source error)."""
        return list(self.history().attrs.get("problems", []))
