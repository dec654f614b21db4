"""Notifiers against a real local HTTP server on 127.0.0.1: retries with back-off, no blocking,
Slack-compatible JSON, no secrets in logs."""
from __future__ import annotations

import json
import logging
import random
import threading

import pytest

from alerts.engine import RuleInput, evaluate
from alerts.notify import FeedNotifier, WebhookNotifier, slack_body
from data.backoff import backoff_delay
from tests.unit.alerts.helpers import T0, Hook, jgb30, z_rule


@pytest.fixture
def event():
    _, [e] = evaluate(z_rule(), None, RuleInput("jgb_30y", "JGB 30Y", stat=jgb30(), source="mof"), T0)
    return e


@pytest.fixture
def hook_factory():
    made: list[Hook] = []

    def make(*a, **kw) -> Hook:
        h = Hook(*a, **kw)
        made.append(h)
        return h
    yield make
    for h in made:
        h.close()


def test_fails_twice_then_delivers_once_with_growing_backoff(event, hook_factory, caplog):
    hook = hook_factory(plan=[500, 503, 200])
    slept: list[float] = []
    wh = WebhookNotifier(hook.url, timeout=2, base_delay=0.01, max_delay=1, rng=random.Random(7),
                         sleep=slept.append)
    caplog.set_level(logging.DEBUG, logger="contagion.alerts.notify")
    try:
        wh.notify([event])
        assert wh.flush(10)
    finally:
        wh.close()
    assert len(hook.bodies) == 3 and hook.bodies[0] == hook.bodies[2]  # same body re-sent
    assert wh.stats["delivered"] == 1 and wh.stats["attempts"] == 3 and wh.stats["failed"] == 0
    assert len(slept) == 2 and slept == wh.delays
    # full jitter inside [0.5, 1] × base·2^(k−1): the second wait comes from a doubled window
    assert 0.005 <= slept[0] <= 0.01 and 0.01 <= slept[1] <= 0.02
    # The token in the URL path never reaches a log line; the host does.
    assert "s3cr3tTOKEN" not in caplog.text and "127.0.0.1" in caplog.text
    assert "s3cr3tTOKEN" not in repr(wh)


def test_backoff_formula_is_capped_and_jittered():
    rng = random.Random(1)
    d = [backoff_delay(k, base=1, cap=8, rng=rng) for k in range(1, 7)]
    assert all(0.5 * min(8, 2 ** (k - 1)) <= x <= min(8, 2 ** (k - 1)) for k, x in zip(range(1, 7), d))
    assert backoff_delay(0, base=1, cap=8, rng=rng) == 0.0


def test_client_error_is_not_retried(event, hook_factory):
    hook = hook_factory(plan=[404])
    wh = WebhookNotifier(hook.url, base_delay=0.01, sleep=lambda s: None)
    try:
        wh.notify([event])
        assert wh.flush(10)
    finally:
        wh.close()
    assert len(hook.bodies) == 1 and wh.stats["failed"] == 1 and wh.last_error == "HTTP 404"


def test_gives_up_after_max_attempts_on_a_dead_receiver(event, caplog):
    # A port nobody listens on: connection refused every time.
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    wh = WebhookNotifier(f"http://127.0.0.1:{port}/hook?token=s3cr3t", max_attempts=3, base_delay=0.01,
                         sleep=lambda s: None, timeout=1)
    caplog.set_level(logging.DEBUG, logger="contagion.alerts.notify")
    try:
        wh.notify([event])
        assert wh.flush(10)
    finally:
        wh.close()
    assert wh.stats["attempts"] == 3 and wh.stats["failed"] == 1 and wh.stats["delivered"] == 0
    assert "s3cr3t" not in caplog.text


def test_a_hanging_receiver_never_blocks_notify(event, hook_factory):
    hold = threading.Event()
    hook = hook_factory(plan=[200], hold=hold)
    wh = WebhookNotifier(hook.url, timeout=30)
    try:
        wh.notify([event])           # returns although the receiver has not answered
        returned_before_answer = not hold.is_set()
        assert hook.received.wait(10)  # the worker really is inside the POST
        assert returned_before_answer and wh.stats["delivered"] == 0
        hold.set()
        assert wh.flush(10) and wh.stats["delivered"] == 1
    finally:
        wh.close()


def test_full_queue_drops_and_counts(event, hook_factory):
    hold = threading.Event()
    hook = hook_factory(plan=[200], hold=hold)
    wh = WebhookNotifier(hook.url, queue_size=1, timeout=30)
    try:
        wh.notify([event])
        assert hook.received.wait(10)   # the first event is in flight, the queue is empty
        wh.notify([event, event, event])  # one fits, two are dropped — without blocking
        assert wh.stats["dropped"] == 2
        hold.set()
        assert wh.flush(10) and wh.stats["delivered"] == 2
    finally:
        wh.close()


def test_close_cuts_a_backoff_wait_short(event, hook_factory):
    hook = hook_factory(plan=[500])
    wh = WebhookNotifier(hook.url, base_delay=60, max_delay=60)  # would wait ≥ 30 s
    wh.notify([event])
    assert hook.received.wait(10)
    wh.close(timeout=5)
    assert not wh._thread.is_alive()


def test_slack_compatible_body(event):
    body = slack_body(event)
    json.dumps(body, allow_nan=False)
    assert body["text"].startswith("CRITICAL · firing — JGB 30Y +20.3 bp = 7.6σ")
    assert body["blocks"][0]["type"] == "section" and body["blocks"][0]["text"]["type"] == "mrkdwn"
    assert body["blocks"][1]["type"] == "context"
    att = body["attachments"][0]
    assert att["color"] == "#d62728" and att["fallback"] == body["text"]
    assert {"title": "Tier", "value": "critical", "short": True} in att["fields"]
    alert = body["alert"]
    assert (alert["alert_id"], alert["series_id"], alert["state"], alert["tier"]) == (
        event.alert_id, "jgb_30y", "firing", "critical")
    assert alert["statistics"]["z"] == {"w60": 7.63, "w250": 5.6, "ewma": 5.71}


def test_webhook_url_is_validated_without_echoing_it():
    with pytest.raises(ValueError) as exc:
        WebhookNotifier("ftp://hooks.example/secret-token")
    assert "secret-token" not in str(exc.value)


def test_feed_is_bounded_and_newest_first(event):
    feed = FeedNotifier(maxlen=3)
    evs = [event.__class__(**{**event.__dict__, "seq": i}) for i in range(1, 6)]
    feed.notify(evs)
    assert [e.seq for e in feed.events()] == [5, 4, 3]
    assert feed.items(1)[0]["seq"] == 5 and feed.items(1)[0]["series_id"] == "jgb_30y"
