"""Run a dflow Workflow in debug (local) mode with a clean terminal: progress lines, logs in files."""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path

from dflow import config as dflow_config

from ...errors import UserError
from ..processes import stop_idle_workers
from .dispatch import forget_failed_jobs, job_failure


def configure_local(dflow_dir: Path, workers: int) -> None:
    dflow_dir.mkdir(parents=True, exist_ok=True)
    dflow_config["mode"] = "debug"
    dflow_config["debug_workdir"] = str(dflow_dir.resolve())
    dflow_config["debug_artifact_dir"] = str((dflow_dir / "artifacts").resolve())
    dflow_config["debug_pool_workers"] = workers
    dflow_config["debug_copy_method"] = "symlink"


@contextlib.contextmanager
def output_to(log_path: Path):
    """Send everything written to fds 1 and 2 (dflow, TensorFlow, LAMMPS) to a log; yield the user's stdout."""
    sys.stdout.flush()
    sys.stderr.flush()
    terminal = os.fdopen(os.dup(1), "w", buffering=1)
    saved = os.dup(1), os.dup(2)
    with open(log_path, "a") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield terminal
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
            terminal.close()


def workflow_dir(wf) -> Path:
    return Path(dflow_config["debug_workdir"]) / wf.id


def failure_message(wf_dir: Path) -> str:
    """The first failed step and the last error line of its log."""
    for phase in sorted(wf_dir.glob("*/phase")):
        if phase.read_text().strip() == "Failed":
            log = phase.parent / "log.txt"
            queued = job_failure(phase.parent)
            if queued:
                return f"{queued} (log: {log})"
            lines = log.read_text().strip().splitlines() if log.exists() else []
            errors = [line for line in lines if "Error" in line or "error" in line]
            last = (errors or lines or ["no log"])[-1].strip()
            return f"step '{phase.parent.name}' failed: {last} (log: {log})"
    return f"workflow failed before any step ran (log: {wf_dir / 'log.txt'})"


def submit_debug(wf, log_path: Path, monitor=None, **submit_kw) -> None:
    """wf.submit() in debug mode, its output in the log; the pool workers dflow leaves behind are stopped after."""
    with output_to(log_path) as terminal:
        if monitor is not None:
            monitor.start(terminal)
        try:
            wf.submit(**submit_kw)
        finally:
            stop_idle_workers()
            if monitor is not None:
                monitor.stop()


def run_workflow(wf, log_path: Path, monitor=None, dispatcher=None) -> Path:
    """Run (or resume: succeeded steps are skipped) the workflow; raise UserError if it did not succeed."""
    if dispatcher is not None and wf.id:  # a workflow named only at submission has no earlier attempt
        forget_failed_jobs(dispatcher, workflow_dir(wf))
    submit_debug(wf, log_path, monitor)
    wf_dir = workflow_dir(wf)
    status = (wf_dir / "status").read_text().strip() if (wf_dir / "status").exists() else "Unknown"
    if status != "Succeeded":
        raise UserError(
            f"workflow {wf.id} {status.lower()}: {failure_message(wf_dir)}; "
            "fix the cause and run the same command again to resume"
        )
    return wf_dir
