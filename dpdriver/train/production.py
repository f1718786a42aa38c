"""The production model: the member of the last round of lowest held-out error, continued on all data with the
held-out set as validation. Ensemble members stay cheap; only this model trains long."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from ..data import count_frames, system_dirs
from .dp import SCHEDULE_FILE, TRAIN_STATS, train_model
from .lcurve import ENERGY_SCALE_EV_ATOM, FORCE_SCALE_EV_A
from .schedule import batches_per_epoch, plan_schedule
from .session import BEST_STEP_FILE

PRODUCTION_SAVES = 20  # checkpoints over the schedule; the best of those in its second half is kept (10 lost
# the Cu example's energies: README, Training)
PRODUCTION_SUMMARY = "production.json"
KEPT = ("graph.pb", "lcurve.out", TRAIN_STATS, SCHEDULE_FILE, "input.json")


def choose_member(validation: dict | None) -> dict:
    """The member of the last round of lowest held-out error (energy and force in the lcurve's yardsticks), from
    the round's validation record; member 0 where there is no held-out frame."""
    rows = [
        {
            **row,
            "score": row["energy_rmse_meV_atom"] / 1000 / ENERGY_SCALE_EV_ATOM
            + row["force_rmse_eV_A"] / FORCE_SCALE_EV_A,
        }
        for row in (validation or {}).get("members") or []
        if row.get("frames")
    ]
    if not rows:
        return {"index": 0, "frames": 0, "score": None, "members": []}
    return {**min(rows, key=lambda r: r["score"]), "members": rows}


def train_production(
    training,
    element: str,
    parent: Path | None,
    member: dict | None,
    data_dirs: list[Path],
    test_data: Path | None,
    workdir: Path,
    seed: int,
) -> Path:
    """Continue parent (the chosen member, described by `member`) in workdir/train (resumed there after a kill), or
    train from scratch where `production_nets` gives the exported model a shape of its own; return workdir/out:
    the frozen model, its learning curve, schedule and statistics, and production.json (which member it continued,
    which step was kept)."""
    workdir = Path(workdir)
    validation = system_dirs(test_data) if test_data else []
    train_dir = workdir / "train"
    own = training.production_model()
    scratch = training.production_from_scratch()
    if scratch:  # its own nets: a from-scratch schedule of the production length
        budget = plan_schedule(training, batches_per_epoch(data_dirs, training.batch_atoms), "production")
        own = own.model_copy(update={"steps": budget.steps})
    train_model(
        own,
        [element],
        data_dirs,
        train_dir,
        seed,
        kind="scratch" if scratch else "production",
        parent=None if scratch else Path(parent),
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
        "member": None if scratch else member,
        "nets": training.production_nets.model_dump() if scratch else None,
        "best_step": int(best.read_text()) if best.exists() else None,
        "validation_frames": sum(count_frames(Path(d)) for d in validation),
        **json.loads((train_dir / TRAIN_STATS).read_text()),
    }
    (out / PRODUCTION_SUMMARY).write_text(json.dumps(summary, indent=1))
    return out


def production_origin(summary: dict) -> str:
    """Where the production model came from, for progress lines, `status` and the model card."""
    if summary.get("member") is None:
        nets = summary.get("nets") or {}
        return (
            f"trained from scratch with its own nets (embedding {nets.get('descriptor_neuron')}, "
            f"fitting {nets.get('fitting_neuron')})"
        )
    return f"member {summary['member']['index']} of the last round continued"
