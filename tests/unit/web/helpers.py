"""A seeded SQLite store and the real app around it, for the web tests."""
from __future__ import annotations

import datetime as dt

import pandas as pd

from data.frame import daily_close_ts, make_frame
from universe import load_universe

UNIVERSE = load_universe()
UTC = dt.timezone.utc
TS = dt.datetime(2026, 1, 20, 6, tzinfo=UTC)
JGB_ID = "jgb_curve_z:jgb_30y:20260120T060000Z"
LOCAL = {"REMOTE_ADDR": "127.0.0.1"}


def daily(series_id, dates, values):
    s = UNIVERSE.get(series_id)
    return make_frame(series_id, "D", daily_close_ts(dates, s.timezone, s.close), values)


def seed(store) -> None:
    """Two JGB 30Y closes (+20.3 bp), a failing source whose error names a host and a path, and
    the 2026-01-20 critical alert raised by the real AlertService."""
    from alerts.rules import load_rules
    from alerts.service import AlertService
    from analytics.types import MoveStat

    store.upsert(pd.concat([daily("jgb_30y", ["2026-01-19", "2026-01-20"], [3.48, 3.683]),
                            daily("ust_10y", ["2026-01-16", "2026-01-20"], [4.24, 4.30])]),
                 source="mof", known_at=dt.datetime(2026, 1, 21, tzinfo=UTC))
    store.set_meta("mode", "live")
    wall = dt.datetime.now(UTC)
    store.record_attempt("mof", wall)
    store.record_success("mof", wall, 3)
    store.record_attempt("fred", wall)
    store.record_failure("fred", wall, "FetchError: network error: ConnectionError: "
                         "HTTPSConnectionPool(host='fred.stlouisfed.org', port=443): Max retries exceeded")
    store.record_attempt("treasury", wall)
    store.record_failure("treasury", wall, "unexpected FileNotFoundError: [Errno 2] No such file or directory: "
                         "'/home/monitor/contagion/var/cache/treasury-2026.csv'")
    stat = MoveStat(series_id="jgb_30y", ts=TS, kind="daily", horizon=1, move=20.3, unit="bp",
                    sigma={"w60": 2.66, "w250": 3.63, "ewma": 3.55, "mad250": 2.42},
                    z={"w60": 7.63, "w250": 5.60, "ewma": 5.71, "mad250": 8.39},
                    window_end=dt.datetime(2026, 1, 19, 6, tzinfo=UTC), rarity_share=0.000313,
                    return_period_years=12.7, normal_equiv_sigma=3.6, n_history=6382, source="mof")
    AlertService(store, load_rules(universe=UNIVERSE), [], UNIVERSE).run([stat], {}, {}, TS)
