"""Exploration stage: LAMMPS MD driven by the ensemble's first model, deviations from all of them."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import ase.io
import numpy as np
from ase import Atoms
from ase.data import atomic_masses, atomic_numbers

from .errors import ToolError
from .seeds import derive_seed
from .templates import render
from .tools import executable, run_tool, write_progress

PROGRESS_FILE = "progress"
TASK_FILE = "task.json"


@dataclass(frozen=True)
class MDTask:
    """One MD run of the temperature ladder; its name is its folder."""

    name: str
    ensemble: str
    temperature_K: float
    pressure_bar: float
    md_steps: int
    timestep_ps: float
    deviation_every_steps: int
    seed: int


def plan_tasks(exploration, round_index: int, n_starts: int, seed: int) -> list[MDTask]:
    tasks = []
    for ensemble in exploration.ensembles:
        for temperature in exploration.temperatures_K:
            for start in range(n_starts):
                index = len(tasks)
                tasks.append(
                    MDTask(
                        name=f"{ensemble}-{temperature:g}K-{start:02d}",
                        ensemble=ensemble,
                        temperature_K=float(temperature),
                        pressure_bar=exploration.pressure_bar,
                        md_steps=exploration.md_steps,
                        timestep_ps=exploration.timestep_ps,
                        deviation_every_steps=exploration.deviation_every_steps,
                        seed=derive_seed(seed, "md", round_index, index),
                    )
                )
    return tasks


def run_md_task(task: MDTask, start: Atoms, models: list[Path], element: str, workdir: Path) -> dict:
    """Run one MD task; a LAMMPS failure is recorded in the returned status, never raised."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / TASK_FILE).write_text(json.dumps(asdict(task), indent=2))
    ase.io.write(workdir / "conf.lmp", start, format="lammps-data", specorder=[element], atom_style="atomic")
    model_names = []
    for i, model in enumerate(models):
        link = workdir / f"graph.{i:03d}.pb"
        if not link.exists():
            link.symlink_to(Path(model).resolve())
        model_names.append(link.name)
    text = render(
        "in.explore.lammps.j2",
        models=model_names,
        element=element,
        mass_amu=float(atomic_masses[atomic_numbers[element]]),
        **asdict(task),
    )
    (workdir / "in.lammps").write_text(text)
    progress = workdir / PROGRESS_FILE
    write_progress(progress, 0, task.md_steps)
    status = {"task": task.name, "ok": True, "error": None}
    try:
        run_tool(
            [executable("lmp"), "-in", "in.lammps"],
            workdir,
            "lmp.out",
            progress_pattern=r"^\s*(\d+)\s+[-\d.eE+]+\s+[-\d.eE+]+",
            on_progress=lambda step: write_progress(progress, step, task.md_steps),
        )
    except ToolError as exc:
        status = {"task": task.name, "ok": False, "error": str(exc)}
    write_progress(progress, task.md_steps, task.md_steps)
    (workdir / "status.json").write_text(json.dumps(status))
    return status


def read_model_devi(path: Path) -> np.ndarray:
    """Rows of (step, max_devi_f), columns found by header name; missing file gives no rows."""
    path = Path(path)
    if not path.exists():
        return np.zeros((0, 2))
    lines = path.read_text().splitlines()
    header = next((line for line in lines if line.startswith("#")), None)
    if header is None:
        return np.zeros((0, 2))
    names = header.lstrip("#").split()
    step_col, force_col = names.index("step"), names.index("max_devi_f")
    rows = []
    for line in lines:
        if line.startswith("#") or not line.strip():
            continue
        fields = line.split()
        try:
            rows.append((float(fields[step_col]), float(fields[force_col])))
        except (IndexError, ValueError):
            rows.append((float("nan"), float("nan")))  # a half-written last line of a killed run
    return np.array(rows, dtype=float).reshape(-1, 2)


def read_trajectory(path: Path, element: str) -> list[Atoms]:
    path = Path(path)
    if not path.exists() or path.stat().st_size == 0:
        return []
    try:
        frames = ase.io.read(path, index=":", format="lammps-dump-text")
    except Exception:
        return []  # an unreadable trajectory makes its frames failed, not the round
    for frame in frames:
        frame.set_chemical_symbols([element] * len(frame))
        frame.calc = None
    return frames
