"""Is the model's surface-energy error in the ideal slab or in its relaxation? Both energies of the three low-index
8-layer slabs, and the change of the first interlayer spacing, for a model and for EMT, each at its own lattice
constant and bulk energy (the validation table's slabs).

    python benchmarks/accuracy/surface_check.py MODEL.pb [--out benchmarks/results/accuracy/surface_check.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from ase.build import surface
from ase.calculators.emt import EMT
from ase.optimize import FIRE
from deepmd.calculator import DP

from dpdriver.validate.properties import DEFAULT_MILLER, EV_A2_TO_J_M2, equation_of_state, miller_cell

RESULTS = Path(__file__).resolve().parents[1] / "results" / "accuracy"


def slab_energies(calc, element: str = "Cu", lattice: str = "fcc", a_guess_A: float = 3.59) -> dict:
    """plane -> unrelaxed and relaxed surface energy (J/m^2), first interlayer spacing change (% of bulk)."""
    eos = equation_of_state(element, lattice, a_guess_A, 1.0, calc)
    a0, e_bulk = eos["lattice_constant_A"], eos["energy_eV_atom"]
    unit = miller_cell(element, lattice, a0, 1.0)
    out = {}
    for miller in DEFAULT_MILLER[lattice]:
        slab = surface(unit, miller, 8, vacuum=7.5, periodic=True)
        area = np.linalg.norm(np.cross(slab.cell[0], slab.cell[1]))
        slab.calc = calc
        unrelaxed = slab.get_potential_energy()
        heights = np.round(slab.positions[:, 2], 3)
        top, below = sorted(set(heights))[-2:][::-1]
        FIRE(slab, logfile=None).run(fmax=1e-3, steps=500)
        relaxed = slab.get_potential_energy()
        spacing = slab.positions[heights == top, 2].mean() - slab.positions[heights == below, 2].mean()
        per_area = EV_A2_TO_J_M2 / (2 * area)
        out["".join(map(str, miller))] = {
            "unrelaxed_J_m2": float((unrelaxed - len(slab) * e_bulk) * per_area),
            "relaxed_J_m2": float((relaxed - len(slab) * e_bulk) * per_area),
            "d12_change_percent": float(100 * (spacing - (top - below)) / (top - below)),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("model")
    parser.add_argument("--out", default=str(RESULTS / "surface_check.json"))
    args = parser.parse_args()
    model, reference = slab_energies(DP(args.model)), slab_energies(EMT())
    Path(args.out).write_text(json.dumps({"model": args.model, "model_values": model, "emt": reference}, indent=1))
    for plane, m in model.items():
        r = reference[plane]
        print(
            f"({plane}) unrelaxed {m['unrelaxed_J_m2']:.3f} vs {r['unrelaxed_J_m2']:.3f} "
            f"({m['unrelaxed_J_m2'] / r['unrelaxed_J_m2'] - 1:+.1%}), relaxed {m['relaxed_J_m2']:.3f} vs "
            f"{r['relaxed_J_m2']:.3f} ({m['relaxed_J_m2'] / r['relaxed_J_m2'] - 1:+.1%}); first spacing "
            f"{m['d12_change_percent']:+.1f} % vs {r['d12_change_percent']:+.1f} %"
        )


if __name__ == "__main__":
    main()
