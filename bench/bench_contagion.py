"""Contagion analytics benchmark: rolling Diebold–Yilmaz spillover, the one-new-day update,
and the correlation/beta/attribution family.

    python bench/bench_contagion.py               # best of 5
    python bench/bench_contagion.py --repeat 10

Data: 5 synthetic daily change series (a VAR(1) with cross-effects, seed 0), 700 rows =
200-row warm-up + 500 window ends (≈ two years of daily windows). Numbers do not depend on
../shared. The statsmodels reference fits one VAR per window on a sample of windows and is
extrapolated to all 500.
"""
from __future__ import annotations

import argparse
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from analytics.attribution import rolling_attribution
from analytics.correlation import (
    align_pairs,
    ewma_correlation,
    rolling_beta,
    rolling_correlation,
)
from analytics.spillover import rolling_spillover, spillover_table

N_SERIES, WINDOW, N_WINDOWS, H = 5, 200, 500, 10


def synthetic(n_rows: int, n: int = N_SERIES, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    a = 0.15 * rng.standard_normal((n, n)) + 0.1 * np.eye(n)
    chol = np.linalg.cholesky(0.5 * np.eye(n) + 0.5)
    y = np.zeros((n_rows, n))
    for t in range(1, n_rows):
        y[t] = a @ y[t - 1] + chol @ rng.standard_normal(n)
    return pd.DataFrame(y * 4.0, index=pd.bdate_range("2024-01-01", periods=n_rows),
                        columns=["jgb_10y", "jgb_30y", "ust_10y", "ust_30y", "usdjpy"])


def best(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    df = synthetic(WINDOW + N_WINDOWS - 1)
    rows = []
    for p in (2, 4):
        for method in ("generalized", "cholesky"):
            t = best(lambda p=p, method=method: rolling_spillover(df, WINDOW, p, H, method), args.repeat)
            rows.append((f"rolling spillover, {N_WINDOWS} windows, VAR({p}), {method}",
                         t * 1e3, f"{t / N_WINDOWS * 1e6:.0f} µs/window"))
        last = df.iloc[-WINDOW:]
        t = best(lambda last=last, p=p: rolling_spillover(last, WINDOW, p, H, "generalized"), args.repeat * 20)
        rows.append((f"incremental: one new day → one window, VAR({p})", t * 1e3,
                     "numpy path on the last 200 rows"))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sample = 20
            spillover_table(df.iloc[:WINDOW], p, H)          # warm-up (import, caches)
            t = best(lambda p=p, sample=sample: [spillover_table(df.iloc[e - WINDOW + 1:e + 1], p, H)
                              for e in range(WINDOW - 1, WINDOW - 1 + sample)], 1)
        rows.append((f"statsmodels VAR per window, VAR({p}) (reference)", t / sample * N_WINDOWS * 1e3,
                     f"{t / sample * 1e3:.1f} ms/window × {N_WINDOWS}, extrapolated"))
    # correlations on ~2 years of JGB/UST pairs on their own calendars
    rng = np.random.default_rng(1)
    jd = pd.bdate_range("2016-01-01", periods=2600)
    j = pd.Series(rng.standard_normal(2600) * 2, index=jd).drop(jd[::23])
    u = pd.Series(rng.standard_normal(2600) * 4, index=jd).drop(jd[5::29])
    t = best(lambda: align_pairs(j, u, "jp_to_us"), args.repeat)
    rows.append(("align_pairs jp_to_us, 10y of dates", t * 1e3, f"{len(align_pairs(j, u)):,} pairs"))
    t = best(lambda: align_pairs(j, u, "us_to_jp"), args.repeat)
    rows.append(("align_pairs us_to_jp (as-of, fresh only)", t * 1e3, ""))
    pairs = align_pairs(j, u, "jp_to_us")
    t = best(lambda: (rolling_correlation(pairs, 60), rolling_correlation(pairs, 250),
                      ewma_correlation(pairs)), args.repeat)
    rows.append(("rolling corr 60 + 250 with Fisher bands + EWMA", t * 1e3, ""))
    t = best(lambda: rolling_beta(pairs, 250), args.repeat)
    rows.append(("rolling beta 250 (β, se, R²)", t * 1e3, ""))
    t = best(lambda: rolling_attribution(pairs, 250), args.repeat)
    rows.append(("rolling attribution 250 (every day)", t * 1e3, ""))

    print(f"# Contagion analytics — {platform.python_version()}, numpy {np.__version__}, "
          f"pandas {pd.__version__}, {platform.machine()}, best of {args.repeat}")
    print("| operation | ms | note |\n|---|---:|---|")
    for name, ms, note in rows:
        print(f"| {name} | {ms:,.1f} | {note} |")


if __name__ == "__main__":
    main()
