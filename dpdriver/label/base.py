"""The labeler contract: structures in, labeled DeePMD frames and per-structure failures out."""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from dataclasses import dataclass, field

import dpdata
import numpy as np
from ase import Atoms

from ..errors import UserError


@dataclass
class LabelResult:
    systems: list[dpdata.LabeledSystem] = field(default_factory=list)
    labeled_indices: list[int] = field(default_factory=list)
    failures: list[tuple[int, str]] = field(default_factory=list)  # (input index, reason)


class Labeler(ABC):
    """Like an ASE Calculator factory: one concept, many reference codes behind it."""

    name: str = "labeler"

    @abstractmethod
    def supported_elements(self) -> set[str] | None:
        """None means any element."""

    @abstractmethod
    def calculator(self):
        """A fresh ASE calculator."""

    def check_element(self, element: str) -> None:
        supported = self.supported_elements()
        if supported is not None and element not in supported:
            raise UserError(
                f"labeler '{self.name}' does not support {element} (it supports {', '.join(sorted(supported))}); "
                "choose one of those elements or another labeler"
            )

    def label(self, structures: list[Atoms]) -> LabelResult:
        """Label each structure; a failure is recorded with its reason and never stops the others."""
        result = LabelResult()
        for index, atoms in enumerate(structures):
            try:
                frame = atoms.copy()
                frame.calc = self.calculator()
                system = dpdata.LabeledSystem(frame, fmt="ase/structure")
                energy = float(system["energies"][0])
                if not (math.isfinite(energy) and np.all(np.isfinite(system["forces"]))):
                    raise ValueError(f"non-finite energy or forces (E={energy})")
            except Exception as exc:  # a reference code may fail in any way; record, go on
                result.failures.append((index, f"{type(exc).__name__}: {exc}"))
                continue
            result.systems.append(system)
            result.labeled_indices.append(index)
        return result


def make_labeler(labeler_config) -> Labeler:
    from .emt import EMTLabeler

    kinds = {"emt": EMTLabeler}
    return kinds[labeler_config.kind]()


def label_to_data(labeler: Labeler, structures: list[Atoms], out_dir, type_map: list[str]) -> dict:
    """Label structures into a deepmd/npy folder; the report lists every failure with its reason."""
    from ..data import write_systems

    result = labeler.label(structures)
    written = write_systems(result.systems, out_dir, type_map)
    return {
        "labeler": labeler.name,
        "requested": len(structures),
        "labeled": written,
        "failed": [{"index": i, "reason": reason} for i, reason in result.failures],
    }
