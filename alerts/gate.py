"""The data-quality gate inside the collector: every daily close is judged before it is stored.

`QualityGate.judge(part, priority)` is called by the collector between validation and the upsert:
it judges the part's daily rows in the context of what the store already holds (the previous
closes, the curve's other tenors, the second sources) with the pure `analytics.quality` gate, and
returns the part with its verdicts (written beside each value in the same upsert) plus the stored
rows whose verdict this new data changed (a held spike the next print reversed, a close a
second source now contradicts), which the collector writes with `Store.set_quality`.

Web processes never judge: they read the stored verdicts. The collector is the only writer; it
gets this gate injected (main.py), so data/ never imports analytics. It lives beside the
alert pipeline because both are the collector-side steps that need the store and analytics.
"""
from __future__ import annotations

import logging
import threading

import pandas as pd

from analytics.quality import judge_frame
from data.cache import ObservationCache
from data.store import Store
from universe import Universe

__all__ = ["QualityGate", "judge_stored"]

log = logging.getLogger("contagion.gate")

KEY = ["series_id", "freq", "ts"]


class QualityGate:
    """Judges batches for the collector against an incremental copy of the store (daily rows)."""

    def __init__(self, store: Store, universe: Universe, *, cache: ObservationCache | None = None) -> None:
        self.store = store
        self.universe = universe
        self.cache = cache or ObservationCache(store, freq="D")
        self._refs = pd.DataFrame(columns=["series_id", "ts", "value", "source", "known_at"])
        self._refs_known = 0
        self._lock = threading.Lock()
        self.held = 0        # rows held or rejected by the gate since start (shown on /sources)

    def _references(self) -> pd.DataFrame:
        new = self.store.read_references(since_known=self._refs_known)
        if len(new):
            self._refs_known = int(pd.DatetimeIndex(new["known_at"]).as_unit("ns").asi8.max())
            both = pd.concat([self._refs, new], ignore_index=True)
            self._refs = both.drop_duplicates(["series_id", "ts", "source"], keep="last").reset_index(drop=True)
        return self._refs

    def judge(self, part: pd.DataFrame, *, primary: bool = True,
              rejudge: set[str] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(part with quality columns, stored rows whose verdict changed).

        `primary=False` (a fallback publisher): rows for keys the store already holds are not new
        data (the upsert will skip them). `rejudge`: further series to judge again (their second
        source changed)."""
        with self._lock:
            self.cache.refresh()
            stored = self.cache.observations
            stored = stored[stored["freq"] == "D"] if len(stored) else stored
            daily = part[part["freq"] == "D"] if len(part) else part
            touched = set(daily["series_id"]) | set(rejudge or ())
            touched = {s for s in touched if s in self.universe}
            out = part.copy()
            out["quality"] = None
            out["quality_note"] = None
            if not touched:
                return out, _no_changes()
            # Peers confirm each other: judge the whole group of a touched curve series.
            groups = {self.universe.get(s).group for s in touched}
            scope = {s.id for s in self.universe if s.group in groups} | touched
            old = stored[stored["series_id"].isin(scope)][KEY + ["value", "quality", "quality_note"]]
            new = daily[KEY + ["value"]]
            if not primary and len(old):
                have = pd.MultiIndex.from_frame(old[KEY])
                new = new[~pd.MultiIndex.from_frame(new[KEY]).isin(have)]
            both = pd.concat([old[KEY + ["value"]], new], ignore_index=True)
            both = both.drop_duplicates(KEY, keep="last")
            verdicts = judge_frame(both, self.universe, fallback_refs=self._references(), series=touched)
            if verdicts.empty:
                return out, _no_changes()
            v = verdicts.set_index(KEY)
            key = pd.MultiIndex.from_frame(out[KEY])
            hit = key.isin(v.index)
            out.loc[hit, "quality"] = v.loc[key[hit], "quality"].to_numpy()
            out.loc[hit, "quality_note"] = v.loc[key[hit], "quality_note"].to_numpy()
            # Stored rows whose verdict moved (and that this part does not rewrite anyway).
            cur = old.set_index(KEY)[["quality", "quality_note"]]
            common = v.index.intersection(cur.index)
            if len(part):
                common = common.difference(pd.MultiIndex.from_frame(new[KEY]))
            a, b = v.loc[common], cur.loc[common]
            diff = (a["quality"].astype(object).to_numpy() != b["quality"].astype(object).to_numpy()) | \
                   (a["quality_note"].fillna("").astype(str).to_numpy() != b["quality_note"].fillna("").astype(str).to_numpy())
            changes = a[diff].reset_index()
            n_held = int(out["quality"].isin(["unconfirmed", "rejected"]).sum())
            if n_held:
                self.held += n_held
                for r in out[out["quality"].isin(["unconfirmed", "rejected"])].itertuples(index=False):
                    log.warning("gate: %s %s %s: %s", r.series_id, r.ts, r.quality, r.quality_note)
            return out, changes


def _no_changes() -> pd.DataFrame:
    return pd.DataFrame(columns=KEY + ["quality", "quality_note"])


def judge_stored(store: Store, universe: Universe, gate: QualityGate | None = None) -> int:
    """Judge every daily close the store holds without a verdict (written before this release,
    or by a writer without the gate) and store the verdicts; returns how many were written."""
    gate = gate or QualityGate(store, universe)
    gate.cache.refresh()
    obs = gate.cache.observations
    if obs.empty or "quality" not in obs.columns:
        return 0
    daily = obs[(obs["freq"] == "D") & obs["quality"].isna()]
    todo = {s for s in daily["series_id"].unique() if s in universe}
    if not todo:
        return 0
    _, changes = gate.judge(obs.iloc[:0], rejudge=todo)
    if len(changes):
        store.set_quality(changes)
        log.info("data-quality gate: judged %d stored closes of %d series", len(changes), len(todo))
    return len(changes)
