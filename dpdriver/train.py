"""Training stage: render input.json, run `dp --tf train`, freeze the model."""

from __future__ import annotations

import json
from pathlib import Path

from .templates import render
from .tools import executable, run_tool, write_progress

PROGRESS_FILE = "progress"


def render_training_input(training, type_map: list[str], systems: list[str], seed: int) -> dict:
    text = render(
        "input.json.j2",
        training=training,
        type_map=type_map,
        systems=systems,
        seed=seed,
        decay_steps=max(1, min(5000, training.steps // 20)),
        disp_freq=max(1, training.steps // 20),
    )
    return json.loads(text)


def train_model(training, type_map: list[str], data_dirs: list[Path], workdir: Path, seed: int) -> Path:
    """Train one model of the ensemble in workdir and return its frozen graph."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    systems = [str(Path(d).resolve()) for d in data_dirs]
    (workdir / "input.json").write_text(json.dumps(render_training_input(training, type_map, systems, seed), indent=2))
    progress = workdir / PROGRESS_FILE
    write_progress(progress, 0, training.steps)
    dp = executable("dp")
    run_tool(
        [dp, "--tf", "train", "input.json"],
        workdir,
        "train.log",
        progress_pattern=r"Batch\s+(\d+):",
        on_progress=lambda step: write_progress(progress, step, training.steps),
    )
    run_tool([dp, "--tf", "freeze", "-o", "graph.pb"], workdir, "freeze.log")
    write_progress(progress, training.steps, training.steps)
    return workdir / "graph.pb"
