"""VASP as a labeler: one task folder per structure (POSCAR, INCAR from templates/INCAR.j2, KPOINTS from a
k-spacing, POTCAR from the user's library, checked), the user's command, and the convert gates on the OUTCAR."""

from __future__ import annotations

import itertools
import json
import math
import re
import subprocess
from collections import Counter
from pathlib import Path

import ase.io
import dpdata
import numpy as np
from ase import Atoms

from ..convert.discover import Run
from ..convert.read import read_run
from ..errors import UserError
from ..templates import render
from .base import SINGLE_POINT, Calculation, Labeler

INITIAL_MAGMOM_MU_B = {"Fe": 3.0, "Co": 2.0, "Ni": 1.0}  # ferromagnetic starting moments; magmom_per_atom overrides
DONE = "label.json"
RELAX_MAX_IONIC_STEPS = 100  # NSW of a property relaxation; conjugate gradient on a metal needs far fewer
RELAX_FMAX_FLOOR_eV_A = 0.01  # EDIFFG: tighter force criteria than this chase VASP's own force noise
RELAXED = "reached required accuracy"  # VASP's OUTCAR line when EDIFFG was met


def potcar_header(path: Path) -> tuple[str, float]:
    """(element, ENMAX in eV) from a POTCAR's TITEL and ENMAX lines."""
    text = path.read_text(errors="replace")
    title = re.search(r"TITEL\s*=\s*\S+\s+(\S+)", text)
    enmax = re.search(r"ENMAX\s*=\s*([\d.]+)", text)
    if not (title and enmax):
        raise UserError(f"POTCAR {path} has no TITEL or ENMAX line; point labeler.potcars at real POTCAR files")
    return re.split(r"[_.]", title.group(1))[0], float(enmax.group(1))


def kpoint_mesh(atoms: Atoms, kspacing_per_A: float) -> list[int]:
    """VASP's KSPACING rule: N_i = max(1, ceil(|b_i| / kspacing)) with b_i including 2*pi."""
    reciprocal = 2 * math.pi * atoms.cell.reciprocal()
    return [max(1, math.ceil(np.linalg.norm(b) / kspacing_per_A - 1e-9)) for b in reciprocal]


def _incar_value(value) -> str:
    if isinstance(value, bool):
        return ".TRUE." if value else ".FALSE."
    if isinstance(value, list):
        counts = [(v, sum(1 for _ in group)) for v, group in itertools.groupby(value)]
        return " ".join(f"{n}*{v:g}" if n > 1 else f"{v:g}" for v, n in counts)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


class VaspLabeler(Labeler):
    name = "vasp"
    in_process = False

    def __init__(self, config, settings: dict | None = None):
        super().__init__(settings)
        self.config = config

    def supported_elements(self) -> None:
        return None

    def potcar_path(self, element: str) -> Path:
        relative = self.config.potcars.get(element, f"{element}/POTCAR")
        return Path(self.config.potcar_dir).expanduser() / relative

    def check(self, element: str) -> None:
        self.check_element(element)
        path = self.potcar_path(element)
        if not path.is_file():
            raise UserError(
                f"no POTCAR for {element} at {path}; set labeler.potcar_dir to your POTCAR library "
                f"or labeler.potcars.{element} to the file under it"
            )
        found, enmax = potcar_header(path)
        if found != element:
            raise UserError(f"POTCAR {path} is for {found}, not {element}; fix labeler.potcars.{element}")
        if self.config.encut_eV < enmax:
            raise UserError(
                f"labeler.encut_eV {self.config.encut_eV:g} is below the {element} POTCAR's ENMAX "
                f"{enmax:g} eV; raise encut_eV to at least {enmax:g}"
            )

    def incar_tags(self, atoms: Atoms, species: list[str]) -> dict:
        c = self.config
        tags = {
            "PREC": c.prec,
            "ENCUT": c.encut_eV,
            "EDIFF": c.ediff_eV,
            "NELM": c.nelm,
            "ALGO": "Normal",
            "ISMEAR": c.ismear,
            "SIGMA": c.sigma_eV,
            "IBRION": -1,
            "NSW": 0,
            "ISIF": 2,
            "ISYM": 0,
            "LREAL": False,
            "LWAVE": False,
            "LCHARG": False,
        }
        moments = {**INITIAL_MAGMOM_MU_B, **c.magmom_per_atom}
        if any(s in moments for s in species):
            counts = Counter(atoms.get_chemical_symbols())
            tags["ISPIN"] = 2
            tags["MAGMOM"] = [float(moments.get(s, 0.0)) for s in species for _ in range(counts[s])]
        tags.update(c.incar)
        return {name: _incar_value(value) for name, value in tags.items()}

    @staticmethod
    def task_tags(atoms: Atoms, calculation: Calculation) -> dict:
        """What makes a property task differ from a label: a relaxation of positions (selective dynamics from
        the structure's constraints), or a free atom (spin-polarized, Gaussian smearing)."""
        tags = {}
        if calculation.relax_fmax_eV_A is not None:
            tags.update(
                IBRION=2,
                NSW=min(calculation.relax_steps, RELAX_MAX_IONIC_STEPS),
                ISIF=2,
                EDIFFG=-max(calculation.relax_fmax_eV_A, RELAX_FMAX_FLOOR_eV_A),
            )
        if calculation.isolated_atom:
            tags.update(ISPIN=2, MAGMOM=[3.0] * len(atoms), ISMEAR=0, SIGMA=0.01)
        return tags

    def write_inputs(self, atoms: Atoms, task_dir: Path, calculation: Calculation = SINGLE_POINT) -> None:
        task_dir.mkdir(parents=True, exist_ok=True)
        frame = atoms[np.argsort(atoms.get_chemical_symbols(), kind="stable")]  # species grouped, order kept within
        frame.info = {}
        ase.io.write(task_dir / "POSCAR", frame, format="vasp", direct=True)
        species = (task_dir / "POSCAR").read_text().splitlines()[5].split()
        tags = {
            **self.incar_tags(frame, species),
            **{k: _incar_value(v) for k, v in self.task_tags(frame, calculation).items()},
        }
        (task_dir / "INCAR").write_text(
            render("INCAR.j2", tags=tags, comment=f"dpdriver label {frame.get_chemical_formula()}")
        )
        mesh = [1, 1, 1] if calculation.isolated_atom else kpoint_mesh(frame, self.config.kspacing_per_A)
        (task_dir / "KPOINTS").write_text(
            f"k-spacing {self.config.kspacing_per_A} 1/A\n0\nGamma\n{mesh[0]} {mesh[1]} {mesh[2]}\n0 0 0\n"
        )
        with open(task_dir / "POTCAR", "w") as potcar:
            for element in species:
                self.check(element)
                potcar.write(self.potcar_path(element).read_text())

    def run(self, task_dir: Path) -> None:
        with open(task_dir / "vasp.out", "w") as log:
            code = subprocess.run(
                self.config.command, shell=True, cwd=task_dir, stdout=log, stderr=subprocess.STDOUT
            ).returncode
        if code == 127:
            raise UserError(
                f"labeler.command '{self.config.command}' was not found (exit 127, see {task_dir}/vasp.out); "
                "fix labeler.command or load the VASP module first"
            )
        if code != 0:
            tail = (task_dir / "vasp.out").read_text(errors="replace").strip().splitlines()[-1:] or [""]
            raise RuntimeError(f"VASP command exited with {code}: {tail[0][:200]}")
        (task_dir / DONE).write_text(json.dumps({"exit_code": code}))

    def read(self, atoms: Atoms, task_dir: Path, relaxed: bool = False) -> dpdata.LabeledSystem:
        """The last ionic step through the convert gates (SCF convergence, truncation, non-finite values); of a
        relaxation only if VASP says it met EDIFFG."""

        outcar = task_dir / "OUTCAR"
        if not outcar.exists():
            raise FileNotFoundError(f"VASP wrote no OUTCAR in {task_dir}")
        report, frames = read_run(Run(str(task_dir), outcar, "outcar"), None, max_force_eV_A=math.inf, include_ml=False)
        if report.error:
            raise ValueError(f"OUTCAR unreadable: {report.error}")
        if not frames:
            reasons = ", ".join(f"{k} {v}" for k, v in report.rejected.items()) or "no complete ionic step"
            raise ValueError(f"no usable frame in OUTCAR ({reasons})")
        if relaxed and RELAXED not in outcar.read_text(errors="replace"):
            raise ValueError(f"relaxation did not reach EDIFFG within NSW ionic steps ({len(frames)} read)")
        system = frames[-1].system
        expected = Counter(atoms.get_chemical_symbols())
        found = Counter({n: int(c) for n, c in zip(system["atom_names"], system["atom_numbs"]) if c})
        if found != expected:
            raise ValueError(f"OUTCAR holds {dict(found)}, but the task's structure is {dict(expected)}")
        return system

    def label_one(self, atoms: Atoms, task_dir: Path, calculation: Calculation = SINGLE_POINT) -> dpdata.LabeledSystem:
        if not (task_dir / DONE).exists():  # a finished task is read again, never recomputed
            self.write_inputs(atoms, task_dir, calculation)
            self.run(task_dir)
        return self.read(atoms, task_dir, relaxed=calculation.relax_fmax_eV_A is not None)
