"""The element's ideal crystal: lattice constants from ASE's data unless given, supercell by repeats or atom count."""

from __future__ import annotations

import itertools
import math

import numpy as np
from ase import Atoms
from ase.build import bulk
from ase.data import atomic_numbers, reference_states

from ..errors import UserError

IDEAL_C_OVER_A = math.sqrt(8 / 3)
DEFAULT_SUPERCELL = (2, 2, 2)


def reference_lattice_constant_A(element: str, lattice: str) -> float:
    """ASE's tabulated lattice constant, when the element's reference state is that lattice."""
    state = reference_states[atomic_numbers[element]] or {}
    if state.get("symmetry") != lattice or "a" not in state:
        raise UserError(
            f"ASE has no {lattice} lattice constant for {element} (its reference state is "
            f"{state.get('symmetry', 'unknown')}); set initial_data.lattice_constant_A"
        )
    return float(state["a"])


def reference_c_over_a(element: str) -> float:
    state = reference_states[atomic_numbers[element]] or {}
    return float(state.get("c/a", IDEAL_C_OVER_A)) if state.get("symmetry") == "hcp" else IDEAL_C_OVER_A


def unit_cell(element: str, lattice: str, a_A: float, c_over_a: float | None = None) -> Atoms:
    """Conventional cubic cell for fcc/bcc (4/2 atoms); orthorhombic 4-atom cell for hcp."""
    if lattice == "hcp":
        return bulk(element, "hcp", a=a_A, c=a_A * (c_over_a or IDEAL_C_OVER_A), orthorhombic=True)
    return bulk(element, lattice, a=a_A, cubic=True)


def primitive_cell(element: str, lattice: str, a_A: float, c_over_a: float | None = None) -> Atoms:
    """One atom for fcc/bcc, the 2-atom hexagonal cell for hcp."""
    return bulk(element, lattice, a=a_A, c=a_A * (c_over_a or IDEAL_C_OVER_A) if lattice == "hcp" else None)


def miller_cell(element: str, lattice: str, a_A: float, c_over_a: float | None = None) -> Atoms:
    """The cell whose Miller indices users know: conventional cubic for fcc/bcc, 2-atom hexagonal for hcp."""
    return primitive_cell(element, lattice, a_A, c_over_a) if lattice == "hcp" else unit_cell(element, lattice, a_A)


def choose_repeats(cell: Atoms, target_atoms: int, max_repeat: int = 12) -> tuple[int, int, int]:
    """Repeats whose atom count is near the target with a near-isotropic supercell (each 10 % off the
    target weighs like a 20 % spread of the cell lengths)."""
    lengths = cell.cell.lengths()

    def score(reps):
        n_atoms = len(cell) * math.prod(reps)
        sizes = lengths * np.array(reps)
        return abs(n_atoms - target_atoms) / target_atoms + 0.5 * (sizes.max() / sizes.min() - 1)

    return min(itertools.product(range(1, max_repeat + 1), repeat=3), key=score)


def reference_unit_cell(config, hexagonal: bool = False) -> Atoms:
    """The run's unit cell at its lattice constant(s); `hexagonal` gives the 2-atom hcp cell whose Miller
    indices users know, instead of the orthorhombic one."""
    return crystal_unit_cell(config.element, config.initial_data, hexagonal)


def crystal_unit_cell(element: str, init, hexagonal: bool = False) -> Atoms:
    """reference_unit_cell from the two settings it reads (the element; the initial data's lattice and constants)."""
    a = init.lattice_constant_A or reference_lattice_constant_A(element, init.lattice)
    c_over_a = init.c_over_a or reference_c_over_a(element)
    return (miller_cell if hexagonal else unit_cell)(element, init.lattice, a, c_over_a)


def ideal_crystal(config) -> Atoms:
    """The ideal supercell of the run's element, the start of every generator without a base."""
    return crystal_supercell(config.element, config.initial_data)


def crystal_supercell(element: str, init) -> Atoms:
    """ideal_crystal from the two settings it reads: a stage that gets only these needs no whole config."""
    cell = crystal_unit_cell(element, init)
    repeats = choose_repeats(cell, init.target_atoms) if init.target_atoms is not None else init.supercell
    return cell.repeat(tuple(repeats or DEFAULT_SUPERCELL))


def volume_per_atom_A3(atoms: Atoms) -> float:
    return atoms.get_volume() / len(atoms)


def nearest_neighbour_distance_A(atoms: Atoms) -> float:
    """The shortest interatomic distance, periodic images included (one atom: its shortest cell edge)."""
    distances = atoms.get_all_distances(mic=True)
    return (
        float(np.min(distances[np.triu_indices(len(atoms), 1)]))
        if len(atoms) > 1
        else float(np.min(atoms.cell.lengths()))
    )
