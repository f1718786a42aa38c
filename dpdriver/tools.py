"""Running the external tools (dp, lmp) from the same installation as dpdriver itself."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Optional

from .errors import ToolError, UserError
from .files import write_atomically
from .lmp_wrapper import direct_launch


def executable(name: str) -> str:
    """DPDRIVER_<NAME> if set (e.g. a cluster's own lmp), else the tool next to this Python, else PATH."""
    override = os.environ.get(f"DPDRIVER_{name.upper()}")
    if override:
        if not Path(override).is_file():
            raise UserError(
                f"DPDRIVER_{name.upper()}={override} is not a file; point it to the {name} executable or unset it"
            )
        return override
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if not found:
        raise UserError(
            f"'{name}' not found; install dpdriver's stack with: pip install -e . (it brings deepmd-kit[cpu,lmp])"
        )
    return found


TIMING_LOG_ENV = "DPDRIVER_TIMING_LOG"


@contextlib.contextmanager
def timed(kind: str):
    """Where DPDRIVER_TIMING_LOG names a file, append when this work ran (kind: dp, lmp, labeler, validate): the
    benchmark tells the driver's own time from the tools' by what no interval covers."""
    path = os.environ.get(TIMING_LOG_ENV)
    start = time.time()
    try:
        yield
    finally:
        if path:
            with open(path, "a") as log:
                log.write(json.dumps({"kind": kind, "start": start, "end": time.time(), "pid": os.getpid()}) + "\n")


# TensorFlow imports Keras eagerly, about 1.5 s of every process that trains or loads a model, unless legacy Keras
# is asked for; DeePMD-kit's TensorFlow backend uses no Keras, and where tf_keras is not installed TF skips it.
FAST_TENSORFLOW_IMPORT = {"TF_USE_LEGACY_KERAS": "1"}


def fast_tensorflow_import() -> None:
    """For this process and the ones it starts; called before anything imports TensorFlow (a user's value wins)."""
    for name, value in FAST_TENSORFLOW_IMPORT.items():
        os.environ.setdefault(name, value)


def single_thread_env(threads: int = 1) -> dict[str, str]:
    """Each tool process gets a fixed number of threads (one by default) so that parallel steps share the
    cores without thrashing."""
    env = {**FAST_TENSORFLOW_IMPORT, **os.environ}
    n = str(threads)
    env.update(
        OMP_NUM_THREADS=n,
        TF_INTRA_OP_PARALLELISM_THREADS=n,
        TF_INTER_OP_PARALLELISM_THREADS="1",
        DP_INTRA_OP_PARALLELISM_THREADS=n,
        DP_INTER_OP_PARALLELISM_THREADS="1",
        TF_CPP_MIN_LOG_LEVEL="2",
    )
    return env


def tool_process(args: list[str], threads: int = 1) -> tuple[list[str], dict[str, str]]:
    """The command line and environment a tool is started with: fixed threads, and `lmp` started directly."""
    return direct_launch([str(a) for a in args], single_thread_env(threads))


def run_tool(
    args: list[str],
    cwd: Path,
    log_name: str,
    progress_pattern: Optional[str] = None,
    on_progress: Optional[Callable[[int], None]] = None,
    threads: int = 1,
    name: Optional[str] = None,
) -> float:
    """Run a tool in cwd with its output in cwd/log_name; report progress numbers matched in the output.
    Returns the CPU seconds the tool used (its own, from the kernel, whatever else runs in this process).
    name: what an error calls it (default: the program and its first two arguments)."""
    name = name or " ".join([Path(args[0]).name, *args[1:3]])
    cwd = Path(cwd)
    log_path = cwd / log_name
    regex = re.compile(progress_pattern) if progress_pattern else None
    # line-buffered: a user who follows the log (tail -f train.log) sees each line when the tool writes it
    with open(log_path, "w", buffering=1) as log, timed(name.split()[0]):
        argv, env = tool_process(args, threads)
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert proc.stdout is not None
        for line in proc.stdout:
            log.write(line)
            if regex and on_progress:
                match = regex.search(line)
                if match:
                    on_progress(int(match.group(1)))
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise ToolError(f"{name} failed (exit {code}): {tool_error(log_path.read_text())}; see {log_path}")
    return usage.ru_utime + usage.ru_stime


LOADER_NOISE = (
    "libcudart",
    "implib-gen",
    "DeePMD-kit: Cannot find",
    "DeePMD-kit: Error message",
    "absl::",
    "oneDNN",
    "cpu_feature_guard",
    "To enable the following",
)  # printed by every run of dp and lmp


def tool_error(output: str) -> str:
    """The tool's own error line (LAMMPS' 'ERROR: ...', a Python exception's last line), never the CUDA loader's
    noise that precedes it; else the last lines of its output."""
    lines = [line.strip() for line in output.splitlines() if line.strip() and not any(n in line for n in LOADER_NOISE)]
    for line in reversed(lines):
        if line.startswith("ERROR") or re.match(r"^[\w.]*(Error|Exception)\b", line) or " ERROR " in line:
            return line[:300]
    return " | ".join(lines[-3:])[:300] or "no output"


def write_progress(path: Path, done: int, total: int) -> None:
    """A tiny file the driver's progress bar reads: '<done> <total>'."""
    write_atomically(path, f"{done} {total}\n")
