"""How the property set gets its numbers: an ASE calculator in this process (the model, EMT, any ASE labeler), or
label tasks of the run's labeler (VASP: one task folder per calculation, the user's command, the convert gates).
Both give back Atoms whose energy, forces and stress can be read, so the property code is the same for both."""

from __future__ import annotations

import functools
import inspect
import json
from pathlib import Path

import numpy as np
from ase import Atoms
from ase.calculators.singlepoint import SinglePointCalculator
from ase.optimize import FIRE

from ..errors import UserError
from ..label import SINGLE_POINT, Calculation


class CalculatorEvaluator:
    """In-process: single points and FIRE relaxations (positions only, constraints kept) with one calculator."""

    def __init__(self, calc):
        self.calc = calc

    def single_point(self, atoms: Atoms, name: str) -> Atoms:
        atoms = atoms.copy()
        atoms.calc = self.calc
        return atoms

    isolated_atom = single_point

    def relax(self, atoms: Atoms, name: str, fmax_eV_A: float = 0.005, steps: int = 300) -> Atoms:
        atoms = atoms.copy()
        atoms.calc = self.calc
        FIRE(atoms, logfile=None).run(fmax=fmax_eV_A, steps=steps)
        return atoms


class TaskEvaluator:
    """One label task per calculation under work_dir/<name>: a finished task is read back, never rerun, so an
    interrupted validation resumes where it stopped. A failed task stops the validation with its folder named."""

    SETTINGS = "labeler.json"

    def __init__(self, labeler, work_dir: Path, structure: dict):
        """structure: what the task structures follow from (element, lattice, starting lattice constant)."""
        self.labeler = labeler
        self.work_dir = Path(work_dir)
        settings = {
            "labeler": {k: v for k, v in labeler.settings.items() if k != "command"},  # cores may change
            "structure": structure,
        }
        path = self.work_dir / self.SETTINGS
        if path.exists() and json.loads(path.read_text()) != settings:
            raise UserError(
                f"the reference tasks in {self.work_dir} were computed with other labeler settings or "
                f"structures (see {path}); give another --reference-tasks folder, or delete this one"
            )
        self.work_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(settings, indent=1))

    def _result(self, atoms: Atoms, name: str, calculation: Calculation = SINGLE_POINT) -> Atoms:
        task_dir = self.work_dir / name
        try:
            system = self.labeler.compute(atoms, task_dir, calculation)
        except UserError:
            raise
        except Exception as exc:  # noqa: BLE001 - any failure of the reference code, reported with its folder
            raise UserError(
                f"reference task {task_dir} failed: {exc}; fix it (or delete the folder) and rerun "
                "`dpdriver validate`: finished tasks are kept"
            ) from None
        done = atoms.copy()
        done.positions = system["coords"][0]  # one element: VASP keeps the atom order
        volume = abs(np.linalg.det(system["cells"][0]))
        stress = -system["virials"][0] / volume if "virials" in system.data else None
        done.calc = SinglePointCalculator(
            done, energy=float(system["energies"][0]), forces=system["forces"][0], stress=stress
        )
        return done

    def single_point(self, atoms: Atoms, name: str) -> Atoms:
        return self._result(atoms, name)

    def relax(self, atoms: Atoms, name: str, fmax_eV_A: float = 0.005, steps: int = 300) -> Atoms:
        return self._result(atoms, name, Calculation(relax_fmax_eV_A=fmax_eV_A, relax_steps=steps))

    def isolated_atom(self, atoms: Atoms, name: str) -> Atoms:
        return self._result(atoms, name, Calculation(isolated_atom=True))


def as_evaluator(calc_or_evaluator):
    return calc_or_evaluator if hasattr(calc_or_evaluator, "relax") else CalculatorEvaluator(calc_or_evaluator)


def takes_calculator(function):
    """A property function's argument ev may also be a plain ASE calculator."""
    signature = inspect.signature(function)

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        bound.arguments["ev"] = as_evaluator(bound.arguments["ev"])
        return function(*bound.args, **bound.kwargs)

    return wrapper
