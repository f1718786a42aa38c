"""Normal modes (phonopy) and MD with the labeler: structures whose making needs forces from the labeler."""

from __future__ import annotations

import numpy as np
from ase import Atoms, units

from .transforms import Generated


def _phonopy(ideal: Atoms, force_constants=None):
    """The ideal supercell as phonopy's cell (supercell matrix 1): its modes are the commensurate ones."""
    from phonopy import Phonopy
    from phonopy.structure.atoms import PhonopyAtoms

    cell = PhonopyAtoms(symbols=ideal.get_chemical_symbols(), cell=ideal.cell.array,
                        scaled_positions=ideal.get_scaled_positions())
    phonon = Phonopy(cell, supercell_matrix=np.eye(3, dtype=int), primitive_matrix="P", log_level=0)
    if force_constants is not None:
        phonon.force_constants = force_constants
    return phonon


def _as_atoms(ideal: Atoms, phonopy_cells) -> list[Atoms]:
    out = []
    for cell in phonopy_cells:
        frame = ideal.copy()
        frame.positions = cell.positions
        out.append(frame)
    return out


def displacement_set(ideal: Atoms, displacement_A: float) -> Generated:
    """phonopy's symmetry-reduced finite displacements: the complete set for the force constants."""
    phonon = _phonopy(ideal)
    phonon.generate_displacements(distance=displacement_A)
    firsts = phonon.dataset["first_atoms"]
    return [(frame, {"displaced_atom": int(d["number"]), "displacement_A": [round(float(x), 6) for x in d["displacement"]]})
            for frame, d in zip(_as_atoms(ideal, phonon.supercells_with_displacements), firsts)]


def force_constants(ideal: Atoms, displacement_A: float, calculator_factory) -> np.ndarray:
    """Force constants from the labeler's forces on the displacement set (the same set that gets labeled)."""
    phonon = _phonopy(ideal)
    phonon.generate_displacements(distance=displacement_A)
    forces = []
    for frame in _as_atoms(ideal, phonon.supercells_with_displacements):
        frame.calc = calculator_factory()
        forces.append(frame.get_forces())
    phonon.forces = np.array(forces)
    phonon.produce_force_constants()
    return phonon.force_constants


def thermal_samples(ideal: Atoms, fc: np.ndarray, temperatures_K, per_temperature: int, seed: int) -> Generated:
    """Displacements drawn from the harmonic canonical ensemble at each temperature (phonopy)."""
    out = []
    for i, temperature in enumerate(temperatures_K):
        phonon = _phonopy(ideal, fc)
        phonon.generate_displacements(number_of_snapshots=per_temperature, temperature=temperature,
                                      random_seed=(seed + i) % 2**32)
        out += [(frame, {"temperature_K": temperature})
                for frame in _as_atoms(ideal, phonon.supercells_with_displacements)]
    return out


def labeler_md(ideal: Atoms, calculator_factory, temperatures_K, steps: int, stride: int, equilibration_steps: int,
               timestep_fs: float, friction_per_fs: float, rng: np.random.Generator) -> Generated:
    """Langevin NVT driven by the labeler's forces; one snapshot every `stride` steps after equilibration."""
    from ase.constraints import FixCom
    from ase.md.langevin import Langevin
    from ase.md.velocitydistribution import Stationary, thermalize_momenta

    out = []
    for temperature in temperatures_K:
        atoms = ideal.copy()
        atoms.calc = calculator_factory()
        atoms.set_constraint(FixCom())
        thermalize_momenta(atoms, temperature_K=temperature, rng=rng)
        Stationary(atoms)
        dynamics = Langevin(atoms, timestep=timestep_fs * units.fs, temperature_K=temperature,
                            friction=friction_per_fs / units.fs, fixcm=False, rng=rng)
        dynamics.run(equilibration_steps)
        for k in range(steps // stride):
            dynamics.run(stride)
            snapshot = ideal.copy()
            snapshot.set_cell(atoms.cell)
            snapshot.positions = atoms.positions
            out.append((snapshot, {"temperature_K": temperature, "md_step": equilibration_steps + (k + 1) * stride}))
    return out
