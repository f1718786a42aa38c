"""Structures no run ever sees: the yardstick of the accuracy benchmark.

900 K MD in a 108-atom cell (3x3x3 conventional fcc) and a 107-atom vacancy cell at 600 K (or other sets:
the transition-metal benchmark's bcc cells), both driven by the referee itself (Langevin, seeded, other cells and
temperatures than any run's data), labeled
by the referee. Energies and forces are compared per frame.
"""

from __future__ import annotations

from pathlib import Path

import ase.io
import numpy as np
from ase.build import bulk

from dpdriver.files import partial_path
from dpdriver.generate.modes import labeler_md

SETS = {"md_900K_108": (900.0, False), "vacancy_600K_107": (600.0, True)}  # name: (temperature, vacancy)


def unseen_sets(
    element: str,
    a_A: float,
    calculator_factory,
    out_dir: Path,
    frames: int = 20,
    seed: int = 77,
    lattice: str = "fcc",
    repeats: int = 3,
    sets: dict | None = None,
) -> dict[str, list]:
    """Each set as a list of labeled Atoms, written once to out_dir/<name>.extxyz and read back after."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    labeled_sets = {}
    for i, (name, (temperature_K, vacancy)) in enumerate((sets or SETS).items()):
        path = out_dir / f"{name}.extxyz"
        if not path.exists():
            cell = bulk(element, lattice, a=a_A, cubic=True).repeat((repeats,) * 3)
            if vacancy:
                del cell[0]
            rng = np.random.default_rng(seed + i)
            snapshots = labeler_md(cell, calculator_factory, [temperature_K], 50 * frames, 50, 500, 2.0, 0.01, rng)
            labeled = []
            for atoms, _ in snapshots:
                atoms.calc = calculator_factory()
                atoms.get_potential_energy()
                atoms.get_forces()
                labeled.append(atoms)
            tmp = partial_path(path)
            ase.io.write(tmp, labeled, format="extxyz")
            tmp.replace(path)
        labeled_sets[name] = ase.io.read(path, ":")
    return labeled_sets


def errors(model: Path, frames: list) -> dict:
    """Energy MAE (meV/atom), force RMSE (eV/Å) and the referee's RMS force on the frames."""
    from deepmd.infer import DeepPot

    potential = DeepPot(str(model))
    d_e, d_f, f_ref = [], [], []
    for atoms in frames:
        e, f = potential.eval(atoms.positions.reshape(1, -1), np.asarray(atoms.cell).reshape(1, -1), [0] * len(atoms))[
            :2
        ]
        d_e.append(float(e.reshape(-1)[0]) / len(atoms) - atoms.get_potential_energy() / len(atoms))
        d_f.append(f.reshape(-1, 3) - atoms.get_forces())
        f_ref.append(atoms.get_forces())
    return {
        "energy_mae_meV_atom": 1000 * float(np.mean(np.abs(d_e))),
        "force_rmse_eV_A": float(np.sqrt(np.mean(np.concatenate(d_f) ** 2))),
        "reference_force_rms_eV_A": float(np.sqrt(np.mean(np.concatenate(f_ref) ** 2))),
    }
