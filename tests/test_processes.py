"""One runner per run directory: a killed runner's leftover step processes are stopped by the next one,
and a live runner is never displaced."""

import json
import os
import subprocess
import sys
import time

import psutil
import pytest

from dpdriver.config import parse_config
from dpdriver.engine.processes import RUNNER_ENV, descendants, marked_processes, take_over
from dpdriver.engine.runner import run
from dpdriver.errors import UserError
from dpdriver.rundir import RunDir, claim_run_dir


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
    RunDir(tmp_path).runner.write_text(json.dumps({"pid": dead.pid, "mark": mark}))
    leftover = marked_sleeper(mark)
    try:
        assert take_over(tmp_path) == 1
        assert leftover.wait(timeout=10) == -9 and marked_processes(mark) == []
        assert json.loads(RunDir(tmp_path).runner.read_text())["pid"] == os.getpid()
    finally:
        leftover.kill()
        os.environ.pop(RUNNER_ENV, None)


def test_a_live_runner_is_not_displaced(tmp_path):
    mark = "live-runner-mark"
    runner = marked_sleeper(mark)
    RunDir(tmp_path).runner.write_text(json.dumps({"pid": runner.pid, "mark": mark}))
    try:
        with pytest.raises(UserError, match=f"another dpdriver \\(pid {runner.pid}\\) is running"):
            take_over(tmp_path)
        assert runner.poll() is None
    finally:
        runner.kill()


def test_a_refused_second_runner_writes_nothing(tmp_path):
    """A second `dpdriver run` on a live run, with a changed config, is refused before it records its changes."""

    first = parse_config("element: Cu\nconvergence: {max_rounds: 2}\n")
    claim_run_dir(tmp_path, first.to_plain())
    identity = (tmp_path / "run.json").read_text()
    mark = "live-runner-mark-2"
    runner = marked_sleeper(mark)
    RunDir(tmp_path).runner.write_text(json.dumps({"pid": runner.pid, "mark": mark}))
    try:
        with pytest.raises(UserError, match="another dpdriver"):
            run(parse_config("element: Cu\nconvergence: {max_rounds: 3}\n"), tmp_path)
        assert (tmp_path / "run.json").read_text() == identity and runner.poll() is None
    finally:
        runner.kill()


FORKING_RUNNER = """
import os, sys, time
from dpdriver.engine.processes import carry_mark, stop_idle_workers, take_over
if sys.argv[2] == "marked":
    carry_mark(sys.argv)
take_over(sys.argv[1])
stop_idle_workers()  # as after each local workflow: the reaper below the runner must survive it
child = os.fork()
if child == 0:  # a step process that forks without exec, as dflow's debug mode does
    time.sleep(60)
    os._exit(0)
print(child, flush=True)
time.sleep(60)
"""


@pytest.mark.parametrize("restart", ["marked", "plain"])
def test_forked_children_of_a_killed_runner_end_with_it_only_when_it_restarted_with_its_mark(tmp_path, restart):
    """kill -9 of the runner: its reaper stops the forked step process at once, no rerun needed; a mark set
    without the restart is not in a forked child's /proc environ, so that child would be missed."""
    script = tmp_path / "runner.py"
    script.write_text(FORKING_RUNNER)
    runner = subprocess.Popen(
        [sys.executable, str(script), str(tmp_path), restart],
        stdout=subprocess.PIPE,
        text=True,
        env={k: v for k, v in os.environ.items() if not k.startswith(RUNNER_ENV)},
    )
    child = int(runner.stdout.readline())
    recorded = json.loads(RunDir(tmp_path).runner.read_text())
    assert recorded["pid"] == runner.pid  # the restart keeps the pid
    runner.kill()
    runner.wait()
    try:
        if restart == "marked":
            deadline = time.monotonic() + 10
            while os.path.exists(f"/proc/{child}") and open(f"/proc/{child}/stat").read().split()[2] != "Z":
                assert time.monotonic() < deadline, "the forked child survived its runner"
                time.sleep(0.05)
            assert marked_processes(recorded["mark"]) == [] and take_over(tmp_path) == 0
        else:  # the mark set after start is not in /proc/PID/environ of a forked child: the orphan is missed
            time.sleep(2)
            assert take_over(tmp_path) == 0 and os.path.exists(f"/proc/{child}")
    finally:
        try:
            os.kill(child, 9)
        except ProcessLookupError:
            pass
        os.environ.pop(RUNNER_ENV, None)


POOL_WORKFLOW = """
import json, sys
from pathlib import Path
import psutil
from dflow import InputParameter, ShellOPTemplate, Step, Steps, Workflow
from dpdriver.engine.dflow.local import configure_local, run_workflow
work = Path(sys.argv[1])
configure_local(work / "dflow", workers=2)
echo = ShellOPTemplate(name="echo", image="none", script="echo {{inputs.parameters.x}}")
echo.inputs.parameters = {"x": InputParameter()}
steps = Steps(name="pools")
steps.add([Step("fan", echo, parameters={"x": "{{item}}"}, with_param=[1, 2, 3, 4], key="fan-{{item}}"),
           Step("single", echo, parameters={"x": 0}, key="single")])  # a fan-out's pool inside a parallel group's
left = []
for attempt in range(5):  # how long a left-behind worker takes to go varies: without the stop, most attempts see one
    run_workflow(Workflow(name="pools", steps=steps), work / "log.txt")
    left += [p.pid for p in psutil.Process().children(recursive=True) if p.status() != psutil.STATUS_ZOMBIE]
print(json.dumps(left), flush=True)
"""


def test_no_pool_worker_outlives_its_local_workflow(tmp_path):
    """dflow shuts its pools down without waiting; a nested pool's worker left behind kept a finished run (and
    `submit --local`) from ever exiting. After run_workflow returns, no process is left below the caller."""
    script = tmp_path / "pools.py"
    script.write_text(POOL_WORKFLOW)
    done = subprocess.run(
        [sys.executable, str(script), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
        env={k: v for k, v in os.environ.items() if not k.startswith(RUNNER_ENV)},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
    runs = sorted((tmp_path / "dflow").glob("pools-*"))
    assert len(runs) == 5 and all(
        sorted(p.name for p in run.glob("fan-*")) == [f"fan-{i}" for i in range(1, 5)] for run in runs
    )


def test_descendants_are_found_through_the_process_tree():

    shell = subprocess.Popen(["sh", "-c", "sleep 60 & sleep 60 & wait"])
    try:
        deadline = time.monotonic() + 10
        while len(psutil.Process(shell.pid).children()) < 2:
            assert time.monotonic() < deadline, "the shell never started its two sleeps"
            time.sleep(0.01)
        expected = {shell.pid, *(c.pid for c in psutil.Process(shell.pid).children())}
        assert expected <= set(descendants(os.getpid()))
        assert set(descendants(shell.pid)) == expected - {shell.pid}
    finally:
        for pid in descendants(shell.pid):
            os.kill(pid, 9)
        shell.kill()
        shell.wait()
