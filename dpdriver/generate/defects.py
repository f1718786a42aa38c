"""Point defects and surfaces: vacancy cells, an interstitial at the largest void, low-index slabs."""

from __future__ import annotations

import math

import numpy as np
from ase import Atoms
from ase.build import surface
from scipy.optimize import minimize

from ..errors import UserError
from .transforms import Generated

DEFAULT_MILLER = {
    "fcc": [(1, 1, 1), (1, 0, 0), (1, 1, 0)],
    "bcc": [(1, 1, 0), (1, 0, 0), (1, 1, 1)],
    "hcp": [(0, 0, 1), (1, 0, 0)],
}


def vacancies(base: Atoms, per_structure: int, count: int, rng: np.random.Generator) -> Generated:
    out = []
    for _ in range(count):
        removed = sorted(int(i) for i in rng.choice(len(base), size=per_structure, replace=False))
        frame = base.copy()
        del frame[removed]
        out.append((frame, {"removed_atoms": removed}))
    return out


IMAGE_SHIFTS = np.array([[i, j, k] for i in (-1, 0, 1) for j in (-1, 0, 1) for k in (-1, 0, 1)], dtype=float)


def _distance_to_nearest_atom(atoms: Atoms, fractional: np.ndarray, chunk: int = 1024) -> np.ndarray:
    """Distance from each fractional point to its nearest atom over all neighbouring images (exact for
    skewed cells too, where rounding fractional differences is not the minimum image)."""
    atom_frac = atoms.get_scaled_positions(wrap=True)
    nearest = np.full(len(fractional), np.inf)
    for start in range(0, len(fractional), chunk):
        delta = fractional[start : start + chunk, None, :] - atom_frac[None, :, :]
        delta -= np.round(delta)
        images = delta[:, :, None, :] + IMAGE_SHIFTS[None, None, :, :]
        nearest[start : start + chunk] = np.linalg.norm(images @ atoms.cell.array, axis=-1).min(axis=(1, 2))
    return nearest


def largest_void(atoms: Atoms, grid_spacing_A: float = 0.25) -> tuple[np.ndarray, float]:
    """The point farthest from every atom (grid search, then polished): fractional position and distance."""
    counts = [max(4, math.ceil(length / grid_spacing_A)) for length in atoms.cell.lengths()]
    axes = [np.arange(n) / n for n in counts]
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    distances = _distance_to_nearest_atom(atoms, grid)
    start = grid[int(np.argmax(distances))]
    best = minimize(
        lambda x: -_distance_to_nearest_atom(atoms, x[None, :])[0],
        start,
        method="Nelder-Mead",
        options={"xatol": 1e-5, "fatol": 1e-6},
    )
    point = best.x if -best.fun > distances.max() else start
    return np.mod(point, 1.0), float(max(-best.fun, distances.max()))


def interstitial(base: Atoms) -> Generated:
    site, clearance = largest_void(base)
    frame = base.copy()
    frame.append(base[0].symbol)
    frame.positions[-1] = site @ base.cell.array
    return [(frame, {"site_fractional": [round(float(x), 5) for x in site], "clearance_A": round(clearance, 4)})]


def slabs(unit: Atoms, miller_indices, layers: int, vacuum_A: float, min_in_plane_A: float) -> Generated:
    out = []
    for miller in miller_indices:
        slab = surface(unit, tuple(miller), layers, vacuum=vacuum_A / 2, periodic=True)
        repeats = [max(1, math.ceil(min_in_plane_A / length)) for length in slab.cell.lengths()[:2]]
        out.append((slab.repeat((*repeats, 1)), {"miller": list(miller), "layers": layers, "vacuum_A": vacuum_A}))
    return out


def _first_free_point(frame: Atoms, min_distance: float, attempts: int, rng: np.random.Generator):
    """The first of up to `attempts` uniform fractional points at least min_distance from every atom, or None.
    Candidates are tested in growing batches (a nearly full cell needs hundreds); the generator then advances
    by exactly the draws a point-by-point search would have used, so the structures do not depend on this."""
    if len(frame) == 0:
        return rng.random(3)
    state = rng.bit_generator.state
    tried, batch = 0, 4
    while tried < attempts:
        trials = rng.random((min(batch, attempts - tried), 3))
        free = np.flatnonzero(_distance_to_nearest_atom(frame, trials) >= min_distance)
        if free.size:
            rng.bit_generator.state = state
            rng.random((tried + free[0] + 1, 3))
            return trials[free[0]]
        tried, batch = tried + len(trials), batch * 4
    return None


def random_structures(
    symbol: str,
    count: int,
    n_atoms: int,
    volume_per_atom_range_A3,
    min_distance: float,
    max_skew: float,
    rng: np.random.Generator,
    attempts_per_atom: int = 500,
    restarts: int = 20,
) -> Generated:
    """Random cell (skewed up to max_skew, at a drawn density) filled by random sequential insertion."""

    out = []
    for _ in range(count):
        for _restart in range(restarts):
            volume_per_atom = rng.uniform(*volume_per_atom_range_A3)
            shape = np.eye(3) + np.tril(rng.uniform(-max_skew, max_skew, (3, 3)), -1)
            shape *= (volume_per_atom * n_atoms / abs(np.linalg.det(shape))) ** (1 / 3)
            frame = Atoms(cell=shape, pbc=True)
            for _atom in range(n_atoms):
                trial = _first_free_point(frame, min_distance, attempts_per_atom, rng)
                if trial is None:
                    break
                frame.append(symbol)
                frame.positions[-1] = trial @ shape
            if len(frame) == n_atoms:
                out.append((frame, {"volume_per_atom_A3": round(float(volume_per_atom), 4)}))
                break
        else:
            raise UserError(
                f"could not place {n_atoms} atoms {min_distance:.2f} A apart in {restarts} random cells; "
                "lower min_distance_A or raise volume_per_atom_range"
            )
    return out
