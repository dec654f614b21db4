"""In-memory copy of the store for web readers, refreshed when the store changes.

A web process must not query the database per request. `refresh()` costs one cheap query
(`Store.data_version()`) when nothing changed; when the version moved it loads only rows with
`version > cached version` (new points and restatements) and merges them by key.

Thread safety: refreshes are serialised by a lock, and the merged frame is built aside and then
swapped in with one assignment, so a reader always sees one consistent frame (never a frame
half-way through a merge). Frames handed out are shallow copies: under pandas copy-on-write a
caller that modifies one does not modify the cache.
"""
from __future__ import annotations

import threading

import numpy as np
import pandas as pd

from data.store import READ_COLUMNS, Store, empty_observations

__all__ = ["ObservationCache", "trim_intraday"]

KEY = ["series_id", "freq", "ts"]


class ObservationCache:
    def __init__(self, store: Store, *, freq: str | None = None,
                 intraday_keep: pd.Timedelta | None = None) -> None:
        self.store = store
        self.freq = freq
        # Intraday bars older than this before each series' newest bar are dropped from memory
        # (None: keep all). Daily closes are always kept: σ windows and rarity use the full history.
        self.intraday_keep = intraday_keep
        self._lock = threading.Lock()
        self._obs: pd.DataFrame = empty_observations()
        self._version = 0
        self._epoch: str | None = None   # Store.reset_data() changes it: reload from scratch
        self.full_loads = 0          # how many times the whole table was read (should stay 1)
        self.incremental_loads = 0
        # What the last refresh that loaded anything read: the rows (new points and restatements)
        # and whether it was a whole-table load; derived state (move statistics) folds these in.
        self.last_loaded: pd.DataFrame = empty_observations()
        self.last_was_full = True

    @property
    def version(self) -> int:
        """The store data version this cache reflects (0: nothing loaded yet)."""
        return self._version

    @property
    def observations(self) -> pd.DataFrame:
        """The cached long frame (Store.read columns), sorted by series_id, freq, ts."""
        return self._obs.copy(deep=False)

    def refresh(self) -> bool:
        """Bring the cache up to the store's data version; True if anything new was loaded."""
        with self._lock:
            current = self.store.data_version()
            if current <= self._version:
                return False
            epoch = self.store.get_meta("epoch")
            if epoch != self._epoch:
                self._version, self._epoch = 0, epoch
            first = self._version == 0
            new = self.store.read(freq=self.freq, since_version=self._version)
            if first:
                merged = new
                self.full_loads += 1
            else:
                self.incremental_loads += 1
                merged = _merge(self._obs, new)
            # A write may commit between data_version() and read(): its rows are then already
            # here, and loading them again next time is harmless (merge replaces by key).
            seen = int(new["version"].max()) if len(new) else current
            if self.intraday_keep is not None:
                merged = trim_intraday(merged, self.intraday_keep)
            self._obs = merged
            self._version = max(current, seen)
            self.last_loaded, self.last_was_full = new, first
            return True

    def series(self, series_id: str, freq: str = "D") -> pd.Series:
        """One series' values indexed by ts (UTC), named after the series."""
        obs = self._obs
        sel = obs[(obs["series_id"] == series_id) & (obs["freq"] == freq)]
        return pd.Series(sel["value"].to_numpy(), index=pd.DatetimeIndex(sel["ts"], name="ts"),
                         name=series_id, dtype="float64")


def _merge(old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """Old rows whose key is not in `new`, plus `new` (restated keys take the new row)."""
    if new.empty:
        return old
    if old.empty:
        return new[READ_COLUMNS].reset_index(drop=True)
    old_keys = pd.MultiIndex.from_frame(old[KEY])
    new_keys = pd.MultiIndex.from_frame(new[KEY])
    kept = old[~old_keys.isin(new_keys)]
    out = pd.concat([kept, new[READ_COLUMNS]], ignore_index=True)
    return out.sort_values(KEY, kind="stable").reset_index(drop=True)


def trim_intraday(obs: pd.DataFrame, keep: pd.Timedelta) -> pd.DataFrame:
    """`obs` without the intraday rows older than `keep` before their series' newest bar."""
    intra = (obs["freq"] == "I").to_numpy()
    if not intra.any():
        return obs
    part = obs.loc[intra, ["series_id", "ts"]]
    newest = part.groupby("series_id", sort=False)["ts"].transform("max")
    old = np.zeros(len(obs), dtype=bool)
    old[np.flatnonzero(intra)] = (part["ts"] < newest - keep).to_numpy()
    return obs[~old].reset_index(drop=True) if old.any() else obs
