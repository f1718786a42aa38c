"""Where an exported model's vacancy formation energy goes wrong: unrelaxed and relaxed, against the referee, in
the validation's 128-atom bcc cell at the referee's lattice constant.

    python benchmarks/transition_metals/vacancy_check.py RUN_DIR [RUN_DIR ...]

RUN_DIR is a finished run of examples/w-snap or examples/mo-snap (its export/ and config). Results:
benchmarks/results/transition_metals/vacancy_check.{json,md}.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from ase.build import bulk
from ase.optimize import BFGS

from dpdriver.label import make_labeler
from dpdriver.rundir import RunDir, recorded_config

RESULTS = Path(__file__).resolve().parents[1] / "results" / "transition_metals"


def formation_energies(perfect, calculator_factory) -> dict:
    crystal = perfect.copy()
    crystal.calc = calculator_factory()
    e_perfect = crystal.get_potential_energy()
    defect = perfect.copy()
    del defect[0]
    defect.calc = calculator_factory()
    n = len(perfect)
    unrelaxed = defect.get_potential_energy() - (n - 1) / n * e_perfect
    start = defect.positions.copy()
    BFGS(defect, logfile=None).run(fmax=0.01, steps=300)
    return {
        "energy_per_atom_eV": e_perfect / n,
        "unrelaxed_eV": unrelaxed,
        "relaxed_eV": defect.get_potential_energy() - (n - 1) / n * e_perfect,
        "max_relaxation_A": float(np.abs(defect.positions - start).max()),
    }


def main() -> None:
    from deepmd.calculator import DP

    parser = argparse.ArgumentParser()
    parser.add_argument("run_dirs", nargs="+")
    args = parser.parse_args()
    rows = {}
    for run_dir in map(Path, args.run_dirs):
        config = recorded_config(run_dir)
        validation = json.loads(RunDir(run_dir).export_validation.read_text())
        a_A = validation["reference_values"]["lattice_constant_A"]
        perfect = bulk(config.element, config.initial_data.lattice, a=a_A, cubic=True).repeat(4)
        model = str(RunDir(run_dir).exported_model)
        rows[config.element] = {
            "model": formation_energies(perfect, lambda model=model: DP(model)),
            "referee": formation_energies(perfect, make_labeler(config.labeler).calculator),
        }
    (RESULTS / "vacancy_check.json").write_text(json.dumps(rows, indent=1))
    lines = [
        "# Vacancy formation energy: model against referee (128-atom cell)",
        "",
        "`python benchmarks/transition_metals/vacancy_check.py RUN_DIR ...`",
        "",
        "| element | | E per atom, perfect (eV) | E_f unrelaxed (eV) | E_f relaxed (eV) | largest relaxation (Å) |",
        "|---|---|---|---|---|---|",
    ]
    for element, pair in rows.items():
        for who, r in pair.items():
            lines.append(
                f"| {element} | {who} | {r['energy_per_atom_eV']:.4f} | {r['unrelaxed_eV']:.3f} | "
                f"{r['relaxed_eV']:.3f} | {r['max_relaxation_A']:.3f} |"
            )
    (RESULTS / "vacancy_check.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
