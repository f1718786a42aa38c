"""A structural fingerprint for diversity and duplicate checks: the Gaussian-smeared pair-distance
distribution per atom. It is cheap, size-independent and invariant to rotation and atom order."""

from __future__ import annotations

import numpy as np
from ase import Atoms
from ase.neighborlist import neighbor_list

CUTOFF_A, BINS, SMEARING_A = 5.0, 50, 0.1
GRID_A = np.linspace(0.0, CUTOFF_A, BINS)


def fingerprint(atoms: Atoms) -> np.ndarray:
    distances = neighbor_list("d", atoms, CUTOFF_A)
    smeared = np.exp(-((GRID_A[None, :] - distances[:, None]) ** 2) / (2 * SMEARING_A**2))
    return smeared.sum(axis=0) / max(len(atoms), 1)


def fingerprints(frames: list[Atoms]) -> np.ndarray:
    return np.array([fingerprint(f) for f in frames]).reshape(len(frames), BINS)


def farthest_point_sample(candidates: np.ndarray, count: int, existing: np.ndarray | None = None,
                          min_separation: float = 0.0) -> list[int]:
    """Greedy farthest-point picks: each next pick is the candidate farthest from everything picked or already
    labeled; candidates within min_separation of those are never picked (duplicates)."""
    nearest = np.full(len(candidates), np.inf)
    if existing is not None and len(existing):
        for start in range(0, len(existing), 512):
            block = existing[start:start + 512]
            nearest = np.minimum(nearest, np.linalg.norm(candidates[:, None, :] - block[None, :, :], axis=-1).min(axis=1))
    picks: list[int] = []
    while len(picks) < count and len(candidates):
        best = int(np.argmax(nearest))
        if not nearest[best] > min_separation:
            break
        picks.append(best)
        nearest = np.minimum(nearest, np.linalg.norm(candidates - candidates[best], axis=1))
        nearest[best] = -np.inf
    return picks
