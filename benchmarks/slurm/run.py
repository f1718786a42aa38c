"""dpdriver on a real Slurm queue: the one-node cluster of scripts/local-slurm on this machine, in one run.

    python benchmarks/slurm/run.py [--parts example submit500] [--local-run DIR] [--work DIR]

1. example: examples/cu-emt-slurm (the Cu example with every tool-running stage sent to the queue), timed with
   every tool interval logged, against the local run of examples/cu-emt (--local-run: an existing run directory
   of it, e.g. the accuracy benchmark's; otherwise it is run here too). Whether the data is the same, array by
   array, and the driver's time (wall time outside dp, lmp and the labeler) per step in each.
2. submit500: a labeling fan-out of 500 one-structure tasks on the queue (group_size 25): how many jobs, how
   long until all are submitted; then they are cancelled (the labels themselves are not the point).
Results in benchmarks/results/slurm/results.{json,md}; a finished part is kept (a rerun continues).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(HERE.parent / "accuracy"))  # its run.py imports its neighbours
_spec = importlib.util.spec_from_file_location("accuracy_run", HERE.parent / "accuracy" / "run.py")
accuracy_run = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(accuracy_run)
overhead, run_example = accuracy_run.overhead, accuracy_run.run_example  # the timing of a whole run

from dpdriver.config import parse_config  # noqa: E402
from dpdriver.engine.dflow.dispatch import queued_steps  # noqa: E402
from dpdriver.engine.dflow.local import configure_local  # noqa: E402
from dpdriver.engine.runner import Runner  # noqa: E402
from dpdriver.errors import UserError  # noqa: E402
from dpdriver.files import write_atomically  # noqa: E402

RESULTS = REPO / "benchmarks" / "results" / "slurm"
LOCAL_SLURM = REPO / "scripts" / "local-slurm"
SUBMIT_TASKS, SUBMIT_GROUP = 500, 25


def start_slurm() -> None:
    started = subprocess.run([LOCAL_SLURM, "start"], capture_output=True, text=True)
    if started.returncode != 0:
        raise SystemExit(started.stderr.strip())
    os.environ["SLURM_CONF"] = started.stdout.strip().split("=", 1)[1]


def steps_run(run_dir: Path) -> int:
    """Step processes of a local run's workflows (each a new Python), or submissions of a queued one."""
    return sum(1 for p in (run_dir / "dflow").glob("*/*/phase") if p.read_text().strip() == "Succeeded")


def same_arrays(a: Path, b: Path) -> dict:
    arrays = sorted(p.relative_to(a) for folder in ("data", "test_data") for p in (a / folder).rglob("*.npy"))
    differing = [str(p) for p in arrays if not (b / p).exists() or not np.array_equal(np.load(a / p), np.load(b / p))]
    return {"arrays": len(arrays), "differing": differing}


def example(work: Path, local_run: Path | None) -> dict:
    rows = {}
    if local_run is None:
        local_run = work / "cu-emt"
        timing = work / "cu-emt.timing.jsonl"
        done = run_example(REPO / "examples" / "cu-emt" / "config.yaml", local_run, timing)
        rows["local"] = {**overhead(timing, done["start"], done["end"]), "steps": steps_run(local_run)}
    slurm_run, timing = work / "cu-emt-slurm", work / "cu-emt-slurm.timing.jsonl"
    done = run_example(REPO / "examples" / "cu-emt-slurm" / "config.yaml", slurm_run, timing)
    rows["slurm"] = {
        **overhead(timing, done["start"], done["end"]),
        "steps": steps_run(slurm_run),
        "queued_steps": len(queued_steps(slurm_run / "dflow")),
        "jobs": sum(len(s.job_ids) for s in queued_steps(slurm_run / "dflow")),
    }
    rows["local_run"] = str(local_run)
    rows["same_data"] = same_arrays(local_run, slurm_run)
    return rows


def submit500(work: Path) -> dict:
    """The initial data's labeling fan-out of SUBMIT_TASKS tasks, timed until every job is in the queue."""
    run_dir = work / "submit500"
    config = parse_config(
        f"""element: Cu
labeler: {{kind: emt, structures_per_task: 1}}
initial_data:
  generators: [{{kind: rattle, stdev_A: [0.05], per_stdev: {SUBMIT_TASKS}}}]
validation: {{test_structures: 1, families: [rattled]}}
execution:
  dispatcher:
    stages: [label]
    machine: {{batch_type: Slurm, context_type: LocalContext, local_root: ., remote_root: {work / "queue500"}}}
    resources: {{number_node: 1, cpu_per_node: 1, group_size: {SUBMIT_GROUP}}}
    poll_interval_s: 5
"""
    )
    configure_local(run_dir / "dflow", workers=2)
    outcome = {}

    def label():
        try:
            Runner(config, run_dir, echo=lambda line: None).initial_data()
        except UserError as exc:
            outcome["stopped"] = str(exc)

    started = time.monotonic()
    thread = threading.Thread(target=label)
    thread.start()
    wanted = -(-SUBMIT_TASKS // SUBMIT_GROUP)
    jobs: list[str] = []
    while len(jobs) < wanted and thread.is_alive():
        jobs = [j for s in queued_steps(run_dir / "dflow") if s.step.startswith("label") for j in s.job_ids]
        time.sleep(0.2)
    submitted_s = time.monotonic() - started
    queued = subprocess.run(["squeue", "-h", "-o", "%i"], capture_output=True, text=True).stdout.split()
    subprocess.run(["scancel", *jobs])
    thread.join()
    return {
        "tasks": SUBMIT_TASKS,
        "group_size": SUBMIT_GROUP,
        "jobs": len(jobs),
        "in_queue_at_once": len(set(queued) & set(jobs)),
        "seconds_until_all_submitted": round(submitted_s, 1),
    }


def report(results: dict) -> str:
    lines = ["# dpdriver on a real Slurm (the one-node cluster of scripts/local-slurm, 2 cores)", ""]
    lines.append("`python benchmarks/slurm/run.py`; one run of each part.")
    ex = results.get("example")
    if ex:
        s, same = ex["slurm"], ex["same_data"]
        lines += ["", "## The Cu example on the queue against the local run", ""]
        lines.append("| run | wall (min) | tools busy (s) | driver (s) | steps | driver per step (s) |")
        lines.append("|---|---|---|---|---|---|")
        for name in ("local", "slurm"):
            if name in ex:
                r = ex[name]
                lines.append(
                    f"| {name} | {r['wall_s'] / 60:.1f} | {r['tool_busy_s']:.0f} | {r['driver_s']:.0f} | "
                    f"{r['steps']} | {r['driver_s'] / r['steps']:.1f} |"
                )
        lines += [
            "",
            f"- Queue: {s['queued_steps']} steps submitted {s['jobs']} jobs.",
            f"- Data: {same['arrays'] - len(same['differing'])} of {same['arrays']} arrays identical to the local "
            f"run's ({ex['local_run']})"
            + (f"; differing: {', '.join(same['differing'][:5])}" if same["differing"] else "."),
        ]
        if "local" in ex:
            local = ex["local"]
            ratio = (s["driver_s"] / s["steps"]) / (local["driver_s"] / local["steps"])
            lines.append(f"- Driver time per step, queue against local: {ratio:.1f}x.")
    sub = results.get("submit500")
    if sub:
        lines += [
            "",
            "## Submitting a labeling fan-out",
            "",
            f"- {sub['tasks']} one-structure tasks, group_size {sub['group_size']}: {sub['jobs']} jobs "
            f"({sub['in_queue_at_once']} in the queue at once), all submitted {sub['seconds_until_all_submitted']} s "
            "after the workflow started (one submission, not one per task).",
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--parts", nargs="*", default=["example", "submit500"])
    parser.add_argument("--local-run", help="a finished run directory of examples/cu-emt to compare with")
    parser.add_argument("--work", default=str(RESULTS / "work"))
    parser.add_argument("--results", default=str(RESULTS))
    args = parser.parse_args()
    work, out = Path(args.work), Path(args.results)
    work.mkdir(parents=True, exist_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "results.json"
    results = json.loads(path.read_text()) if path.exists() else {}
    start_slurm()
    for part in args.parts:
        if part in results:
            continue
        if part == "example":
            results[part] = example(work, Path(args.local_run) if args.local_run else None)
        else:
            results[part] = submit500(work)
        write_atomically(path, json.dumps(results, indent=1))
    (out / "results.md").write_text(report(results))
    print(report(results))


if __name__ == "__main__":
    main()
