"""DeePMD training data on disk: one deepmd/npy folder per labeled batch, counted and listed."""

from __future__ import annotations

from pathlib import Path

import dpdata
import numpy as np


def write_systems(systems: list[dpdata.LabeledSystem], out_dir: Path, type_map: list[str]) -> int:
    """Write labeled frames as deepmd/npy under out_dir (one subfolder per formula); return frames written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if not systems:
        return 0
    multi = dpdata.MultiSystems(*systems, type_map=type_map)
    multi.to("deepmd/npy", str(out_dir))
    return multi.get_nframes()


def system_dirs(root: Path) -> list[Path]:
    """Every deepmd/npy system folder below root, in a stable order."""
    return sorted(p.parent for p in Path(root).rglob("type.raw"))


def count_frames(root: Path) -> int:
    return sum(len(np.load(energy)) for energy in Path(root).rglob("set.*/energy.npy"))

