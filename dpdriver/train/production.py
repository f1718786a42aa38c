"""The production model: the member of the last round of lowest held-out error, continued on all data with the
held-out set as validation. Ensemble members stay cheap; only this model trains long."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from ..data import system_dirs
from ..tools import timed
from ..validate.rmse import test_errors
from .dp import SCHEDULE_FILE, TRAIN_STATS, train_model
from .lcurve import ENERGY_SCALE_EV_ATOM, FORCE_SCALE_EV_A
from .session import BEST_STEP_FILE

PRODUCTION_SAVES = 20  # checkpoints over the schedule; the best of those in its second half is kept (10 lost
# the Cu example's energies: README, Training)
PRODUCTION_SUMMARY = "production.json"
KEPT = ("graph.pb", "lcurve.out", TRAIN_STATS, SCHEDULE_FILE, "input.json")


def choose_member(models: list[Path], test_data: Path | None, element: str) -> dict:
    """Each member's held-out errors and the best one (energy and force error in the lcurve's yardsticks);
    member 0 where there is no held-out frame."""
    rows = []
    for i, model in enumerate(models):
        errors = test_errors(model, test_data, element, "held-out") if test_data else {"frames": 0}
        score = None
        if errors["frames"]:
            score = (
                errors["energy_rmse_meV_atom"] / 1000 / ENERGY_SCALE_EV_ATOM
                + errors["force_rmse_eV_A"] / FORCE_SCALE_EV_A
            )
        rows.append(
            {
                "index": i,
                "model": Path(model).name,
                "frames": errors["frames"],
                "score": score,
                "energy_rmse_meV_atom": errors.get("energy_rmse_meV_atom"),
                "force_rmse_eV_A": errors.get("force_rmse_eV_A"),
            }
        )
    scored = [r for r in rows if r["score"] is not None]
    best = min(scored, key=lambda r: r["score"]) if scored else rows[0]
    return {**best, "path": str(models[best["index"]]), "members": rows}


def train_production(
    training, element: str, models: list[Path], data_dirs: list[Path], test_data: Path | None, workdir: Path, seed: int
) -> Path:
    """Train in workdir/train (resumed there after a kill) and return workdir/out: the frozen model, its learning
    curve, schedule and statistics, and production.json (which member it continued, which step was kept)."""
    workdir = Path(workdir)
    with timed("validate"):
        member = choose_member(models, test_data, element)
    validation = system_dirs(test_data) if test_data else []
    train_dir = workdir / "train"
    train_model(
        training,
        [element],
        data_dirs,
        train_dir,
        seed,
        kind="production",
        parent=Path(member["path"]),
        validation_dirs=validation,
        saves=PRODUCTION_SAVES if validation else 1,
        threads=training.parallel * training.threads_per_model,
    )  # trained alone: all the training cores
    out = workdir / "out"
    out.mkdir(parents=True, exist_ok=True)
    for name in KEPT:
        shutil.copyfile(train_dir / name, out / name)
    best = train_dir / BEST_STEP_FILE
    summary = {
        "member": {k: v for k, v in member.items() if k != "path"},
        "best_step": int(best.read_text()) if best.exists() else None,
        "validation_frames": member["frames"],
        **json.loads((train_dir / TRAIN_STATS).read_text()),
    }
    (out / PRODUCTION_SUMMARY).write_text(json.dumps(summary, indent=1))
    return out
