"""Normal modes (phonopy) and MD with the labeler: structures whose making needs forces from the labeler."""

from __future__ import annotations

import numpy as np
from ase import Atoms, units
from ase.constraints import FixCom
from ase.md.langevin import Langevin
from ase.md.velocitydistribution import Stationary, thermalize_momenta

from .transforms import Generated


def phonopy_of(cell: Atoms, repeats: int = 1, **options):
    """phonopy's object for a cell and its supercell of repeats^3 cells."""
    from phonopy import Phonopy  # phonopy takes 0.9 s to import: only the steps that use it pay for it
    from phonopy.structure.atoms import PhonopyAtoms

    unit = PhonopyAtoms(
        symbols=cell.get_chemical_symbols(), cell=cell.cell.array, scaled_positions=cell.get_scaled_positions()
    )
    return Phonopy(unit, supercell_matrix=np.eye(3, dtype=int) * repeats, log_level=0, **options)


def displaced_supercells(phonon) -> list[Atoms]:
    return [
        Atoms(cell.symbols, cell=cell.cell, scaled_positions=cell.scaled_positions, pbc=True)
        for cell in phonon.supercells_with_displacements
    ]


def _phonopy(ideal: Atoms, force_constants=None):
    """The ideal supercell itself as phonopy's cell: its modes are the commensurate ones."""
    phonon = phonopy_of(ideal, primitive_matrix="P")
    if force_constants is not None:
        phonon.force_constants = force_constants
    return phonon


def displacement_set(ideal: Atoms, displacement_A: float) -> Generated:
    """phonopy's symmetry-reduced finite displacements: the complete set for the force constants."""
    phonon = _phonopy(ideal)
    phonon.generate_displacements(distance=displacement_A)
    firsts = phonon.dataset["first_atoms"]
    return [
        (frame, {"displaced_atom": int(d["number"]), "displacement_A": [round(float(x), 6) for x in d["displacement"]]})
        for frame, d in zip(displaced_supercells(phonon), firsts)
    ]


def force_constants(ideal: Atoms, displacement_A: float, calculator_factory) -> np.ndarray:
    """Force constants from the labeler's forces on the displacement set (the same set that gets labeled)."""
    phonon = _phonopy(ideal)
    phonon.generate_displacements(distance=displacement_A)
    forces = []
    for frame in displaced_supercells(phonon):
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
        phonon.generate_displacements(
            number_of_snapshots=per_temperature, temperature=temperature, random_seed=(seed + i) % 2**32
        )
        out += [(frame, {"temperature_K": temperature}) for frame in displaced_supercells(phonon)]
    return out


def labeler_md(
    ideal: Atoms,
    calculator_factory,
    temperatures_K,
    steps: int,
    stride: int,
    equilibration_steps: int,
    timestep_fs: float,
    friction_per_fs: float,
    rng: np.random.Generator,
) -> Generated:
    """Langevin NVT driven by the labeler's forces; one snapshot every `stride` steps after equilibration."""

    out = []
    for temperature in temperatures_K:
        atoms = ideal.copy()
        atoms.calc = calculator_factory()
        atoms.set_constraint(FixCom())
        thermalize_momenta(atoms, temperature_K=temperature, rng=rng)
        Stationary(atoms)
        dynamics = Langevin(
            atoms,
            timestep=timestep_fs * units.fs,
            temperature_K=temperature,
            friction=friction_per_fs / units.fs,
            fixcm=False,
            rng=rng,
        )
        dynamics.run(equilibration_steps)
        for k in range(steps // stride):
            dynamics.run(stride)
            snapshot = ideal.copy()
            snapshot.set_cell(atoms.cell)
            snapshot.positions = atoms.positions
            out.append((snapshot, {"temperature_K": temperature, "md_step": equilibration_steps + (k + 1) * stride}))
    return out
