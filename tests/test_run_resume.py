"""Runs that were killed or stopped, resumed with the same command: kill -9 mid-exploration and mid-production,
a stopped run continued with changed settings. Each starts from a copy of the shared tiny Cu run (conftest)."""

import json
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import DPDRIVER, run_cli

from dpdriver.data import count_frames
from dpdriver.engine.processes import RUNNER_ENV, marked_processes
from dpdriver.rundir import RunDir
from dpdriver.train.dp import checkpoint_step
from dpdriver.train.lcurve import read_lcurve
from dpdriver.train.production import PRODUCTION_SAVES

pytestmark = pytest.mark.slow


def _data_arrays(run_dir: Path) -> dict[str, np.ndarray]:
    return {str(p.relative_to(run_dir)): np.load(p) for p in sorted((run_dir / "data").rglob("*.npy"))}


def _round_records(run_dir: Path) -> list[dict]:
    """Round records without their timing; the test errors to 6 digits (TensorFlow's float sums vary in the last)."""
    records = [json.loads(p.read_text()) for p in sorted(run_dir.glob("rounds/round.*/round.json"))]

    def rounded(value):
        if isinstance(value, dict):
            return {k: rounded(v) for k, v in value.items()}
        return float(f"{value:.6g}") if isinstance(value, float) else value

    for r in records:
        r["validation"] = rounded(r["validation"])
        for member in r["training"]["members"]:
            for timing in ("wall_s", "cpu_s"):
                member.pop(timing)
        r["training"].pop("cpu_s")
    return [{k: v for k, v in r.items() if k != "elapsed_s"} for r in records]


def _copy_until(reference: Path, run_dir: Path, rounds: int) -> None:
    """The reference run as it stood after its first `rounds` rounds, before production and export: a
    kill test starts there instead of repeating what it does not test."""

    def later(folder: str, names: list[str]) -> list[str]:
        def dropped(name: str) -> bool:
            if Path(folder) == reference:
                return name in ("report",) or name.startswith(("production", "export"))
            if name.startswith(("production-", "export-")):
                return True
            number = name.replace("-", ".").split(".")[-1]
            return name.startswith("round") and number.isdigit() and int(number) >= rounds

        return [n for n in names if dropped(n)]

    shutil.copytree(reference, run_dir, symlinks=True, ignore=later)


def _kill_runner(proc: subprocess.Popen, run_dir: Path, when_killed=lambda: None):
    """kill -9 the runner, then wait until its reaper has stopped every step and tool it started; returns
    when_killed() as it was the moment the runner died."""

    mark = json.loads(RunDir(run_dir).runner.read_text())["mark"]
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    state = when_killed()
    stopped_by = time.monotonic() + 15
    while left := marked_processes(mark):  # no rerun needed for that
        running = [
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")[:120]
            for pid in left
            if Path(f"/proc/{pid}/cmdline").exists()
        ]
        assert time.monotonic() < stopped_by, f"processes of the killed runner ran on: {running}"
        time.sleep(0.1)
    return state


def _wait_for(condition, proc: subprocess.Popen, what: str, timeout_s: float = 900) -> None:

    deadline = time.monotonic() + timeout_s
    while not condition():
        assert proc.poll() is None and time.monotonic() < deadline, f"the run ended before {what}"
        time.sleep(0.02)


def test_sigkill_mid_exploration_and_mid_production_then_same_command_gives_identical_data(tiny_reference, tmp_path):
    """kill -9 while LAMMPS runs in round 1, rerun, kill -9 again once the production model has a checkpoint,
    rerun: nothing of a killed run runs on; no finished step reruns (no label computed twice, the production
    training resumes its checkpoint); the data, round records and exported files are the uninterrupted run's."""

    reference, config, _ = tiny_reference
    run_dir = tmp_path / "run"
    _copy_until(reference, run_dir, rounds=1)  # init and round 0 as the reference left them
    command = DPDRIVER + ["run", str(config), "--workdir", str(run_dir)]
    fresh_mark = {**os.environ, RUNNER_ENV: ""}
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=fresh_mark)

    def lammps_running() -> bool:
        """Round 1's LAMMPS has started and a process of the runner is alive to be orphaned."""
        if not list(run_dir.glob("dflow/round-001/explore-r001-*/workdir/tasks/*/lmp.out")):
            return False
        return bool(marked_processes(json.loads(RunDir(run_dir).runner.read_text())["mark"]))

    _wait_for(lammps_running, proc, "round 1 explored")
    _kill_runner(proc, run_dir)
    init_mtimes = {p: p.stat().st_mtime for p in (run_dir / "data").rglob("*.npy")}
    round0_models = {p: p.stat().st_mtime for p in run_dir.glob("rounds/round.000/models/*.pb")}

    second_output = tmp_path / "second-run.out"
    with open(second_output, "w") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.DEVNULL, env=fresh_mark)
    train_dir = run_dir / "dflow/production-r001/production-r001/workdir/production/train"
    _wait_for(lambda: checkpoint_step(train_dir) > 0, proc, "the production training saved its first checkpoint")
    killed_at = _kill_runner(proc, run_dir, when_killed=lambda: checkpoint_step(train_dir))
    assert "round 0" not in second_output.read_text()  # round 0 finished before the first kill: nothing of it reran

    again = run_cli(*command[len(DPDRIVER) :], env={RUNNER_ENV: ""})
    assert again.returncode == 0, again.stderr[-2000:]
    assert "round 0" not in again.stdout and "round 1" not in again.stdout
    assert {p: p.stat().st_mtime for p in init_mtimes} == init_mtimes  # no label computed twice
    assert {p: p.stat().st_mtime for p in round0_models} == round0_models
    assert _round_records(run_dir) == _round_records(reference)
    arrays, expected = _data_arrays(run_dir), _data_arrays(reference)
    assert arrays.keys() == expected.keys()
    assert all(np.array_equal(arrays[k], expected[k]) for k in expected)

    production = json.loads((run_dir / "production" / "production.json").read_text())
    assert killed_at < 100 and production["resumed_from_step"] >= killed_at and production["steps"] == 100
    assert "restart from model" in (train_dir / "train.log").read_text()  # DeePMD-kit resumed its checkpoint
    steps = read_lcurve(train_dir / "lcurve.out")["step"]
    assert steps[-1] == 100 and list(steps) == sorted(set(steps))  # one learning curve, no step twice
    saved_every = 100 // PRODUCTION_SAVES
    assert production["best_step"] % saved_every == 0 and 50 <= production["best_step"] <= 100  # a save, 2nd half
    listing = lambda root: sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())  # noqa: E731
    assert listing(run_dir / "export") == listing(reference / "export")


def test_status_of_a_stopped_run_whose_export_is_missing(tiny_reference, tmp_path, cli):
    reference, _, _ = tiny_reference
    _copy_until(reference, tmp_path / "run", rounds=2)  # every round done, no export
    result = cli("status", tmp_path / "run")
    assert result.returncode == 0 and "running or interrupted" not in result.stdout
    assert "stopped: round limit (2) reached; not exported" in result.stdout and "dpdriver export" in result.stdout


def test_stopped_run_takes_safe_config_changes_and_refuses_unsafe_ones(tiny_reference, tmp_path):

    reference, config, _ = tiny_reference
    run_dir = tmp_path / "run"
    shutil.copytree(reference, run_dir, symlinks=True)  # as the reference ended: exported, stopped at its round limit
    identity = (run_dir / "run.json").read_text()
    reshaped = tmp_path / "reshaped.yaml"
    reshaped.write_text(config.read_text().replace("rcut_A: 5.0", "rcut_A: 4.5"))
    refused = run_cli("run", reshaped, "--workdir", run_dir)
    assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1
    assert "training.rcut_A = 5.0" in refused.stderr and "model's shape" in refused.stderr
    assert (run_dir / "run.json").read_text() == identity

    longer = tmp_path / "longer.yaml"
    longer.write_text(
        config.read_text()
        .replace("max_rounds: 2", "max_rounds: 3")
        .replace("md_steps: 120", "md_steps: 60")
        .replace("production_steps: 100", "production: false")  # the kill test covers production
        .replace("  steps: 500", "  steps: 100")
    )
    frames = count_frames(run_dir / "data")
    result = run_cli("run", longer, "--workdir", run_dir)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "convergence.max_rounds: 2 -> 3" in result.stdout and "exploration.md_steps: 120 -> 60" in result.stdout
    assert "training.production: true -> false" in result.stdout
    assert "round 0" not in result.stdout and "round 2 (hot) explore" in result.stdout
    record = json.loads((run_dir / "rounds/round.002/round.json").read_text())
    assert record["selection"]["frames"] == 2 * 7  # the new MD length: 60 / 10 + 1 frames per task
    assert count_frames(run_dir / "data") == frames + record["frames_added"]
    summary = json.loads((run_dir / "export/summary.json").read_text())
    assert summary["exported_from_round"] == 2 and len(summary["rounds"]) == 3 and summary["production"] is None
    kept = json.loads((run_dir / "export.r001/summary.json").read_text())  # the earlier export is kept
    assert kept["exported_from_round"] == 1
