"""Stages on a batch queue (Slurm, PBS, LSF or a local shell): dflow's DispatcherExecutor hands each step to
dpdispatcher, which submits it as a job, polls the queue and brings the outputs back. This module builds that
executor, reads back which jobs a run submitted, and says in one line why a dispatched step failed."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from ...config import DispatcherConfig, RunConfig

DISPATCHER_LOG = "workdir/dpdispatcher.log"  # in a dispatched step's folder (dflow's debug layout)
_SUBMITTED = re.compile(r"job (\w+) (?:was submitted; job_id is|re-submit after terminated; new job_id is) (\S+)")
_FAILED = re.compile(r"job (\w+) (\S+) failed \d+ times")
_REMOTE_ROOT = re.compile(r"remote_root==(\S+?)\.?$", re.MULTILINE)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_SHELL_KILLED = re.compile(r"line \d+: +\d+ ([A-Z][a-z][\w ]*?) +\(")  # bash: "line 8: 11024 Aborted  (python ..."
_ERROR_WORDS = re.compile(r"error|severe|fatal|abort|killed|segmentation", re.IGNORECASE)
# Slurm's own words in a job's stderr when it stops a job (scancel, the time limit)
_CANCELLED = re.compile(r"JOB \d+ ON \S+ CANCELLED AT \S+( DUE TO TIME LIMIT)?")
# Slurm's job states that say why a job stopped without failing on its own
STOPPED_BY_QUEUE = {
    "CANCELLED": "was cancelled (scancel)",
    "TIMEOUT": "reached its time limit (give the stage more time in its resources)",
    "OUT_OF_MEMORY": "ran out of memory (ask for more in the stage's resources)",
    "NODE_FAIL": "lost its node",
    "PREEMPTED": "was preempted",
}
ENDED_UNFINISHED = {4, 7}  # dpdispatcher's JobStatus terminated and failed, as its records store them
# the job belongs to the queue, not to the runner: a killed runner's reaper (processes.py) must not stop it, so
# the next runner finds it running and waits for it instead of submitting it again
QUEUE_MARK_FLAG = "#SBATCH --export=ALL,DPDRIVER_RUNNER=queued"


def merged(dispatcher: DispatcherConfig | None, stage: str) -> bool:
    """A labeling fan-out on the queue is one step: one submission of all its tasks, `group_size` tasks to a job,
    instead of a submission and a polling process per task (hundreds of them for a large batch). The train and
    explore fan-outs have a few tasks each and stay a step per task."""
    return dispatcher is not None and stage in dispatcher.stages and stage == "label"


def local_workers(config: RunConfig) -> int:
    """Steps the runner keeps going at once. A step waiting on the queue holds a worker but no CPU: with training
    and labeling on the queue, every member is submitted at once instead of `training.parallel` at a time."""
    dispatcher = config.execution.dispatcher
    parallel = config.training.parallel
    if dispatcher is not None and {"train", "label"} <= set(dispatcher.stages):
        return max(parallel, config.training.models)
    return parallel


def executor(dispatcher: DispatcherConfig | None, stage: str):
    """The DispatcherExecutor of a stage sent to the queue, None for a stage that runs where the runner runs."""
    if dispatcher is None or stage not in dispatcher.stages:
        return None
    from dflow.plugins.dispatcher import DispatcherExecutor  # imports dpdispatcher: only for configs that use it

    machine = dispatcher.machine_for_jobs()
    resources = dispatcher.resources_for(stage)
    if machine.get("batch_type") == "Slurm":
        resources = {**resources, "custom_flags": [*resources.get("custom_flags", []), QUEUE_MARK_FLAG]}
    # dflow calls run_submission() with dpdispatcher's 30 s between polls: a keyword-only default, set in the step
    poll = (
        "from dpdispatcher import Submission\n"
        f"Submission.run_submission.__kwdefaults__['check_interval'] = {dispatcher.poll_interval_s!r}\n"
    )
    return DispatcherExecutor(
        machine_dict=machine,
        resources_dict=resources,
        command=sys.executable if machine.get("context_type") == "LocalContext" else "python3",
        pre_script=poll,
        merge_sliced_step=merged(dispatcher, stage),
    )


@dataclass(frozen=True)
class QueuedStep:
    """A step that went through the queue: its workflow folder, step name, job ids (a resubmitted job has more
    than one) and dflow's phase of the step."""

    workflow: str
    step: str
    job_ids: tuple[str, ...]
    phase: str


def queued_steps(workflows_dir: Path) -> list[QueuedStep]:
    """Every dispatched step of a run's workflows, in the order their jobs were submitted."""
    found = []
    for log in Path(workflows_dir).glob(f"*/*/{DISPATCHER_LOG}"):
        step_dir = log.parent.parent
        text = log.read_text(errors="replace")
        ids = tuple(dict.fromkeys(m.group(2) for m in _SUBMITTED.finditer(text)))
        if ids:
            phase_file = step_dir / "phase"
            phase = phase_file.read_text().strip() if phase_file.exists() else "Pending"
            found.append((log.stat().st_mtime, QueuedStep(step_dir.parent.name, step_dir.name, ids, phase)))
    return [step for _, step in sorted(found, key=lambda pair: (_job_number(pair[1].job_ids[0]), pair[0]))]


def _job_number(job_id: str) -> float:
    """Slurm, PBS and LSF number their jobs in submission order; a local shell's job id is its pid."""
    digits = re.match(r"\d+", job_id)
    return int(digits.group()) if digits else float("inf")


def jobs_line(workflows_dir: Path) -> str | None:
    """`status`: the queue's job ids per workflow and step, e.g. `round-001: train-r001-0 14, label-r001-0 16`."""
    steps = queued_steps(workflows_dir)
    if not steps:
        return None
    by_workflow: dict[str, list[str]] = {}
    for s in steps:
        state = "" if s.phase == "Succeeded" else f" ({s.phase.lower()})"
        by_workflow.setdefault(s.workflow, []).append(f"{s.step} {' '.join(s.job_ids)}{state}")
    return "queue jobs: " + "; ".join(f"{w}: {', '.join(parts)}" for w, parts in by_workflow.items())


def job_failure(step_dir: Path) -> str | None:
    """Why a dispatched step failed, in one line naming its job: cancelled, out of time, or the job's last error
    line; None if the step never reached the queue's verdict (e.g. the submission itself failed)."""
    log = step_dir / "log.txt"
    text = log.read_text(errors="replace") if log.exists() else ""
    failed = list(_FAILED.finditer(text))
    if not failed:
        return None
    job_id = failed[-1].group(2)
    stderr = _job_stderr(text, job_id)
    stopped = _CANCELLED.search(stderr)
    state = "TIMEOUT" if stopped and stopped.group(1) else "CANCELLED" if stopped else _slurm_state(job_id)
    name = f"step '{step_dir.name}' failed: queue job {job_id}"
    if state in STOPPED_BY_QUEUE:
        return f"{name} {STOPPED_BY_QUEUE[state]}"
    remote = text[failed[-1].end() :].partition("Possible remote error message:")[2]
    lines = [line.strip() for line in (stderr or _ANSI.sub("", remote)).splitlines() if line.strip()]
    lines = [line for line in lines if not line.startswith("==> ")]
    killed = [m.group(1) for line in lines if (m := _SHELL_KILLED.search(line))]  # the shell's word on a signal
    lines = [line for line in lines if not _SHELL_KILLED.search(line)]
    errors = [line for line in lines if _ERROR_WORDS.search(line)]
    last = (errors or lines or ["no error output"])[-1] + (f" ({killed[-1]})" if killed else "")
    return f"{name} ended with: {last}"


def _slurm_state(job_id: str) -> str | None:
    """What Slurm says became of the job (sacct where accounting is on, else scontrol while it remembers the
    job); None for another queue, or a job Slurm no longer knows."""
    for argv, pattern in (
        (["sacct", "-n", "-X", "-P", "-o", "State", "-j", job_id], r"^([A-Z_]+)"),
        (["scontrol", "-o", "show", "job", job_id], r"JobState=([A-Z_]+)"),
    ):
        if shutil.which(argv[0]) is None:
            continue
        try:
            out = subprocess.run(argv, capture_output=True, text=True, timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            continue
        found = re.search(pattern, out.stdout, re.MULTILINE)
        if out.returncode == 0 and found:
            return found.group(1)
    return None


def _job_stderr(log_text: str, job_id: str) -> str:
    """The end of the job's output and Slurm's own words about it, from the queue's work folder that
    dpdispatcher names in the step's log, where that folder is on this machine (LocalContext); else empty."""
    roots = _REMOTE_ROOT.findall(log_text)
    if not roots or not Path(roots[-1]).is_dir():
        return ""
    root = Path(roots[-1])
    files = [*sorted(root.glob("*_last_err_file")), root / f"slurm-{job_id}.out"]
    return _ANSI.sub("", "\n".join(path.read_text(errors="replace") for path in files if path.is_file()))


def forget_failed_jobs(dispatcher: DispatcherConfig | None, workflow_dir: Path) -> list[Path]:
    """Before a workflow runs again: dpdispatcher would recover a step's submission whose job was cancelled or
    failed, count that failure again and stop at once. Such a record is set aside (renamed, not deleted), so the
    step is submitted anew; the job's work folder stays, with whatever it finished. A record of a job that is
    queued, running or done is kept: the step waits for that job rather than submitting it twice. Only where the
    queue's work folder is on this machine (LocalContext)."""
    if dispatcher is None or dispatcher.machine.get("context_type") != "LocalContext":
        return []
    moved, workflow_dir = [], Path(workflow_dir).resolve()
    for record in Path(dispatcher.machine.get("remote_root", ".")).glob("*/*.json"):
        try:
            submission = json.loads(record.read_text())
            mine = Path(submission["_abs_work_base"]).resolve().is_relative_to(workflow_dir)
            jobs = [job for group in submission["belonging_jobs"] for job in group.values()]
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue  # not a submission record of dpdispatcher's
        if mine and any(job.get("fail_count", 0) > 0 or job.get("job_state") in ENDED_UNFINISHED for job in jobs):
            target = record.with_name(f"{record.name}.failed-{int(record.stat().st_mtime)}")
            record.rename(target)
            moved.append(target)
    return moved
