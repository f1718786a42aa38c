"""Cell and position transformations of one structure: volume, strain, tetragonal and c/a paths, rattle.

Each returns a list of (structure, parameters) so that provenance says exactly what was done.
"""

from __future__ import annotations

import numpy as np
from ase import Atoms

from ..errors import UserError
from .lattice import choose_repeats, nearest_neighbour_distance_A, volume_per_atom_A3

Generated = list[tuple[Atoms, dict]]


def deformed(atoms: Atoms, deformation: np.ndarray) -> Atoms:
    """The structure under the homogeneous deformation gradient F (row vectors: cell' = cell @ F.T)."""
    out = atoms.copy()
    out.set_cell(atoms.cell.array @ np.asarray(deformation).T, scale_atoms=True)
    return out


def amplitudes(low: float, high: float, count: int, drop_zero: bool = False) -> list[float]:
    values = [float(v) for v in np.linspace(low, high, count)]
    return [v for v in values if not (drop_zero and abs(v) < 1e-12)]


def volume_scan(base: Atoms, volume_change_range, count: int) -> Generated:
    out = []
    for change in amplitudes(*volume_change_range, count):
        scale = (1 + change) ** (1 / 3)
        out.append((deformed(base, scale * np.eye(3)), {"volume_change": change}))
    return out


def strain_tensor(mode: str, amplitude: float) -> np.ndarray:
    eps = np.zeros((3, 3))
    if mode == "uniaxial":
        eps[0, 0] = amplitude
    elif mode == "biaxial":
        eps[0, 0] = eps[1, 1] = amplitude
    elif mode == "shear":  # pure (symmetric) shear in the xy plane, tensor component eps_xy
        eps[0, 1] = eps[1, 0] = amplitude
    else:
        raise ValueError(f"unknown strain mode {mode}")
    return eps


def strains(base: Atoms, modes, strain_range, count_per_mode: int) -> Generated:
    return [
        (deformed(base, np.eye(3) + strain_tensor(mode, e)), {"mode": mode, "strain": e})
        for mode in modes
        for e in amplitudes(*strain_range, count_per_mode, drop_zero=True)
    ]


def bain_path(reference: Atoms, c_over_a_range, count: int) -> Generated:
    """Body-centred tetragonal cells at the reference volume per atom, sized like the reference supercell."""
    volume = volume_per_atom_A3(reference)
    out = []
    for ratio in amplitudes(*c_over_a_range, count):
        a = (2 * volume / ratio) ** (1 / 3)
        cell = Atoms(
            [reference[0].symbol] * 2,
            cell=np.diag([a, a, ratio * a]),
            scaled_positions=[[0, 0, 0], [0.5, 0.5, 0.5]],
            pbc=True,
        )
        out.append((cell.repeat(choose_repeats(cell, len(reference))), {"c_over_a": ratio}))
    return out


def c_over_a_scan(base: Atoms, change_range, count: int) -> Generated:
    """hcp (c along z): c/a scaled by 1 + change at constant volume."""
    out = []
    for change in amplitudes(*change_range, count, drop_zero=True):
        s = 1 + change
        out.append((deformed(base, np.diag([s ** (-1 / 3), s ** (-1 / 3), s ** (2 / 3)])), {"c_over_a_change": change}))
    return out


def rattle(
    base: Atoms,
    stdev_A: list[float],
    per_stdev: int,
    rng: np.random.Generator,
    min_distance: float | None = None,
    attempts: int = 100,
) -> Generated:
    out = []
    for stdev in stdev_A:
        for _ in range(per_stdev):
            for _attempt in range(attempts):
                frame = base.copy()
                frame.positions += rng.normal(0.0, stdev, size=frame.positions.shape)
                if min_distance is None or nearest_neighbour_distance_A(frame) >= min_distance:
                    break
            else:
                raise UserError(
                    f"rattle with stdev {stdev} A keeps atoms closer than min_distance_A={min_distance} "
                    f"in {attempts} draws; lower the stdev or min_distance_A"
                )
            out.append((frame, {"stdev_A": stdev}))
    return out
