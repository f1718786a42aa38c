"""Should a SNAP referee's isolated atom be built into the model? One model with and one without, trained from
scratch on the same labels (a W run's data), judged on unseen referee MD frames.

    python benchmarks/transition_metals/free_atom.py RUN_DIR UNSEEN_DIR [--work DIR]

RUN_DIR is a finished run of examples/w-snap (its data/ and run.json decisions), UNSEEN_DIR holds the referee's
unseen frames (*.extxyz, from run.py). Restartable: a finished training is only frozen again. Results:
benchmarks/results/transition_metals/free_atom.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import ase.io

from dpdriver.config import TrainingConfig
from dpdriver.data import system_dirs
from dpdriver.label.lammps import LammpsLabeler
from dpdriver.rundir import RunDir, read_decisions
from dpdriver.train import train_model
from dpdriver.train.decide import free_atom_energy_eV

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "accuracy"))
from unseen import errors  # noqa: E402

RESULTS = Path(__file__).resolve().parents[1] / "results" / "transition_metals"
STEPS, SEED = 10000, 11


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run_dir")
    parser.add_argument("unseen_dir")
    parser.add_argument("--work", default=str(RESULTS / "work" / "free_atom"))
    args = parser.parse_args()
    run_dir, work = Path(args.run_dir), Path(args.work)
    sel = read_decisions(run_dir)["sel"]
    lone_eV = free_atom_energy_eV(LammpsLabeler("W-snap-2017", None, [], []), "W", work / "free-atom")
    variants = {"atom": lone_eV, "noatom": None}

    def one(name: str) -> Path:
        training = TrainingConfig.model_validate({"steps": STEPS, "sel": sel, "free_atom_energy_eV": variants[name]})
        return train_model(training, ["W"], system_dirs(RunDir(run_dir).data), work / name, seed=SEED)

    with ThreadPoolExecutor(2) as pool:
        graphs = dict(zip(variants, pool.map(one, variants)))
    sets = {p.stem: ase.io.read(p, ":") for p in sorted(Path(args.unseen_dir).glob("*.extxyz"))}
    results = {
        name: {"free_atom_energy_eV": variants[name], **{k: errors(g, f) for k, f in sets.items()}}
        for name, g in graphs.items()
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "free_atom.json").write_text(json.dumps(results, indent=1))
    lines = [
        f"W SNAP labels of one run, {STEPS} steps from scratch, seed {SEED}; unseen referee MD frames.",
        "",
        "| lone atom built in | set | atoms per frame | force RMSE (eV/Å) | energy MAE (meV/atom) |",
        "|---|---|---|---|---|",
    ]
    for name, row in results.items():
        for set_name in sets:
            e = row[set_name]
            lines.append(
                f"| {'yes' if name == 'atom' else 'no'} | {set_name} | {len(sets[set_name][0])} | "
                f"{e['force_rmse_eV_A']:.4f} | "
                f"{e['energy_mae_meV_atom']:.2f} |"
            )
    (RESULTS / "free_atom.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
