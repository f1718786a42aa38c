"""The labeler contract: structures in, labeled DeePMD frames and per-structure failures out."""

from __future__ import annotations

import json
import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path

import dpdata
import numpy as np
from ase import Atoms

from ..errors import UserError

PROVENANCE_FILE = "provenance.jsonl"


@dataclass
class LabelResult:
    systems: list[dpdata.LabeledSystem] = field(default_factory=list)
    labeled_indices: list[int] = field(default_factory=list)
    failures: list[tuple[int, str]] = field(default_factory=list)  # (input index, reason)


class Labeler(ABC):
    """Like ASE's Calculator: one interface, many reference codes behind it."""

    name: str = "labeler"
    in_process: bool = True  # False: runs an external program per task folder (no step-by-step use)

    def __init__(self, settings: dict | None = None):
        self.settings = settings or {"kind": self.name}

    @abstractmethod
    def supported_elements(self) -> set[str] | None:
        """None means any element."""

    @abstractmethod
    def label_one(self, atoms: Atoms, task_dir: Path) -> dpdata.LabeledSystem:
        """One labeled frame, or an exception whose message says why not."""

    def calculator(self):
        """A fresh ASE calculator, for generators that run the labeler step by step."""
        raise UserError(f"labeler '{self.name}' cannot be used as an in-process ASE calculator")

    def check(self, element: str) -> None:
        """Fail before any work on what would fail every label (element, missing program or files)."""
        supported = self.supported_elements()
        if supported is not None and element not in supported:
            raise UserError(
                f"labeler '{self.name}' does not support {element} (it supports {', '.join(sorted(supported))}); "
                "choose one of those elements or another labeler"
            )

    def label(self, structures: list[Atoms], work_dir: Path | None = None) -> LabelResult:
        """Label each structure; a failure is recorded with its reason and never stops the others."""
        work_dir = Path(work_dir or "label-tasks")
        result = LabelResult()
        for index, atoms in enumerate(structures):
            try:
                system = self.label_one(atoms, work_dir / f"task.{index:06d}")
                energy = float(system["energies"][0])
                if not (math.isfinite(energy) and np.all(np.isfinite(system["forces"]))):
                    raise ValueError(f"non-finite energy or forces (E={energy})")
            except UserError:
                raise
            except Exception as exc:  # a reference code may fail in any way; record, go on
                result.failures.append((index, f"{type(exc).__name__}: {exc}"))
                continue
            result.systems.append(system)
            result.labeled_indices.append(index)
        return result


def label_to_data(labeler: Labeler, structures: list[Atoms], out_dir, type_map: list[str],
                  work_dir: Path | None = None) -> dict:
    """Label structures into a deepmd/npy folder with one provenance line per frame; the report lists
    every failure with its reason and provenance."""
    from ..data import write_systems

    result = labeler.label(structures, work_dir)
    written = write_systems(result.systems, out_dir, type_map)
    frames_per_formula: dict[str, int] = {}
    lines = []
    for system, index in zip(result.systems, result.labeled_indices):
        formula = system.formula
        frame = frames_per_formula.get(formula, 0)
        frames_per_formula[formula] = frame + 1
        lines.append(json.dumps({"system": formula, "frame": frame, "labeler": labeler.settings,
                                 "structure": structures[index].info.get("provenance", {})}))
    if lines:
        (Path(out_dir) / PROVENANCE_FILE).write_text("\n".join(lines) + "\n")
    return {
        "labeler": labeler.name,
        "requested": len(structures),
        "labeled": written,
        "failed": [{"index": i, "reason": reason, "structure": structures[i].info.get("provenance", {})}
                   for i, reason in result.failures],
    }
