"""How the run's workflow scales with the number of labeling tasks, in one run.

Usage: python benchmarks/workflow_scale.py [--tasks 20,200,2000] [--local 4,16,48]
1. Renders the Argo manifest of a run whose rounds label up to N structures, one per task
   (sliced fan-out): render time and manifest size (Argo keeps workflows in etcd: stay well under 1 MB).
2. Runs one round's labeling fan-out locally (dflow debug mode, EMT, one structure per task) for a
   few task counts: wall time per task count, and per task.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from dpdriver.config import parse_config  # noqa: E402

CONFIG = """\
element: Cu
initial_data:
  generators: [{{kind: rattle, stdev_A: [0.05], per_stdev: {n}}}]
labeler: {{kind: emt, structures_per_task: 1}}
selection: {{max_labels_per_round: {n}}}
"""


def render_once(n: int, out: Path) -> tuple[float, int]:
    from dpdriver.engine.dflow.argo import render

    started = time.perf_counter()
    render(parse_config(CONFIG.format(n=n)), out)
    return time.perf_counter() - started, out.stat().st_size


def local_label_round(n: int, workdir: Path) -> float:
    """One labeling fan-out of n tasks, as a round runs it locally."""
    from dflow import Workflow, upload_artifact

    from dpdriver.engine.dflow.build import Builder
    from dpdriver.engine.dflow.local import configure_local, output_to
    from dpdriver.generate import generate
    from dpdriver.structures import label_batches, write_structures

    config = parse_config(CONFIG.format(n=n))
    workdir.mkdir(parents=True, exist_ok=True)
    structures = write_structures(generate(config)[0], workdir / f"structures-{n}.extxyz")
    configure_local(workdir / "dflow", workers=2)
    wf = Workflow(name=f"label-{n}", id=f"label-{n}")
    wf.add(Builder(config).label("round.000", upload_artifact(str(structures)), label_batches(n, 1), f"label-{n}"))
    started = time.perf_counter()
    with output_to(workdir / "dflow.log"):
        wf.submit()
    elapsed = time.perf_counter() - started
    assert wf.query_status() == "Succeeded", f"labeling {n} tasks failed; see {workdir}"
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default="20,200,2000")
    parser.add_argument("--local", default="4,16,48")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="dpdriver-bench-") as tmp:
        tmp = Path(tmp)
        print("labeling tasks per round | render s | manifest KiB")
        for n in (int(x) for x in args.tasks.split(",")):
            seconds, size = render_once(n, tmp / f"wf-{n}.yaml")
            print(f"{n:>24} | {seconds:>8.2f} | {size / 1024:>12.1f}")
        print(f"\nlocal labeling round (debug mode, {os.cpu_count()} cores) | tasks | wall s | s per task")
        for n in (int(x) for x in args.local.split(",")):
            seconds = local_label_round(n, tmp / f"local-{n}")
            print(f"{'':>45} | {n:>5} | {seconds:>6.1f} | {seconds / n:>10.2f}")


if __name__ == "__main__":
    main()
