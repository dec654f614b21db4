"""Move-statistics benchmark: 1,000 daily series × 10 years, full recompute and incremental update,
with the data-quality gate and the tail model in: (A) the gate inside the kernel (a frame without
stored verdicts), (B) the read model (verdicts stored by the collector's gate; a verdict the next
day changes is delivered again), (C) the gate on its own.

    python bench/bench_moves.py                  # best of 3
    python bench/bench_moves.py --series 1000 --years 10 --repeat 5

Synthetic data, same shape as ObservationCache.observations (series_id, freq, ts UTC, value,
source): half yields (bp), half prices (log %), each on its own calendar (business days with
about 10 random holidays a year per series, different close times). Prints the figures; it is
not a timed unit test. One core: numpy/BLAS threads are pinned to 1 before numpy is imported.
"""
from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from analytics.movestats import compute_move_stats  # noqa: E402
from analytics.quality import judge_frame  # noqa: E402
from universe import Series, Universe  # noqa: E402


HELD = 6   # points per series held back: the first update builds the rank index, then 5 steady days


def make_universe(n: int) -> Universe:
    series = []
    for i in range(n):
        y = i % 2 == 0
        series.append(Series(id=f"s{i:04d}", label=f"S{i}", source="fred", symbol=f"X{i}",
                             kind="yield" if y else "price", unit="bp" if y else "logpct",
                             market="US", timezone="UTC", close=f"{(6 + i % 14):02d}:00", group="bench"))
    return Universe(series=tuple(series), path=Path("bench"), version=1)


def make_obs(universe: Universe, years: int, seed: int = 1) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(history, next point per series): the history sorted like the cache (series_id, ts)."""
    rng = np.random.default_rng(seed)
    days = pd.bdate_range("2016-01-01", periods=years * 261 + 1, tz="UTC")
    parts, nxt = [], []
    for i, s in enumerate(universe):
        keep = rng.random(len(days)) > 10 / 261          # own holidays
        d = days[keep] + pd.Timedelta(hours=6 + i % 14)
        vol = rng.choice([0.01, 0.03, 0.06]) * rng.standard_t(4, len(d))
        v = (2.0 + np.cumsum(vol)) if s.unit == "bp" else 100.0 * np.exp(np.cumsum(vol / 10))
        parts.append(pd.DataFrame({"series_id": s.id, "freq": "D", "ts": d[:-HELD], "value": v[:-HELD], "source": "fred"}))
        nxt.append(pd.DataFrame({"series_id": s.id, "freq": "D", "ts": d[-HELD:], "value": v[-HELD:],
                                 "source": "fred", "day": np.arange(HELD)}))
    return pd.concat(parts, ignore_index=True), pd.concat(nxt, ignore_index=True)


def best(fn, repeat: int) -> tuple[float, object]:
    out, times = None, []
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def with_verdicts(frame: pd.DataFrame, u: Universe) -> pd.DataFrame:
    """The frame as the read model holds it: each close with the collector's stored verdict."""
    v = judge_frame(frame, u).set_index(["series_id", "ts"])
    key = pd.MultiIndex.from_frame(frame[["series_id", "ts"]])
    return frame.assign(quality=v["quality"].reindex(key).to_numpy(),
                        quality_note=v["quality_note"].reindex(key).to_numpy())


def stored_days(hist: pd.DataFrame, days: list[pd.DataFrame], u: Universe) -> list[pd.DataFrame]:
    """What the cache hands the read model each day: the day's closes with their verdicts, plus
    the earlier closes whose verdict that day changed (a held print the next one decided)."""
    out, seen = [], hist
    prev = with_verdicts(hist, u).set_index(["series_id", "ts"])
    for g in days:
        seen = pd.concat([seen, g], ignore_index=True)
        cur = with_verdicts(seen, u)
        key = pd.MultiIndex.from_frame(cur[["series_id", "ts"]])
        was = prev["quality"].reindex(key).to_numpy()
        out.append(cur[(was != cur["quality"].to_numpy())].reset_index(drop=True))   # new (NaN) or changed
        prev = cur.set_index(["series_id", "ts"])
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--series", type=int, default=1000)
    ap.add_argument("--years", type=int, default=10)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--real", type=Path, default=ROOT.parent / "shared" / "data" / "market",
                    help="also time the real universe on these replay files (skipped when absent)")
    a = ap.parse_args()
    u = make_universe(a.series)
    hist, nxt = make_obs(u, a.years)
    full_all = pd.concat([hist, nxt.drop(columns="day")], ignore_index=True).sort_values(["series_id", "ts"], ignore_index=True)
    print(f"machine: {os.cpu_count()} cores, {platform.platform()}, Python {platform.python_version()}")
    print(f"pandas {pd.__version__}, numpy {np.__version__}; threads pinned to 1")
    print(f"data: {a.series} series x {a.years} years, {len(hist):,} daily rows "
          f"(own calendars, {a.series // 2} bp + {a.series - a.series // 2} log-%)")
    # A — no stored verdicts: the gate runs inside the kernel (a frame straight from files).
    t_full, table = best(lambda: compute_move_stats(hist, u), a.repeat)
    # Steady state: each update applies the next day's point of every series to the newest table.
    days = [g.drop(columns="day") for _, g in nxt.groupby("day")]
    tip, t_incs = table, []
    for g in days:
        t0 = time.perf_counter()
        tip = tip.update(g)
        t_incs.append(time.perf_counter() - t0)
    t_branch, _ = best(lambda: table.update(days[0]), 1)     # an older table: buffers copied first
    t_full2, full2 = best(lambda: compute_move_stats(full_all.drop(columns="day", errors="ignore"), u), 1)
    t_hist, _ = best(lambda: table.history("s0000"), a.repeat)
    t_rec, _ = best(lambda: table.latest(), a.repeat)
    cols = ["z_w250", "z_mad250", "rarity_share", "return_period_years"]
    a_ = tip.frame.sort_values(["series_id", "horizon"])[cols].to_numpy(dtype=float)
    b_ = full2.frame.sort_values(["series_id", "horizon"])[cols].to_numpy(dtype=float)
    ok = np.allclose(a_, b_, rtol=1e-9, equal_nan=True)
    t_inc = float(np.median(t_incs[1:]))
    held = int(tip.frame["quality"].isin(["unconfirmed", "rejected"]).sum())
    # B — the read model: verdicts stored by the collector's gate, restated rows re-delivered.
    hist_q = with_verdicts(hist, u)
    t_full_q, table_q = best(lambda: compute_move_stats(hist_q, u), a.repeat)
    qdays = stored_days(hist, days, u)
    tip_q, t_incs_q = table_q, []
    for g in qdays:
        t0 = time.perf_counter()
        tip_q = tip_q.update(g)
        t_incs_q.append(time.perf_counter() - t0)
    restated = sum(len(g) - a.series for g in qdays)
    c_ = tip_q.frame.sort_values(["series_id", "horizon"])[cols].to_numpy(dtype=float)
    ok_q = np.allclose(c_, b_, rtol=1e-9, equal_nan=True)
    t_inc_q = float(np.median(t_incs_q[1:]))
    # C — the gate alone: judging every close of the history (the collector's first start).
    t_judge, _ = best(lambda: judge_frame(hist, u), a.repeat)
    print()
    print("| operation | seconds | result |")
    print("|---|---:|---|")
    print(f"| full recompute, gate inside (compute_move_stats, no stored verdicts) | {t_full:.3f} | "
          f"{len(table.frame):,} rows (series x 3 horizons) |")
    steady = HELD - 1
    print(f"| first update after a full recompute, gate inside (builds the rank index) | {t_incs[0]:.3f} | once per restart |")
    print(f"| incremental, gate inside: +1 point/series (MoveTable.update), median of the next {steady} days | {t_inc:.3f} | "
          f"{a.series:,} points each (max {max(t_incs[1:]):.3f} s); after {HELD} days equals full recompute: {ok}; "
          f"{held} latest rows held or rejected |")
    print(f"| full recompute from stored verdicts (the read model after a restart) | {t_full_q:.3f} | |")
    print(f"| first update from stored verdicts (builds the rank index) | {t_incs_q[0]:.3f} | once per restart |")
    print(f"| incremental from stored verdicts, median of the next {steady} days | {t_inc_q:.3f} | "
          f"max {max(t_incs_q[1:]):.3f} s; {restated} earlier closes re-delivered with a new verdict; "
          f"equals full recompute: {ok_q} |")
    print(f"| update applied to an older table (buffers copied first) | {t_branch:.3f} | rare: branching |")
    print(f"| full recompute with the {HELD} days included | {t_full2:.3f} | reference for the check |")
    print(f"| gate alone: judge every close (judge_frame) | {t_judge:.3f} | {len(hist):,} closes |")
    print(f"| history of one series (10 y, all estimators incl. MAD) | {t_hist:.3f} | charts, on demand |")
    print(f"| MoveStat records (latest()) | {t_rec:.3f} | {len(table.frame):,} records |")
    if a.real.is_dir():
        real(a.real, a.repeat)


def real(root: Path, repeat: int) -> None:
    """The real universe on the replay files: the read model's full recompute and the last five
    market days folded in one at a time (verdicts from the gate, as the collector stores them)."""
    from data.sources.replay import load_history
    from universe import load_universe
    u = load_universe()
    h = load_history(root, u)
    d = h[h["freq"] == "D"][["series_id", "freq", "ts", "value", "source"]].sort_values(["series_id", "ts"],
                                                                                        ignore_index=True)
    dq = with_verdicts(d, u)
    day = dq["ts"].dt.floor("D")
    last = sorted(day.unique())[-5:]
    base = dq[day < last[0]]
    t_full, table = best(lambda: compute_move_stats(dq, u), repeat)
    start = compute_move_stats(base, u)
    times = []
    for t in last:
        g = dq[day == t]
        t0 = time.perf_counter()
        start = start.update(g)
        times.append(time.perf_counter() - t0)
    print()
    print(f"real universe ({root}): {d['series_id'].nunique()} daily series, {len(d):,} closes in the files (the kernel reads those since the history start)")
    print()
    print("| operation | seconds | result |")
    print("|---|---:|---|")
    print(f"| full recompute from stored verdicts | {t_full:.3f} | {len(table.frame):,} rows |")
    print(f"| incremental: one market day, median of 5 | {float(np.median(times)):.4f} | max {max(times):.4f} s |")


if __name__ == "__main__":
    main()
