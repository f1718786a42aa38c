"""Export stage: a folder a LAMMPS user takes away (compressed model, in.lammps, summary)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import ase.io

from ..generate import ideal_crystal
from ..label import make_labeler
from ..rundir import EXPORT_SUMMARY, EXPORTED_MODEL, FROZEN_MODEL, VALIDATION
from ..structures import atomic_mass_amu
from ..templates import render
from ..tools import executable, run_tool, timed
from ..train import PRODUCTION_SUMMARY
from ..validate import test_errors
from ..validate.check import validate_model
from .model_card import write_model_card


def compress_model(frozen: Path, out: Path, workdir: Path) -> Path:
    workdir.mkdir(parents=True, exist_ok=True)
    run_tool(
        [executable("dp"), "--tf", "compress", "-i", str(Path(frozen).resolve()), "-o", str(Path(out).resolve())],
        workdir,
        "compress.log",
    )
    return out


def write_lammps_example(
    config, out_dir: Path, model_file: str, temperature_K: float = 300.0, md_steps: int = 100
) -> Path:
    ase.io.write(
        out_dir / "conf.lmp",
        ideal_crystal(config),
        format="lammps-data",
        specorder=[config.element],
        atom_style="atomic",
    )
    text = render(
        "in.lammps.j2",
        element=config.element,
        mass_amu=atomic_mass_amu(config.element),
        data_file="conf.lmp",
        model_file=model_file,
        temperature_K=temperature_K,
        md_steps=md_steps,
    )
    path = out_dir / "in.lammps"
    path.write_text(text)
    return path


def export_potential(
    config,
    models: list[Path],
    out_dir: Path,
    history: list[dict],
    stop_reason: str,
    test_data: Path | None,
    data_dir: Path | None = None,
    reference: str | None = None,
    reference_tasks: Path | None = None,
    production: Path | None = None,
    decisions: dict | None = None,
) -> dict:
    """The folder a LAMMPS user takes away: the production model (else member 0) compressed and frozen, the
    ensemble, in.lammps, the validation (properties against the reference, held-out errors) and the model card
    with checksums. reference None: the labeler where it runs in-process; for VASP the model's values alone
    (`dpdriver export RUN` runs the VASP reference as label tasks in reference_tasks)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    production_summary = None
    if production is not None:
        shutil.copyfile(Path(production) / "graph.pb", out_dir / FROZEN_MODEL)
        production_summary = json.loads((Path(production) / PRODUCTION_SUMMARY).read_text())
    else:
        shutil.copyfile(models[0], out_dir / FROZEN_MODEL)
    for i, model in enumerate(models):
        (out_dir / "ensemble").mkdir(exist_ok=True)
        shutil.copyfile(model, out_dir / "ensemble" / f"graph.{i:03d}.pb")
    compress_model(out_dir / FROZEN_MODEL, out_dir / EXPORTED_MODEL, out_dir / "compress")
    write_lammps_example(config, out_dir, EXPORTED_MODEL)
    labeler = make_labeler(config.labeler)
    if reference is None:
        reference = "labeler" if labeler.in_process else "none"
    with timed("validate"):
        errors = test_errors(out_dir / EXPORTED_MODEL, test_data, config.element, labeler.name)
        validation = validate_model(out_dir / EXPORTED_MODEL, config, reference, errors, reference_tasks)
    (out_dir / VALIDATION).write_text(json.dumps(validation, indent=1))
    summary = {
        "element": config.element,
        "labeler": config.labeler.kind,
        "rounds": history,
        "stop_reason": stop_reason,
        "exported_from_round": history[-1]["round"],
        "frames_per_round": [r["frames_added"] for r in history],
        "accurate_ratios": [r["selection"]["accurate_ratio"] for r in history],
        "test_errors": errors,
        "validation": {"passed": validation["passed"], "checked": validation["checked"]},
        "model": EXPORTED_MODEL,
        "production": production_summary,
        "lammps_input": "in.lammps",
    }
    (out_dir / EXPORT_SUMMARY).write_text(json.dumps(summary, indent=2))
    write_model_card(
        config,
        out_dir,
        history,
        stop_reason,
        validation,
        data_dir,
        atomic_mass_amu(config.element),
        decisions,
        production_summary,
    )
    return summary
