"""The test harness's own promise: a test's processes do not outlive it."""

import os
import subprocess
import time

from tests.conftest import TEST_PROCESS_MARK, kill_marked


def test_a_child_in_a_session_of_its_own_is_stopped_after_its_leader_is_gone():
    # As the worker starts its nodes: the child leaves the leader's process group and session.
    leader = subprocess.Popen(
        ["bash", "-c", "setsid sleep 600 & echo $!"],
        env={**os.environ, TEST_PROCESS_MARK: "abc123"}, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    orphan = int(leader.stdout.readline())
    assert leader.wait(10) == 0
    os.kill(orphan, 0)  # still running, its leader gone

    kill_marked("abc123-other")
    os.kill(orphan, 0)  # another test's mark leaves it alone
    kill_marked("abc123")
    deadline = time.monotonic() + 10
    while os.path.exists(f"/proc/{orphan}") and "Z" not in _state(orphan) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not os.path.exists(f"/proc/{orphan}") or "Z" in _state(orphan)


def _state(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"
