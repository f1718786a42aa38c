"""Physical properties of a bulk metal, the same code for the model and the reference (an ASE calculator, or label
tasks through an evaluator) so that a difference is the potential's, never the method's. Each calculation has a
name: with label tasks it is the task's folder."""

from __future__ import annotations

import warnings

import numpy as np
from ase import Atoms
from ase.build import bcc110, fcc111, hcp0001, surface
from ase.constraints import FixScaled
from ase.eos import EquationOfState
from ase.units import GPa, J, m

from ..errors import one_line
from ..generate.defects import DEFAULT_MILLER
from ..generate.lattice import miller_cell, primitive_cell, unit_cell
from ..generate.modes import displaced_supercells, phonopy_of
from .compute import as_evaluator, takes_calculator

EV_A2_TO_J_M2 = m**2 / J  # 16.02 J/m^2 per eV/A^2
PHONON_PATHS = {  # high-symmetry points in the primitive reciprocal basis
    "fcc": [
        ("G", (0, 0, 0)),
        ("X", (0.5, 0, 0.5)),
        ("W", (0.5, 0.25, 0.75)),
        ("K", (0.375, 0.375, 0.75)),
        ("G", (0, 0, 0)),
        ("L", (0.5, 0.5, 0.5)),
    ],
    "bcc": [("G", (0, 0, 0)), ("H", (0.5, -0.5, 0.5)), ("N", (0, 0, 0.5)), ("G", (0, 0, 0)), ("P", (0.25, 0.25, 0.25))],
    "hcp": [("G", (0, 0, 0)), ("M", (0.5, 0, 0)), ("K", (1 / 3, 1 / 3, 0)), ("G", (0, 0, 0)), ("A", (0, 0, 0.5))],
}


def _energy(atoms: Atoms) -> float:
    return float(atoms.get_potential_energy())


def _birch_murnaghan(
    element: str, lattice: str, center_A: float, c_over_a: float, ev, strain_range: float, points: int, name: str
) -> dict:
    scales = np.linspace(1 - strain_range, 1 + strain_range, points)
    cells = [primitive_cell(element, lattice, center_A * s, c_over_a) for s in scales]
    energies = [_energy(ev.single_point(c, f"{name}/scale-{s:.3f}")) / len(c) for c, s in zip(cells, scales)]
    volumes = [c.get_volume() / len(c) for c in cells]
    with warnings.catch_warnings():  # a fit off the window is refused below, with the reason
        warnings.simplefilter("ignore")
        v0, e0, b = EquationOfState(volumes, energies, eos="birchmurnaghan").fit()
    if not (np.isfinite([v0, e0, b]).all() and min(volumes) <= v0 <= max(volumes) and b > 0):
        raise ValueError(
            f"E(V) has no minimum within +-{strain_range:.1%} of a = {center_A:.4f} A (fitted V0 = "
            f"{v0:.4g} A^3/atom, B = {b / GPa:.4g} GPa): not a stable bulk crystal there"
        )
    a0 = center_A * (v0 / (cells[points // 2].get_volume() / len(cells[points // 2]))) ** (1 / 3)
    return {
        "lattice_constant_A": float(a0),
        "energy_eV_atom": float(e0),
        "bulk_modulus_GPa": float(b / GPa),
        "curve": {"volume_A3_atom": [float(v) for v in volumes], "energy_eV_atom": [float(e) for e in energies]},
    }


@takes_calculator
def equation_of_state(
    element: str,
    lattice: str,
    a_guess_A: float,
    c_over_a: float,
    ev,
    strain_range: float = 0.04,
    points: int = 9,
    refit_range: float = 0.015,
) -> dict:
    """Birch-Murnaghan fit of E(V) at a fixed c/a: lattice constant, energy per atom, bulk modulus. A first fit over
    +-strain_range around the guess finds the calculator's own a0; B and E0 come from a second fit over +-refit_range
    centred there, so that a window off the minimum (the model's a0 is not the reference's) biases neither side."""
    coarse = _birch_murnaghan(element, lattice, a_guess_A, c_over_a, ev, strain_range, points, "eos")
    fine = _birch_murnaghan(
        element, lattice, coarse["lattice_constant_A"], c_over_a, ev, refit_range, points, "eos-refit"
    )
    return {**fine, "curve": coarse["curve"]}


@takes_calculator
def isolated_atom_energy(element: str, ev, box_A: float = 20.0) -> float:
    atom = Atoms(element, positions=[[box_A / 2] * 3], cell=[box_A] * 3, pbc=True)
    return _energy(ev.isolated_atom(atom, "isolated-atom"))


@takes_calculator
def elastic_constants(element: str, lattice: str, a0_A: float, c_over_a: float, ev, strain: float = 0.005) -> dict:
    """Stress-strain slopes (±strain, internal positions relaxed): C11, C12, C44 (cubic); also C13, C33 (hcp)."""
    cell = unit_cell(element, lattice, a0_A, c_over_a)

    def stress_slope(i: int, j: int) -> np.ndarray:
        stresses = []
        for sign in (-1, 1):
            eps = np.zeros((3, 3))
            eps[i, j] = eps[j, i] = sign * strain
            strained = cell.copy()
            strained.set_cell(cell.cell.array @ (np.eye(3) + eps), scale_atoms=True)
            relaxed = ev.relax(
                strained, f"elastic/e{'xyz'[i]}{'xyz'[j]}{'+' if sign > 0 else '-'}{strain:g}", fmax_eV_A=1e-4
            )
            stresses.append(relaxed.get_stress(voigt=False))
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


@takes_calculator
def vacancy_formation_energy(
    element: str, lattice: str, a0_A: float, c_over_a: float, ev, min_atoms: int = 90
) -> float:
    perfect = _supercell(unit_cell(element, lattice, a0_A, c_over_a), min_atoms)
    e_perfect = _energy(ev.single_point(perfect, "vacancy/perfect"))
    defect = perfect.copy()
    del defect[0]
    return float(_energy(ev.relax(defect, "vacancy/relaxed")) - (len(perfect) - 1) / len(perfect) * e_perfect)


@takes_calculator
def surface_energies(
    element: str,
    lattice: str,
    a0_A: float,
    c_over_a: float,
    e_bulk_eV_atom: float,
    ev,
    layers: int = 8,
    vacuum_A: float = 15.0,
) -> dict:
    """Relaxed surface energy (J/m^2) of the low-index planes: (E_slab - N e_bulk) / 2A."""
    unit = miller_cell(element, lattice, a0_A, c_over_a)
    out = {}
    for miller in DEFAULT_MILLER[lattice]:
        plane = "".join(str(i) for i in miller)
        slab = surface(unit, miller, layers, vacuum=vacuum_A / 2, periodic=True)
        area = np.linalg.norm(np.cross(slab.cell[0], slab.cell[1]))
        energy = _energy(ev.relax(slab, f"surface/{plane}"))
        out[plane] = float((energy - len(slab) * e_bulk_eV_atom) / (2 * area) * EV_A2_TO_J_M2)
    return out


PLANAR_FAULTS = {
    "fcc": "intrinsic stacking fault energy",
    "hcp": "basal I2 stacking fault energy",
    "bcc": "unstable stacking fault energy (110)[111]",
}


def planar_fault_cells(
    element: str, lattice: str, a0_A: float, c_over_a: float, layers: int = 12
) -> tuple[Atoms, list[Atoms]]:
    """The perfect periodic stack and the faulted candidates: the cell tilted by the fault vector puts one fault
    at the boundary. fcc (111) and hcp (0001): the partial a_s/sqrt(3) in both signs (one gives the fault, the
    other a layer on top of its neighbour; the lower energy is the fault). bcc (110): half the Burgers vector
    a/2[111], the top of the generalized stacking-fault curve."""
    if lattice == "fcc":
        perfect = fcc111(element, size=(1, 2, layers), a=a0_A, orthogonal=True, periodic=True)
        shifts = [(0, sign * a0_A / np.sqrt(6), 0) for sign in (-1, 1)]
    elif lattice == "hcp":
        perfect = hcp0001(element, size=(1, 2, layers), a=a0_A, c=a0_A * c_over_a, orthogonal=True, periodic=True)
        shifts = [(0, sign * a0_A / np.sqrt(3), 0) for sign in (-1, 1)]
    else:
        perfect = bcc110(element, size=(1, 2, layers), a=a0_A, orthogonal=True, periodic=True)
        shifts = [(a0_A / 4, a0_A / (2 * np.sqrt(2)), 0)]  # b/2, b = (a/2, a/sqrt(2), 0) in this cell
    faulted = []
    for shift in shifts:
        cell = perfect.cell.array.copy()
        cell[2] += shift
        tilted = perfect.copy()
        tilted.set_cell(cell, scale_atoms=False)
        # relaxed along the cell's third vector only (nearly normal to the plane: the tilt is a few degrees), in
        # fractional coordinates as VASP's selective dynamics does it, so that every code relaxes alike
        tilted.set_constraint(FixScaled(range(len(tilted)), mask=(True, True, False)))
        faulted.append(tilted)
    return perfect, faulted


@takes_calculator
def planar_fault_energy(element: str, lattice: str, a0_A: float, c_over_a: float, ev) -> float:
    """mJ/m^2, positions relaxed (nearly) normal to the fault plane only."""
    perfect, faulted = planar_fault_cells(element, lattice, a0_A, c_over_a)
    area = np.linalg.norm(np.cross(perfect.cell[0], perfect.cell[1]))
    e_perfect = _energy(ev.single_point(perfect, "fault/perfect"))
    energies = [_energy(ev.relax(cell, f"fault/shift-{i}")) for i, cell in enumerate(faulted)]
    return float((min(energies) - e_perfect) / area * EV_A2_TO_J_M2 * 1000)


@takes_calculator
def phonons(
    element: str, lattice: str, a0_A: float, c_over_a: float, ev, supercell: int = 4, points_per_segment: int = 30
) -> dict:
    """Phonon dispersion along the standard path and the DOS (phonopy, finite displacements of 0.01 Å)."""
    phonon = phonopy_of(primitive_cell(element, lattice, a0_A, c_over_a), supercell if lattice != "hcp" else 3)
    phonon.generate_displacements(distance=0.01)
    forces = [
        ev.single_point(atoms, f"phonons/displacement-{i:03d}").get_forces()
        for i, atoms in enumerate(displaced_supercells(phonon))
    ]
    phonon.forces = forces
    phonon.produce_force_constants()
    path = PHONON_PATHS[lattice]
    segments = [
        [np.array(q0) + (np.array(q1) - np.array(q0)) * t for t in np.linspace(0, 1, points_per_segment)]
        for (_, q0), (_, q1) in zip(path, path[1:])
    ]
    phonon.run_band_structure(segments, labels=[name for name, _ in path])
    band_structure = phonon.band_structure
    phonon.run_mesh([16, 16, 16] if lattice != "hcp" else [12, 12, 8], is_gamma_center=True)
    phonon.run_total_dos()
    return {
        "labels": [name for name, _ in path],
        "distances": [d.tolist() for d in band_structure.distances],
        "frequencies_THz": [f.tolist() for f in band_structure.frequencies],
        "dos_frequency_THz": phonon.total_dos.frequency_points.tolist(),
        "dos": phonon.total_dos.dos.tolist(),
    }


def _reason(exc: Exception) -> str:
    return one_line(exc).removeprefix("UserError: ")  # a user error's message already says what to do


def properties(element: str, lattice: str, a_guess_A: float, c_over_a: float, calc) -> dict:
    """Every property of the validation table, each at the calculator's own equilibrium lattice constant.
    calc: an ASE calculator, or an evaluator (single_point, relax, isolated_atom) such as label tasks.

    A property that cannot be computed (a fit that does not converge on a poor model, a failed reference task) is
    None, its reason under "errors": it becomes a failed row, and never blocks the others or an export. Without an
    equation of state the rest is computed at a_guess_A, which "at_lattice_constant_A" records."""
    ev = as_evaluator(calc)
    errors: dict[str, str] = {}

    def attempt(key: str, compute):
        try:
            return compute()
        except Exception as exc:  # noqa: BLE001 - any failure of one property is that property's FAIL row
            errors[key] = _reason(exc)
            return None

    eos = attempt("eos", lambda: equation_of_state(element, lattice, a_guess_A, c_over_a, ev))
    a0 = eos["lattice_constant_A"] if eos else a_guess_A
    if eos:
        e0 = eos["energy_eV_atom"]
    else:
        unit = primitive_cell(element, lattice, a0, c_over_a)
        e0 = attempt("bulk_energy", lambda: _energy(ev.single_point(unit, "eos/at-guess")) / len(unit))
    free_atom = attempt("isolated_atom", lambda: isolated_atom_energy(element, ev))
    cohesive = free_atom - e0 if eos and free_atom is not None else None
    if cohesive is None:
        errors["cohesive_energy_eV_atom"] = (
            errors.get("isolated_atom") or f"needs the equation of state ({errors['eos']})"
        )
    elastic = attempt("elastic_constants_GPa", lambda: elastic_constants(element, lattice, a0, c_over_a, ev))
    surfaces = None
    if e0 is None:
        errors["surface_energy_J_m2"] = f"needs the bulk energy ({errors['bulk_energy']})"
    else:
        surfaces = attempt("surface_energy_J_m2", lambda: surface_energies(element, lattice, a0, c_over_a, e0, ev))
    return {
        "lattice_constant_A": a0 if eos else None,
        "at_lattice_constant_A": a0,
        "cohesive_energy_eV_atom": cohesive,
        "bulk_modulus_GPa": eos["bulk_modulus_GPa"] if eos else None,
        "elastic_constants_GPa": {k.removesuffix("_GPa"): v for k, v in elastic.items()} if elastic else None,
        "vacancy_formation_eV": attempt(
            "vacancy_formation_eV", lambda: vacancy_formation_energy(element, lattice, a0, c_over_a, ev)
        ),
        "surface_energy_J_m2": surfaces,
        "planar_fault": PLANAR_FAULTS[lattice],
        "stacking_fault_mJ_m2": attempt(
            "stacking_fault_mJ_m2", lambda: planar_fault_energy(element, lattice, a0, c_over_a, ev)
        ),
        "eos": eos["curve"] if eos else None,
        "phonons": attempt("phonons", lambda: phonons(element, lattice, a0, c_over_a, ev)),
        "errors": errors,
    }
