"""Notifiers: the only part of the alert engine that sends anything anywhere.

- `FeedNotifier`: a bounded in-memory feed the snapshot/UI can show (newest first).
- `WebhookNotifier`: JSON POST (Slack-compatible body plus the structured alert) from a
  background worker thread fed by a bounded queue: `notify()` never waits on the network, so a
  slow or failing webhook cannot hold up evaluation. Every HTTP call has a timeout; failures are
  retried with exponential back-off and full jitter. The URL may carry a token (Slack's
  hooks.slack.com/services/T…/B…/secret): only its host is ever logged or shown.

Delivery is at most once per event across restarts: queued, not-yet-sent events die with the
process (states and events are already stored, and the UI shows them).
"""
from __future__ import annotations

import json
import logging
import queue
import random
import threading
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any, Protocol
from urllib.parse import urlsplit

from alerts.engine import AlertEvent
from alerts.store import event_json
from data.backoff import backoff_delay

__all__ = ["FeedNotifier", "Notifier", "WebhookNotifier", "slack_body"]

log = logging.getLogger("contagion.alerts.notify")

_COLOR = {"critical": "#d62728", "warning": "#ff7f0e", "watch": "#e6b800"}
_MUTED = {"resolved": "#2ca02c", "normal": "#2ca02c", "restored": "#2ca02c", "nodata": "#7f7f7f",
          "error": "#7f7f7f", "acknowledged": "#1f77b4"}


class Notifier(Protocol):
    """Receives the events of one run that should notify. Must return promptly and never raise."""

    name: str

    def notify(self, events: Sequence[AlertEvent]) -> None: ...

    def close(self, timeout: float = 5.0) -> None: ...


class FeedNotifier:
    """Bounded, thread-safe in-app feed; the oldest items fall off."""

    name = "feed"

    def __init__(self, maxlen: int = 200) -> None:
        self._items: deque[AlertEvent] = deque(maxlen=maxlen)
        self._lock = threading.Lock()

    def notify(self, events: Sequence[AlertEvent]) -> None:
        with self._lock:
            self._items.extend(events)

    def events(self, limit: int | None = None) -> list[AlertEvent]:
        """Newest first."""
        with self._lock:
            out = list(reversed(self._items))
        return out if limit is None else out[:limit]

    def items(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Newest first, as JSON-ready dicts (same shape as /api/alerts events)."""
        return [event_json(e) for e in self.events(limit)]

    def close(self, timeout: float = 5.0) -> None:
        return None


def _mrkdwn(s: str) -> str:
    # Slack's only required escapes; an alert text never carries links or mentions.
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_body(event: AlertEvent) -> dict[str, Any]:
    """Slack incoming-webhook body: `text` (fallback), `blocks`, a coloured attachment, and
    `alert` — the structured event (same shape as /api/alerts) for non-Slack receivers."""
    data = event_json(event)
    stats = data.get("statistics") or {}
    color = _MUTED.get(event.kind) or _COLOR.get(event.tier or "", "#7f7f7f")
    fields = [
        {"title": "State", "value": f"{event.prev_state} → {event.state}", "short": True},
        {"title": "Tier", "value": event.tier or "—", "short": True},
        {"title": "Series", "value": event.label or event.subject, "short": True},
        {"title": "Rule", "value": event.rule_id, "short": True},
    ]
    z = stats.get("z") or {}
    if z:
        fields.append({"title": "z", "value": ", ".join(f"{k} {v:.2f}" for k, v in z.items() if v is not None),
                       "short": False})
    if stats.get("source"):
        fields.append({"title": "Source", "value": str(stats["source"]), "short": True})
    context = f"alert `{event.alert_id}` · {data['at']}" + (" · silenced" if event.silenced else "")
    return {
        "text": event.text,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": _mrkdwn(event.text)}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": _mrkdwn(context)}]},
        ],
        "attachments": [{"color": color, "fallback": event.text, "fields": fields}],
        "alert": data,
    }


class _Permanent(Exception):
    """A 4xx answer (other than 408/429): retrying will not help."""


class WebhookNotifier:
    """POST each event to a webhook from a background thread, with retries and back-off.

    `notify()` only enqueues (never blocks: a full queue drops the event and counts it).
    """

    name = "webhook"

    def __init__(self, url: str, *, timeout: float = 5.0, max_attempts: int = 5, base_delay: float = 1.0,
                 max_delay: float = 60.0, queue_size: int = 256, rng: random.Random | None = None,
                 sleep: Callable[[float], None] | None = None,
                 body: Callable[[AlertEvent], dict[str, Any]] = slack_body,
                 headers: dict[str, str] | None = None) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            # Never echo the URL: it may hold the token.
            raise ValueError(f"webhook URL must be http(s)://host/…, got scheme {parts.scheme!r}")
        self._url = url
        self.host = parts.hostname + (f":{parts.port}" if parts.port else "")
        self.timeout = float(timeout)
        self.max_attempts = max(1, int(max_attempts))
        self.base_delay, self.max_delay = float(base_delay), float(max_delay)
        self._rng = rng or random.Random()
        self._stop = threading.Event()
        self._sleep = sleep or (lambda s: self._stop.wait(s))  # interruptible by close()
        self._body = body
        self._headers = {"Content-Type": "application/json; charset=utf-8",
                         "User-Agent": "contagion-monitor-alerts/1"} | (headers or {})
        self._q: queue.Queue[AlertEvent | None] = queue.Queue(maxsize=max(1, int(queue_size)))
        self._cv = threading.Condition()
        self._pending = 0
        self.stats = {"queued": 0, "attempts": 0, "delivered": 0, "failed": 0, "dropped": 0, "retries": 0}
        self.delays: list[float] = []   # back-off waits actually taken (observability, tests)
        self.last_error: str | None = None
        self._thread = threading.Thread(target=self._run, name=f"webhook-{self.host}", daemon=True)
        self._thread.start()

    def __repr__(self) -> str:
        return f"WebhookNotifier(host={self.host!r})"

    # ---------------------------------------------------------------- producer side
    def notify(self, events: Sequence[AlertEvent]) -> None:
        for e in events:
            if self._stop.is_set():
                return
            with self._cv:
                self._pending += 1
            try:
                self._q.put_nowait(e)
                self.stats["queued"] += 1
            except queue.Full:
                self._done()
                self.stats["dropped"] += 1
                log.warning("webhook %s: queue full, dropped alert %s", self.host, e.alert_id)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued event was delivered or given up; False on timeout."""
        with self._cv:
            return self._cv.wait_for(lambda: self._pending == 0, timeout=timeout)

    def close(self, timeout: float = 5.0) -> None:
        """Stop the worker (a back-off wait is cut short); undelivered events are dropped."""
        self._stop.set()
        try:
            self._q.put_nowait(None)
        except queue.Full:
            pass
        self._thread.join(timeout)

    # ---------------------------------------------------------------- worker side
    def _done(self) -> None:
        with self._cv:
            self._pending -= 1
            self._cv.notify_all()

    def _run(self) -> None:
        while not self._stop.is_set():
            item = self._q.get()
            if item is None:
                break
            try:
                self._deliver(item)
            except Exception:  # the worker must survive anything a body builder might raise
                log.exception("webhook %s: unexpected error delivering %s", self.host, item.alert_id)
                self.stats["failed"] += 1
            finally:
                self._done()

    def _deliver(self, event: AlertEvent) -> None:
        data = json.dumps(self._body(event), ensure_ascii=False).encode("utf-8")
        for attempt in range(1, self.max_attempts + 1):
            if self._stop.is_set():
                return
            self.stats["attempts"] += 1
            try:
                self._post(data)
                self.stats["delivered"] += 1
                log.info("webhook %s: delivered %s #%d", self.host, event.alert_id, event.seq)
                return
            except _Permanent as exc:
                self._fail(event, str(exc), attempt)
                return
            except Exception as exc:  # network, timeout, 5xx, 408/429
                msg = self._scrub(f"{type(exc).__name__}: {exc}")
                if attempt == self.max_attempts:
                    self._fail(event, msg, attempt)
                    return
                delay = backoff_delay(attempt, base=self.base_delay, cap=self.max_delay, rng=self._rng)
                self.stats["retries"] += 1
                self.delays.append(delay)
                log.warning("webhook %s: attempt %d for %s failed (%s); retrying in %.2fs",
                            self.host, attempt, event.alert_id, msg, delay)
                self._sleep(delay)

    def _post(self, data: bytes) -> None:
        req = urllib.request.Request(self._url, data=data, headers=self._headers, method="POST")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                resp.read(1024)
        except urllib.error.HTTPError as exc:
            code = exc.code
            exc.close()
            if 400 <= code < 500 and code not in (408, 429):
                raise _Permanent(f"HTTP {code}") from None
            raise RuntimeError(f"HTTP {code}") from None

    def _fail(self, event: AlertEvent, msg: str, attempts: int) -> None:
        self.stats["failed"] += 1
        self.last_error = msg
        log.error("webhook %s: giving up on %s after %d attempt(s): %s", self.host, event.alert_id, attempts, msg)

    def _scrub(self, msg: str) -> str:
        # Exceptions rarely carry the URL, but never let the token reach a log line.
        return msg.replace(self._url, self.host) if self._url in msg else msg
