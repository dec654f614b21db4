"""The real 2026-01-20 event through the live path, replayed ONCE per test session and shared by
the incident tests (test_incidents.py) and the notification tests (test_deliveries.py)."""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import SimpleNamespace

import pytest

from tests.receivers import json_receiver
from tests.unit.alerts.helpers import run_replay

ROOT = Path(__file__).resolve().parents[3]
UTC = dt.UTC
# Three routes to a local receiver: the JP pager (critical), the desk (watch and worse), the US desk.
ROUTES = """
[[route]]
name = "pager"
match = {{ tier = "critical", market = "JP" }}
targets = ["json://127.0.0.1:{port}/pager"]
group_wait = 0.2
continue = true

[[route]]
name = "desk"
match = {{ tier = "watch" }}
targets = ["json://127.0.0.1:{port}/desk"]
group_wait = 0.2

[[route]]
name = "us"
match = {{ tier = "watch", market = "US" }}
targets = ["json://127.0.0.1:{port}/us"]
"""


@pytest.fixture(scope="session")
def jan2026_replay(market_dir, tmp_path_factory):
    """The live path (replay source → gate → store → alert pipeline with the shipped rules plus
    ROUTES) stepped every 6 hours of data time from 2026-01-16 12:00 to 2026-01-23 12:00 UTC, as
    `python app.py --replay` runs it; every routed message delivered for real to a local receiver.
    → namespace(alerts: AlertStore, got: the receiver's POSTs, routed: the RoutedNotifier)."""
    from alerts.deliveries import RoutedNotifier
    from alerts.store import AlertStore
    from data.store import Store

    tmp = tmp_path_factory.mktemp("jan2026")
    with json_receiver() as rec:
        rules = tmp / "alerts.toml"
        rules.write_text((ROOT / "alerts.toml").read_text(encoding="utf-8") + ROUTES.format(port=rec.port),
                         encoding="utf-8")
        store_ = Store(f"sqlite:///{tmp / 'r.db'}")
        pipeline = run_replay(market_dir, store_, dt.datetime(2026, 1, 16, 12, 0, tzinfo=UTC),
                              dt.datetime(2026, 1, 23, 12, 0, tzinfo=UTC), dt.timedelta(hours=6), rules=rules)
        routed = [x for x in pipeline.service.notifiers if isinstance(x, RoutedNotifier)]
        flushed = all(r.flush(30) for r in routed)
        pipeline.close(2)
        yield SimpleNamespace(alerts=AlertStore(store_), got=list(rec.got), routed=routed, flushed=flushed)
    store_.dispose()
