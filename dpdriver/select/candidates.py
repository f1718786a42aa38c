"""Selection stage: classify explored frames by model deviation and pick the ones worth labeling."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from ase import Atoms

from ..explore import START_FILE, TASK_FILE, MDTask, read_model_devi, read_trajectory
from ..generate.lattice import nearest_neighbour_distance_A
from .fingerprint import farthest_point_sample, fingerprints

ACCURATE, CANDIDATE, FAILED = "accurate", "candidate", "failed"


def _ranks(devi: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """0 accurate below lo, 1 candidate in [lo, hi), 2 failed at or above hi and for NaN/inf."""
    devi = np.asarray(devi, dtype=float)
    ranks = np.full(devi.shape, 2)
    finite = np.isfinite(devi)
    ranks[finite & (devi < lo)] = 0
    ranks[finite & (devi >= lo) & (devi < hi)] = 1
    return ranks


def classify(
    max_devi_f_eV_A: np.ndarray,
    force_trust_lo_eV_A: float,
    force_trust_hi_eV_A: float,
    max_devi_v_eV: np.ndarray | None = None,
    virial_trust: tuple[float, float] | None = None,
) -> np.ndarray:
    """Each frame's class by its force deviation and, with virial trust levels, the worse of force and virial."""
    ranks = _ranks(max_devi_f_eV_A, force_trust_lo_eV_A, force_trust_hi_eV_A)
    if virial_trust is not None:
        ranks = np.maximum(ranks, _ranks(max_devi_v_eV, *virial_trust))
    return np.array([ACCURATE, CANDIDATE, FAILED], dtype=object)[ranks]


def task_frames(task_dir: Path, element: str) -> tuple[MDTask, list[Atoms], np.ndarray]:
    """Frames of one MD task with their (max force, max virial) deviations; frames a crashed run never wrote
    have NaN deviations (failed)."""
    task_dir = Path(task_dir)
    task = MDTask(**json.loads((task_dir / TASK_FILE).read_text()))
    devi = read_model_devi(task_dir / "model_devi.out")
    frames = read_trajectory(task_dir / "traj.dump", element)
    kept = min(len(devi), len(frames))
    expected = task.md_steps // task.deviation_every_steps + 1
    deviations = np.full((max(expected, kept), 2), np.nan)
    deviations[:kept] = devi[:kept, 1:]
    return task, frames[:kept], deviations


def trust_levels(max_devi: np.ndarray, selection) -> tuple[float, float]:
    """(lo, hi) of the force deviation: fixed, or lo adapted so that the configured share of finite frames lies at
    or above it."""
    lo, hi = selection.force_trust_lo_eV_A, selection.force_trust_hi_eV_A
    finite = max_devi[np.isfinite(max_devi)]
    if selection.adaptive_candidate_fraction is not None and finite.size:
        lo = float(min(np.quantile(finite, 1 - selection.adaptive_candidate_fraction), np.nextafter(hi, 0)))
    return lo, hi


def filter_reason(atoms: Atoms, first: Atoms, selection) -> str | None:
    """Why a candidate frame is not worth a label (unphysical geometry), or None."""
    if not np.all(np.isfinite(atoms.positions)):
        return "non_finite_positions"
    if nearest_neighbour_distance_A(atoms) < selection.min_distance_A:
        return "atoms_too_close"
    cell = atoms.cell.array
    off_diagonal = np.abs(cell[np.tril_indices(3, -1)]).max()
    if off_diagonal > selection.max_cell_skew * np.abs(np.diag(cell)).min():
        return "cell_too_skewed"
    if abs(atoms.get_volume() / first.get_volume() - 1) > selection.max_volume_change:
        return "volume_change_too_large"
    return None


HISTOGRAM_EDGES_eV_A = np.logspace(-3, 1, 41)


def deviation_histogram(max_devi_f: np.ndarray) -> dict:
    """Counts of finite max force deviations on fixed log bins (1 meV/Å ... 10 eV/Å): small enough for every
    round's record, the same bins in every round."""
    finite = np.clip(max_devi_f[np.isfinite(max_devi_f)], HISTOGRAM_EDGES_eV_A[0], HISTOGRAM_EDGES_eV_A[-1])
    counts, _ = np.histogram(finite, bins=HISTOGRAM_EDGES_eV_A)
    return {
        "edges_eV_A": [float(e) for e in HISTOGRAM_EDGES_eV_A],
        "counts": counts.tolist(),
        "non_finite": int(np.sum(~np.isfinite(max_devi_f))),
    }


def select_candidates(
    task_dirs: list[Path], element: str, selection, seed: int, labeled: list[Atoms] | None = None
) -> tuple[dict, list[Atoms]]:
    """Counts per task and overall, and at most max_labels_per_round candidates: filtered for unphysical
    geometry, then chosen for diversity (FPS) away from what is already labeled, or at random (seeded)."""
    tasks = [task_frames(task_dir, element) for task_dir in task_dirs]
    all_devi = np.concatenate([devi[:, 0] for _, _, devi in tasks]) if tasks else np.zeros(0)
    lo, hi = trust_levels(all_devi, selection)
    virial_trust = (
        None if selection.virial_trust_lo_eV is None else (selection.virial_trust_lo_eV, selection.virial_trust_hi_eV)
    )
    per_task, pool, filtered = [], [], {}
    for task_dir, (task, frames, devi) in zip(task_dirs, tasks):
        labels = classify(devi[:, 0], lo, hi, devi[:, 1], virial_trust)
        start_file = Path(task_dir) / START_FILE
        start = json.loads(start_file.read_text()) if start_file.exists() else None
        counts = {kind: int(np.sum(labels == kind)) for kind in (ACCURATE, CANDIDATE, FAILED)}
        per_task.append(
            {
                "task": task.name,
                "stage": task.stage,
                "temperature_K": task.temperature_K,
                "ensemble": task.ensemble,
                "pressure_bar": task.pressure_bar,
                **counts,
            }
        )
        for i in np.flatnonzero(labels == CANDIDATE):
            if i >= len(frames):
                continue
            reason = filter_reason(frames[i], frames[0], selection)
            if reason:
                filtered[reason] = filtered.get(reason, 0) + 1
            else:
                frames[i].info["provenance"] = {
                    "generator": "exploration",
                    "stage": task.stage,
                    "task": task.name,
                    "frame": int(i),
                    "temperature_K": task.temperature_K,
                    "ensemble": task.ensemble,
                    "pressure_bar": task.pressure_bar,
                    "start": start,
                }
                pool.append(frames[i])
    n_pick = min(selection.max_labels_per_round, len(pool))
    if selection.method == "fps":
        existing = fingerprints(labeled) if labeled else None
        picked = (
            sorted(
                farthest_point_sample(fingerprints(pool), n_pick, existing, selection.duplicate_fingerprint_distance)
            )
            if pool
            else []
        )
    else:
        rng = np.random.default_rng(seed)
        picked = sorted(rng.choice(len(pool), size=n_pick, replace=False).tolist()) if n_pick else []
    totals = {kind: sum(t[kind] for t in per_task) for kind in (ACCURATE, CANDIDATE, FAILED)}
    frames_total = sum(totals.values())
    summary = {
        **totals,
        "frames": frames_total,
        "filtered": filtered,
        "selected": len(picked),
        "skipped_as_duplicates": n_pick - len(picked) if selection.method == "fps" else 0,
        "accurate_ratio": totals[ACCURATE] / frames_total if frames_total else 0.0,
        "force_trust_lo_eV_A": lo,
        "force_trust_hi_eV_A": hi,
        "virial_trust_lo_eV": None if virial_trust is None else virial_trust[0],
        "virial_trust_hi_eV": None if virial_trust is None else virial_trust[1],
        "tasks": per_task,
        "deviation_histogram": deviation_histogram(all_devi),
    }
    return summary, [pool[i] for i in picked]
