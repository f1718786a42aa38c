"""Initial structures for a bulk metal: a volume scan of the crystal, each volume rattled."""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.build import bulk
from ase.data import atomic_numbers, reference_states

from .errors import UserError


def reference_lattice_constant_A(element: str, lattice: str) -> float:
    """ASE's tabulated lattice constant, when the element's reference state is that lattice."""
    state = reference_states[atomic_numbers[element]] or {}
    if state.get("symmetry") != lattice or "a" not in state:
        raise UserError(
            f"ASE has no {lattice} lattice constant for {element} (its reference state is "
            f"{state.get('symmetry', 'unknown')}); set initial_data.lattice_constant_A"
        )
    return float(state["a"])


def crystal(element: str, lattice: str, lattice_constant_A: float, supercell) -> Atoms:
    return bulk(element, lattice, a=lattice_constant_A, cubic=True).repeat(tuple(supercell))


def volume_scan_rattled(
    base: Atoms, lattice_scales: list[float], rattled_per_scale: int, rattle_stdev_A: float, seed: int
) -> list[Atoms]:
    """Isotropically scaled copies of `base`, each rattled with Gaussian displacements."""
    rng = np.random.default_rng(seed)
    frames = []
    for scale in lattice_scales:
        scaled = base.copy()
        scaled.set_cell(base.cell * scale, scale_atoms=True)
        for _ in range(rattled_per_scale):
            frame = scaled.copy()
            frame.positions += rng.normal(0.0, rattle_stdev_A, size=frame.positions.shape)
            frames.append(frame)
    return frames


def reference_crystal(config) -> Atoms:
    """The ideal supercell of the run's element at its reference lattice constant."""
    init = config.initial_data
    a = init.lattice_constant_A or reference_lattice_constant_A(config.element, init.lattice)
    return crystal(config.element, init.lattice, a, init.supercell)


def initial_structures(config) -> list[Atoms]:
    init = config.initial_data
    return volume_scan_rattled(
        reference_crystal(config), init.lattice_scales, init.rattled_per_scale, init.rattle_stdev_A, config.seed
    )


def held_out_structures(config, seed: int) -> list[Atoms]:
    """Fresh structures for test errors: other scales, stronger rattle, a different seed."""
    val = config.validation
    base = reference_crystal(config)
    per_scale = max(1, -(-val.test_structures // len(val.test_lattice_scales)))
    frames = volume_scan_rattled(base, val.test_lattice_scales, per_scale, val.test_rattle_stdev_A, seed)
    return frames[: val.test_structures]
