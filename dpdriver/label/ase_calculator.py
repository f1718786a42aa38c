"""Labelers that are ASE calculators in this process: EMT, or any calculator by import path (e.g. GPAW)."""

from __future__ import annotations

import difflib
import importlib
import os
import tempfile
from contextlib import contextmanager, nullcontext
from pathlib import Path

import dpdata
from ase import Atoms
from ase.calculators.emt import EMT, parameters
from ase.optimize import FIRE

from ..errors import UserError
from .base import SINGLE_POINT, Calculation, Labeler


@contextmanager
def working_directory(path: Path):
    """Calculators that write files (GPAW's text output, checkpoints) write them into the task folder."""
    path.mkdir(parents=True, exist_ok=True)
    previous = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(previous)


# keyword arguments of ASE's Calculator base classes, accepted besides a calculator's own default_parameters
CALCULATOR_BASE_ARGUMENTS = {
    "restart",
    "ignore_bad_restart_file",
    "label",
    "atoms",
    "directory",
    "txt",
    "communicator",
    "comm",
    "parallel",
    "command",
    "profile",
}


class ASECalculatorLabeler(Labeler):
    writes_files = True

    def label_calculator(self):
        """The calculator of one label: a fresh one, unless a labeler keeps one alive between labels."""
        return self.calculator()

    def label_one(self, atoms: Atoms, task_dir: Path, calculation: Calculation = SINGLE_POINT) -> dpdata.LabeledSystem:
        frame = atoms.copy()
        frame.info = {}
        with working_directory(task_dir) if self.writes_files else nullcontext():  # some open files when built
            frame.calc = self.label_calculator()
            if calculation.relax_fmax_eV_A is not None:
                FIRE(frame, logfile=None).run(fmax=calculation.relax_fmax_eV_A, steps=calculation.relax_steps)
            return dpdata.LabeledSystem(frame, fmt="ase/structure")


class EMTLabeler(ASECalculatorLabeler):
    name = "emt"
    writes_files = False
    unphysical_properties = {
        "stacking_fault_mJ_m2": "EMT puts hcp within about 1 meV/atom of fcc (for Cu below it: "
        "a negative fault), so its planar faults are no reference"
    }

    def supported_elements(self) -> set[str]:
        return {symbol for symbol in parameters if symbol not in {"H", "C", "N", "O"}}

    def calculator(self):
        return EMT()


class ASELabeler(ASECalculatorLabeler):
    """`calculator: gpaw.GPAW` with `parameters: {...}`: the class is imported where the labels are computed."""

    name = "ase"

    def __init__(self, calculator: str, parameters: dict, settings: dict | None = None):
        super().__init__(settings)
        self.import_path, self.parameters = calculator, parameters

    def calculator_class(self):
        module_name, _, class_name = self.import_path.rpartition(".")
        try:
            return getattr(importlib.import_module(module_name), class_name)
        except ImportError as exc:
            raise UserError(
                f"labeler.calculator '{self.import_path}': cannot import {module_name} ({exc}); "
                f"install it in this environment or fix the import path"
            ) from None
        except AttributeError:
            raise UserError(
                f"labeler.calculator '{self.import_path}': {module_name} has no {class_name}; fix the class name"
            ) from None

    def supported_elements(self) -> None:
        return None

    def check(self, element: str) -> None:
        super().check(element)
        known = getattr(self.calculator_class(), "default_parameters", None)
        if isinstance(known, dict) and known:  # ASE calculators list their parameters: a typo is not ignored
            for name in self.parameters:
                if name not in known and name not in CALCULATOR_BASE_ARGUMENTS:
                    near = difflib.get_close_matches(name, list(known), n=1, cutoff=0.5)
                    hint = f"did you mean '{near[0]}'?" if near else f"known: {', '.join(sorted(known))}"
                    raise UserError(f"labeler.parameters.{name} is not a parameter of {self.import_path}; {hint}")
        try:
            with tempfile.TemporaryDirectory(prefix="dpdriver-check-") as scratch, working_directory(Path(scratch)):
                self.calculator()  # files it opens when built (GPAW's txt) go to scratch
        except UserError:
            raise
        except TypeError as exc:
            raise UserError(
                f"labeler.parameters do not fit {self.import_path}: {exc}; fix labeler.parameters"
            ) from None

    def calculator(self):
        return self.calculator_class()(**self.parameters)
