"""Structures handed from one step to the next (candidates, generated sets): extxyz, provenance kept."""

from __future__ import annotations

import json
from math import ceil
from pathlib import Path

import ase.io
from ase import Atoms
from ase.data import atomic_masses, atomic_numbers

PROVENANCE_KEY = "provenance_json"  # extxyz info holds scalars only, so the provenance dict travels as JSON


def atomic_mass_amu(element: str) -> float:
    return float(atomic_masses[atomic_numbers[element]])


def write_structures(structures: list[Atoms], path: Path) -> Path:
    """An empty file when there are none (extxyz cannot hold zero frames)."""
    path = Path(path)
    plain = []
    for atoms in structures:
        copy = atoms.copy()
        copy.calc = None
        copy.info = {PROVENANCE_KEY: json.dumps(atoms.info.get("provenance", {}), sort_keys=True)}
        plain.append(copy)
    if plain:
        ase.io.write(path, plain, format="extxyz")
    else:
        path.write_text("")
    return path


def read_structures(path: Path) -> list[Atoms]:
    path = Path(path)
    structures = ase.io.read(path, index=":", format="extxyz") if path.stat().st_size else []
    for atoms in structures:
        atoms.info = {"provenance": json.loads(atoms.info.get(PROVENANCE_KEY, "{}"))}
    return structures


def label_batches(n_structures: int, structures_per_task: int) -> list[int]:
    """Indices of the labeling tasks; at least one, so that an empty round still has its (empty) dataset."""
    return list(range(max(1, ceil(n_structures / structures_per_task))))


def batch_slice(batch: int, structures_per_task: int) -> slice:
    return slice(batch * structures_per_task, (batch + 1) * structures_per_task)
