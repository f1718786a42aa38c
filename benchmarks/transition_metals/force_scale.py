"""The force scale of each referee: the RMS force component in its own 1500 K MD, the ratio to Cu EMT's, and the
trust levels the W and Mo examples take from it (DP-GEN's common 0.05/0.20 eV/A for Cu, times the ratio).

    python benchmarks/transition_metals/force_scale.py

Each referee drives its own Langevin MD (seeded) in a cubic supercell of about 110-130 atoms at its lattice
constant of dpdriver's ideal crystal (ASE's table); 20 frames, 100 fs apart. Frames are kept under
benchmarks/results/transition_metals/force_scale/ and reused; results in force_scale.{json,md} there.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

from dpdriver.config import RunConfig
from dpdriver.generate.lattice import reference_unit_cell
from dpdriver.label import make_labeler

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "accuracy"))
from unseen import unseen_sets  # noqa: E402

RESULTS = Path(__file__).resolve().parents[1] / "results" / "transition_metals"
REFEREES = {
    "Cu EMT": ("Cu", "fcc", {"kind": "emt"}, 3),
    "W SNAP": ("W", "bcc", {"kind": "lammps", "potential": "W-snap-2017"}, 4),
    "Mo SNAP": ("Mo", "bcc", {"kind": "lammps", "potential": "Mo-snap-2020"}, 4),
}
TEMPERATURE_K = 1500.0
CU_TRUST_eV_A = (0.05, 0.20)


def rms_force_component(element: str, lattice: str, labeler: dict, repeats: int) -> float:
    config = RunConfig.model_validate({"element": element, "labeler": labeler, "initial_data": {"lattice": lattice}})
    a_A = reference_unit_cell(config).cell.lengths()[0]  # the conventional cubic cell a run starts from
    name = f"md_{TEMPERATURE_K:.0f}K"
    frames = unseen_sets(
        element,
        a_A,
        make_labeler(config.labeler).calculator,
        RESULTS / "force_scale" / element,
        seed=5,
        lattice=lattice,
        repeats=repeats,
        sets={name: (TEMPERATURE_K, False)},
    )[name]
    forces = np.concatenate([atoms.get_forces() for atoms in frames])
    return float(np.sqrt(np.mean(forces**2)))


def main() -> None:
    rms = {name: rms_force_component(*spec) for name, spec in REFEREES.items()}
    rows = {
        name: {
            "rms_force_component_eV_A": round(value, 3),
            "ratio_to_cu": round(value / rms["Cu EMT"], 2),
            "trust_levels_eV_A": [round(level * value / rms["Cu EMT"], 2) for level in CU_TRUST_eV_A],
        }
        for name, value in rms.items()
    }
    (RESULTS / "force_scale.json").write_text(json.dumps(rows, indent=1))
    lines = [
        "# Force scale of each referee (RMS force component, own MD at 1500 K)",
        "",
        "`python benchmarks/transition_metals/force_scale.py`",
        "",
        "| referee | RMS force component (eV/Å) | ratio to Cu EMT | trust levels lo / hi (eV/Å) |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {name} | {r['rms_force_component_eV_A']:.3f} | {r['ratio_to_cu']:.2f} | "
        f"{r['trust_levels_eV_A'][0]:.2f} / {r['trust_levels_eV_A'][1]:.2f} |"
        for name, r in rows.items()
    ]
    (RESULTS / "force_scale.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
