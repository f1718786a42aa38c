"""Selection stage: classify explored frames by model deviation and pick the ones worth labeling."""

from __future__ import annotations

import json
from pathlib import Path

import ase.io
import numpy as np
from ase import Atoms

from .explore import MDTask, TASK_FILE, read_model_devi, read_trajectory

ACCURATE, CANDIDATE, FAILED = "accurate", "candidate", "failed"


def classify(max_devi_f_eV_A: np.ndarray, force_trust_lo_eV_A: float, force_trust_hi_eV_A: float) -> np.ndarray:
    """accurate below lo, candidate in [lo, hi), failed at or above hi and for NaN/inf deviations."""
    devi = np.asarray(max_devi_f_eV_A, dtype=float)
    labels = np.full(devi.shape, FAILED, dtype=object)
    finite = np.isfinite(devi)
    labels[finite & (devi < force_trust_lo_eV_A)] = ACCURATE
    labels[finite & (devi >= force_trust_lo_eV_A) & (devi < force_trust_hi_eV_A)] = CANDIDATE
    return labels


def task_frames(task_dir: Path, element: str) -> tuple[MDTask, list[Atoms], np.ndarray]:
    """Frames of one MD task with their class; frames a crashed run never wrote count as failed."""
    task_dir = Path(task_dir)
    task = MDTask(**json.loads((task_dir / TASK_FILE).read_text()))
    devi = read_model_devi(task_dir / "model_devi.out")
    frames = read_trajectory(task_dir / "traj.dump", element)
    kept = min(len(devi), len(frames))
    expected = task.md_steps // task.deviation_every_steps + 1
    max_devi = np.full(max(expected, kept), np.nan)
    max_devi[:kept] = devi[:kept, 1]
    return task, frames[:kept], max_devi


def select_candidates(task_dirs: list[Path], element: str, selection, seed: int) -> tuple[dict, list[Atoms]]:
    """Counts per task and overall, and at most max_labels_per_round candidates chosen at random (seeded)."""
    per_task, pool = [], []
    for task_dir in task_dirs:
        task, frames, max_devi = task_frames(task_dir, element)
        labels = classify(max_devi, selection.force_trust_lo_eV_A, selection.force_trust_hi_eV_A)
        counts = {kind: int(np.sum(labels == kind)) for kind in (ACCURATE, CANDIDATE, FAILED)}
        per_task.append({"task": task.name, "temperature_K": task.temperature_K, "ensemble": task.ensemble, **counts})
        pool.extend(frames[i] for i in np.flatnonzero(labels == CANDIDATE) if i < len(frames))
    rng = np.random.default_rng(seed)
    n_pick = min(selection.max_labels_per_round, len(pool))
    picked = sorted(rng.choice(len(pool), size=n_pick, replace=False).tolist()) if n_pick else []
    totals = {kind: sum(t[kind] for t in per_task) for kind in (ACCURATE, CANDIDATE, FAILED)}
    frames_total = sum(totals.values())
    summary = {
        **totals,
        "frames": frames_total,
        "selected": n_pick,
        "accurate_ratio": totals[ACCURATE] / frames_total if frames_total else 0.0,
        "force_trust_lo_eV_A": selection.force_trust_lo_eV_A,
        "force_trust_hi_eV_A": selection.force_trust_hi_eV_A,
        "tasks": per_task,
    }
    return summary, [pool[i] for i in picked]


def write_candidates(candidates: list[Atoms], path: Path) -> Path:
    """Candidates as extxyz; an empty file when there are none (extxyz cannot hold zero frames)."""
    path = Path(path)
    if candidates:
        ase.io.write(path, candidates, format="extxyz")
    else:
        path.write_text("")
    return path


def read_candidates(path: Path) -> list[Atoms]:
    path = Path(path)
    return ase.io.read(path, index=":", format="extxyz") if path.stat().st_size else []
