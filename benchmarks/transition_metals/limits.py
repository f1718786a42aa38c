"""What limits the W model: the labels or the network? Models trained from scratch, with the same steps and
seed, on (a) a finished W run's labels or (b) those plus a pool of referee MD frames (54-atom bcc cells,
ideal and one atom short, 600-2100 K), each with the example's small networks and with DP-GEN's usual larger
ones, and with energies weighted 10x; judged on the unseen 1500 K and vacancy sets of run.py.

    python benchmarks/transition_metals/limits.py RUN_DIR [--work DIR] [--steps N]

If (b) beats (a) with the same networks, the runs are short of labels; if the larger networks beat the small
ones on the same labels, the networks are too small. Restartable: finished trainings and labels are kept.
Results: benchmarks/results/transition_metals/limits.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import ase.io
import numpy as np
from ase.build import bulk

from dpdriver.config import TrainingConfig
from dpdriver.data import count_frames, system_dirs
from dpdriver.generate.modes import labeler_md
from dpdriver.label.base import label_to_data
from dpdriver.label.lammps import LammpsLabeler
from dpdriver.train import train_model

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "accuracy"))
from unseen import errors  # noqa: E402

RESULTS = Path(__file__).resolve().parents[1] / "results" / "transition_metals"
UNSEEN = RESULTS / "unseen_w-snap"
SEED = 11
LARGE = {"descriptor_neuron": [25, 50, 100], "axis_neuron": 16, "fitting_neuron": [240, 240, 240]}
VARIANTS = {  # name: (labels, training settings over the defaults, which are the example's small networks)
    "run, small": ("run", {}),
    "run, small, energy weight x10": ("run", {"limit_pref_e": 10.0}),
    "run, large": ("run", LARGE),
    "run+pool, small": ("run+pool", {}),
    "run+pool, large": ("run+pool", LARGE),
}
POOL_MD = [(600.0, False), (1200.0, False), (1800.0, False), (2100.0, False), (900.0, True), (1500.0, True)]
FRAMES_PER_MD = 30


def referee_pool(labeler: LammpsLabeler, a_A: float, out: Path) -> Path:
    """Referee-driven Langevin MD snapshots, labeled into out (made once)."""
    if (out / "done").exists():
        return out
    structures = []
    rng = np.random.default_rng(5)
    for temperature_K, vacancy in POOL_MD:
        cell = bulk("W", "bcc", a=a_A, cubic=True).repeat((3, 3, 3))
        if vacancy:
            del cell[0]
        structures += [atoms for atoms, _ in labeler_md(cell, labeler.calculator, [temperature_K],
                                                         20 * FRAMES_PER_MD, 20, 400, 2.0, 0.01, rng)]
    label_to_data(labeler, structures, out / "data", ["W"], work_dir=out / "tasks")
    (out / "done").write_text(str(len(structures)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run_dir")
    parser.add_argument("--work", default=str(RESULTS / "work" / "limits"))
    parser.add_argument("--steps", type=int, default=10000)
    args = parser.parse_args()
    run_dir, work = Path(args.run_dir), Path(args.work)
    decisions = json.loads((run_dir / "run.json").read_text())["decisions"]
    labeler = LammpsLabeler("W-snap-2017", None, [], [])
    a_A = ase.io.read(sorted(UNSEEN.glob("*.extxyz"))[0]).cell.lengths()[0] / 4  # the unseen cells are 4x4x4 cubic
    pool = referee_pool(labeler, a_A, work / "pool")
    labels = {"run": system_dirs(run_dir / "data"), "run+pool": system_dirs(run_dir / "data") + system_dirs(pool / "data")}

    def one(name: str) -> dict:
        data, settings = VARIANTS[name]
        training = TrainingConfig.model_validate({"steps": args.steps, "sel": decisions["sel"], **settings})
        started = time.monotonic()
        graph = train_model(training, ["W"], labels[data], work / name.replace(", ", "-").replace(" ", "_"), seed=SEED)
        return {"graph": graph, "wall_s": round(time.monotonic() - started, 1)}

    with ThreadPoolExecutor(2) as pool_exec:
        trained = dict(zip(VARIANTS, pool_exec.map(one, VARIANTS)))
    sets = {p.stem: ase.io.read(p, ":") for p in sorted(UNSEEN.glob("*.extxyz"))}
    results = []
    for name, done in trained.items():
        data, settings = VARIANTS[name]
        frames = sum(count_frames(d) for d in labels[data])
        results.append({"variant": name, "frames": frames, "settings": settings, "steps": args.steps,
                        "wall_s": done["wall_s"], **{n: errors(done["graph"], f) for n, f in sets.items()}})
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "limits.json").write_text(json.dumps(results, indent=1))
    lines = [f"W: {args.steps} steps from scratch, seed {SEED}, run `{run_dir.name}`'s labels with and without "
             f"{len(POOL_MD) * FRAMES_PER_MD} referee MD frames; `python benchmarks/transition_metals/limits.py RUN_DIR`", "",
             "| variant | frames | wall (s, 2 at a time) | " + " | ".join(
                 f"{name} force RMSE (share) | {name} E MAE (meV/atom)" for name in sets) + " |",
             "|---|---|---|" + "---|---|" * len(sets)]
    for row in results:
        cells = [f"{row[n]['force_rmse_eV_A']:.4f} ({row[n]['force_rmse_eV_A'] / row[n]['reference_force_rms_eV_A']:.1%}) | "
                 f"{row[n]['energy_mae_meV_atom']:.2f}" for n in sets]
        lines.append(f"| {row['variant']} | {row['frames']} | {row['wall_s']} | " + " | ".join(cells) + " |")
    (RESULTS / "limits.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
