"""DeePMD-kit's lcurve.out: columns by header name, rows by step (a resumed training appends)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

# The yardsticks a validation error is measured in when choosing a checkpoint: an energy error of 1 meV/atom
# weighs as much as a force error of 0.02 eV/A (the accuracy benchmark's targets are 1.5 meV/atom, 0.02 eV/A).
ENERGY_SCALE_EV_ATOM = 1e-3
FORCE_SCALE_EV_A = 0.02


def read_lcurve(path: Path) -> dict[str, np.ndarray]:
    """Each column of lcurve.out by its header name; for a step written twice (a resumed training) the last row."""
    names, rows = None, {}
    for line in Path(path).read_text().splitlines():
        if line.startswith("#"):
            words = line.lstrip("#").split()
            names = words if words[:1] == ["step"] else names  # other comment lines are notes
        elif line.strip() and names:
            values = [float(v) for v in line.split()]
            rows[int(values[0])] = values
    if names is None or not rows:
        return {}
    table = np.array([rows[s] for s in sorted(rows)])
    return {name: table[:, i] for i, name in enumerate(names)}


def validation_score(columns: dict[str, np.ndarray]) -> np.ndarray:
    """Energy and force validation errors, each in units of its yardstick, summed."""
    return columns["rmse_e_val"] / ENERGY_SCALE_EV_ATOM + columns["rmse_f_val"] / FORCE_SCALE_EV_A


def best_step(path: Path, saved_every: int, last: int) -> int:
    """The saved step (a multiple of saved_every, or the last) of lowest validation score, among those of the
    second half of the schedule: early on the learning rate is high and one lucky validation is noise."""
    columns = read_lcurve(path)
    steps = columns["step"].astype(int)
    saved = (steps % saved_every == 0) | (steps == last)
    saved &= steps >= last // 2
    if not saved.any():
        return last
    score = validation_score(columns)
    candidates = np.flatnonzero(saved)
    return int(steps[candidates[np.argmin(score[candidates])]])
