"""The labeler contract: structures in, labeled DeePMD frames and per-structure failures out."""

from __future__ import annotations

import json
import shutil
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path

import ase.io
import dpdata
from ase import Atoms

from ..data import non_finite_labels, write_systems
from ..errors import UserError
from ..files import partial_path
from ..tools import timed

PROVENANCE_FILE = "provenance.jsonl"
LABELED_DIR = "labeled"  # a finished task's frame, deepmd/npy
FAILED_FILE = "failed.json"  # a finished task's failure reason


class LabelFailed(RuntimeError):
    """A task that failed in an earlier attempt; its message is the reason recorded then, as it was."""


@dataclass(frozen=True)
class Calculation:
    """What a reference calculation does beyond a single point: relax the positions at a fixed cell first
    (constraints kept; the frame is the relaxed one), or compute a free atom in a box (spin-polarized, one
    k-point where the code needs to be told)."""

    relax_fmax_eV_A: float | None = None
    relax_steps: int = 300
    isolated_atom: bool = False


SINGLE_POINT = Calculation()


@dataclass
class LabelResult:
    systems: list[dpdata.LabeledSystem] = field(default_factory=list)
    labeled_indices: list[int] = field(default_factory=list)
    failures: list[tuple[int, str]] = field(default_factory=list)  # (input index, reason)


class Labeler(ABC):
    """Like ASE's Calculator: one interface, many reference codes behind it."""

    name: str = "labeler"
    in_process: bool = True  # False: runs an external program per task folder (no step-by-step use)
    # validation properties for which this reference is known to be unphysical: property key -> why
    unphysical_properties: dict[str, str] = {}
    free_atom_is_physical: bool = True  # False: its isolated atom was never fitted (e.g. SNAP); not built into models

    def __init__(self, settings: dict | None = None):
        self.settings = settings or {"kind": self.name}

    @abstractmethod
    def supported_elements(self) -> set[str] | None:
        """None means any element."""

    @abstractmethod
    def label_one(self, atoms: Atoms, task_dir: Path, calculation: Calculation = SINGLE_POINT) -> dpdata.LabeledSystem:
        """One labeled frame, or an exception whose message says why not."""

    def compute(self, atoms: Atoms, task_dir: Path, calculation: Calculation = SINGLE_POINT) -> dpdata.LabeledSystem:
        """One reference calculation for the property set, kept in task_dir and read back once finished."""
        return self._finished_label(task_dir) or self._label_and_keep(atoms, task_dir, calculation)

    def calculator(self):
        """A fresh ASE calculator, for generators that run the labeler step by step."""
        raise UserError(f"labeler '{self.name}' cannot be used as an in-process ASE calculator")

    def check(self, element: str) -> None:
        """Fail before any work on what would fail every label: the element, and the labeler's programs and files
        (subclasses add those)."""
        self.check_element(element)

    def check_element(self, element: str) -> None:
        """What the config alone decides (a dry run checks only this): whether the labeler covers the element."""
        supported = self.supported_elements()
        if supported is not None and element not in supported:
            raise UserError(
                f"labeler '{self.name}' does not support {element} (it supports {', '.join(sorted(supported))}); "
                "choose one of those elements or another labeler"
            )

    def label(self, structures: list[Atoms], work_dir: Path | None = None, first_index: int = 0) -> LabelResult:
        """Label each structure in its task folder task.<first_index + i>; a failure is recorded with its
        reason and never stops the others. A task that finished (labeled or failed) in an interrupted
        attempt is read back from its folder, never computed again."""
        work_dir = Path(work_dir or "label-tasks")
        result = LabelResult()
        for offset, atoms in enumerate(structures):
            index = first_index + offset
            task_dir = work_dir / f"task.{index:06d}"
            try:
                system = self.compute(atoms, task_dir)
            except UserError:
                raise
            except Exception as exc:  # a reference code may fail in any way; record, go on
                reason = str(exc) if isinstance(exc, LabelFailed) else f"{type(exc).__name__}: {exc}"
                task_dir.mkdir(parents=True, exist_ok=True)
                (task_dir / FAILED_FILE).write_text(json.dumps({"reason": reason}))
                result.failures.append((index, reason))
                continue
            result.systems.append(system)
            result.labeled_indices.append(index)
        return result

    @staticmethod
    def _finished_label(task_dir: Path) -> dpdata.LabeledSystem | None:
        if (task_dir / FAILED_FILE).exists():
            raise LabelFailed(json.loads((task_dir / FAILED_FILE).read_text())["reason"])
        if (task_dir / LABELED_DIR / "type.raw").exists():
            return dpdata.LabeledSystem(str(task_dir / LABELED_DIR), fmt="deepmd/npy")
        return None

    def _label_and_keep(self, atoms: Atoms, task_dir: Path, calculation: Calculation) -> dpdata.LabeledSystem:
        system = self.label_one(atoms, task_dir, calculation)
        bad = non_finite_labels(system)
        if bad:
            raise ValueError(f"the labeler returned NaN or infinity in {', '.join(bad)}; the frame is not kept")
        partial = partial_path(task_dir / LABELED_DIR)
        system.to("deepmd/npy", str(partial))
        partial.replace(task_dir / LABELED_DIR)  # complete or absent
        return system


def label_to_data(
    labeler: Labeler,
    structures: list[Atoms],
    out_dir,
    type_map: list[str],
    work_dir: Path | None = None,
    first_index: int = 0,
    quarantine_dir: Path | None = None,
) -> dict:
    """Label structures into a deepmd/npy folder with one provenance line per frame. The report lists
    every failure with its reason and provenance; each failed task folder is copied to quarantine_dir."""
    work_dir = Path(work_dir or "label-tasks")
    with timed("labeler"):
        result = labeler.label(structures, work_dir, first_index)
    written = write_systems(result.systems, out_dir, type_map)
    frames_per_formula: dict[str, int] = {}
    lines = []
    for system, index in zip(result.systems, result.labeled_indices):
        formula = system.formula
        frame = frames_per_formula.get(formula, 0)
        frames_per_formula[formula] = frame + 1
        lines.append(
            json.dumps(
                {
                    "system": formula,
                    "frame": frame,
                    "labeler": labeler.settings,
                    "structure": structures[index - first_index].info.get("provenance", {}),
                }
            )
        )
    if lines:
        (Path(out_dir) / PROVENANCE_FILE).write_text("\n".join(lines) + "\n")
    failed = [
        {"index": i, "reason": reason, "structure": structures[i - first_index].info.get("provenance", {})}
        for i, reason in result.failures
    ]
    if quarantine_dir is not None:
        quarantine(failed, structures, first_index, work_dir, Path(quarantine_dir))
    return {"labeler": labeler.name, "requested": len(structures), "labeled": written, "failed": failed}


def merge_reports(reports: list[dict]) -> dict:
    """One report for a labeling fan-out, from its tasks' reports."""
    return {
        "labeler": reports[0]["labeler"],
        "requested": sum(r["requested"] for r in reports),
        "labeled": sum(r["labeled"] for r in reports),
        "failed": [f for r in reports for f in r["failed"]],
    }


def quarantine(failed: list[dict], structures: list[Atoms], first_index: int, work_dir: Path, out: Path) -> None:
    """Each failed task as the user debugs it: its folder (inputs, logs, outputs), the structure, the reason."""
    for failure in failed:
        name = f"task.{failure['index']:06d}"
        target = out / name
        if (work_dir / name).is_dir():
            shutil.copytree(work_dir / name, target, dirs_exist_ok=True)
        target.mkdir(parents=True, exist_ok=True)
        ase.io.write(target / "structure.extxyz", _plain(structures[failure["index"] - first_index]), format="extxyz")
        (target / "reason.json").write_text(json.dumps(failure, indent=2))


def _plain(atoms: Atoms) -> Atoms:
    copy = atoms.copy()
    copy.info, copy.calc = {}, None
    return copy
