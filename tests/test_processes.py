"""One runner per run directory: a killed runner's leftover step processes are stopped by the next one,
and a live runner is never displaced."""

import json
import os
import subprocess
import sys
import time

import pytest

from dpdriver.errors import UserError
from dpdriver.processes import RUNNER_ENV, RUNNER_FILE, marked_processes, take_over


def marked_sleeper(mark: str) -> subprocess.Popen:
    """A process carrying the runner mark, returned once /proc shows the mark (after its exec)."""
    proc = subprocess.Popen(["sleep", "60"], env={**os.environ, RUNNER_ENV: mark})
    deadline = time.monotonic() + 10
    while marked_processes(mark) != [proc.pid]:
        assert time.monotonic() < deadline, "the marked process never showed its mark"
        time.sleep(0.01)
    return proc


def test_leftovers_of_a_killed_runner_are_stopped(tmp_path):
    mark = "killed-runner-mark"
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / RUNNER_FILE).write_text(json.dumps({"pid": dead.pid, "mark": mark}))
    leftover = marked_sleeper(mark)
    try:
        assert take_over(tmp_path) == 1
        assert leftover.wait(timeout=10) == -9 and marked_processes(mark) == []
        assert json.loads((tmp_path / RUNNER_FILE).read_text())["pid"] == os.getpid()
    finally:
        leftover.kill()
        os.environ.pop(RUNNER_ENV, None)


def test_a_live_runner_is_not_displaced(tmp_path):
    mark = "live-runner-mark"
    runner = marked_sleeper(mark)
    (tmp_path / RUNNER_FILE).write_text(json.dumps({"pid": runner.pid, "mark": mark}))
    try:
        with pytest.raises(UserError, match=f"another dpdriver \\(pid {runner.pid}\\) is running"):
            take_over(tmp_path)
        assert runner.poll() is None
    finally:
        runner.kill()
