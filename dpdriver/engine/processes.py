"""One runner per run directory, and no orphans: after a SIGKILL of the runner its steps' processes (forked step
groups, `dp` and `lmp`) would run on; they carry an environment mark, and a detached reaper stops them once the
runner is gone (the next runner stops any it missed)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from ..errors import UserError
from ..files import write_atomically
from ..rundir import RunDir

RUNNER_ENV = "DPDRIVER_RUNNER"
RUNNER_PID_ENV = "DPDRIVER_RUNNER_PID"  # the mark is this process's own, not one inherited from a parent
_reapers: set[int] = set()  # started by this process: below it in the tree, yet never an idle worker


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


def _stat(proc: Path) -> list[str]:
    """/proc/PID/stat after the command name: state, ppid, ...; empty once the process is gone."""
    try:
        return proc.joinpath("stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def descendants(pid: int) -> list[int]:
    """Every process below pid in the process tree."""
    children: dict[int, list[int]] = {}
    for proc in Path("/proc").glob("[0-9]*"):
        fields = _stat(proc)
        if fields:
            children.setdefault(int(fields[1]), []).append(int(proc.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def stop_idle_workers() -> int:
    """Once a local workflow has returned, any process still below this one (or carrying its runner mark) is a
    pool worker that dflow left behind: it shuts its pools down without waiting. Such a worker can wait forever on
    idle workers of its own nested pool, and Python waits for it at exit: the command would finish its work and
    never end."""
    mark = os.environ.get(RUNNER_ENV)
    found = set(descendants(os.getpid())) | set(marked_processes(mark) if mark else [])
    return _stop(sorted(found - _reapers))


def _alive(pid: int) -> bool:
    return _stat(Path(f"/proc/{pid}"))[:1] not in ([], ["Z"])


def _stop(pids: list[int], wait_s: float = 10.0) -> int:
    """SIGKILL the processes and wait until none of them runs any more."""
    stopped = 0
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
            stopped += 1
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + wait_s
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return stopped


def leftovers_of_previous_runner(run_dir: Path) -> list[int]:
    """The processes a killed runner of run_dir left; UserError if that runner itself is alive (a refused
    command writes nothing, so call this before writing into run_dir)."""
    record = RunDir(run_dir).runner
    if not record.exists():
        return []
    previous = json.loads(record.read_text())
    leftovers = marked_processes(previous["mark"])
    if previous["pid"] in leftovers:
        raise UserError(
            f"another dpdriver (pid {previous['pid']}) is running in {run_dir}; "
            f"wait for it to finish, or stop it with: kill {previous['pid']}"
        )
    return leftovers


def take_over(run_dir: Path, wait_s: float = 10.0) -> int:
    """Become the run directory's runner; return how many leftover processes of a killed runner were stopped."""
    record = RunDir(run_dir).runner
    stopped = _stop(leftovers_of_previous_runner(run_dir), wait_s)  # they must not write into the steps we redo
    own = os.environ.get(RUNNER_PID_ENV) == str(os.getpid())  # set by carry_mark before this process started
    mark = os.environ[RUNNER_ENV] if own else uuid.uuid4().hex
    write_atomically(record, json.dumps({"pid": os.getpid(), "mark": mark}))
    os.environ[RUNNER_ENV] = mark  # inherited by every step process and tool it starts
    start_reaper(os.getpid(), mark)
    return stopped


def start_reaper(runner_pid: int, mark: str) -> None:
    """A detached process that outlives the runner: once the runner has ended, by SIGKILL too, it stops every
    process carrying the runner's mark, so that no step, `dp` or `lmp` runs on without it."""
    unmarked = {k: v for k, v in os.environ.items() if k not in (RUNNER_ENV, RUNNER_PID_ENV)}
    reaper = subprocess.Popen(
        [sys.executable, "-m", "dpdriver.engine.processes", str(runner_pid), mark],
        env=unmarked,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
    )
    _reapers.add(reaper.pid)


def reap(runner_pid: int, mark: str, poll_s: float = 0.5, give_up_s: float = 60.0) -> None:
    """Stop the marked processes once the runner is gone, again until none is left: a step may start a tool
    between one pass's look and its kill."""
    while _alive(runner_pid):
        time.sleep(poll_s)
    deadline = time.monotonic() + give_up_s
    while (found := marked_processes(mark)) and time.monotonic() < deadline:
        _stop(found)


if __name__ == "__main__":  # the reaper of start_reaper
    reap(int(sys.argv[1]), sys.argv[2])
