"""Web performance benchmark (issue 5): first render, refresh-callback cost, wall-screen load.

    python bench/bench_web.py --runs 3 --repeat 500            # everything, ~12 minutes
    python bench/bench_web.py --screens 1000 --duration 40 --runs 5
    python bench/bench_web.py --sweep 100,250,500              # + screens one waitress carries

What it does, all on 127.0.0.1, every loop bounded in count and time:
1. starts `python app.py --demo` (waitress, CM_DATA_DIR in a temp dir, free port) and the naive
   peer (bench/naive_peer.py) on the same store;
2. headless Chromium (Debian's, flags of tests/e2e/conftest.py): navigation start → first
   data-bearing element painted, median of --runs cold loads per page; the refresh POSTs the
   pages send (`/_dash-update-component` with `cm-refresh.n_intervals` as input) are captured
   there, so the load test replays exactly what a browser sends — including the wall's refresh
   callback whatever its outputs are today;
3. server time per refresh callback in-process (Flask test client on a copy of the demo store)
   and over HTTP (one client, sequential), on the `no_update` path (the screen's tag is
   current) and the update path (tag None, as a fresh page sends: the same full render every
   screen gets right after a data tick);
4. the load: --screens simulated wall screens, each sending its page's refresh POSTs plus
   wall.js's GET /healthz every --interval s (own keep-alive connections, like a browser) with
   its own tag store value (taken from its last response), for --duration s, against waitress
   (`python app.py --demo`), gunicorn with gunicorn.conf.py beside `python app.py collect --demo`
   (if installed), and the naive peer. Latency counts from the scheduled send time (no
   coordinated omission). --tick sets how often the demo collector runs.
"""
from __future__ import annotations

import argparse
import asyncio
import copy
import json
import math
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.integration.proc import OFFLINE, AppProcess, free_port

CHROMIUM = os.environ.get("CM_CHROMIUM", "/usr/bin/chromium")
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage"]
UPDATE = "/_dash-update-component"
REFRESH_ID = "cm-refresh"
NO_UPDATE_MAX_BYTES = 64    # `{"multi":true,"response":{}}` is 28 bytes
PATH_KEY = "__bench_path"   # where the captured request went (not sent)

# page → (label, CSS selector of the first data-bearing element). The overview's own content is
# whatever is there when this runs (table row, tile, plot); the banner strip comes from a callback.
PAGES = {
    "/": [("shell (navbar)", ".navbar-brand"),
          ("banner strip", "#cm-banner .alert"),
          ("tiles with values", "#_pages_content .cm-ov-tile .cm-ov-value"),
          ("page content", ("#_pages_content tbody tr, #_pages_content .cm-tile, "
                            "#_pages_content .js-plotly-plot .main-svg, #_pages_content .ag-row"))],
    "/markets": [("table row", "#cm-markets-table tbody tr")],
    "/wall": [("wall tile", "#cm-wall-tiles [id^=tile-]")],
}
NAIVE_PAGE = [("table row", "#naive-table tbody tr")]


# ------------------------------------------------------------------------------------ helpers
def machine() -> str:
    cpu = platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem = int(Path("/proc/meminfo").read_text().split()[1]) / 1024 / 1024
    except OSError:
        mem = 0.0
    import dash
    return (f"{os.cpu_count()} cores ({cpu}), {mem:.1f} GiB RAM, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}, dash {dash.__version__}")


def pct(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(q / 100 * (len(xs) - 1))))]


def table(headers: list[str], rows: list[list], align: str | None = None) -> str:
    cells = [[str(c) for c in r] for r in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    align = align or "l" + "r" * (len(headers) - 1)
    out = ["| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths)) + " |",
           "|" + "|".join(("-" * (w + 1) + ":") if a == "r" else ("-" * (w + 2)) for a, w in zip(align, widths)) + "|"]
    for r in cells:
        out.append("| " + " | ".join(c.rjust(w) if a == "r" else c.ljust(w) for c, w, a in zip(r, widths, align)) + " |")
    return "\n".join(out)


def ms(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{x * 1000:.2f}" if x < 0.1 else f"{x * 1000:.0f}"


def cpu_seconds(pid: int) -> float:
    """utime+stime of a process and all its descendants (gunicorn: master + workers)."""
    tick = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            f = (p / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(p.name)] = int(f[1])
        times[int(p.name)] = (int(f[11]) + int(f[12])) / tick
    total, todo = 0.0, [pid]
    while todo:
        q = todo.pop()
        total += times.get(q, 0.0)
        todo.extend(c for c, pp in parents.items() if pp == q)
    return total


# ------------------------------------------------------------------------------------ callback bodies
def _outputs(body: dict) -> set[tuple[str, str]]:
    outs = body.get("outputs")
    outs = outs if isinstance(outs, list) else [outs] if outs else []
    return {(o["id"], o["property"]) for o in outs if isinstance(o.get("id"), str)}


def tag_key(body: dict) -> tuple[str, str] | None:
    """The State that is also an Output: the page's tag store (None for a tag-less callback)."""
    outs = _outputs(body)
    for s in body.get("state") or []:
        if (s.get("id"), s.get("property")) in outs:
            return s["id"], s["property"]
    return None


def url_of(body: dict) -> str:
    return body.get(PATH_KEY) or UPDATE


def with_tag(body: dict, tag, n: int) -> bytes:
    b = copy.deepcopy(body)
    b.pop(PATH_KEY, None)
    key = tag_key(b)
    for s in b.get("state") or []:
        if key and (s.get("id"), s.get("property")) == key:
            s["value"] = tag
    for i in b.get("inputs") or []:
        if i.get("id") == REFRESH_ID:
            i["value"] = n
    return json.dumps(b, separators=(",", ":")).encode()


def new_tag(body: dict, status: int, raw: bytes, old):
    key = tag_key(body)
    if key is None or status != 200 or not raw:
        return old
    try:
        return json.loads(raw)["response"][key[0]][key[1]]
    except (ValueError, KeyError, TypeError):
        return old


def body_name(body: dict) -> str:
    key = tag_key(body)
    outs = sorted(o for o, _ in _outputs(body))
    return key[0] if key else (outs[0] if outs else "?")


# ------------------------------------------------------------------------------------ 1. browser
INIT_JS = """
(() => {
  const sels = %s;
  window.__cmFirst = {};
  const ok = (el) => el && el.getClientRects().length > 0 && (el.textContent || "").trim().length + el.childElementCount > 0;
  function check() {
    let pending = false;
    for (const [label, sel] of sels) {
      if (window.__cmFirst[label] !== undefined) continue;
      pending = true;
      let el = null; try { el = document.querySelector(sel); } catch (e) {}
      if (ok(el)) window.__cmFirst[label] = performance.now();
    }
    if (pending && performance.now() < 60000) requestAnimationFrame(check);
  }
  requestAnimationFrame(check);
})();
"""


def browser_phase(cm_base: str, naive_base: str, runs: int) -> tuple[list[list], dict[str, list[dict]]]:
    from playwright.sync_api import sync_playwright

    rows: list[list] = []
    captured: dict[str, list[dict]] = {}
    targets = [("app", cm_base, path, sels) for path, sels in PAGES.items()] + [("naive peer", naive_base, "/", NAIVE_PAGE)]
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        try:
            for who, base, path, sels in targets:
                samples: dict[str, list[float]] = {label: [] for label, _ in sels}
                warm: dict[str, list[float]] = {label: [] for label, _ in sels}
                dcl: list[float] = []
                for run in range(runs):
                    ctx = browser.new_context(viewport={"width": 1600, "height": 1000})  # cold cache
                    ctx.add_init_script(INIT_JS % json.dumps(sels))
                    page = ctx.new_page()
                    bodies: list[dict] = []

                    def on_request(req, bodies=bodies):
                        if req.method == "POST" and UPDATE in req.url:
                            try:
                                b = json.loads(req.post_data or "{}")
                            except ValueError:
                                return
                            u = urlsplit(req.url)        # Dash 4 adds ?endId=…: replay it as sent
                            b[PATH_KEY] = u.path + (f"?{u.query}" if u.query else "")
                            if any(i.get("id") == REFRESH_ID for i in b.get("inputs") or []):
                                bodies.append(b)
                    page.on("request", on_request)
                    for attempt, store in ((0, samples), (1, warm)):   # cold load, then a reload (warm cache)
                        if attempt == 0:
                            page.goto(base + path, wait_until="commit", timeout=30000)
                        else:
                            page.reload(wait_until="commit", timeout=30000)
                        deadline = time.time() + 20
                        while time.time() < deadline:
                            got = page.evaluate("window.__cmFirst || {}")
                            if len(got) == len(sels):
                                break
                            page.wait_for_timeout(50)
                        for label, _ in sels:
                            if label in got:
                                store[label].append(got[label] / 1000)
                        if attempt == 0:
                            dcl.append(page.evaluate(
                                "performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd") / 1000)
                            page.wait_for_timeout(300)
                    if run == 0 and (who, path) in (("app", "/wall"), ("app", "/"), ("naive peer", "/")):
                        key = "naive" if who == "naive peer" else path
                        seen: dict[str, dict] = {}
                        for b in bodies:
                            seen.setdefault(body_name(b), b)
                        captured[key] = list(seen.values())
                    ctx.close()
                for label, _ in sels:
                    xs, ws = samples[label], warm[label]
                    rows.append([who, path, label, f"{len(xs)}/{runs}",
                                 ms(statistics.median(xs)) if xs else "not shown",
                                 ms(min(xs)) if xs else "-", ms(max(xs)) if xs else "-",
                                 ms(statistics.median(ws)) if ws else "-",
                                 ms(statistics.median(dcl)) if dcl else "-"])
        finally:
            browser.close()
    return rows, captured


# ------------------------------------------------------------------------------------ 2a. in-process
def inproc_main(args) -> int:
    """Subprocess entry: build one app on a copy of the demo store, time its refresh callbacks."""
    import cProfile
    import io
    import pstats

    from config import Settings
    from views.snapshot import SnapshotService
    from data.store import Store
    from universe import load_universe

    settings = Settings(mode="demo")
    service = SnapshotService(Store(args.db), load_universe(settings.universe), cadences=settings.cadences(),
                              check_every=1e9, background=False)
    if args.inproc == "app":
        import app as app_module
        dash_app = app_module.create_app(settings, service)
    else:
        from bench.naive_peer import create_naive_app
        dash_app = create_naive_app(service)
    client = dash_app.server.test_client()
    bodies = json.loads(Path(args.bodies).read_text())
    out = []
    prof_text = ""
    for body in bodies:
        def post(tag, n, payload=None, body=body):
            r = client.post(url_of(body), data=payload or with_tag(body, tag, n), content_type="application/json")
            return r.status_code, r.data
        status, raw = post(None, 1)                      # first call: full render, gives the tag
        tag = new_tag(body, status, raw, None)
        cases = [("update (tag None)", None)]
        if tag_key(body) is not None:
            cases.insert(0, ("no_update (tag current)", tag))
        for case, t in cases:
            for _ in range(5):
                post(t, 2)
            n = args.repeat if case.startswith("no_update") else max(20, args.repeat // 5)
            times, size, st = [], 0, 0
            payloads = [with_tag(body, t, i + 3) for i in range(n)]   # encoded outside the timing
            for i in range(n):
                t0 = time.perf_counter()
                st, raw = post(t, i + 3, payloads[i])
                times.append(time.perf_counter() - t0)
                size = len(raw)
            out.append({"callback": body_name(body), "case": case, "n": n, "status": st, "bytes": size,
                        "p50": pct(times, 50), "p99": pct(times, 99), "mean": statistics.fmean(times)})
            if args.profile and body_name(body) == args.profile:
                pr = cProfile.Profile()
                pr.enable()
                for i in range(n):
                    post(t, i + 3, payloads[i])
                pr.disable()
                for order, restrict in (("tottime", 8), ("cumulative", r"(callbacks|components|data|web)/.*py")):
                    s = io.StringIO()
                    st_ = pstats.Stats(pr, stream=s)
                    st_.sort_stats(order).print_stats(restrict, 8) if isinstance(restrict, str) else \
                        st_.sort_stats(order).print_stats(restrict)
                    lines = [ln.replace(str(ROOT) + "/", "").replace(sys.prefix + "/lib/python3.11/site-packages/", "")
                             for ln in s.getvalue().splitlines() if ln.strip() and "ncalls" not in ln
                             and ("(" in ln and ":" in ln or "function calls" in ln)]
                    prof_text += (f"\n[{body_name(body)} — {case}, {n} calls, by {order}"
                                  f"{' (project code)' if isinstance(restrict, str) else ''}]\n" + "\n".join(lines) + "\n")
    Path(args.out).write_text(json.dumps({"rows": out, "profile": prof_text}))
    return 0


def inproc(kind: str, db_url: str, bodies: list[dict], tmp: Path, repeat: int, profile: str | None):
    bf, of = tmp / f"bodies-{kind}.json", tmp / f"inproc-{kind}.json"
    bf.write_text(json.dumps(bodies))
    cmd = [sys.executable, str(Path(__file__).resolve()), "--inproc", kind, "--db", db_url, "--bodies", str(bf),
           "--out", str(of), "--repeat", str(repeat)] + (["--profile", profile] if profile else [])
    env = {k: v for k, v in os.environ.items() if not k.startswith("CM_")}
    env.update({**OFFLINE, "CM_DATA_DIR": str(tmp / "inproc-data")})
    with open(tmp / f"inproc-{kind}.log", "wb") as log:       # server tracebacks go here, not to the table
        done = subprocess.run(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, timeout=600,
                              check=False)
    if done.returncode:
        raise RuntimeError(f"in-process run failed:\n{(tmp / f'inproc-{kind}.log').read_text()[-3000:]}")
    return json.loads(of.read_text())


# ------------------------------------------------------------------------------------ HTTP client
class Conn:
    """One keep-alive HTTP/1.1 connection (minimal: Content-Length or chunked bodies)."""

    def __init__(self, port: int):
        self.port = port
        self.r: asyncio.StreamReader | None = None
        self.w: asyncio.StreamWriter | None = None

    async def _open(self):
        self.r, self.w = await asyncio.open_connection("127.0.0.1", self.port)

    def close(self):
        if self.w is not None:
            self.w.close()
        self.r = self.w = None

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        for attempt in (0, 1):
            fresh = self.w is None
            if fresh:
                await self._open()
            try:
                head = (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{self.port}\r\nAccept: application/json\r\n"
                        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode()
                self.w.write(head + body)
                await self.w.drain()
                hdr = await self.r.readuntil(b"\r\n\r\n")
            except (ConnectionError, asyncio.IncompleteReadError):
                self.close()
                if fresh or attempt:            # a stale keep-alive connection gets one retry
                    raise
                continue
            lines = hdr.decode("latin-1").split("\r\n")
            status = int(lines[0].split()[1])
            h = {k.strip().lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
            if "content-length" in h:
                data = await self.r.readexactly(int(h["content-length"]))
            elif h.get("transfer-encoding", "").lower() == "chunked":
                parts = []
                while True:
                    size = int((await self.r.readuntil(b"\r\n")).split(b";")[0], 16)
                    chunk = await self.r.readexactly(size + 2)
                    if size == 0:
                        break
                    parts.append(chunk[:-2])
                data = b"".join(parts)
            else:
                data = b"" if status in (204, 304) else await self.r.read()
            if h.get("connection", "").lower() == "close" or (lines[0].startswith("HTTP/1.0")
                                                               and h.get("connection", "").lower() != "keep-alive"):
                self.close()
            return status, data
        raise ConnectionError("unreachable")


def http_sequential(port: int, bodies: list[dict], n: int) -> list[list]:
    """One client, one connection, requests back to back: round-trip time ≈ server time + loopback."""
    async def run():
        c = Conn(port)
        rows = []
        for body in bodies:
            st, raw = await c.request("POST", url_of(body), with_tag(body, None, 1))
            tag = new_tag(body, st, raw, None)
            cases = [("update (tag None)", None)]
            if tag_key(body) is not None:
                cases.insert(0, ("no_update (tag current)", tag))
            for case, t in cases:
                k = n if case.startswith("no_update") else max(20, n // 5)
                times, size = [], 0
                for i in range(k):
                    t0 = time.perf_counter()
                    st, raw = await c.request("POST", url_of(body), with_tag(body, t, i + 2))
                    times.append(time.perf_counter() - t0)
                    size = len(raw)
                rows.append([body_name(body), case, st, f"{size:,}", ms(pct(times, 50)), ms(pct(times, 99))])
        c.close()
        return rows
    return asyncio.run(run())


# ------------------------------------------------------------------------------------ 3. load
async def _load(port: int, bodies: list[dict], screens: int, interval: float, duration: float, conns: int,
                stale: bool, timeout: float, healthz: bool) -> dict:
    """Every screen sends its refresh POSTs (and, like assets/wall.js, GET /healthz) each interval.

    conns=0: every screen keeps its own keep-alive connection per concurrent request, like a
    browser (1,000 screens → 2,000 sockets); conns>0: that many connections shared by all."""
    pool: asyncio.Queue[Conn] | None = None
    if conns:
        pool = asyncio.Queue()
        for _ in range(conns):
            pool.put_nowait(Conn(port))
    recs: list[tuple[float, float, int, int, str]] = []  # (scheduled offset, latency, status, bytes, kind)
    errors: list[str] = []
    versions: set = set()
    t0 = time.perf_counter() + 0.2

    async def one(method: str, path: str, payload: bytes, kind: str, sched: float, own: Conn | None):
        # Every request, waiting for a connection included, ends `timeout` s after its scheduled
        # time: the whole run is bounded by duration + timeout even against a saturated server.
        conn = own
        if conn is None:
            try:
                conn = await asyncio.wait_for(pool.get(), max(0.001, sched + timeout - time.perf_counter()))
            except TimeoutError:
                errors.append("TimeoutError")
                recs.append((sched - t0, time.perf_counter() - sched, 0, 0, kind))
                return None
        try:
            st, raw = await asyncio.wait_for(conn.request(method, path, payload),
                                             max(0.001, sched + timeout - time.perf_counter()))
            recs.append((sched - t0, time.perf_counter() - sched, st, len(raw), kind))
            if st >= 400 and not (kind == "healthz" and st == 503):
                errors.append(f"HTTP {st}")
            return st, raw
        except (TimeoutError, OSError, asyncio.IncompleteReadError, ValueError) as exc:
            conn.close()
            errors.append(type(exc).__name__)
            recs.append((sched - t0, time.perf_counter() - sched, 0, 0, kind))
            return None
        finally:
            if own is None:
                pool.put_nowait(conn)

    async def screen(i: int):
        tags = [None] * len(bodies)
        own = [Conn(port) for _ in range(len(bodies) + int(healthz))] if not conns else [None] * (len(bodies) + 1)
        k = 0
        try:
            while True:
                sched = t0 + (i / screens) * interval + k * interval    # spread evenly over one interval
                if sched - t0 >= duration:
                    return
                delay = sched - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                jobs = [one("POST", url_of(b), with_tag(b, None if stale else tags[j], k + 1), "refresh", sched, own[j])
                        for j, b in enumerate(bodies)]
                if healthz:
                    jobs.append(one("GET", "/healthz", b"", "healthz", sched, own[len(bodies)]))
                res = await asyncio.gather(*jobs)
                if not stale:
                    tags = [new_tag(b, *(r or (0, b"")), tags[j]) for j, (b, r) in enumerate(zip(bodies, res))]
                if healthz and res[-1] is not None:
                    try:
                        versions.add(json.loads(res[-1][1])["data_version"])
                    except (ValueError, KeyError, TypeError):
                        pass
                k += 1
        finally:
            for c in own:
                if c is not None:
                    c.close()

    await asyncio.gather(*(screen(i) for i in range(screens)))
    wall = time.perf_counter() - t0
    while pool is not None and not pool.empty():
        pool.get_nowait().close()
    return {"recs": recs, "errors": errors, "wall": wall, "versions": versions}


def load_test(name: str, port: int, pid: int, bodies: list[dict], args, *, stale: bool,
              screens: int | None = None, healthz: bool = True) -> list:
    screens = screens or args.screens
    cpu0, own0 = cpu_seconds(pid), time.process_time()
    res = asyncio.run(_load(port, bodies, screens, args.interval, args.duration, args.conns, stale,
                            timeout=args.interval * 2, healthz=healthz and not args.no_healthz))
    cpu, own = cpu_seconds(pid) - cpu0, time.process_time() - own0
    recs = res["recs"]
    steady = [r for r in recs if r[0] >= args.interval]         # after every screen's first round
    lat = [r[1] for r in steady]
    refresh = [r for r in steady if r[4] == "refresh"]
    beats = [r[1] for r in steady if r[4] == "healthz"]
    # Dash 4 answers an all-no_update callback with 200 and a tiny body, not 204: count by size.
    full = sum(1 for r in refresh if r[2] == 200 and r[3] > NO_UPDATE_MAX_BYTES)
    nodata = sum(1 for r in refresh if r[2] in (200, 204) and r[3] <= NO_UPDATE_MAX_BYTES)
    first = [r[1] for r in recs if r[0] < args.interval]
    errs = len(res["errors"])
    span = max(1e-9, args.duration - args.interval)
    ticks = max(0, len(res["versions"]) - 1)
    return [name, "none (update)" if stale else "own tag", f"{screens:,}", f"{len(steady) / span:.0f}",
            ms(pct(lat, 50)), ms(pct(lat, 99)), ms(max(lat) if lat else float("nan")),
            ms(pct([r[1] for r in refresh], 99)), ms(pct(beats, 99)) if beats else "-",
            f"{full:,} / {nodata:,}", f"{statistics.fmean([r[3] for r in refresh]):,.0f}" if refresh else "-",
            str(ticks) if beats else "?",
            f"{1000 * cpu / max(1, len(recs)):.2f}", f"{100 * own / res['wall']:.0f}", ms(pct(first, 99)),
            f"{errs}" + (f" ({', '.join(sorted(set(res['errors'])))[:40]})" if errs else ""),
            f"{os.getloadavg()[0]:.1f}"]


LOAD_HEAD = ["server", "screens' tag", "screens", "req/s", "p50 ms", "p99 ms", "max ms", "refresh p99 ms",
             "healthz p99 ms", "refresh updates / no_update", "refresh mean bytes", "data ticks",
             "server CPU ms/req", "client CPU %", "first round p99 ms", "errors", "load avg"]


# ------------------------------------------------------------------------------------ main
def start_gunicorn(data_dir: Path, port: int, tick: float = 60.0) -> AppProcess | None:
    """The shared-deployment web tier: gunicorn with the repository's gunicorn.conf.py (2 gthread
    workers × 4 threads, keep-alive 30 s), reading the store the collector process writes."""
    gun = Path(sys.executable).with_name("gunicorn")
    if not gun.exists():
        return None
    env = {**OFFLINE, "CM_MODE": "demo", "CM_YAHOO_EVERY": f"{tick:g}"}
    return AppProcess([], data_dir=data_dir, port=port, env=env,
                      cmd=[str(gun), "-c", str(ROOT / "gunicorn.conf.py"), "-b", "127.0.0.1:{port}",
                           "--log-level", "warning", "app:server"])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=5, help="cold page loads per page (median reported)")
    p.add_argument("--screens", type=int, default=1000)
    p.add_argument("--interval", type=float, default=5.0, help="seconds between a screen's refreshes")
    p.add_argument("--duration", type=float, default=70.0,
                   help="seconds of load per run (> 60: the demo market moves every minute, so every run "
                        "sees data ticks)")
    p.add_argument("--conns", type=int, default=0, help="0: one keep-alive connection per screen and request "
                                                         "(like browsers); N: N connections shared by all screens")
    p.add_argument("--tick", type=float, default=60.0,
                   help="seconds between demo data updates (CM_YAHOO_EVERY; 60 = the live Yahoo cadence, 5 = new data every refresh)")
    p.add_argument("--no-healthz", action="store_true", help="leave out wall.js's GET /healthz per interval")
    p.add_argument("--repeat", type=int, default=1000, help="in-process / sequential calls per case")
    p.add_argument("--sweep", type=lambda v: [int(x) for x in v.split(",") if x], default=[],
                   help="extra waitress own-tag runs at these screen counts, e.g. 100,250,500")
    p.add_argument("--no-gunicorn", action="store_true")
    p.add_argument("--only", action="append", choices=["waitress", "gunicorn", "naive"],
                   help="load-test only these servers (repeatable; default all)")
    p.add_argument("--no-load", action="store_true")
    p.add_argument("--inproc", choices=["app", "naive"], help=argparse.SUPPRESS)
    p.add_argument("--db", help=argparse.SUPPRESS)
    p.add_argument("--bodies", help=argparse.SUPPRESS)
    p.add_argument("--out", help=argparse.SUPPRESS)
    p.add_argument("--profile", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.inproc:
        return inproc_main(args)
    assert max([args.screens, *args.sweep]) <= 5000 and args.duration <= 300 and args.runs <= 30, "bounded benchmark"

    tmp = Path(tempfile.mkdtemp(prefix="cm-bench-web-"))
    procs: list[AppProcess] = []
    try:
        print(f"machine: {machine()}; load average at start {os.getloadavg()[0]:.1f} "
              "(other processes on the machine share the 2 cores)")
        tick_env = {**OFFLINE, "CM_YAHOO_EVERY": f"{args.tick:g}"}
        demo = AppProcess(["--demo"], data_dir=tmp, env=tick_env)
        procs.append(demo)
        demo.wait_until(lambda: demo.json("/api/series")["series"][0]["value"] is not None, timeout=120,
                        what="demo data")
        db_url = f"sqlite:///{tmp / 'demo.db'}"
        naive_port = free_port()
        naive = AppProcess([], data_dir=tmp, port=naive_port, env=OFFLINE,
                           cmd=[sys.executable, "bench/naive_peer.py", "--db", db_url, "--port", "{port}"])
        procs.append(naive)
        naive.wait_until(lambda: naive.get("/")[0] == 200, what="naive peer up")
        print(f"demo app (waitress, 8 threads) on :{demo.port}, naive peer (waitress, 8 threads) on :{naive.port}, "
              f"data dir {tmp}\n")

        captured: dict[str, list[dict]] = {}
        if True:   # the browser also captures the refresh requests every later step replays
            rows, captured = browser_phase(demo.base, naive.base, args.runs)
            print(f"## 1. First render (headless Chromium, cold cache; median of {args.runs}; ms from navigation start)\n")
            print(table(["app", "path", "first data-bearing element", "seen", "median", "min", "max",
                         "warm reload median", "DOMContentLoaded"], rows, align="llllrrrrr"))
            print()
        missing = [k for k in ("/wall", "naive") if not captured.get(k)]
        if missing:
            print(f"error: no refresh request captured for {missing} (the pages' refresh callbacks did not fire)", file=sys.stderr)
            return 1
        wall_bodies, naive_bodies = captured["/wall"], captured["naive"]
        print("refresh POSTs per tick: /wall → " + ", ".join(body_name(b) for b in wall_bodies)
              + "; / → " + ", ".join(body_name(b) for b in captured.get("/", []))
              + "; naive → " + ", ".join(body_name(b) for b in naive_bodies) + "\n")

        # 2a. in-process, on a consistent copy of the demo store
        copy_db = tmp / "inproc.db"
        src = sqlite3.connect(tmp / "demo.db")
        dst = sqlite3.connect(copy_db)
        src.backup(dst)
        src.close()
        dst.close()
        home_bodies = [b for b in captured.get("/", []) if body_name(b) not in {body_name(w) for w in wall_bodies}]
        app_res = inproc("app", f"sqlite:///{copy_db}", wall_bodies + home_bodies, tmp, args.repeat,
                         profile=body_name(wall_bodies[-1]))
        naive_res = inproc("naive", f"sqlite:///{copy_db}", naive_bodies, tmp, max(50, args.repeat // 10), None)
        rows = [["app", r["callback"], r["case"], r["status"], f"{r['bytes']:,}", ms(r["p50"]), ms(r["p99"]), r["n"]]
                for r in app_res["rows"]]
        rows += [["naive peer", r["callback"], r["case"], r["status"], f"{r['bytes']:,}", ms(r["p50"]), ms(r["p99"]),
                  r["n"]] for r in naive_res["rows"]]
        print("## 2a. Refresh callback, in-process (Flask test client, copy of the demo store)\n")
        print(table(["app", "callback (tag store)", "case", "status", "response bytes", "p50 ms", "p99 ms", "calls"],
                    rows, align="lllrrrrr"))
        print()

        # 2b. over HTTP, one client
        print("## 2b. Refresh callback over HTTP (waitress, one keep-alive client, sequential)\n")
        rows = [["app"] + r for r in http_sequential(demo.port, wall_bodies, min(args.repeat, 500))]
        rows += [["naive peer"] + r for r in http_sequential(naive.port, naive_bodies, 100)]
        print(table(["app", "callback", "case", "status", "response bytes", "p50 ms", "p99 ms"], rows,
                    align="lllrrrr"))
        print()

        if not args.no_load:
            conns = (f"{args.conns} shared keep-alive connections" if args.conns else
                     "one keep-alive connection per screen and concurrent request, as a browser keeps")
            beat = "" if args.no_healthz else " + wall.js's GET /healthz"
            print(f"## 3. Load: {args.screens:,} wall screens × every {args.interval:g} s for {args.duration:g} s "
                  f"({len(wall_bodies)} refresh POST(s){beat} per wall tick; {len(naive_bodies)} POST for the naive "
                  f"peer), {conns}; steady state = after each screen's first round\n")
            rows = []
            only = set(args.only or ["waitress", "gunicorn", "naive"])
            if "waitress" in only:
                rows += [load_test("waitress (app.py --demo)", demo.port, demo.proc.pid, wall_bodies, args, stale=False),
                         load_test("waitress (app.py --demo)", demo.port, demo.proc.pid, wall_bodies, args, stale=True)]
                for n in args.sweep:       # how many screens one waitress process carries
                    rows.append(load_test("waitress (app.py --demo)", demo.port, demo.proc.pid, wall_bodies, args,
                                          stale=False, screens=n))
            demo_stop = demo.stop()
            if "gunicorn" in only and not args.no_gunicorn:
                # The shared deployment: one collector process writes, gunicorn workers only read.
                collector = AppProcess(["collect", "--demo"], data_dir=tmp, env=tick_env)
                procs.append(collector)
                collector.wait_until(lambda: "started" in collector.output(), what="collector start")
                g = start_gunicorn(tmp, free_port(), tick=args.tick)
                if g is None:
                    print("gunicorn not installed: skipped\n")
                else:
                    procs.append(g)
                    g.wait_until(lambda: g.get("/healthz")[0] in (200, 503), timeout=60, what="gunicorn up")
                    g.get("/_dash-layout")
                    name = "gunicorn.conf.py (-w 2 gthread×4) + collector"
                    rows.append(load_test(name, g.port, g.proc.pid, wall_bodies, args, stale=False))
                    rows.append(load_test(name, g.port, g.proc.pid, wall_bodies, args, stale=True))
                    g.stop()
                    bad = [ln for ln in g.log.read_text(errors="replace").splitlines() if "Traceback" in ln or "Error" in ln]
                    if bad:
                        print("gunicorn log errors:\n  " + "\n  ".join(bad[:10]))
                collector.stop()
            if "naive" in only:
                # last: a saturated naive server keeps working off its backlog after the clients give up
                rows.append(load_test("naive peer (waitress)", naive.port, naive.proc.pid, naive_bodies, args,
                                      stale=False, healthz=False))
            naive.stop()
            print(table(LOAD_HEAD, rows, align="llrrrrrrrrrrrrrlr"))
            print(f"\n(demo app exit code {demo_stop}; load average at the end {os.getloadavg()[0]:.1f})")
        print("\n## Where the time goes (cProfile, in-process)\n" + app_res["profile"])
        return 0
    finally:
        for pr in procs:
            pr.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
