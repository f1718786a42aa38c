"""Strategies that pick from the labeled MD pool ("of 10,000 AIMD frames, which are worth training on?"): each a
function of the pool, a budget and a seed that returns the picked frames' indices in pool order."""

from __future__ import annotations

import numpy as np

from dpdriver.select.fingerprint import farthest_point_sample, fingerprints
from dpdriver.validate.rmse import frame_differences


def consecutive(part_sizes: list[int], part: int, n: int, seed: int) -> np.ndarray:
    """(5): n consecutive frames of one trajectory (pool part `part`), from a seeded start."""
    start = sum(part_sizes[:part])
    offset = np.random.default_rng(seed).integers(0, part_sizes[part] - min(n, part_sizes[part]) + 1)
    return start + offset + np.arange(min(n, part_sizes[part]))


def uniform(total: int, n: int, seed: int) -> np.ndarray:
    """(6), and 7c's seed set: n frames drawn uniformly without replacement."""
    return np.sort(np.random.default_rng(seed).choice(total, size=min(n, total), replace=False))


def farthest_points(features: np.ndarray, n: int, seed: int) -> np.ndarray:
    """(7f): farthest-point sampling in dpdriver's structure fingerprint (its selection's), from a seeded frame."""
    first = int(np.random.default_rng(seed).integers(len(features)))
    rest = farthest_point_sample(features, n - 1, existing=features[[first]])
    return np.sort(np.array([first, *[i for i in rest if i != first]][:n]))


def pool_fingerprints(pool: list) -> np.ndarray:
    """The fingerprint of every pool frame (the pool's labeled systems), in pool order."""
    frames = [atoms for system in pool for atoms in system.to_ase_structure()]
    return fingerprints(frames)


def max_force_deviation(models: list, systems, element: str) -> np.ndarray:
    """Per frame: the largest over atoms of the committee's force standard deviation (DeePMD-kit's max_devi_f)."""
    forces = np.array([[f["force_model"] for f in frame_differences(m, systems, [element])] for m in models])
    forces = forces.reshape(len(models), forces.shape[1], -1, 3)  # model, frame, atom, xyz
    spread = np.sqrt(((forces - forces.mean(axis=0)) ** 2).sum(axis=-1).mean(axis=0))  # frame, atom
    return spread.max(axis=1)


def committee(deviation: np.ndarray, seed_set: np.ndarray, n: int) -> np.ndarray:
    """(7c): the seed set, then the frames the committee disagrees on most, up to n in all."""
    seeded = set(seed_set.tolist())
    ranked = [i for i in np.argsort(-deviation, kind="stable") if i not in seeded]
    return np.sort(np.concatenate([seed_set, np.array(ranked[: max(0, n - len(seed_set))], dtype=int)]))
