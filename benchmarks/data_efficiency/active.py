"""Strategy (f): dpdriver's own loop, round by round through its Python API (dpdriver.loop.run_round: the same
round the local runner and the Argo workflow run), each round's label cap set so that the labels land on the
study's budgets."""

from __future__ import annotations

import shutil
from pathlib import Path

from datasets import DONE, label, strategy_structures

from dpdriver.config import RunConfig
from dpdriver.data import count_frames
from dpdriver.generate.lattice import ideal_crystal
from dpdriver.loop import plan_round, run_round, train_member
from dpdriver.rundir import INIT, RunDir

SELECTION_KEYS = ("accurate", "candidate", "failed", "selected", "accurate_ratio")


def _landing_on(config: RunConfig, budget: int, initial: int) -> RunConfig:
    """The config whose label budget ends the rounds' labels at `budget` frames in all (initial ones included)."""
    convergence = config.convergence.model_copy(update={"max_total_labels": max(1, budget - initial)})
    selection = config.selection.model_copy(update={"max_labels_per_round": max(1, budget)})
    return config.model_copy(update={"convergence": convergence, "selection": selection})


def active_learning(config: RunConfig, budgets: tuple[int, ...], seed: int, work: Path, models: int) -> list[dict]:
    """Points (labels, model 0 of the round's ensemble, round's selection) from an initial mix of budgets[0] // 2
    frames up to the last budget, whose point is one model trained from scratch on all the labels."""
    dirs = RunDir(work)
    config = config.model_copy(update={"seed": seed, "training": config.training.model_copy(update={"models": models})})
    init = dirs.dataset(INIT)
    if not (init / DONE).exists():
        shutil.rmtree(init, ignore_errors=True)
        label(strategy_structures("c", ideal_crystal(config), max(1, budgets[0] // 2), seed), init, config)
    initial = count_frames(init)
    history, points = [], []
    for budget in budgets:
        record = run_round(_landing_on(config, budget, initial), None, history, work)
        history.append(record)
        points.append(
            {
                "labels": record["frames_trained_on"],
                "model": str(dirs.model(record["round"], 0)),
                "round": record["round"],
                "selection": {k: record["selection"][k] for k in SELECTION_KEYS},
            }
        )
    final = plan_round(config, history, None)
    graph = dirs.round_dir(final.index) / "final" / "graph.pb"
    if not graph.exists():  # a restarted study keeps what it trained
        data = [d for d in sorted(dirs.data.iterdir()) if d.is_dir()]
        train_member(config.training, config.element, config.seed, final, 0, data, graph.parent, parents=[])
    points.append({"labels": count_frames(dirs.data), "model": str(graph), "round": final.index, "selection": None})
    return points
