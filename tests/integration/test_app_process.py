"""`python app.py` for real: demo, offline live, replay of the real files, one collector only,
and the web-only deployment path (gunicorn app:server)."""
from __future__ import annotations

import datetime as dt
import subprocess
import time
import sys
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pytest

from universe import load_universe
from tests.integration.proc import OFFLINE, ROOT, AppProcess

N_SERIES = len(load_universe())      # every series of the shipped universe.toml

pytestmark = pytest.mark.slow


@pytest.fixture
def run(tmp_path):
    procs: list[AppProcess] = []

    def start(*args, **kw) -> AppProcess:
        p = AppProcess(list(args), data_dir=kw.pop("data_dir", tmp_path), **kw)
        procs.append(p)
        return p

    yield start
    for p in procs:
        p.stop()


def test_demo_serves_every_series_simulated(run):
    app = run("--demo", env=OFFLINE)
    body = app.wait_until(lambda: (lambda d: d if all(s["value"] is not None for s in d["series"]) else None)(
        app.json("/api/series")), what="every series to have a value")
    assert body["mode"] == "demo" and body["simulated"] is True and "SIMULATED" in body["notice"]
    assert len(body["series"]) == N_SERIES
    # Every series moves: bills quoted to 2 decimals may sit still for a day, but no series is flat
    # over its last ten closes, and most moved since their previous close.
    from data.store import Store

    store = Store(f"sqlite:///{app.log.parent / 'demo.db'}")
    daily = store.read(freq="D")
    store.dispose()
    from analytics.moves import change
    from universe import load_universe

    universe = load_universe()
    # Exchange quotes (`sigma_from`, e.g. JGB 30Y on CNBC) have no daily close of their own: the
    # MOF fixing is their close of record. Every other series has daily closes.
    quotes = {s.id for s in universe if s.sigma_from}
    assert quotes, "the demo market carries intraday JGB yields"
    last10 = daily.groupby("series_id")["value"].apply(lambda v: v.tail(10).nunique())
    assert set(last10.index) == {s.id for s in universe} - quotes and (last10 > 1).all(), last10[last10 <= 1]
    store = Store(f"sqlite:///{app.log.parent / 'demo.db'}")
    intra = store.read(series_ids=sorted(quotes), freq="I")
    store.dispose()
    moved = intra.groupby("series_id")["value"].apply(lambda v: v.tail(10).nunique())
    assert set(moved.index) == quotes and (moved > 1).all(), moved
    # Each change is the move from the previous close, recomputed here from the stored rows (a
    # count of non-zero changes depends on the day: a quiet simulated day leaves 2-decimal bills flat).
    for s in body["series"]:
        if s["id"] in quotes:
            assert s["freq"] == "I", s
            continue
        closes = daily[daily["series_id"] == s["id"]]
        prev = closes[closes["ts"] < pd.Timestamp(s["as_of"])]["value"].iloc[-1]
        # /api/series rounds changes to 4 decimals
        assert s["change"] == pytest.approx(change(prev, s["value"], universe.get(s["id"]).unit), rel=0,
                                            abs=5.1e-5), s["id"]
    assert all(s["simulated"] for s in body["series"])
    status, html = app.get("/")
    assert status == 200 and b"Contagion Monitor" in html
    assert app.json("/healthz")["mode"] == "demo"
    assert "Traceback" not in app.output()


def test_live_without_network_serves_and_reports_each_source_error(run):
    app = run(env={**OFFLINE, "CM_YAHOO_EVERY": "5", "CM_CNBC_EVERY": "15", "CM_DAILY_EVERY": "60",
                   "CM_HTTP_TIMEOUT": "3"})

    def all_failing():
        src = {s["source"]: s for s in app.json("/api/sources")["sources"]}
        ok = set(src) == {"mof", "treasury", "fred", "yahoo", "cnbc"} and all(
            s["consecutive_failures"] >= 1 and s["last_error"] for s in src.values())
        return src if ok else None

    src = app.wait_until(all_failing, timeout=90, what="every source to report its error")
    for name, s in src.items():
        assert s["state"] == "failing" and s["last_success"] is None, name
    assert "ProxyError" in src["mof"]["last_error"] or "network" in src["mof"]["last_error"].lower()
    assert app.get("/")[0] == 200 and app.get("/sources")[0] == 200
    series = app.json("/api/series")["series"]
    assert all(s["value"] is None for s in series) and len(series) == N_SERIES
    assert app.json("/healthz")["status"] == "degraded"
    assert app.proc.poll() is None
    assert "Traceback" not in app.output()


def test_replay_serves_january_2026_from_the_real_files(run, market_dir):
    app = run("--replay", str(market_dir), "--start", "2026-01-05", "--speed", "200000", env=OFFLINE)

    def past_jan_21():
        d = app.json("/api/series")
        clock = pd.Timestamp(d["clock"])
        jgb = next(s for s in d["series"] if s["id"] == "jgb_30y")
        return d if jgb["as_of"] and pd.Timestamp(jgb["as_of"]) >= pd.Timestamp("2026-01-21T06:00Z") \
            and clock > pd.Timestamp(jgb["as_of"]) else None

    d = app.wait_until(past_jan_21, timeout=90, what="the replay to release JGB closes past 2026-01-20")
    assert d["mode"] == "replay" and d["simulated"] is False
    # Independent reference: the MOF file read directly with pandas.
    ref = pd.read_csv(market_dir / "jgb" / "jgbcme_all.csv", skiprows=1, na_values="-")
    ref["Date"] = pd.to_datetime(ref["Date"], format="%Y/%m/%d", errors="coerce")
    ref = ref.dropna(subset=["Date"]).set_index("Date")["30Y"].astype(float)
    from data.store import Store

    store = Store(_replay_store(market_dir, "2026-01-05", 200000.0, app.log.parent))
    got = store.read(series_ids=["jgb_30y"]).set_index("ts")["value"]
    jan20 = got[got.index.tz_convert("Asia/Tokyo").date == dt.date(2026, 1, 20)]
    assert len(jan20) == 1 and jan20.iloc[0] == ref.loc["2026-01-20"]
    assert round((ref.loc["2026-01-20"] - ref.loc["2026-01-19"]) * 100, 1) == 20.3
    # Nothing from after the replay clock was released (no look-ahead).
    assert got.index.max() <= pd.Timestamp(d["clock"])
    store.dispose()


def _replay_store(market_dir, start: str, speed: float, data_dir, until: str | None = None) -> str:
    from config import Settings

    return Settings(mode="replay", replay_dir=market_dir, replay_start=dt.date.fromisoformat(start),
                    replay_speed=speed, data_dir=data_dir,
                    replay_until=dt.date.fromisoformat(until) if until else None).resolved_db_url()


def test_a_second_replay_of_the_same_store_refuses_and_another_start_gets_its_own(run, tmp_path, market_dir):
    """Issue 13: a second `--replay … --start 2026-01-21` silently served the first one's clock
    (one var/replay.db) and jumped back when that one stopped."""
    first = run("--replay", str(market_dir), "--start", "2026-01-14", "--speed", "3600", env=OFFLINE)
    first.wait_until(lambda: "started" in first.output(), what="the first replay's collector")
    env = {**OFFLINE, "CM_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin", "CM_LOG_FILE": "none"}
    same = subprocess.run([sys.executable, "app.py", "--replay", str(market_dir), "--start", "2026-01-14",
                           "--speed", "3600", "--port", str(first.port + 1)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60, env=env)
    assert same.returncode == 2, same.stderr[-2000:]
    line = same.stderr.strip().splitlines()[-1]
    assert line.startswith("error: a replay from 2026-01-14 at ×3600 is already running on this store"), line
    assert "pid" in line and "Traceback" not in same.stderr and "standing by" not in same.stderr
    # Another start: its own store and clock, beside the first.
    other = run("--replay", str(market_dir), "--start", "2026-01-21", "--speed", "1", env=OFFLINE)
    other.wait_until(lambda: other.json("/api/series")["clock"].startswith("2026-01-21"), timeout=60,
                     what="the second replay's own clock")
    # Two replays and their first computations share two cores here: allow a slow answer.
    assert first.json("/api/series", timeout=30)["clock"] < "2026-01-21"
    assert "standing by" not in other.output()
    names = sorted(p.name for p in tmp_path.glob("replay-*.db"))
    assert len(names) == 2 and names[0].startswith("replay-2026-01-14-") and names[1].startswith("replay-2026-01-21-")
    assert first.proc.poll() is None


def test_second_collector_is_refused_and_serve_stands_by_then_takes_over(run, tmp_path):
    first = run("collect", "--demo", env=OFFLINE)
    first.wait_until(lambda: "collector" in first.output() and "started" in first.output(), what="collector start")
    second = subprocess.run([sys.executable, "app.py", "collect", "--demo"], cwd=ROOT, capture_output=True,
                            text=True, timeout=60, env={**OFFLINE, "CM_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert second.returncode == 2
    assert "already running" in second.stderr.lower() or "collector" in second.stderr.lower()
    assert "Traceback" not in second.stderr
    web = run("--demo", env=OFFLINE)
    web.wait_until(lambda: web.json("/api/series")["mode"] == "demo", what="read-only web")
    assert "standing by" in web.output()
    assert first.proc.poll() is None
    # The first collector stops (SIGTERM, as systemd does): the serving process takes over within
    # seconds (it looks at the lease every second), and data keeps arriving without a restart.
    assert first.stop() == 0
    web.wait_until(lambda: "took over the lease" in web.output(), timeout=40, what="standby takeover")
    before = web.json("/healthz")["data_version"]
    web.wait_until(lambda: web.json("/healthz")["data_version"] > before, timeout=40,
                   what="new data from the taken-over collector")
    assert "Traceback" not in web.output()


def test_sigterm_releases_the_lease_so_a_restart_collects_at_once(run, tmp_path):
    app = run("--demo", env=OFFLINE)
    app.wait_until(lambda: "started" in app.output(), what="collector start")
    assert app.stop() == 0
    from data.store import Store

    store = Store(f"sqlite:///{tmp_path / 'demo.db'}")
    assert store.collector_lease_holder() is None
    store.dispose()
    again = run("--demo", env=OFFLINE)
    again.wait_until(lambda: "started" in again.output(), timeout=30, what="immediate collector start")
    assert "standing by" not in again.output()


def test_web_only_import_never_loads_yfinance_or_apscheduler(tmp_path):
    code = ("import sys, app; assert app.server is not None; "
            "bad = [m for m in ('yfinance', 'apscheduler') if m in sys.modules]; "
            "assert not bad, bad; print('ok')")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={"CM_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stderr


def test_gunicorn_web_worker_reads_the_collectors_store(run, tmp_path):
    collector = run("collect", "--demo", env=OFFLINE)
    collector.wait_until(lambda: "started" in collector.output(), what="collector start")
    web = run(data_dir=tmp_path, env={**OFFLINE, "CM_MODE": "demo"},
              cmd=[sys.executable, "-m", "gunicorn", "-w", "2", "-b", "127.0.0.1:{port}", "app:server"])
    body = web.wait_until(lambda: (lambda d: d if d["series"][0]["value"] is not None else None)(
        web.json("/api/series")), what="gunicorn to serve the collector's data")
    assert body["simulated"] is True
    # gunicorn.conf.py (read from the working directory) gives master and workers one boot id: a
    # wall screen whose polls land on either worker never takes that for a server restart.
    with ThreadPoolExecutor(8) as pool:
        boots = set(pool.map(lambda _: web.json("/healthz")["boot"], range(64)))
    assert len(boots) == 1 and len(boots.pop()) == 12


def test_gunicorn_conf_shares_one_boot_id_with_every_worker(tmp_path):
    """What gunicorn does with the config: run on_starting in the master, then fork workers that
    import the app; every worker's web.boot.BOOT_ID is the master's."""
    code = ("import os, runpy; conf = runpy.run_path('gunicorn.conf.py'); conf['on_starting'](None); "
            "boot = os.environ['CM_BOOT_ID']; pids = []\n"
            "for _ in range(2):\n"
            "    r, w = os.pipe(); pid = os.fork()\n"
            "    if pid == 0:\n"
            "        from web import boot; os.write(w, boot.BOOT_ID.encode()); os._exit(0)\n"
            "    os.waitpid(pid, 0); got = os.read(r, 64).decode(); assert got == boot, (got, boot)\n"
            "print('ok', boot, conf['bind'], conf['workers'])")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60,
                          env={"CM_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stderr
    assert "127.0.0.1:8050 2" in proc.stdout          # loopback by default, one worker per core


def test_app_backtest_command_reports_the_2026_01_20_critical(market_dir):
    import json

    proc = subprocess.run([sys.executable, "app.py", "backtest", "--replay", str(market_dir),
                           "--start", "2026-01-15", "--end", "2026-01-23", "--json"],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    doc = json.loads(proc.stdout)
    alerts = doc["alerts"] if isinstance(doc, dict) and "alerts" in doc else doc
    crit = [a for a in alerts if a["series"] == "jgb_30y" and a["tier"] == "critical" and a["date"] == "2026-01-20"]
    assert crit, [a.get("tier") for a in alerts][:20]
    bad = subprocess.run([sys.executable, "app.py", "backtest", "--replay", str(market_dir), "--start", "soon",
                          "--end", "2026-01-23"],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "--start" in bad.stderr and "Traceback" not in bad.stderr


def _burn(stop_at: float) -> None:
    while time.time() < stop_at:
        sum(i * i for i in range(10_000))


def test_fast_replay_on_a_busy_machine_never_skips_the_2026_01_20_critical(run, market_dir):
    """Issue 9: `--replay … --start 2026-01-14 --speed 86400` (a market day per second) on a
    machine kept busy by two CPU burners: the JGB 30Y critical of 2026-01-20 must fire — one
    collector cycle brings several closes, and each is judged in time order."""
    import multiprocessing as mp

    stop_at = time.time() + 240
    burners = [mp.Process(target=_burn, args=(stop_at,), daemon=True) for _ in range(2)]
    for b in burners:
        b.start()
    try:
        app = run("--replay", str(market_dir), "--start", "2026-01-14", "--speed", "86400", env=OFFLINE)

        def past_jan_23():
            d = app.json("/api/series")
            return pd.Timestamp(d["clock"]) > pd.Timestamp("2026-01-23T00:00Z")

        app.wait_until(past_jan_23, timeout=110, what="the replay clock past 2026-01-23")
        # The pipeline runs after each cycle, and on a loaded machine a run takes tens of seconds:
        # wait until it has judged every close through 2026-01-21 (its own mark in the store),
        # not for a fixed time; from then on a skipped 2026-01-20 could never fire.
        from alerts.pipeline import JUDGED_KEY
        from data.store import Store

        store = Store(_replay_store(market_dir, "2026-01-14", 86400.0, app.log.parent))

        def judged_past_jan_21():
            mark = store.get_meta(JUDGED_KEY)
            return mark if mark and pd.Timestamp(mark) >= pd.Timestamp("2026-01-21T06:00Z") else None

        from alerts.store import AlertStore

        def fired():
            # The store's event log (durable; the snapshot keeps only the newest 500 events).
            ev = AlertStore(store).list_events(series="jgb_30y", tier="critical", kind=["firing", "escalated"],
                                               limit=100)
            return [e for e in ev if e.data_ts is not None and f"{e.data_ts:%Y-%m-%d}" == "2026-01-20"]

        try:
            app.wait_until(judged_past_jan_21, timeout=150, what="the pipeline to judge closes past 2026-01-20")
            hits = app.wait_until(fired, timeout=10, what="the JGB 30Y critical of 2026-01-20")
        finally:
            store.dispose()
        assert any(e.rule_id == "jgb_curve_z" for e in hits)
    finally:
        for b in burners:
            b.terminate()
