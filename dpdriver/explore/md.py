"""Exploration stage: LAMMPS MD driven by the ensemble's first model, deviations from all of them."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import ase.io
import dpdata
import numpy as np
from ase import Atoms

from ..data import system_dirs
from ..errors import ToolError
from ..rundir import ROUND_PREFIX
from ..seeds import derive_seed
from ..structures import atomic_mass_amu
from ..templates import render
from ..tools import executable, run_tool, write_progress

PROGRESS_FILE = "progress"
TASK_FILE = "task.json"
START_FILE = "start.json"


@dataclass(frozen=True)
class MDTask:
    """One MD run of a stage's ladder; its name is its folder."""

    name: str
    stage: str
    ensemble: str
    temperature_K: float
    pressure_bar: float
    md_steps: int
    timestep_ps: float
    deviation_every_steps: int
    seed: int
    start_seed: int  # draws the starting structure


def plan_tasks(exploration, stage, round_index: int, seed: int) -> list[MDTask]:
    """Every (ensemble, temperature, pressure, start) of the stage; NVT runs once per temperature, at no pressure."""
    tasks = []
    for ensemble in stage.ensembles:
        for temperature in stage.temperatures_K:
            for pressure in stage.pressures_bar if ensemble == "npt" else [exploration.pressure_bar]:
                for start in range(exploration.starts_per_task):
                    index = len(tasks)
                    at = f"-{pressure:g}bar" if ensemble == "npt" and len(stage.pressures_bar) > 1 else ""
                    tasks.append(
                        MDTask(
                            name=f"{ensemble}-{temperature:g}K{at}-{start:02d}",
                            stage=stage.name,
                            ensemble=ensemble,
                            temperature_K=float(temperature),
                            pressure_bar=float(pressure),
                            md_steps=stage.md_steps,
                            timestep_ps=exploration.timestep_ps,
                            deviation_every_steps=exploration.deviation_every_steps,
                            seed=derive_seed(seed, "md", round_index, index),
                            start_seed=derive_seed(seed, "start", round_index, index),
                        )
                    )
    return tasks


def start_pools(sources: list[str], ideal: Atoms, data_dir: Path | None) -> dict[str, list[tuple[Atoms, dict]]]:
    """Starting structures by source: the ideal crystal, the initial data's and earlier rounds' bulk cells (the
    ideal crystal's atom count), and `vacancy`: labeled cells one atom short of it, so that MD samples the
    defect's surroundings at temperature. A slab or any other cell is no start."""

    pools: dict[str, list[tuple[Atoms, dict]]] = {}
    if "ideal" in sources:
        pools["ideal"] = [(ideal, {"source": "ideal"})]
    for system_dir in system_dirs(data_dir) if data_dir is not None and Path(data_dir).is_dir() else []:
        dataset = system_dir.relative_to(data_dir).parts[0]
        missing = len(ideal) - len((system_dir / "type.raw").read_text().split())  # one type per atom
        source = {0: "rounds" if dataset.startswith(ROUND_PREFIX) else "initial", 1: "vacancy"}.get(missing)
        if source not in sources:
            continue  # not read at all
        system = dpdata.System(str(system_dir), fmt="deepmd/npy")
        for i, atoms in enumerate(system.to("ase/structure")):
            origin = {"source": source, "system": str(system_dir.relative_to(data_dir)), "frame": i}
            pools.setdefault(source, []).append((atoms, origin))
    return pools


def draw_start(task: MDTask, pools: dict[str, list[tuple[Atoms, dict]]], ideal: Atoms) -> tuple[Atoms, dict]:
    """A source at random among those with structures, then a structure of it; the ideal crystal when none has."""
    sources = sorted(name for name, pool in pools.items() if pool)
    if not sources:
        return ideal, {"source": "ideal", "note": "no structure of the stage's starts_from; the ideal crystal instead"}
    rng = np.random.default_rng(task.start_seed)
    pool = pools[sources[rng.integers(len(sources))]]
    atoms, origin = pool[rng.integers(len(pool))]
    atoms = atoms.copy()
    atoms.set_chemical_symbols([ideal.get_chemical_symbols()[0]] * len(atoms))
    return atoms, origin


def run_md_task(
    task: MDTask, start: Atoms, models: list[Path], element: str, workdir: Path, start_origin: dict | None = None
) -> dict:
    """Run one MD task; a LAMMPS failure is recorded in the returned status, never raised."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / TASK_FILE).write_text(json.dumps(asdict(task), indent=2))
    (workdir / START_FILE).write_text(json.dumps(start_origin or {"source": "given"}))
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
        mass_amu=atomic_mass_amu(element),
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
    """Rows of (step, max_devi_f, max_devi_v), columns found by header name; a missing file gives no rows."""
    path = Path(path)
    if not path.exists():
        return np.zeros((0, 3))
    lines = path.read_text().splitlines()
    header = next((line for line in lines if line.startswith("#")), None)
    if header is None:
        return np.zeros((0, 3))
    names = header.lstrip("#").split()
    columns = [names.index(name) for name in ("step", "max_devi_f", "max_devi_v")]
    rows = []
    for line in lines:
        if line.startswith("#") or not line.strip():
            continue
        fields = line.split()
        try:
            rows.append(tuple(float(fields[c]) for c in columns))
        except (IndexError, ValueError):
            rows.append((float("nan"),) * 3)  # a half-written last line of a killed run
    return np.array(rows, dtype=float).reshape(-1, 3)


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
