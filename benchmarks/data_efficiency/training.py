"""The study's one training rule, the same for every model: dpdriver's from-scratch schedule (steps follow from
the amount of data) on a split of the model's own labels, the checkpoint of lowest validation error in the second
half of the schedule kept. Nothing outside the model's own labels guides its training."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
from datasets import DONE, read_data, write_picked

from dpdriver.config import RunConfig
from dpdriver.data import system_dirs
from dpdriver.train import TRAIN_STATS, train_model

GRAPH = "graph.pb"


def split_labels(data: Path, out: Path, fraction: float, seed: int, element: str) -> tuple[Path, Path]:
    """(train, validation) folders below out: a seeded share of the frames (at least one) held out."""
    train_dir, valid_dir = out / "train-data", out / "valid-data"
    if (train_dir / DONE).exists() and (valid_dir / DONE).exists():
        return train_dir, valid_dir
    for d in (train_dir, valid_dir):
        shutil.rmtree(d, ignore_errors=True)
    systems = read_data(data)
    total = sum(len(s) for s in systems)
    held = np.random.default_rng(seed).choice(total, size=max(1, round(fraction * total)), replace=False)
    write_picked(systems, np.setdiff1d(np.arange(total), held), train_dir, element)
    write_picked(systems, held, valid_dir, element)
    return train_dir, valid_dir


def train_point(config: RunConfig, settings, data: Path, out: Path, seed: int, steps_factor: float = 1.0) -> Path:
    """One model of the study in out (kept: a rerun returns it); steps_factor > 1 trains the same rule longer
    (the convergence check)."""
    graph = out / GRAPH
    if graph.exists():
        return graph
    out.mkdir(parents=True, exist_ok=True)
    train_dir, valid_dir = split_labels(data, out, settings.validation_fraction, seed, config.element)
    training = config.training
    if steps_factor != 1.0:
        t = training
        longer = {
            "epochs": t.epochs * steps_factor,
            "min_steps": round(t.min_steps * steps_factor),
            "max_steps": round(t.max_steps * steps_factor),
        }
        if t.steps:
            longer["steps"] = round(t.steps * steps_factor)
        training = training.model_copy(update=longer)
    trained = train_model(
        training,
        [config.element],
        system_dirs(train_dir),
        out / "train",
        seed,
        validation_dirs=system_dirs(valid_dir),
        saves=settings.checkpoints,
    )
    shutil.copyfile(trained.parent / TRAIN_STATS, out / TRAIN_STATS)
    shutil.copyfile(trained.parent / "lcurve.out", out / "lcurve.out")
    shutil.copyfile(trained, graph)  # last: its presence says the model is done
    return graph


def training_stats(out: Path) -> dict:
    """Steps, CPU and wall seconds of a trained point."""
    return json.loads((out / TRAIN_STATS).read_text())
