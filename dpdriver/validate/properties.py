"""Physical properties of a bulk metal with any ASE calculator: the same code for the model and the reference,
so that a difference is the potential's, never the method's."""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.build import bulk, fcc111, surface
from ase.constraints import FixCartesian
from ase.eos import EquationOfState
from ase.optimize import FIRE
from ase.units import GPa, J, m

from ..generate.defects import DEFAULT_MILLER

EV_A2_TO_J_M2 = m**2 / J  # 16.02 J/m^2 per eV/A^2
PHONON_PATHS = {  # high-symmetry points in the primitive reciprocal basis
    "fcc": [("G", (0, 0, 0)), ("X", (0.5, 0, 0.5)), ("W", (0.5, 0.25, 0.75)), ("K", (0.375, 0.375, 0.75)),
            ("G", (0, 0, 0)), ("L", (0.5, 0.5, 0.5))],
    "bcc": [("G", (0, 0, 0)), ("H", (0.5, -0.5, 0.5)), ("N", (0, 0, 0.5)), ("G", (0, 0, 0)), ("P", (0.25, 0.25, 0.25))],
    "hcp": [("G", (0, 0, 0)), ("M", (0.5, 0, 0)), ("K", (1 / 3, 1 / 3, 0)), ("G", (0, 0, 0)), ("A", (0, 0, 0.5))],
}


def primitive(element: str, lattice: str, a_A: float, c_over_a: float) -> Atoms:
    return bulk(element, lattice, a=a_A, c=a_A * c_over_a if lattice == "hcp" else None)


def _energy(atoms: Atoms, calc) -> float:
    atoms.calc = calc
    return float(atoms.get_potential_energy())


def _relaxed_energy(atoms: Atoms, calc, fmax_eV_A: float = 0.005, steps: int = 300) -> float:
    """Positions relaxed at a fixed cell (the constraints already set on atoms are kept)."""
    atoms.calc = calc
    FIRE(atoms, logfile=None).run(fmax=fmax_eV_A, steps=steps)
    return float(atoms.get_potential_energy())


def equation_of_state(element: str, lattice: str, a_guess_A: float, c_over_a: float, calc,
                      strain_range: float = 0.04, points: int = 9) -> dict:
    """Birch-Murnaghan fit of E(V) at a fixed c/a: lattice constant, energy per atom, bulk modulus."""
    scales = np.linspace(1 - strain_range, 1 + strain_range, points)
    cells = [primitive(element, lattice, a_guess_A * s, c_over_a) for s in scales]
    energies = [_energy(c, calc) / len(c) for c in cells]
    volumes = [c.get_volume() / len(c) for c in cells]
    fit = EquationOfState(volumes, energies, eos="birchmurnaghan")
    v0, e0, b = fit.fit()
    a0 = a_guess_A * (v0 / (cells[points // 2].get_volume() / len(cells[points // 2]))) ** (1 / 3)
    return {"lattice_constant_A": float(a0), "energy_eV_atom": float(e0), "bulk_modulus_GPa": float(b / GPa),
            "curve": {"volume_A3_atom": [float(v) for v in volumes], "energy_eV_atom": [float(e) for e in energies]}}


def isolated_atom_energy(element: str, calc, box_A: float = 20.0) -> float:
    return _energy(Atoms(element, positions=[[box_A / 2] * 3], cell=[box_A] * 3, pbc=True), calc)


def elastic_constants(element: str, lattice: str, a0_A: float, c_over_a: float, calc, strain: float = 0.005) -> dict:
    """Stress-strain slopes (±strain, internal positions relaxed): C11, C12, C44 (cubic); also C13, C33 (hcp)."""
    cell = bulk(element, lattice, a=a0_A, c=a0_A * c_over_a if lattice == "hcp" else None,
                cubic=lattice != "hcp", orthorhombic=lattice == "hcp")

    def stress_slope(i: int, j: int) -> np.ndarray:
        stresses = []
        for sign in (-1, 1):
            eps = np.zeros((3, 3))
            eps[i, j] = eps[j, i] = sign * strain
            strained = cell.copy()
            strained.set_cell(cell.cell.array @ (np.eye(3) + eps), scale_atoms=True)
            _relaxed_energy(strained, calc, fmax_eV_A=1e-4)
            stresses.append(strained.get_stress(voigt=False))
        return (stresses[1] - stresses[0]) / (2 * strain) / GPa

    axial, shear = stress_slope(0, 0), stress_slope(1, 2)
    out = {"C11_GPa": float(axial[0, 0]), "C12_GPa": float(axial[1, 1]), "C44_GPa": float(shear[1, 2] / 2)}
    if lattice == "hcp":
        along_c = stress_slope(2, 2)
        out.update(C13_GPa=float(axial[2, 2]), C33_GPa=float(along_c[2, 2]))
    return out


def _supercell(cell: Atoms, min_atoms: int) -> Atoms:
    n = 1
    while len(cell) * n**3 < min_atoms:
        n += 1
    return cell.repeat(n)


def vacancy_formation_energy(element: str, lattice: str, a0_A: float, c_over_a: float, calc, min_atoms: int = 90) -> float:
    cell = bulk(element, lattice, a=a0_A, c=a0_A * c_over_a if lattice == "hcp" else None,
                cubic=lattice != "hcp", orthorhombic=lattice == "hcp")
    perfect = _supercell(cell, min_atoms)
    e_perfect = _energy(perfect.copy(), calc)
    defect = perfect.copy()
    del defect[0]
    return float(_relaxed_energy(defect, calc) - (len(perfect) - 1) / len(perfect) * e_perfect)


def surface_energies(element: str, lattice: str, a0_A: float, c_over_a: float, e_bulk_eV_atom: float, calc,
                     layers: int = 8, vacuum_A: float = 15.0) -> dict:
    """Relaxed surface energy (J/m^2) of the low-index planes: (E_slab - N e_bulk) / 2A."""
    unit = primitive(element, lattice, a0_A, c_over_a) if lattice == "hcp" else \
        bulk(element, lattice, a=a0_A, cubic=True)
    out = {}
    for miller in DEFAULT_MILLER[lattice]:
        slab = surface(unit, miller, layers, vacuum=vacuum_A / 2, periodic=True)
        area = np.linalg.norm(np.cross(slab.cell[0], slab.cell[1]))
        energy = _relaxed_energy(slab, calc)
        out["".join(str(i) for i in miller)] = float((energy - len(slab) * e_bulk_eV_atom) / (2 * area) * EV_A2_TO_J_M2)
    return out


def stacking_fault_energy(element: str, lattice: str, a0_A: float, calc, layers: int = 12) -> float | None:
    """fcc intrinsic stacking fault (mJ/m^2): the periodic (111) stack with its cell tilted by the partial
    a/6<112>, positions relaxed normal to the plane only; the lower of the two tilt signs (the other puts a
    layer on top of its neighbour). None for bcc and hcp (not computed)."""
    if lattice != "fcc":
        return None
    perfect = fcc111(element, size=(1, 2, layers), a=a0_A, orthogonal=True, periodic=True)
    area = np.linalg.norm(np.cross(perfect.cell[0], perfect.cell[1]))
    e_perfect = _energy(perfect.copy(), calc)
    partial = a0_A / np.sqrt(6)
    energies = []
    for sign in (-1, 1):
        faulted = perfect.copy()
        cell = faulted.cell.array.copy()
        cell[2, 1] += sign * partial
        faulted.set_cell(cell, scale_atoms=False)
        faulted.set_constraint(FixCartesian(range(len(faulted)), mask=(True, True, False)))
        energies.append(_relaxed_energy(faulted, calc))
    return float((min(energies) - e_perfect) / area * EV_A2_TO_J_M2 * 1000)


def phonons(element: str, lattice: str, a0_A: float, c_over_a: float, calc, supercell: int = 4,
            points_per_segment: int = 30) -> dict:
    """Phonon dispersion along the standard path and the DOS (phonopy, finite displacements of 0.01 Å)."""
    from phonopy import Phonopy
    from phonopy.structure.atoms import PhonopyAtoms

    unit = primitive(element, lattice, a0_A, c_over_a)
    phonon = Phonopy(PhonopyAtoms(symbols=unit.get_chemical_symbols(), cell=unit.cell.array,
                                  scaled_positions=unit.get_scaled_positions()),
                     supercell_matrix=np.eye(3, dtype=int) * (supercell if lattice != "hcp" else 3))
    phonon.generate_displacements(distance=0.01)
    forces = []
    for cell in phonon.supercells_with_displacements:
        atoms = Atoms(cell.symbols, cell=cell.cell, scaled_positions=cell.scaled_positions, pbc=True)
        atoms.calc = calc
        forces.append(atoms.get_forces())
    phonon.forces = forces
    phonon.produce_force_constants()
    path = PHONON_PATHS[lattice]
    segments = [[np.array(q0) + (np.array(q1) - np.array(q0)) * t for t in np.linspace(0, 1, points_per_segment)]
                for (_, q0), (_, q1) in zip(path, path[1:])]
    phonon.run_band_structure(segments, labels=[name for name, _ in path])
    band_structure = phonon.band_structure
    bands = {"distances": band_structure.distances, "frequencies": band_structure.frequencies}
    phonon.run_mesh([16, 16, 16] if lattice != "hcp" else [12, 12, 8], is_gamma_center=True)
    phonon.run_total_dos()
    dos = {"frequency_points": phonon.total_dos.frequency_points, "total_dos": phonon.total_dos.dos}
    return {"labels": [name for name, _ in path],
            "distances": [d.tolist() for d in bands["distances"]],
            "frequencies_THz": [f.tolist() for f in bands["frequencies"]],
            "dos_frequency_THz": dos["frequency_points"].tolist(), "dos": dos["total_dos"].tolist()}


def properties(element: str, lattice: str, a_guess_A: float, c_over_a: float, calc) -> dict:
    """Every property of the validation table, each at the calculator's own equilibrium lattice constant."""
    eos = equation_of_state(element, lattice, a_guess_A, c_over_a, calc)
    a0, e0 = eos["lattice_constant_A"], eos["energy_eV_atom"]
    return {
        "lattice_constant_A": a0,
        "cohesive_energy_eV_atom": isolated_atom_energy(element, calc) - e0,
        "bulk_modulus_GPa": eos["bulk_modulus_GPa"],
        "elastic_constants_GPa": {k.removesuffix("_GPa"): v for k, v in
                                  elastic_constants(element, lattice, a0, c_over_a, calc).items()},
        "vacancy_formation_eV": vacancy_formation_energy(element, lattice, a0, c_over_a, calc),
        "surface_energy_J_m2": surface_energies(element, lattice, a0, c_over_a, e0, calc),
        "stacking_fault_mJ_m2": stacking_fault_energy(element, lattice, a0, calc),
        "eos": eos["curve"],
        "phonons": phonons(element, lattice, a0, c_over_a, calc),
    }
