"""Stages on a real Slurm: a one-node cluster on this machine (scripts/local-slurm), started for these tests and
stopped after them; every job goes through sbatch, squeue and scancel of Debian's slurm-wlm."""

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import DPDRIVER, REPO, TINY_CU

from dpdriver.config import parse_config
from dpdriver.data import count_frames
from dpdriver.engine.dflow.dispatch import queued_steps
from dpdriver.engine.dflow.local import configure_local
from dpdriver.engine.runner import Runner
from dpdriver.errors import UserError

CANNOT_INSTALL = ("are not installed", "could not install", "run it as root")


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    """A one-node Slurm of its own (state, ports), as a user would start it; SLURM_CONF for every command."""
    folder = tmp_path_factory.mktemp("slurm")
    env = {
        **os.environ,
        "DPDRIVER_SLURM_DIR": str(folder),
        "DPDRIVER_SLURMCTLD_PORT": "6917",
        "DPDRIVER_SLURMD_PORT": "6918",
    }
    script = REPO / "scripts" / "local-slurm"
    started = subprocess.run([script, "start"], capture_output=True, text=True, env=env)
    if started.returncode != 0 and any(reason in started.stderr for reason in CANNOT_INSTALL):
        pytest.skip(f"no local Slurm: {started.stderr.strip()}")
    assert started.returncode == 0, started.stderr
    previous = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = str(folder / "slurm.conf")
    yield folder
    subprocess.run([script, "stop"], env=env)
    if previous is None:
        os.environ.pop("SLURM_CONF")
    else:
        os.environ["SLURM_CONF"] = previous


def job_state(job_id: str) -> str:
    """Slurm's short state of a job in the queue (PD, R, CG), empty once it has left."""
    return subprocess.run(["squeue", "-h", "-o", "%t", "-j", job_id], capture_output=True, text=True).stdout.strip()


def dispatcher(queue: Path, stages: str, resources: str = "{cpu_per_node: 1}") -> str:
    return f"""execution:
  dispatcher:
    stages: {stages}
    machine: {{batch_type: Slurm, context_type: LocalContext, local_root: ., remote_root: {queue}}}
    resources: {resources}
    poll_interval_s: 1
"""


def wait_for(condition, timeout_s: float = 300.0, what: str = ""):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.2)
    pytest.fail(f"waited {timeout_s} s for {what}")


def submitted(workflows: Path, prefix: str) -> list[str]:
    """Job ids of the dispatched steps named prefix* so far."""
    return [job for step in queued_steps(workflows) if step.step.startswith(prefix) for job in step.job_ids]


def test_a_whole_run_on_slurm_survives_kill_9_of_its_runner_and_gives_the_local_runs_data(
    slurm, tiny_reference, tmp_path, cli
):
    """Every stage that runs a tool goes through sbatch, the two members at once. The runner is killed (SIGKILL)
    while round 0's models train in their jobs, one running and one still queued (another job holds a core): the
    jobs stay in the queue, the rerun waits for them instead of submitting them again, and the data is the local
    run's, bit for bit."""
    config = tmp_path / "tiny.yaml"
    one_round = TINY_CU.replace("max_rounds: 2", "max_rounds: 1")
    # one member at a time where it runs here; on the queue, which holds the CPUs, both are submitted at once
    one_round = one_round.replace("  models: 2\n", "  models: 2\n  parallel: 1\n")
    config.write_text(one_round + dispatcher(tmp_path / "queue", "[train, explore, label, production, export]"))
    run_dir = tmp_path / "run"
    blocker = subprocess.run(
        ["sbatch", "--parsable", "-o", "/dev/null", "--wrap", "sleep 600"], capture_output=True, text=True, check=True
    ).stdout.strip()
    runner = subprocess.Popen(
        [*DPDRIVER, "run", str(config), "--workdir", str(run_dir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    training = wait_for(
        lambda: len(submitted(run_dir / "dflow", "train-r000")) == 2 and submitted(run_dir / "dflow", "train-r000"),
        what="round 0's training jobs",
    )
    wait_for(lambda: sorted(job_state(job) for job in training) == ["PD", "R"], what="one job running, one queued")
    pid = json.loads((run_dir / "runner.json").read_text())["pid"]
    os.kill(pid, signal.SIGKILL)
    runner.wait()
    time.sleep(2)  # the reaper stops the killed runner's own processes
    assert sorted(job_state(job) for job in training) == ["PD", "R"], "the jobs did not outlive the runner"
    subprocess.run(["scancel", blocker], check=True)

    result = cli("run", config, "--workdir", run_dir)
    assert result.returncode == 0, result.stderr[-2000:]
    steps = queued_steps(run_dir / "dflow")
    assert {s.step.split("-r")[0].split("-")[0] for s in steps} >= {"label", "train", "explore", "production", "export"}
    assert all(len(s.job_ids) == 1 for s in steps), steps  # no step submitted twice
    assert submitted(run_dir / "dflow", "train-r000") == training
    for job in training:
        log = next(
            p
            for p in (run_dir / "dflow").glob("round-000/train-*/workdir/dpdispatcher.log")
            if f"job_id is {job}" in p.read_text()
        )
        assert "recover submission" in log.read_text()

    reference = tiny_reference[0]
    for dataset in ("data/init", "data/round.000", "test_data"):
        arrays = sorted((reference / dataset).rglob("*.npy"))
        assert arrays
        for path in arrays:
            mine = run_dir / path.relative_to(reference)
            assert np.array_equal(np.load(path), np.load(mine)), mine
    assert (run_dir / "export" / "compressed_model.pb").exists()
    status = cli("status", run_dir).stdout
    assert f"train-r000-0 {training[0]}" in status or f"train-r000-1 {training[0]}" in status


def run_in_thread(config_text: str, run_dir: Path) -> tuple[threading.Thread, dict]:
    """Runner.initial_data() of a config in a thread of this process; its error, if any, in the dict."""
    outcome = {}

    def target():
        try:
            Runner(parse_config(config_text), run_dir, echo=lambda line: None).initial_data()
        except UserError as exc:
            outcome["error"] = str(exc)

    configure_local(run_dir / "dflow", workers=2)
    thread = threading.Thread(target=target)
    thread.start()
    return thread, outcome


SLOW = """\
element: Cu
seed: 3
labeler: {kind: ase, calculator: faulty_calculators.SlowEMT, structures_per_task: 20}
initial_data:
  generators: [{kind: volume_scan, volume_change_range: [-0.06, 0.15], count: 8}]
validation: {test_structures: 1, families: [rattled]}
"""


def test_a_cancelled_job_stops_the_run_naming_it_and_the_same_command_resumes(slurm, tmp_path, monkeypatch):
    """scancel of a labeling job: a one-line stop with the job's id; run again, the step is submitted anew and its
    labels come in, the ones the code failed on quarantined with their reason, as without a queue."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).parent))  # the jobs import faulty_calculators
    config = SLOW + dispatcher(tmp_path / "queue", "[label]")
    run_dir = tmp_path / "run"
    thread, outcome = run_in_thread(config, run_dir)
    job = wait_for(lambda: submitted(run_dir / "dflow", "label"), what="the labeling job")[0]
    wait_for(lambda: any((tmp_path / "queue").glob("*/log")), what="the job to start labeling")
    subprocess.run(["scancel", job], check=True)
    thread.join(timeout=300)
    assert f"queue job {job} was cancelled" in outcome.get("error", ""), outcome
    assert "\n" not in outcome["error"] and "run the same command again to resume" in outcome["error"]

    thread, outcome = run_in_thread(config, run_dir)
    thread.join(timeout=300)
    assert outcome == {}
    assert len(submitted(run_dir / "dflow", "label")) == 2  # the cancelled job, then one more
    expanded = 3  # of the 8 volumes, the three above 12.5 A^3 per atom fail in SlowEMT
    assert count_frames(run_dir / "data" / "init") == 8 - expanded
    reasons = [json.loads(p.read_text()) for p in (run_dir / "data" / "init").rglob("reason.json")]
    reasons += [json.loads(p.read_text()) for p in run_dir.rglob("quarantine/**/reason.json")]
    assert len({json.dumps(r, sort_keys=True) for r in reasons}) >= expanded


def test_a_job_killed_by_its_time_limit_stops_the_run_naming_it_and_saying_what_to_give_it(
    slurm, tmp_path, monkeypatch
):
    """Slurm itself ends the job for its time limit (lowered to zero by the administrator while it runs, since a
    limit is whole minutes): the stop names the job and asks for more time in the stage's resources."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).parent))
    config = SLOW.replace("SlowEMT", "StallingEMT") + dispatcher(tmp_path / "queue", "[label]")
    thread, outcome = run_in_thread(config, tmp_path / "run")
    job = wait_for(lambda: submitted(tmp_path / "run" / "dflow", "label"), what="the labeling job")[0]
    wait_for(lambda: any((tmp_path / "queue").glob("*/log")), what="the job to start labeling")
    subprocess.run(["scontrol", "update", f"JobId={job}", "TimeLimit=0"], check=True)
    thread.join(timeout=300)
    assert f"queue job {job} reached its time limit" in outcome.get("error", ""), outcome
    assert "resources" in outcome["error"] and "\n" not in outcome["error"]


def test_a_job_that_dies_stops_the_run_with_its_id_and_last_error_line(slurm, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).parent))
    config = SLOW.replace("SlowEMT", "AbortingEMT") + dispatcher(tmp_path / "queue", "[label]")
    thread, outcome = run_in_thread(config, tmp_path / "run")
    thread.join(timeout=300)
    job = submitted(tmp_path / "run" / "dflow", "label")[0]
    assert f"queue job {job} ended with: " in outcome.get("error", ""), outcome
    assert "SIGSEGV" in outcome["error"] and "\n" not in outcome["error"]
