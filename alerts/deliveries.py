"""Routed incident notifications through Apprise, and the delivery log.

`RoutedNotifier.notify_incidents(events)` only queues (AlertService calls it under the write
permit). A background thread folds, per (incident, route), what arrives within the route's
group wait into one message — `opened` takes in the `joined` events of the next runs; a `joined`
event alone is never sent (the members show in the next opened/escalated/resolved message) —
then honours quiet hours (non-critical held back, not sent) and delivers through Apprise with
retries and back-off. One row per attempt outcome goes to `alert_deliveries`
(sent | retried | failed, the reason scrubbed of the URL, the target masked).
"""
from __future__ import annotations

import datetime as dt
import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from alerts.incidents import IncidentEvent
from alerts.routes import Route, RouteSet, load_routes, mask, resolve_target
from alerts.store import _ns, alert_deliveries, list_deliveries, record_delivery
from data.backoff import backoff_delay
from errors import ConfigError

__all__ = ["RoutedNotifier", "alert_deliveries", "deliver", "incident_message", "list_deliveries",
           "record_delivery"]

log = logging.getLogger("contagion.alerts.deliveries")
# Apprise logs the full target URL (token included) at DEBUG, urllib3 the request path: keep both
# at WARNING whatever the root level, so no secret reaches a console or log file.
for _name in ("apprise", "urllib3.connectionpool"):
    logging.getLogger(_name).setLevel(logging.WARNING)



def incident_message(e: IncidentEvent) -> tuple[str, str]:
    """(title, body): the incident title; the headline, member shorts and where to look."""
    inc = e.incident
    verb = {"opened": "", "escalated": f"escalated to {e.tier} — ", "resolved": "resolved — ",
            "joined": "more alerts — ", "repeat": "still open — "}.get(e.kind, "")
    title = f"{inc.market_label}: {verb}{inc.title}"
    lines = [inc.headline, ""]
    lines += [f"• {m.short()} ({m.tier or '—'}, {m.state})" for m in inc.members[:20]]
    if len(inc.members) > 20:
        lines.append(f"… and {len(inc.members) - 20} more")
    lines += ["", f"Incident {inc.id} · /alerts on the dashboard · /api/incidents"]
    return title, "\n".join(lines)


def _apprise_url(url: str) -> str:
    # The plain JSON webhook (CM_ALERT_WEBHOOK is http(s)://…) is Apprise's json(s):// target.
    if url.startswith("https://"):
        return "jsons://" + url[len("https://"):]
    if url.startswith("http://"):
        return "json://" + url[len("http://"):]
    return url


def _scrub(msg: str, url: str) -> str:
    m = mask(url)
    for secret in {url, _apprise_url(url)}:
        msg = msg.replace(secret, m)
    return msg[:500]


def deliver(url: str, title: str, body: str, timeout: float = 10.0) -> tuple[bool, str]:
    """One attempt through Apprise; (ok, reason). Apprise's own log lines stay at WARNING+."""
    import apprise

    ap = apprise.Apprise()
    if not ap.add(_apprise_url(url)):
        return False, "not a valid Apprise URL"
    captured: list[str] = []
    with apprise.LogCapture(level=logging.WARNING) as output:
        ok = bool(ap.notify(title=title, body=body))
        captured = [ln for ln in output.getvalue().splitlines() if ln.strip()]
    if ok:
        return True, ""
    return False, _scrub(captured[-1] if captured else "delivery failed", url)



@dataclass
class _Pending:
    event: IncidentEvent
    route: Route
    due: float


class RoutedNotifier:
    """Routes incident events to Apprise targets from one background thread."""

    name = "routes"

    def __init__(self, routes: RouteSet, engine=None, *, max_attempts: int = 4, base_delay: float = 1.0,
                 max_delay: float = 30.0, timeout: float = 10.0, env: dict[str, str] | None = None,
                 clock: Callable[[], dt.datetime] | None = None, rng: random.Random | None = None,
                 sender: Callable[[str, str, str, float], tuple[bool, str]] = deliver,
                 group_of: Callable[[str], str | None] | None = None) -> None:
        self.routes = routes
        self._group_of = group_of or (lambda _sid: None)   # series id → universe group (match.group)
        self.engine = engine
        if engine is not None:
            alert_deliveries.create(engine, checkfirst=True)
        self.max_attempts, self.base_delay, self.max_delay = max(1, max_attempts), base_delay, max_delay
        self.timeout = timeout
        self._env = env
        self._clock = clock or (lambda: dt.datetime.now(dt.UTC))
        self._rng = rng or random.Random()
        self._send = sender
        self._cv = threading.Condition()
        self._pending: dict[tuple[str, str], _Pending] = {}
        self._busy = 0
        self._open: dict[tuple[str, str], tuple[float, IncidentEvent, Route]] = {}   # last sent, for repeats
        self._stop = threading.Event()
        self.log_rows: list[dict[str, Any]] = []      # also kept in memory (tests, no store)
        self._thread = threading.Thread(target=self._run, name="routed-notifier", daemon=True)
        self._thread.start()

    # ------------------------------------------------------------ producer side
    def notify(self, events: Sequence[Any]) -> None:
        return None                      # per-alert events: the WebhookNotifier's

    def notify_incidents(self, events: Sequence[IncidentEvent]) -> None:
        now = time.monotonic()
        with self._cv:
            for e in events:
                if not e.notify and e.kind != "resolved":
                    continue
                inc = e.incident
                rules = {m.rule_id for m in inc.members}
                groups = {g for m in inc.members if (g := self._group_of(m.subject))}
                for r in self.routes.select(e.tier, inc.market, rules, groups):
                    key = (e.incident_id, r.name)
                    old = self._pending.get(key)
                    if e.kind == "joined" and old is None:
                        continue         # members alone: shown in the next message
                    if old is not None:
                        # fold: keep the first kind (opened stays opened) unless it escalated/resolved
                        kind = e.kind if e.kind in ("escalated", "resolved") else old.event.kind
                        e2 = replace(e, kind=kind)
                        self._pending[key] = _Pending(e2, r, old.due)
                    else:
                        self._pending[key] = _Pending(e, r, now + r.group_wait)
            self._cv.notify_all()

    def flush(self, timeout: float = 10.0) -> bool:
        """Send what waits now (group wait cut short) and wait for it; False on timeout."""
        with self._cv:
            for p in self._pending.values():
                p.due = 0.0
            self._cv.notify_all()
            return self._cv.wait_for(lambda: not self._pending and self._busy == 0, timeout=timeout)

    def close(self, timeout: float = 5.0) -> None:
        self._stop.set()
        with self._cv:
            self._cv.notify_all()
        self._thread.join(timeout)

    # ------------------------------------------------------------ worker side
    def _run(self) -> None:
        while not self._stop.is_set():
            with self._cv:
                now = time.monotonic()
                due = [k for k, p in self._pending.items() if p.due <= now]
                for k, (sent, ev, r) in list(self._open.items()):
                    if r.repeat_interval > 0 and now - sent >= r.repeat_interval and k not in self._pending:
                        self._pending[k] = _Pending(replace(ev, kind="repeat"), r, now)
                        due.append(k)
                if not due:
                    nxt = min([p.due for p in self._pending.values()]
                              + [sent + r.repeat_interval for sent, _, r in self._open.values() if r.repeat_interval > 0],
                              default=now + 1.0)
                    self._cv.wait(max(0.01, min(1.0, nxt - now)))
                    continue
                batch = [self._pending.pop(k) for k in due]
                self._busy += 1
            try:
                for p in batch:
                    self._route(p.event, p.route)
            except Exception:
                log.exception("routed notifier: unexpected error")
            finally:
                with self._cv:
                    self._busy -= 1
                    self._cv.notify_all()

    def _route(self, e: IncidentEvent, r: Route) -> None:
        qh = r.quiet_hours
        if qh is not None and qh.quiet(self._clock(), e.tier):
            log.info("route %s: quiet hours, held back %s %s", r.name, e.kind, e.incident_id)
            return
        title, body = incident_message(e)
        self.send_route(r, title, body, incident_id=e.incident_id, kind=e.kind, seq=e.seq)
        with self._cv:   # repeat_interval: re-notify while the incident stays open
            if e.kind == "resolved" or not e.incident.is_open:
                self._open.pop((e.incident_id, r.name), None)
            else:
                self._open[(e.incident_id, r.name)] = (time.monotonic(), e, r)

    def send_route(self, r: Route, title: str, body: str, *, incident_id: str, kind: str,
                   seq: int = 0) -> list[dict[str, Any]]:
        """Deliver to every target of a route now (retries, back-off); one log row per outcome."""
        results = []
        for target in r.targets:
            shown = mask(target)
            url = resolve_target(target, self._env)
            if url is None:
                results.append(self._log(incident_id, kind, seq, r.name, shown, "failed",
                                         f"environment variable {target[4:]} is not set", 1))
                continue
            shown = mask(url) if target.startswith("env:") else shown
            for attempt in range(1, self.max_attempts + 1):
                try:
                    ok, reason = self._send(url, title, body, self.timeout)
                except Exception as exc:  # an Apprise plugin bug must not kill the worker
                    ok, reason = False, _scrub(f"{type(exc).__name__}: {exc}", url)
                if ok:
                    results.append(self._log(incident_id, kind, seq, r.name, shown, "sent", "", attempt))
                    break
                if attempt == self.max_attempts:
                    results.append(self._log(incident_id, kind, seq, r.name, shown, "failed", reason, attempt))
                    break
                self._log(incident_id, kind, seq, r.name, shown, "retried", reason, attempt)
                self._stop.wait(backoff_delay(attempt, base=self.base_delay, cap=self.max_delay, rng=self._rng))
        return results

    def _log(self, incident_id: str, kind: str, seq: int, route: str, target: str, status: str, reason: str,
             attempts: int) -> dict[str, Any]:
        row = {"incident_id": incident_id, "event_kind": kind, "event_seq": seq, "route": route, "target": target,
               "status": status, "reason": reason, "attempts": attempts, "at_ns": _ns(dt.datetime.now(dt.UTC))}
        self.log_rows.append(row)
        lvl = logging.INFO if status == "sent" else logging.WARNING
        log.log(lvl, "route %s → %s: %s %s (%s, attempt %d)%s", route, target, status, kind, incident_id, attempts,
                f": {reason}" if reason else "")
        if self.engine is not None:
            try:
                record_delivery(self.engine, row)
            except Exception:
                log.exception("delivery log write failed")
        return row


def notify_test_main(argv: list[str]) -> int:
    """`python app.py notify-test --route NAME`: a test incident message through that route's
    targets now (no group wait, no quiet hours); one line per target (masked); exit 1 on failure."""
    import argparse
    import os

    p = argparse.ArgumentParser(prog="app.py notify-test", description=notify_test_main.__doc__)
    p.add_argument("--route", required=True, help="route name from alerts.toml ([[route]] name)")
    p.add_argument("--rules", default=os.environ.get("CM_ALERT_RULES") or None,
                   help="alert rules file (default CM_ALERT_RULES or alerts.toml)")
    args = p.parse_args(argv)
    try:
        routes = load_routes(args.rules, webhook=os.environ.get("CM_ALERT_WEBHOOK"))
    except ConfigError as exc:
        print(f"error: {exc}")
        return 2
    try:
        route = routes.get(args.route)
    except KeyError:
        names = ", ".join(routes.names()) or "none configured"
        print(f"error: unknown route {args.route!r} (routes: {names})")
        return 2
    notifier = RoutedNotifier(routes, None, max_attempts=2, base_delay=0.2)
    try:
        title = "Contagion Monitor test notification"
        body = f"Test message through route {route.name!r}. No market event behind it."
        rows = notifier.send_route(route, title, body, incident_id="test", kind="test")
    finally:
        notifier.close(1.0)
    for r in rows:
        print(f"{route.name} → {r['target']}: {r['status']}" + (f" ({r['reason']})" if r["reason"] else ""))
    return 0 if rows and all(r["status"] == "sent" for r in rows) else 1
