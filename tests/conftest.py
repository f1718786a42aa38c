import fcntl
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from dpdriver.tools import fast_tensorflow_import

fast_tensorflow_import()  # as the dpdriver command does, for the models tests load in this process

REPO = Path(__file__).resolve().parent.parent
DPDRIVER = [sys.executable, "-m", "dpdriver.cli"]
# The files that run whole loops, longest first: with two workers taking whole files in collection order
# (`--dist loadfile --no-loadscope-reorder`), the long ones start at once and the short ones fill the gaps.
LONGEST_FIRST = (
    "test_run_e2e.py",
    "test_argo.py",
    "test_run_resume.py",
    "test_slurm.py",
    "test_benchmark_quick.py",
    "test_train.py",
    "test_run_lammps_labeler.py",
)


def pytest_collection_modifyitems(config, items):
    def rank(item) -> int:
        name = item.path.name
        return LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=rank)  # stable: the order within a file and among the rest is kept


def _hang_report(pid: int, args: list[str]) -> str:
    """What a command that ran out of time was doing: its processes and the steps it left Running."""
    tree = subprocess.run(
        ["ps", "-eo", "pid,ppid,pgid,etime,stat,wchan:24,args"], capture_output=True, text=True
    ).stdout
    group = [line for line in tree.splitlines()[1:] if line.split()[2] == str(pid)]
    lines = [tree.splitlines()[0], *group]
    if "--workdir" in args:
        run_dir = Path(args[args.index("--workdir") + 1])
        lines += [
            f"running step: {p.parent}" for p in run_dir.glob("dflow/*/*/phase") if p.read_text().strip() == "Running"
        ]
        log = run_dir / "dpdriver.log"
        if log.exists():
            lines += ["dpdriver.log tail:", *log.read_text(errors="replace").splitlines()[-15:]]
    return "\n".join(lines)


def run_cli(*args, cwd=None, env=None, timeout=1800):
    """Run the real `dpdriver` command as a user would; on a timeout, fail with what it was doing, after
    stopping it and every process it started (its own process group)."""
    argv = [str(a) for a in args]
    proc = subprocess.Popen(
        DPDRIVER + argv,
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
        start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        report = _hang_report(proc.pid, argv)
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, _ = proc.communicate()
        pytest.fail(f"dpdriver {' '.join(argv)} ran over {timeout} s\nstdout:\n{stdout}\n{report}", pytrace=False)
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


@pytest.fixture
def cli():
    return run_cli


# The tiny Cu loop that test_run_e2e.py and test_run_resume.py both start from.
TINY_CU = """\
element: Cu
seed: 11
initial_data:
  generators:
    - {kind: volume_scan, name: volumes, volume_change_range: [-0.09, 0.09], count: 3, keep: false}
    - {kind: rattle, base: volumes, stdev_A: [0.05], per_stdev: 5}
training:
  models: 2
  rcut_A: 5.0       # a 500-step model on ~27 frames learns faster with the short cutoff; defaults: benchmarks/
  rcut_smth_A: 0.5
  steps: 500
  production_steps: 100
  start_lr: 0.002
exploration:
  ensembles: [nvt, npt]
  md_steps: 120
  deviation_every_steps: 10
  stages:
    - {name: cold, temperatures_K: [300], max_rounds: 1}
    - {name: hot, temperatures_K: [900], starts_from: [initial, rounds]}
selection:
  force_trust_lo_eV_A: 0.05
  force_trust_hi_eV_A: 0.5
  max_labels_per_round: 6
convergence:
  max_rounds: 2
  accurate_ratio_target: 1.0
validation:
  test_structures: 4
"""


@pytest.fixture(scope="session")
def tiny_reference(tmp_path_factory, worker_id):
    """The tiny Cu run, run once per test session and shared by the workers (the first to ask runs it, the
    other waits on the lock). No test changes it: a test that reruns, continues or kills a run copies it first."""
    shared = tmp_path_factory.getbasetemp()
    shared = shared if worker_id == "master" else shared.parent
    folder = shared / "tiny-reference"
    outcome = folder / "outcome.json"
    with open(shared / "tiny-reference.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not outcome.exists():
            folder.mkdir(exist_ok=True)
            (folder / "tiny.yaml").write_text(TINY_CU)
            result = run_cli("run", folder / "tiny.yaml", "--workdir", folder / "run")
            outcome.write_text(
                json.dumps({"returncode": result.returncode, "stdout": result.stdout, "stderr": result.stderr})
            )
    recorded = json.loads(outcome.read_text())
    assert recorded["returncode"] == 0, recorded["stderr"][-3000:]
    result = subprocess.CompletedProcess(
        ["dpdriver", "run"], recorded["returncode"], recorded["stdout"], recorded["stderr"]
    )
    return folder / "run", folder / "tiny.yaml", result
