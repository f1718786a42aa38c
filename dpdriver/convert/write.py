"""Whole-dataset gates (outliers, duplicates), the train/validation split by run, output and index."""

from __future__ import annotations

import csv
import hashlib
from collections import defaultdict
from pathlib import Path

import numpy as np

from .read import Frame


def frame_key(frame: Frame) -> str:
    """Identical frames (same run read twice, a restart repeating a step) share this key."""
    s = frame.system
    parts = [
        np.round(s["cells"][0], 6),
        np.round(s["coords"][0], 6),
        np.round(s["energies"], 6),
        np.asarray(s["atom_types"]),
    ]
    return hashlib.sha1(b"".join(np.ascontiguousarray(p).tobytes() for p in parts)).hexdigest()


def system_name(frame: Frame) -> str:
    s = frame.system
    formula = "".join(f"{n}{c}" for n, c in zip(s["atom_names"], s["atom_numbs"]) if c)
    return formula if "virials" in s.data else f"{formula}-novirial"  # never learn a zero virial


def drop_duplicates(frames: list[Frame]) -> tuple[list[Frame], list[Frame]]:
    seen, kept, dropped = set(), [], []
    for frame in frames:
        key = frame_key(frame)
        (dropped if key in seen else kept).append(frame)
        seen.add(key)
    return kept, dropped


def drop_energy_outliers(
    frames: list[Frame], max_deviation_eV_atom: float
) -> tuple[list[Frame], list[tuple[Frame, float]]]:
    """Energies per atom far from the median of the same system (same formula) are rejected."""
    by_system = defaultdict(list)
    for frame in frames:
        by_system[system_name(frame).removesuffix("-novirial")].append(frame)
    kept, dropped = [], []
    for group in by_system.values():
        per_atom = np.array([f.system["energies"][0] / f.system.get_natoms() for f in group])
        median = np.median(per_atom)
        for frame, e in zip(group, per_atom):
            if abs(e - median) > max_deviation_eV_atom:
                dropped.append((frame, float(e - median)))
            else:
                kept.append(frame)
    return kept, dropped


def split_by_run(frames: list[Frame], valid_fraction: float, seed: int) -> dict[str, str]:
    """run_id -> 'train' or 'valid'; whole runs go to validation so correlated MD frames do not leak.

    Runs are taken in a seeded random order into validation until it holds valid_fraction of the
    frames; at least one run always stays in training.
    """
    runs = sorted({f.run_id for f in frames})
    assigned = {run: "train" for run in runs}
    if valid_fraction <= 0 or len(runs) < 2:
        return assigned
    sizes = defaultdict(int)
    for f in frames:
        sizes[f.run_id] += 1
    target, valid = valid_fraction * len(frames), 0
    for i in np.random.default_rng(seed).permutation(len(runs))[:-1]:  # the last run drawn stays in training
        if valid >= target:
            break
        assigned[runs[i]] = "valid"
        valid += sizes[runs[i]]
    return assigned


def write_output(
    frames: list[Frame], split: dict[str, str], out_dir: Path, fmt: str, type_map: list[str]
) -> list[dict]:
    """Write deepmd data per split and system; return the index rows (one per written frame)."""
    groups = defaultdict(list)
    for frame in frames:
        groups[(split[frame.run_id], system_name(frame))].append(frame)
    rows = []
    for (part, name), group in sorted(groups.items()):
        system = group[0].system.copy()
        for frame in group[1:]:
            system.append(frame.system)
        system.apply_type_map(type_map)
        if fmt == "deepmd/hdf5":
            import h5py  # only for the hdf5 output format

            target = f"{out_dir / part}.hdf5#/{name}"
            with h5py.File(out_dir / f"{part}.hdf5", "a") as h5:
                system.to("deepmd/hdf5", h5.create_group(name))
        else:
            target = str(out_dir / part / name)
            system.to("deepmd/npy", target)
        rows.extend(
            {
                "split": part,
                "system": target,
                "frame": i,
                "source_file": f.source,
                "ionic_step": f.ionic_step,
                "ml_predicted": f.ml_predicted,
                "energy_eV": float(f.system["energies"][0]),
            }
            for i, f in enumerate(group)
        )
    return rows


def write_index(rows: list[dict], path: Path) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(
            f, fieldnames=["split", "system", "frame", "source_file", "ionic_step", "ml_predicted", "energy_eV"]
        )
        writer.writeheader()
        writer.writerows(rows)
