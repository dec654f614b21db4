"""Issue 13: the console printed ~350 lines in 13 minutes offline. One line per state change:
a source that starts failing, fails for another reason, or recovers; nothing per repeat."""
from __future__ import annotations

import logging
import random

import pytest

from data.collector import Collector, SourceJob
from data.store import Store
from errors import FetchError, MalformedPayload
from universe import load_universe
from tests.unit.test_collector import ScriptedSource, daily
from web import logs

UNIVERSE = load_universe()
NET = "network error: ProxyError: HTTPSConnectionPool(host='www.mof.go.jp', port=443): Max retries exceeded"


@pytest.fixture
def store(tmp_path):
    st = Store(f"sqlite:///{tmp_path / 't.db'}")
    st.create_schema()
    yield st
    st.dispose()


def _run(c: Collector, name: str, n: int) -> None:
    for _ in range(n):
        c._not_before.pop(name, None)          # no back-off wait: one cycle after the other
        c.run_once(name)


def _lines(caplog, level=logging.INFO):
    return [r for r in caplog.records if r.name.startswith("contagion") and r.levelno >= level]


def test_a_source_failing_the_same_way_logs_once_then_recovery_once(store, caplog):
    # Two requests per cycle, both failing like an offline machine, for 30 cycles.
    fails = [[FetchError(NET), FetchError(NET)] for _ in range(30)]
    ok = [daily("jgb_30y", ["2026-01-19", "2026-01-20"], [3.48, 3.683])]
    src = ScriptedSource("mof", fails + [ok] + [[FetchError(NET)]])
    c = Collector(store, UNIVERSE, {"mof": SourceJob(src, 60, session_factory=None)}, rng=random.Random(1))
    c.claim()
    caplog.set_level(logging.INFO)
    caplog.clear()
    _run(c, "mof", 30)
    lines = _lines(caplog)
    assert len(lines) == 1, [r.getMessage()[:120] for r in lines]
    assert lines[0].levelno == logging.WARNING and "mof: failing (network error; 1 in a row)" in lines[0].getMessage()
    assert len(lines[0].getMessage()) < 600
    caplog.clear()
    _run(c, "mof", 1)                                      # recovers: one line
    lines = _lines(caplog)
    assert len(lines) == 1 and "mof: recovered after 30 failed cycle(s)" in lines[0].getMessage()
    caplog.clear()
    _run(c, "mof", 1)                                      # fails again: a state change again
    assert [r.levelno for r in _lines(caplog)] == [logging.WARNING]


def test_another_failure_reason_is_a_state_change(store, caplog):
    src = ScriptedSource("mof", [FetchError(NET)] * 5 + [MalformedPayload("mof: no 'Date' column")] * 5)
    c = Collector(store, UNIVERSE, {"mof": SourceJob(src, 60, session_factory=None)}, rng=random.Random(1))
    c.claim()
    caplog.set_level(logging.INFO)
    caplog.clear()
    _run(c, "mof", 10)
    msgs = [r.getMessage() for r in _lines(caplog)]
    assert len(msgs) == 2 and "network error" in msgs[0] and "malformed payload" in msgs[1]


def test_the_repeats_are_at_debug(store, caplog):
    src = ScriptedSource("mof", [FetchError(NET)] * 5)
    c = Collector(store, UNIVERSE, {"mof": SourceJob(src, 60, session_factory=None)}, rng=random.Random(1))
    c.claim()
    caplog.set_level(logging.DEBUG, logger="contagion")
    caplog.clear()
    _run(c, "mof", 5)
    assert sum("mof: failing" in r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG) == 4


def test_a_parser_bug_logs_its_traceback_once(store, caplog):
    src = ScriptedSource("mof", ["boom"] * 6)
    c = Collector(store, UNIVERSE, {"mof": SourceJob(src, 60, session_factory=None)}, rng=random.Random(1))
    c.claim()
    caplog.set_level(logging.INFO)
    caplog.clear()
    _run(c, "mof", 6)
    lines = _lines(caplog)
    assert sum(r.exc_info is not None for r in lines) == 1 and len(lines) == 2


# ---------------------------------------------------------------- third-party loggers (web/logs.py)
@pytest.fixture
def console(capsys):
    def setup(level):
        logs.setup(level, None)        # its StreamHandler writes to the captured stderr
        capsys.readouterr()
    yield lambda level="INFO": setup(level)
    logs.setup("WARNING", None)
    root = logging.getLogger()
    for h in [h for h in root.handlers if getattr(h, "_cm_handler", False)]:
        root.removeHandler(h)


def _skip(n):
    sched = logging.getLogger("apscheduler.scheduler")
    for _ in range(n):
        sched.warning('Execution of job "%s" skipped: maximum number of running instances reached (%d)',
                      "collect:replay", 1)


def test_scheduler_runs_and_skips_are_quiet_at_info(console, capsys):
    console("INFO")
    before = logs.skipped_runs()
    logging.getLogger("apscheduler.executors.default").info('Running job "collect:replay"')
    logging.getLogger("apscheduler.executors.default").info('Job "collect:replay" executed successfully')
    _skip(50)
    out = capsys.readouterr().err
    assert out == ""
    assert logs.skipped_runs() - before == 50
    logging.getLogger("apscheduler.scheduler").error("Job crashed")   # real trouble still shows
    assert "Job crashed" in capsys.readouterr().err


def test_log_level_debug_shows_them(console, capsys):
    console("DEBUG")
    _skip(2)
    logging.getLogger("apscheduler.executors.default").info('Running job "collect:replay"')
    logging.getLogger("yfinance").debug("crumb detail")
    out = capsys.readouterr().err
    assert out.count("DEBUG apscheduler.scheduler") == 2 and "Running job" in out and "crumb detail" in out


def test_yfinance_says_each_message_once(console, capsys):
    console("INFO")
    yf = logging.getLogger("yfinance")
    for i in range(40):
        yf.warning("Cookie/crumb fetch failed (ConnectionError), continuing without crumb")
        yf.error("['JPY=X']: ConnectionError('curl: (7) Failed to connect after %d ms')", i)
        yf.info("noise %d", i)
    out = capsys.readouterr().err.strip().splitlines()
    assert len(out) == 2, out
    yf.warning("another message")
    assert "another message" in capsys.readouterr().err


def test_yahoo_source_still_sees_yfinance_errors_through_its_own_handler(console):
    """The quiet filter sits on our handlers, not on the yfinance logger: yahoo.py's capture
    handler (its per-ticker error summary) still receives every record."""
    from data.sources.yahoo import _ErrorCapture

    console("INFO")
    cap = _ErrorCapture()
    yf = logging.getLogger("yfinance")
    yf.addHandler(cap)
    try:
        for _ in range(3):
            yf.error("['JPY=X']: ConnectionError('down')")
    finally:
        yf.removeHandler(cap)
    assert cap.errors == {"JPY=X": "ConnectionError('down')"}
