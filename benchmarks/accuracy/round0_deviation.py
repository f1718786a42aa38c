"""Round 0's ensemble per descriptor cutoff setting: 4 members trained on the example's initial data only (the
run's own schedule), and how far apart they are on real MD frames (EMT: the unseen 900 K MD and 600 K vacancy
cells of unseen.py). A loop can only select frames whose deviation lies inside the trust window (0.05-0.20 eV/A).

    python benchmarks/accuracy/round0_deviation.py INIT_DATA_DIR [--work DIR]

INIT_DATA_DIR is a run's data/init. Restartable: a trained member is kept. Results:
benchmarks/results/accuracy/round0_deviation.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from ase.calculators.emt import EMT

from dpdriver.config import TrainingConfig
from dpdriver.data import system_dirs
from dpdriver.generate.lattice import reference_lattice_constant_A
from dpdriver.train import train_model

sys.path.insert(0, str(Path(__file__).resolve().parent))
from unseen import unseen_sets  # noqa: E402

RESULTS = Path(__file__).resolve().parent.parent / "results" / "accuracy"
SETTINGS = {"rc6-s5": (6.0, 5.0, 104), "rc6-s2": (6.0, 2.0, 104), "rc6-s05": (6.0, 0.5, 104), "rc5-s05": (5.0, 0.5, 68)}
MEMBERS = 4
FREE_ATOM_EV = 3.51  # EMT's Cu atom alone


def train(init: Path, work: Path, name: str, member: int) -> Path:
    rcut, smooth, sel = SETTINGS[name]
    training = TrainingConfig.model_validate(
        {"rcut_A": rcut, "rcut_smth_A": smooth, "sel": sel, "free_atom_energy_eV": FREE_ATOM_EV}
    )
    out = work / name / f"m{member}"
    if not (out / "graph.pb").exists():
        train_model(training, ["Cu"], system_dirs(init), out, seed=100 + 7 * member)
    return out / "graph.pb"


def max_force_deviation(models, frames) -> np.ndarray:
    """DeePMD-kit's max_devi_f per frame: the largest over atoms of the members' force spread."""
    out = []
    for atoms in frames:
        forces = np.array(
            [
                m.eval(atoms.positions.reshape(1, -1), atoms.cell.array.reshape(1, 9), [0] * len(atoms))[1].reshape(
                    -1, 3
                )
                for m in models
            ]
        )
        out.append(np.sqrt(((forces - forces.mean(0)) ** 2).sum(-1).mean(0)).max())
    return np.array(out)


def main() -> None:
    from deepmd.infer import DeepPot

    parser = argparse.ArgumentParser()
    parser.add_argument("init")
    parser.add_argument("--work", default=str(RESULTS / "work" / "round0_deviation"))
    args = parser.parse_args()
    init, work = Path(args.init), Path(args.work)
    jobs = [(name, i) for name in SETTINGS for i in range(MEMBERS)]
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda job: train(init, work, *job), jobs))
    sets = unseen_sets("Cu", reference_lattice_constant_A("Cu", "fcc"), EMT, RESULTS / "unseen_cu_emt")
    results = {}
    for name, (rcut, smooth, _) in SETTINGS.items():
        models = [DeepPot(str(work / name / f"m{i}" / "graph.pb")) for i in range(MEMBERS)]
        for set_name, frames in sets.items():
            deviation = max_force_deviation(models, frames)
            results[f"{name} {set_name}"] = {
                "rcut_A": rcut,
                "rcut_smth_A": smooth,
                "set": set_name,
                "median_eV_A": float(np.median(deviation)),
                "below_lo": float(np.mean(deviation < 0.05)),
                "below_hi": float(np.mean(deviation < 0.20)),
            }
    (RESULTS / "round0_deviation.json").write_text(json.dumps(results, indent=1))
    lines = [
        "| rcut / rcut_smth (A) | frames | median max force deviation (eV/A) | below 0.05 | below 0.20 |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {r['rcut_A']:g} / {r['rcut_smth_A']:g} | {r['set']} | {r['median_eV_A']:.3f} | {r['below_lo']:.0%} | "
        f"{r['below_hi']:.0%} |"
        for r in results.values()
    ]
    (RESULTS / "round0_deviation.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
