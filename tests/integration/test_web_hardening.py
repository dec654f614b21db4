"""Issue 14 against real servers: waitress (`python app.py`) and gunicorn (`app:server`) — the
rules hold for every way of serving; bodies are capped at the socket; logs rotate by default,
say one line per rejected request and never hold a secret."""
from __future__ import annotations

import http.client
import socket
import subprocess
import sys
import time

import pytest

from tests.integration.proc import OFFLINE, ROOT, AppProcess

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


def _request(host_ip: str, port: int, method: str, path: str, *, headers: dict | None = None,
             body: bytes | None = None, timeout: float = 10.0) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(host_ip, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def _outside_ip() -> str | None:
    """An address of this machine that is not loopback (a request to it is not 'local')."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("192.0.2.123", 9))          # no packet is sent: picks the outgoing interface
            ip = s.getsockname()[0]
    except OSError:
        return None
    return None if ip.startswith("127.") else ip


def _ready(app: AppProcess) -> bool:
    return _request("127.0.0.1", app.port, "GET", "/healthz")[0] in (200, 503)


def test_waitress_caps_bodies_refuses_foreign_hosts_and_logs_one_line_each(run, tmp_path):
    app = run("--demo", env={**OFFLINE, "CM_AUTH_TOKEN": "s3cret-t0ken"})
    app.wait_until(lambda: _request("127.0.0.1", app.port, "GET", "/healthz")[0] == 200, what="demo up")
    # 22 MB was accepted before (waitress' 1 GiB default): now refused from the headers, at once.
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", app.port), timeout=10) as sock:
        sock.sendall(b"POST /_dash-update-component HTTP/1.1\r\nHost: localhost\r\n"
                     b"Authorization: Bearer s3cret-t0ken\r\nContent-Type: application/json\r\n"
                     b"Content-Length: %d\r\n\r\n" % (22 << 20) + b"x" * 65536)
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 413") and time.monotonic() - started < 5
    assert _request("127.0.0.1", app.port, "GET", "/api/series", headers={"Host": "attacker.example"})[0] == 400
    assert _request("127.0.0.1", app.port, "GET", "/api/series?token=s3cret-t0ken-wrong")[0] == 401
    assert _request("127.0.0.1", app.port, "GET", "/api/series?token=s3cret-t0ken")[0] == 200
    for _ in range(3):
        _request("127.0.0.1", app.port, "POST", "/_dash-update-component", body=b'{"output": 1}',
                 headers={"Content-Type": "application/json", "Authorization": "Bearer s3cret-t0ken"})
    time.sleep(0.5)
    log = (tmp_path / "logs" / "contagion.log").read_text()       # the rotated file, by default
    assert "serving on" in log
    assert "s3cret" not in log and "Traceback" not in log
    assert log.count("refused 400 GET '/api/series'") == 1 and log.count("refused 401") == 1
    assert log.count("refused 400 POST /_dash-update-component") == 3
    assert "Running job" not in log and "executed successfully" not in log


def test_debug_with_a_public_host_stops_at_start(tmp_path):
    proc = subprocess.run([sys.executable, "app.py", "--debug", "--host", "0.0.0.0"], cwd=ROOT, capture_output=True,
                          text=True, timeout=60, env={"CM_DATA_DIR": str(tmp_path), "CM_AUTH_TOKEN": "t0ken",
                                                      "PATH": "/usr/bin:/bin"})
    # the message names what the user set: the options here (CM_DEBUG/CM_HOST when from the environment)
    assert proc.returncode == 2 and "--debug with --host='0.0.0.0'" in proc.stderr


def test_gunicorn_refuses_a_public_bind_without_credentials(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "gunicorn", "app:server"], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, env={"CM_DATA_DIR": str(tmp_path), "CM_GUNICORN_BIND": "0.0.0.0:0",
                                           "CM_MODE": "demo", "PATH": "/usr/bin:/bin"})
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "gunicorn bind '0.0.0.0:0' exposes the dashboard beyond this machine" in proc.stderr
    assert "CM_AUTH_TOKEN" in proc.stderr and "Traceback" not in proc.stderr


def test_any_wsgi_server_importing_app_server_answers_only_this_machine(run, tmp_path):
    """gunicorn without our gunicorn.conf.py (so nothing checks the bind), on 0.0.0.0, no
    credentials: /api/alerts from another address is 403 — the rule lives in the app."""
    outside = _outside_ip()
    if outside is None:
        pytest.skip("this machine has no non-loopback address to connect from")
    empty = tmp_path / "empty.conf.py"
    empty.write_text("")
    web = run(data_dir=tmp_path, env={**OFFLINE, "CM_MODE": "demo"},
              cmd=[sys.executable, "-m", "gunicorn", "-c", str(empty), "-w", "1", "-b", "0.0.0.0:{port}",
                   "app:server"])
    web.wait_until(lambda: _ready(web), what="gunicorn up")
    status, body = _request(outside, web.port, "GET", "/api/alerts", headers={"Host": "localhost"})
    assert status == 403 and b"this machine only" in body
    assert _request(outside, web.port, "GET", "/api/alerts")[0] == 400        # its own IP is no allowed name
    assert _request("127.0.0.1", web.port, "GET", "/api/alerts")[0] == 200
    status, _ = _request("127.0.0.1", web.port, "POST", "/api/alerts", body=b"x" * (2 << 20))
    assert status == 413                                                    # MAX_CONTENT_LENGTH under gunicorn
    assert "Traceback" not in web.output()
