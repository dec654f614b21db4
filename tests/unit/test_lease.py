"""Is the lease holder alive? The decision a collector makes on one host (data/lease.py)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from data.lease import ProcessIdentity, ProcessState, holder_gone, probe_process, this_process

HERE = ProcessIdentity(host="box", pid=4242, boot_id="boot-a", pid_ns="pid:[4026531836]", start=900)


def holder(**kw) -> ProcessIdentity:
    base = dict(host="box", pid=1234, boot_id="boot-a", pid_ns="pid:[4026531836]", start=500)
    return ProcessIdentity(**(base | kw))


def probe(table: dict[int, ProcessState | None]):
    return lambda pid: table.get(pid)


def test_a_live_holder_with_its_own_start_time_is_alive():
    assert holder_gone(holder(), HERE, probe=probe({1234: ProcessState(start=500)})) is None


def test_a_pid_that_no_longer_exists_is_gone():
    why = holder_gone(holder(), HERE, probe=probe({}))
    assert why and "1234" in why and "no longer exists" in why


def test_a_reused_pid_is_gone():
    # pid 1234 exists, but it started at another time: another process got the number.
    why = holder_gone(holder(), HERE, probe=probe({1234: ProcessState(start=777)}))
    assert why and "another process" in why


def test_a_zombie_is_gone():
    assert holder_gone(holder(), HERE, probe=probe({1234: ProcessState(start=500, zombie=True)}))


def test_another_boot_of_this_host_is_gone_even_if_the_pid_is_taken():
    why = holder_gone(holder(boot_id="boot-b"), HERE, probe=probe({1234: ProcessState(start=500)}))
    assert why and "rebooted" in why


def test_another_host_cannot_be_judged_from_here():
    # Its pid means nothing here: only the lease TTL decides.
    assert holder_gone(holder(host="other"), HERE, probe=probe({})) is None
    assert holder_gone(holder(host=""), HERE, probe=probe({})) is None


def test_another_pid_namespace_cannot_be_judged_from_here():
    # Another container with the same host name: same boot id, but its pids are not ours.
    assert holder_gone(holder(pid_ns="pid:[4026532001]"), HERE, probe=probe({})) is None


def test_unknown_start_times_fall_back_to_the_pid_alone():
    assert holder_gone(holder(start=None), HERE, probe=probe({1234: ProcessState(start=777)})) is None
    assert holder_gone(holder(boot_id=None, pid_ns=None, start=None), HERE, probe=probe({}))


def test_the_real_probes_on_this_host():
    me = this_process()
    assert me.pid == os.getpid() and me.host
    assert holder_gone(me, me) is None                        # ourselves: alive
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        alive = ProcessIdentity(host=me.host, pid=child.pid, boot_id=me.boot_id, pid_ns=me.pid_ns,
                                start=probe_process(child.pid).start)
        assert holder_gone(alive, me) is None
        if me.start is not None:   # Linux: the start time tells a reused pid
            assert holder_gone(ProcessIdentity(**{**alive.__dict__, "start": alive.start + 1}), me)
        child.send_signal(signal.SIGKILL)
        deadline = time.monotonic() + 10
        while holder_gone(alive, me) is None:                 # killed, not yet reaped: a zombie
            assert time.monotonic() < deadline
            time.sleep(0.01)
        child.wait()
        assert "no longer exists" in holder_gone(alive, me)
    finally:
        child.kill()
        child.wait()
