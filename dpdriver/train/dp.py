"""One DeePMD-kit model: render input.json, run `dp --tf train` (from scratch, from a parent, or resumed from its
own checkpoint), keep the best checkpoint where there is a validation set, freeze."""

from __future__ import annotations

import json
import re
import sys
import time
from pathlib import Path

from ..data import count_frames
from ..templates import render
from ..tools import run_tool, write_progress
from .schedule import Schedule, batches_per_epoch, plan_schedule
from .session import SESSION_FILE

PROGRESS_FILE = "progress"
SCHEDULE_FILE = "schedule.json"
TRAIN_STATS = "train_stats.json"  # kind, steps, wall and CPU seconds of dp train + freeze
GRAPH = "graph.pb"
VALIDATION_PASSES = 3  # DeePMD-kit draws validation frames at random: about three draws per frame steady the score
CHECKPOINT = "model.ckpt"


def validation_draws(frames: int, disp_freq: int) -> int:
    """Validation frames drawn at each lcurve row: VALIDATION_PASSES per held-out frame, but no more than the
    training steps between two rows (at least each frame once), so that a short training on a small set does not
    spend most of its time validating (a 100-step production: 48 draws at each of 21 rows)."""
    return min(VALIDATION_PASSES * frames, max(frames, disp_freq))


def render_training_input(
    training,
    type_map: list[str],
    systems: list[str],
    seed: int,
    schedule: Schedule,
    validation_systems: list[str] | None = None,
    saves: int = 1,
) -> dict:
    """input.json of one model. sel None: DeePMD-kit decides from this data with the margin ('auto:1.2'); a run
    decides it once from its initial data and passes a number."""
    sel = training.sel if training.sel is not None else f"auto:{training.sel_margin}"
    disp_freq = display_every(schedule.steps)
    text = render(
        "input.json.j2",
        training=training,
        type_map=type_map,
        sel=sel,
        systems=systems,
        validation_systems=validation_systems or [],
        validation_batches=validation_draws(sum(count_frames(Path(d)) for d in validation_systems or []), disp_freq),
        seed=seed,
        schedule=schedule,
        disp_freq=disp_freq,
        save_freq=schedule.steps if saves <= 1 else disp_freq * max(1, round(schedule.steps / disp_freq / saves)),
        max_ckpt_keep=max(1, saves) + 1,
    )
    return json.loads(text)


def display_every(steps: int, rows: int = 20) -> int:
    """The lcurve interval: about `rows` rows, and a divisor of steps. DeePMD-kit's TensorFlow trainer saves a
    checkpoint only at a step that is also a display step, so the last step must be one."""
    return next(d for d in range(max(1, steps // rows), 0, -1) if steps % d == 0)


def checkpoint_step(workdir: Path) -> int:
    """The step of the latest checkpoint in workdir (0: none). A killed step reruns in its folder and resumes here."""
    pointer = Path(workdir) / "checkpoint"
    if not (pointer.exists() and (Path(workdir) / f"{CHECKPOINT}.index").exists()):
        return 0
    match = re.search(r'model_checkpoint_path:\s*"[^"]*-(\d+)"', pointer.read_text())
    return int(match.group(1)) if match else 0


def train_model(
    training,
    type_map: list[str],
    data_dirs: list[Path],
    workdir: Path,
    seed: int,
    *,
    kind: str = "scratch",
    parent: Path | None = None,
    validation_dirs: list[Path] | None = None,
    saves: int = 1,
    threads: int | None = None,
) -> Path:
    """Train one model in workdir and return its frozen graph. kind 'warm' or 'production' start from parent's
    frozen graph (`--init-frz-model`); with validation_dirs and saves > 1 the checkpoint of lowest validation error
    is frozen; a training killed after a checkpoint resumes from it when called again with the same input."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    if kind != "scratch" and parent is None:
        raise ValueError(f"a {kind} training needs a parent model")
    systems = [str(Path(d).resolve()) for d in data_dirs]
    validation = [str(Path(d).resolve()) for d in validation_dirs or []]
    schedule = plan_schedule(training, batches_per_epoch(data_dirs, training.batch_atoms), kind)
    script = render_training_input(training, type_map, systems, seed, schedule, validation, saves)
    input_path = workdir / "input.json"
    same_input = input_path.exists() and json.loads(input_path.read_text()) == script
    input_path.write_text(json.dumps(script, indent=2))
    (workdir / SCHEDULE_FILE).write_text(json.dumps(schedule.as_dict(), indent=1))
    progress = workdir / PROGRESS_FILE
    train_args = ["--tf", "train", "input.json"]
    done = checkpoint_step(workdir) if same_input else 0
    if done:
        train_args += ["--restart", CHECKPOINT]
    elif parent is not None:
        train_args += ["--init-frz-model", str(Path(parent).resolve())]
    if done >= schedule.steps:  # a training killed after its last checkpoint only needs freezing
        train_args = []
    best_of = (
        {"saved_every": script["training"]["save_freq"], "last": schedule.steps} if validation and saves > 1 else None
    )
    session = {
        "train": train_args,
        "freeze": ["--tf", "freeze", "-o", GRAPH],
        "best_of": best_of,
        "checkpoint": CHECKPOINT,
    }
    (workdir / SESSION_FILE).write_text(json.dumps(session, indent=1))
    write_progress(progress, done, schedule.steps)
    started = time.monotonic()
    cpu_s = run_tool(
        [sys.executable, "-m", "dpdriver.train.session", SESSION_FILE],
        workdir,
        "train.log",
        progress_pattern=r"Batch\s+(\d+):",
        name="dp train",
        on_progress=lambda step: write_progress(progress, step, schedule.steps),
        threads=threads or training.threads_per_model,
    )
    stats = {
        "kind": kind,
        "steps": schedule.steps,
        "resumed_from_step": done,
        "wall_s": round(time.monotonic() - started, 1),
        "cpu_s": round(cpu_s, 1),
        "frames": sum(count_frames(Path(d)) for d in data_dirs),
    }
    (workdir / TRAIN_STATS).write_text(json.dumps(stats))
    write_progress(progress, schedule.steps, schedule.steps)
    return workdir / GRAPH
