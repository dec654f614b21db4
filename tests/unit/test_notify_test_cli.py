"""`python app.py notify-test --route NAME` delivers for real through Apprise to local receivers:
json:// to an http.server and mailto:// to an aiosmtpd server, both on 127.0.0.1."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.receivers import json_receiver

ROOT = Path(__file__).resolve().parents[2]


def _run(tmp_path: Path, toml: str, route: str, **env: str) -> subprocess.CompletedProcess:
    rules = tmp_path / "alerts.toml"
    rules.write_text("version = 1\n" + toml, encoding="utf-8")
    e = {k: v for k, v in os.environ.items() if not k.startswith("CM_")} | {"CM_ALERT_RULES": str(rules),
                                                                            "PYTHONPATH": str(ROOT)} | env
    return subprocess.run([sys.executable, "app.py", "notify-test", "--route", route], cwd=ROOT, env=e,
                          capture_output=True, text=True, timeout=60)


@pytest.fixture()
def http_receiver():
    with json_receiver() as rec:
        yield rec.port, rec.got


def test_json_target_from_env_delivers_and_never_prints_the_token(tmp_path, http_receiver):
    port, got = http_receiver
    toml = '[[route]]\nname = "desk"\ntargets = ["env:CM_TEST_HOOK"]\n'
    r = _run(tmp_path, toml, "desk", CM_TEST_HOOK=f"json://127.0.0.1:{port}/hook/s3cr3t-token")
    assert r.returncode == 0, r.stdout + r.stderr
    assert len(got) == 1 and got[0]["path"].startswith("/hook/s3cr3t-token")
    assert "test notification" in got[0]["body"]["title"].lower()
    assert f"desk → json://127.0.0.1:{port}/***: sent" in r.stdout
    assert "s3cr3t" not in r.stdout + r.stderr


def test_mailto_to_a_local_smtp_server(tmp_path):
    from aiosmtpd.controller import Controller

    mails: list = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            mails.append(envelope)
            return "250 OK"

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctl = Controller(Handler(), hostname="127.0.0.1", port=port)
    ctl.start()
    try:
        url = f"mailto://127.0.0.1:{port}?from=monitor@example.com&to=desk@example.com&mode=insecure"
        r = _run(tmp_path, f'[[route]]\nname = "mail"\ntargets = ["{url}"]\n', "mail")
    finally:
        ctl.stop()
    assert r.returncode == 0, r.stdout + r.stderr
    assert len(mails) == 1 and mails[0].rcpt_tos == ["desk@example.com"]
    assert b"route 'mail'" in mails[0].content


def test_failed_delivery_exits_non_zero_and_unknown_route_lists_names(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]          # nothing listens here
    toml = f'[[route]]\nname = "dead"\ntargets = ["json://127.0.0.1:{port}/x"]\n'
    r = _run(tmp_path, toml, "dead")
    assert r.returncode == 1 and "dead → json://127.0.0.1" in r.stdout and "failed" in r.stdout
    r = _run(tmp_path, toml, "nope")
    assert r.returncode == 2 and "unknown route 'nope'" in r.stdout and "dead" in r.stdout
