"""Logging (web/logs.py): console plus a size-rotated file by default, scheduler chatter held back."""
from __future__ import annotations

import logging
import logging.handlers

import pytest

from web import logs


@pytest.fixture
def root():
    r = logging.getLogger()
    saved, level = list(r.handlers), r.level
    aps = logging.getLogger("apscheduler").level
    yield r
    for h in [h for h in r.handlers if h not in saved]:
        r.removeHandler(h)
        h.close()
    r.setLevel(level)
    logging.getLogger("apscheduler").setLevel(aps)


def test_a_rotating_file_and_the_console_by_default(root, tmp_path):
    path = logs.setup("INFO", tmp_path / "logs" / "contagion.log")
    ours = [h for h in root.handlers if getattr(h, "_cm_handler", False)]
    files = [h for h in ours if isinstance(h, logging.handlers.RotatingFileHandler)]
    assert len(ours) == 2 and len(files) == 1
    assert files[0].maxBytes == 10 * 1024 * 1024 and files[0].backupCount == 5
    logging.getLogger("contagion.test").warning("written")
    files[0].flush()
    assert "written" in path.read_text()
    logs.setup("INFO", path)                                   # again: still one of each
    assert len([h for h in root.handlers if getattr(h, "_cm_handler", False)]) == 2


def test_scheduler_runs_are_not_logged_when_idle(root, tmp_path):
    path = tmp_path / "c.log"
    logs.setup("INFO", path)
    aps = logging.getLogger("apscheduler.executors.default")
    aps.info('Running job "yahoo (trigger: interval[0:01:00])" (scheduled at 2026-01-20 06:00:00+00:00)')
    aps.info('Job "yahoo" executed successfully')
    aps.warning('Run time of job "yahoo" was missed by 0:00:03')
    for h in root.handlers:
        h.flush()
    text = path.read_text()
    assert "Running job" not in text and "executed successfully" not in text and "was missed" in text
    logs.setup("DEBUG", path)
    assert logging.getLogger("apscheduler").getEffectiveLevel() == logging.DEBUG


def test_wsgi_servers_keep_their_own_logging(root):
    foreign = logging.StreamHandler()
    root.addHandler(foreign)
    before = list(root.handlers)
    logs.setup_for_wsgi("INFO")
    assert root.handlers == before


def test_skipped_runs_and_repeated_yfinance_warnings_stay_out_of_the_log(root, tmp_path):
    path = tmp_path / "q.log"
    logs.setup("INFO", path)
    before = logs.skipped_runs()
    aps = logging.getLogger("apscheduler.scheduler")
    for _ in range(5):
        aps.warning('Execution of job "collect:replay" skipped: maximum number of running instances reached (1)')
    yf = logging.getLogger("yfinance")
    for ms in (3, 7, 12):
        yf.warning(f"Failed to get ticker 'JPY=X' reason: Failed to perform, curl: (6) after {ms} ms")
    yf.warning("1 Failed download: ['^TNX']")
    yf.info("fetching crumb")
    for h in root.handlers:
        h.flush()
    text = path.read_text()
    assert "skipped: maximum number" not in text and logs.skipped_runs() - before == 5
    assert text.count("Failed to get ticker") == 1 and text.count("Failed download") == 1 and "crumb" not in text
