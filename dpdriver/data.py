"""DeePMD training data on disk: one deepmd/npy folder per labeled batch, counted and listed."""

from __future__ import annotations

import os
from fnmatch import fnmatch
from pathlib import Path

import dpdata
import numpy as np

from .errors import UserError

LABELED_ARRAYS = ("energies", "forces", "virials", "coords", "cells")  # dpdata's keys of one labeled frame


def non_finite_labels(system: dpdata.LabeledSystem) -> list[str]:
    """The labeled arrays of a system holding NaN or infinity: such a frame stops DeePMD-kit's training."""
    return [key for key in LABELED_ARRAYS if key in system.data and not np.all(np.isfinite(system.data[key]))]


def write_systems(systems: list[dpdata.LabeledSystem], out_dir: Path, type_map: list[str]) -> int:
    """Write labeled frames as deepmd/npy under out_dir (one subfolder per formula); return frames written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if not systems:
        return 0
    multi = dpdata.MultiSystems(*systems, type_map=type_map)
    multi.to("deepmd/npy", str(out_dir))
    return multi.get_nframes()


def files_below(root: Path, name_pattern: str) -> list[Path]:
    """Files named like name_pattern below root, through symbolic links too (dflow hands steps their artifacts
    as links, which Path.rglob does not follow), each real folder once."""
    found, seen = [], set()
    for folder, subfolders, files in os.walk(root, followlinks=True):
        real = os.path.realpath(folder)
        if real in seen:
            subfolders.clear()
            continue
        seen.add(real)
        found.extend(Path(folder) / f for f in files if fnmatch(f, name_pattern))
    return sorted(found)


def system_dirs(root: Path) -> list[Path]:
    """Every deepmd/npy system folder below root, in a stable order."""
    return [p.parent for p in files_below(root, "type.raw")]


def count_frames(root: Path) -> int:
    return sum(
        len(np.load(energy)) for energy in files_below(root, "energy.npy") if energy.parent.name.startswith("set.")
    )


def check_data_dir(path: Path, type_map: list[str]) -> int:
    """Frames in a given DeePMD data folder, after checking that it exists and holds only the run's elements."""

    path = Path(path)
    systems = system_dirs(path) if path.is_dir() else []
    if not systems:
        raise UserError(
            f"initial_data.data_dirs: '{path}' holds no DeePMD data (no type.raw below it); "
            "give the output folder of `dpdriver convert` or `dpdriver init`"
        )
    for system in systems:
        bad = non_finite_labels(dpdata.LabeledSystem(str(system), fmt="deepmd/npy"))
        if bad:
            raise UserError(
                f"initial_data.data_dirs: {system} holds NaN or infinity in {', '.join(bad)}; DeePMD-kit "
                "cannot train on it: remove those frames or convert the source again with `dpdriver convert`"
            )
        names_file = system / "type_map.raw"
        names = names_file.read_text().split() if names_file.exists() else type_map
        types = {int(t) for t in (system / "type.raw").read_text().split()}
        used = {names[t] for t in types if t < len(names)}
        if not used <= set(type_map):
            raise UserError(
                f"initial_data.data_dirs: {system} holds {', '.join(sorted(used - set(type_map)))}, "
                f"not only {', '.join(type_map)}; give data of the run's element"
            )
    return count_frames(path)


def read_frames(root: Path) -> list:
    """Every labeled frame below root as ASE Atoms (for fingerprints of what is already labeled)."""
    frames = []
    for system_dir in system_dirs(root):
        frames.extend(dpdata.System(str(system_dir), fmt="deepmd/npy").to("ase/structure"))
    return frames
