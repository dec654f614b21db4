"""Overview render benchmark (issue 11): what one web process spends on the Overview per data
update and per request, on the real JGB store of 2026-01-20 (../shared/data/market, the real
pipeline's alerts).

    python bench/bench_overview.py               # 200 warm calls, 20 cold builds

cold view   : views.overview.overview_view (snapshot → frozen view-model with digests)
cold render : components → wire JSON of every tile, both curves and the feed (callbacks.overview.parts)
warm full   : a full render (tag None) on a snapshot already rendered, serialised as Dash sends it
unchanged   : the tag on screen is current → no_update, serialised
The cold figures are paid once per data update per web process; the warm ones per request.
Prints the figures; it is not a timed unit test.
"""
from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
MARKET = ROOT.parent / "shared" / "data" / "market"


def _ms(xs: list[float]) -> tuple[str, str]:
    xs = sorted(xs)
    return f"{1000 * statistics.median(xs):.2f}", f"{1000 * xs[min(len(xs) - 1, int(0.99 * len(xs)))]:.2f}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--repeat", type=int, default=200)
    p.add_argument("--cold", type=int, default=20)
    args = p.parse_args(argv)
    if not MARKET.is_dir():
        print(f"skipped: {MARKET} (the real market files) is absent", file=sys.stderr)
        return 0
    import logging

    logging.disable(logging.WARNING)
    from dash._utils import to_json

    from callbacks import overview as cb
    from tests.unit.realjgb import UNIVERSE, seed
    from views.overview import overview_view
    from views.snapshot import SnapshotService

    store = seed(Path(tempfile.mkdtemp(prefix="cm-bench-ov-")) / "ov.db", MARKET)
    snap = SnapshotService(store, UNIVERSE, check_every=3600).current()
    view_t, render_t = [], []
    for _ in range(args.cold):
        fresh = replace(snap, memo={})       # the same data, nothing built yet: a new snapshot
        t0 = time.perf_counter()
        overview_view(fresh)                 # kept in fresh's memo…
        t1 = time.perf_counter()
        cb.parts(fresh)                      # …so this is the rendering alone
        t2 = time.perf_counter()
        view_t.append(t1 - t0)
        render_t.append(t2 - t1)
    full_t, same_t = [], []
    tag = cb.refresh(snap, None)[-1]
    full_bytes = len(to_json(cb.refresh(snap, None)))
    same_bytes = len(to_json(cb.refresh(snap, tag)))
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        to_json(cb.refresh(snap, None))
        t1 = time.perf_counter()
        to_json(cb.refresh(snap, tag))
        t2 = time.perf_counter()
        full_t.append(t1 - t0)
        same_t.append(t2 - t1)
    print(f"machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}")
    print("| case | calls | p50 ms | p99 ms | bytes |\n|---|---:|---:|---:|---:|")
    print(f"| cold view (overview_view) | {args.cold} | {' | '.join(_ms(view_t))} | |")
    print(f"| cold render (components → wire JSON) | {args.cold} | {' | '.join(_ms(render_t))} | |")
    print(f"| warm full render (tag None) | {args.repeat} | {' | '.join(_ms(full_t))} | {full_bytes:,} |")
    print(f"| unchanged (tag current → no_update) | {args.repeat} | {' | '.join(_ms(same_t))} | {same_bytes:,} |")
    store.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
