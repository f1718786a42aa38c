"""Strategy (f): dpdriver's own stages (train an ensemble, explore with LAMMPS, select by model deviation,
label) run round by round, each round's label cap set so that the labels land on the study's budgets."""

from __future__ import annotations

import json
import shutil
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from datasets import DONE, label, strategy_structures

from dpdriver.config import RunConfig
from dpdriver.data import count_frames, read_frames, system_dirs
from dpdriver.explore import draw_start, plan_tasks, run_md_task, start_pools
from dpdriver.generate.lattice import ideal_crystal
from dpdriver.select import select_candidates
from dpdriver.train import train_model


def training_seed(seed: int, model_index: int) -> int:
    """Model 0 of every ensemble shares the seed of the other strategies' models: only the data differ."""
    return seed + 1000 * model_index


def data_before(data_root: Path, round_index: int) -> list[Path]:
    """What round r trains on: the initial set and the labels of rounds < r (also when a restarted study
    finds later rounds' data on disk)."""
    return [data_root / "init", *(data_root / f"round.{k:03d}" for k in range(round_index))]


def train_ensemble(config: RunConfig, data: list[Path], out: Path, seed: int, models: int) -> list[Path]:
    def one(i: int) -> Path:
        graph = out / f"train.{i:03d}" / "graph.pb"
        if graph.exists():  # a restarted study keeps what it trained
            return graph
        systems = [s for d in data for s in system_dirs(d)]
        return train_model(config.training, [config.element], systems, graph.parent, training_seed(seed, i))

    with ThreadPoolExecutor(config.training.parallel) as pool:
        return list(pool.map(one, range(models)))


def explore(
    config: RunConfig, models: list[Path], data_root: Path, out: Path, round_index: int, seed: int
) -> list[Path]:
    ideal = ideal_crystal(config)
    stage = config.exploration.stage_list()[0]
    tasks = plan_tasks(config.exploration, stage, round_index, seed)
    pools = start_pools(config.exploration.starts_from, ideal, data_root)

    def one(task):
        task_dir = out / task.name
        if not (task_dir / "status.json").exists():
            start, origin = draw_start(task, pools, ideal)
            run_md_task(task, start, models, config.element, task_dir, origin)
        return task_dir

    with ThreadPoolExecutor(config.training.parallel) as pool:
        return list(pool.map(one, tasks))


def active_learning(config: RunConfig, budgets: tuple[int, ...], seed: int, work: Path, models: int) -> list[dict]:
    """Points (labels, model 0 of the round's ensemble, round summary) from an initial mix of budgets[0] // 2
    frames up to the last budget."""
    data_root = work / "data"
    init = data_root / "init"
    if not (init / DONE).exists():
        shutil.rmtree(init, ignore_errors=True)
        label(strategy_structures("c", ideal_crystal(config), max(1, budgets[0] // 2), seed), init, config)
    points = []
    for r, target in enumerate([*budgets, None]):
        round_dir = work / f"round.{r:03d}"
        data = data_before(data_root, r)
        labels = sum(count_frames(d) for d in data)
        ensemble = train_ensemble(config, data, round_dir, seed, models if target is not None else 1)
        point = {"labels": labels, "model": str(ensemble[0]), "round": r}
        points.append(point)
        if target is None:
            break
        new = data_root / f"round.{r:03d}"
        summary_file = round_dir / "selection.json"
        if not (new / DONE).exists():
            shutil.rmtree(new, ignore_errors=True)  # a half-labeled round (killed study) is labeled again
            task_dirs = explore(config, ensemble, data_root, round_dir / "explore", r, seed)
            selection = config.selection.model_copy(update={"max_labels_per_round": max(1, target - labels)})
            summary, picked = select_candidates(
                task_dirs, config.element, selection, seed + r, labeled=[f for d in data for f in read_frames(d)]
            )
            summary_file.write_text(
                json.dumps({k: summary[k] for k in ("accurate", "candidate", "failed", "selected", "accurate_ratio")})
            )
            if picked:
                label(picked, new, config)
            else:
                new.mkdir(parents=True)
                (new / DONE).write_text("0")
        point["selection"] = json.loads(summary_file.read_text()) if summary_file.exists() else None
    return points
