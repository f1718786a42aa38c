import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DPDRIVER = [sys.executable, "-m", "dpdriver.cli"]
# The files that run whole loops, longest first: with two workers taking whole files in collection order
# (`--dist loadfile --no-loadscope-reorder`), the long ones start at once and the short ones fill the gaps.
LONGEST_FIRST = ("test_run_e2e.py", "test_argo.py", "test_benchmark_quick.py", "test_train.py", "test_run_lammps_labeler.py")


def pytest_collection_modifyitems(config, items):
    def rank(item) -> int:
        name = item.path.name
        return LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)
    items.sort(key=rank)  # stable: the order within a file and among the rest is kept


def _hang_report(pid: int, args: list[str]) -> str:
    """What a command that ran out of time was doing: its processes and the steps it left Running."""
    tree = subprocess.run(["ps", "-eo", "pid,ppid,pgid,etime,stat,wchan:24,args"], capture_output=True, text=True).stdout
    group = [line for line in tree.splitlines()[1:] if line.split()[2] == str(pid)]
    lines = [tree.splitlines()[0], *group]
    if "--workdir" in args:
        run_dir = Path(args[args.index("--workdir") + 1])
        lines += [f"running step: {p.parent}" for p in run_dir.glob("dflow/*/*/phase") if p.read_text().strip() == "Running"]
        log = run_dir / "dpdriver.log"
        if log.exists():
            lines += ["dpdriver.log tail:", *log.read_text(errors="replace").splitlines()[-15:]]
    return "\n".join(lines)


def run_cli(*args, cwd=None, env=None, timeout=1800):
    """Run the real `dpdriver` command as a user would; on a timeout, fail with what it was doing, after
    stopping it and every process it started (its own process group)."""
    argv = [str(a) for a in args]
    proc = subprocess.Popen(DPDRIVER + argv, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, **(env or {})}, start_new_session=True)
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
