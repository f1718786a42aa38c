"""One round of the loop, defined once: planned from the config and the rounds so far (`plan_round`), its stages
called with the plan's narrow inputs (`train_member`, `explore_task`, `select_round`), and recorded
(`record_round`). The local runner and the Argo workflow run the stages as dflow steps; `run_round` runs them in
this process, for studies that drive the loop through the Python API."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

from ase import Atoms

from ..config import ExplorationStage, InitialDataConfig, RunConfig, SelectionConfig, TrainingConfig
from ..data import count_frames, read_frames, system_dirs
from ..explore import MDTask, draw_start, plan_tasks, run_md_task, start_pools
from ..files import discard, install, write_atomically
from ..generate import crystal_supercell
from ..label import label_to_data, make_labeler
from ..rundir import RunDir, round_dataset
from ..seeds import derive_seed
from ..select import select_candidates
from ..train import TRAIN_STATS, model_shape, train_model, with_decisions
from .decisions import (
    members_to_restart,
    round_config,
    round_record,
    stage_for_round,
    training_summary,
    warm_start_possible,
)


@dataclass(frozen=True)
class RoundPlan:
    """What round `index` runs, decided once before it starts: its exploration stage and MD tasks, its selection
    (the label cap lowered to what the label budget has left) and seed, and whether members start from the last
    round's."""

    index: int
    stage: ExplorationStage
    tasks: tuple[MDTask, ...]
    selection: SelectionConfig
    select_seed: int
    warm_start: bool
    restart_members: tuple[int, ...] = ()  # members that train from scratch although the round warm-starts

    def to_plain(self) -> dict:
        """JSON for a dflow parameter: every step of the round reads the same plan."""
        return {
            **asdict(self),
            "stage": self.stage.model_dump(mode="json"),
            "selection": self.selection.model_dump(mode="json"),
        }

    @classmethod
    def from_plain(cls, plain: dict) -> RoundPlan:
        return cls(
            index=plain["index"],
            stage=ExplorationStage.model_validate(plain["stage"]),
            tasks=tuple(MDTask(**t) for t in plain["tasks"]),
            selection=SelectionConfig.model_validate(plain["selection"]),
            select_seed=plain["select_seed"],
            warm_start=plain["warm_start"],
            restart_members=tuple(plain.get("restart_members", ())),
        )


def run_shape(config: RunConfig, decisions: dict | None) -> dict:
    """The shape of every model of the run (decisions: sel, free-atom energy); a warm start needs it unchanged."""
    return model_shape(with_decisions(config.training, decisions), [config.element])


def plan_round(config: RunConfig, history: list[dict], decisions: dict | None) -> RoundPlan:
    """The next round's plan; round 0 has no parent, so it needs no decision."""
    r = len(history)
    stage = stage_for_round(config, history)
    warm = warm_start_possible(config, history, run_shape(config, decisions))
    last_validation = history[-1].get("validation") if history else None
    return RoundPlan(
        index=r,
        stage=stage,
        tasks=tuple(plan_tasks(config.exploration, stage, r, config.seed)),
        selection=round_config(config, history).selection,
        select_seed=derive_seed(config.seed, "select", r),
        warm_start=warm,
        restart_members=members_to_restart(last_validation, config.training.restart_outlier_factor) if warm else (),
    )


def train_member(
    training: TrainingConfig,
    element: str,
    run_seed: int,
    plan: RoundPlan,
    member: int,
    data_dirs: list[Path],
    workdir: Path,
    parents: list[Path],
) -> Path:
    """Member i of the ensemble (training: the run's decisions applied) on every dataset so far: from member i of
    the last round where the plan says so (and there is one), else from scratch."""
    warm = plan.warm_start and member < len(parents) and member not in plan.restart_members
    parent = parents[member] if warm else None
    seed = derive_seed(run_seed, "train", plan.index, member)
    systems = [s for d in data_dirs for s in system_dirs(d)]
    return train_model(training, [element], systems, workdir, seed, kind="warm" if parent else "scratch", parent=parent)


def explore_task(
    element: str,
    initial_data: InitialDataConfig,
    plan: RoundPlan,
    task_index: int,
    models: list[Path],
    data_dir: Path | None,
    workdir: Path,
) -> Path:
    """One MD task of the plan, from a start drawn from the stage's sources (the ideal crystal is the initial
    data's supercell), with the ensemble's deviation."""
    task = plan.tasks[task_index]
    ideal = crystal_supercell(element, initial_data)
    start, origin = draw_start(task, start_pools(plan.stage.starts_from, ideal, data_dir), ideal)
    run_md_task(task, start, sorted(models), element, workdir, origin)
    return workdir


def select_round(element: str, plan: RoundPlan, task_dirs: list[Path], labeled: list[Atoms]):
    """(summary, candidates) of the round's explored frames, by the plan's selection."""
    return select_candidates(sorted(task_dirs), element, plan.selection, plan.select_seed, labeled=labeled)


def record_round(
    plan: RoundPlan,
    frames_trained_on: int,
    label_report: dict,
    selection_summary: dict,
    validation: dict | None,
    member_stats: list[dict] | None = None,
    shape: dict | None = None,
    elapsed_s: float | None = None,
) -> dict:
    """The round's record (rounds/round.NNN/round.json): what the next plan and the stop decision read."""
    training = training_summary(shape, member_stats) if member_stats else None
    if training is not None:
        training["restarted_members"] = list(plan.restart_members)
    return round_record(
        plan.index, plan.stage, frames_trained_on, label_report, selection_summary, elapsed_s, validation, training
    )


def run_round(config: RunConfig, decisions: dict | None, history: list[dict], run_dir: Path) -> dict:
    """One whole round in this process (no dflow), in run_dir's layout (RunDir): the ensemble trains on every
    dataset under data/, explores, selects, labels into data/round.NNN and records the round. A round whose
    record exists is not run again; a round killed before its record is run again from its start."""
    dirs, started = RunDir(run_dir), time.monotonic()
    plan = plan_round(config, history, decisions)
    if dirs.round_record(plan.index).exists():
        return json.loads(dirs.round_record(plan.index).read_text())
    data_dirs = [d for d in sorted(dirs.data.iterdir()) if d.is_dir()]
    frames_before = count_frames(dirs.data)
    work = dirs.round_dir(plan.index) / "work"
    parents = [dirs.model(plan.index - 1, i) for i in range(config.training.models)] if plan.index else []

    training = with_decisions(config.training, decisions)

    def member(i: int) -> Path:
        return train_member(training, config.element, config.seed, plan, i, data_dirs, work / f"train.{i:03d}", parents)

    with ThreadPoolExecutor(config.training.parallel) as pool:
        graphs = list(pool.map(member, range(config.training.models)))
    for i, graph in enumerate(graphs):
        install(graph, dirs.model(plan.index, i))
        install(graph.parent / "lcurve.out", dirs.lcurve(plan.index, i))
    models = [dirs.model(plan.index, i) for i in range(len(graphs))]
    with ThreadPoolExecutor(config.training.parallel) as pool:
        task_dirs = list(
            pool.map(
                lambda i: explore_task(
                    config.element, config.initial_data, plan, i, models, dirs.data, work / plan.tasks[i].name
                ),
                range(len(plan.tasks)),
            )
        )
    summary, candidates = select_round(config.element, plan, task_dirs, read_frames(dirs.data))
    dataset = round_dataset(plan.index)
    labeled = work / dataset
    discard(labeled)
    report = label_to_data(
        make_labeler(config.labeler),
        candidates,
        labeled,
        [config.element],
        work / "label-tasks",
        quarantine_dir=dirs.quarantine(dataset),
    )
    if report["labeled"]:
        install(labeled, dirs.dataset(dataset))
    stats = [json.loads((g.parent / TRAIN_STATS).read_text()) for g in graphs]
    shape = run_shape(config, decisions)
    record = record_round(plan, frames_before, report, summary, None, stats, shape, time.monotonic() - started)
    write_atomically(dirs.round_record(plan.index), json.dumps(record, indent=2))  # the round is done
    return record
