"""Strategy (8): dpdriver's own loop, round by round through its Python API (dpdriver.loop.run_round: the same
round the local runner and the Argo workflow run), from the example's own initial data, with the example's
exploration and selection; each round's label cap is set so that the labels land on the study's budgets. After
each round its labels so far are a data set of the study, trained under the study's one rule like every other."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from datasets import DONE, read_data, write_picked

from dpdriver.config import RunConfig
from dpdriver.data import count_frames
from dpdriver.generate.initial_data import build_initial_data
from dpdriver.loop import run_round
from dpdriver.rundir import INIT, RunDir, round_dataset

SELECTION_KEYS = ("accurate", "candidate", "failed", "selected", "accurate_ratio")
MAX_ROUNDS = 12


def _landing_on(config: RunConfig, budget: int, labels: int) -> RunConfig:
    """The config whose next round's labels end at `budget` frames in all (initial ones included)."""
    selection = config.selection.model_copy(update={"max_labels_per_round": max(1, budget - labels)})
    convergence = config.convergence.model_copy(update={"max_rounds": MAX_ROUNDS + 1})
    return config.model_copy(update={"selection": selection, "convergence": convergence})


def snapshot(datasets: list[Path], out: Path, element: str) -> Path:
    """The loop's labels up to a round as one data set of the study (kept)."""
    if not (out / DONE).exists():
        shutil.rmtree(out, ignore_errors=True)
        systems = [s for d in datasets if d.exists() for s in read_data(d)]
        write_picked(systems, range(sum(len(s) for s in systems)), out, element)
    return out


def active_learning(
    config: RunConfig, decisions: dict, budgets: tuple[int, ...], seed: int, work: Path, sets: Path
) -> list[dict]:
    """Points (round, its selection, the labels so far as a data set) from the initial data and after each round,
    until the labels reach the last budget or a round selects nothing; the loop's models share the study's
    decisions (sel, free-atom energy). A rerun returns the rounds already run (run_round keeps them)."""
    dirs = RunDir(work)
    config = config.model_copy(update={"seed": seed})
    init = dirs.dataset(INIT)
    if not (init / DONE).exists():
        shutil.rmtree(init, ignore_errors=True)
        with tempfile.TemporaryDirectory() as tasks:
            build_initial_data(config, init, Path(tasks), dirs.quarantine(INIT))
        (init / DONE).write_text("")
    datasets = [init]
    points = [{"round": None, "selection": None, "data": snapshot(datasets, sets / f"8-r000-s{seed}", config.element)}]
    history: list[dict] = []
    while len(history) < MAX_ROUNDS:
        labels = count_frames(points[-1]["data"])
        next_budget = next((b for b in budgets if b > labels), None)
        if next_budget is None:
            break
        record = run_round(_landing_on(config, next_budget, labels), decisions, history, work)
        history.append(record)
        datasets.append(dirs.dataset(round_dataset(record["round"])))
        data = snapshot(datasets, sets / f"8-r{record['round'] + 1:03d}-s{seed}", config.element)
        points.append(
            {"round": record["round"], "selection": {k: record["selection"][k] for k in SELECTION_KEYS}, "data": data}
        )
        if not record["selection"]["selected"]:
            break
    return points
