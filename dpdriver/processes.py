"""One runner per run directory, and no orphans: after a SIGKILL the steps' processes (forked step groups,
`dp` and `lmp`) keep running; the next runner finds them by an environment mark they inherited and stops them."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
import uuid
from pathlib import Path

from .errors import UserError

RUNNER_ENV = "DPDRIVER_RUNNER"
RUNNER_PID_ENV = "DPDRIVER_RUNNER_PID"  # the mark is this process's own, not one inherited from a parent
RUNNER_FILE = "runner.json"


def carry_mark(argv: list[str]) -> None:
    """Start this process again (same pid, sys.executable + argv) with a fresh runner mark in its environment.
    /proc/PID/environ shows the environment of the last exec: only then do the children that fork without an
    exec (dflow's debug-mode step and slice processes) show the mark, and a killed runner's can be found."""
    if os.environ.get(RUNNER_PID_ENV) == str(os.getpid()):
        return
    os.environ.update({RUNNER_ENV: uuid.uuid4().hex, RUNNER_PID_ENV: str(os.getpid())})
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, [sys.executable, *argv])


def marked_processes(mark: str) -> list[int]:
    """Processes (other than this one) whose environment carries the runner mark."""
    wanted = f"{RUNNER_ENV}={mark}".encode()
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if int(proc.name) != os.getpid() and wanted in (proc / "environ").read_bytes().split(b"\0"):
                found.append(int(proc.name))
        except (OSError, ValueError):
            continue  # gone meanwhile, or not ours to read
    return found


def stop_idle_workers() -> int:
    """Once a local workflow has returned, any process still carrying this runner's mark is a pool worker that
    dflow left behind (it shuts its pools down without waiting). Such a worker can wait forever on idle workers of
    its own nested pool, and Python would wait for it at exit: the run would finish its work and never end."""
    mark = os.environ.get(RUNNER_ENV)
    if not mark:
        return 0
    return _stop(mark, marked_processes(mark))


def _stop(mark: str, pids: list[int], wait_s: float = 10.0) -> int:
    """SIGKILL the marked processes; wait until none is left (a dying one still shows its mark for a moment)."""
    stopped = 0
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
            stopped += 1
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + wait_s
    while pids and time.monotonic() < deadline:
        time.sleep(0.05)
        pids = marked_processes(mark)
    return stopped


def take_over(run_dir: Path, wait_s: float = 10.0) -> int:
    """Become the run directory's runner; return how many leftover processes of a killed runner were stopped."""
    record = Path(run_dir) / RUNNER_FILE
    stopped = 0
    if record.exists():
        previous = json.loads(record.read_text())
        leftovers = marked_processes(previous["mark"])
        if previous["pid"] in leftovers:
            raise UserError(f"another dpdriver (pid {previous['pid']}) is running in {run_dir}; "
                            f"wait for it to finish, or stop it with: kill {previous['pid']}")
        stopped = _stop(previous["mark"], leftovers, wait_s)  # they must not write into the steps we redo
    own = os.environ.get(RUNNER_PID_ENV) == str(os.getpid())  # set by carry_mark before this process started
    mark = os.environ[RUNNER_ENV] if own else uuid.uuid4().hex
    tmp = record.with_name(RUNNER_FILE + ".partial")
    tmp.write_text(json.dumps({"pid": os.getpid(), "mark": mark}))
    tmp.replace(record)
    os.environ[RUNNER_ENV] = mark  # inherited by every step process and tool it starts
    return stopped
