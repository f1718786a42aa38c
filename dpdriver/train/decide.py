"""What a run decides once, from its initial data and labeler, before anything trains: sel and the free-atom
energy. Every model of the run is built with the same decisions, so that member i of round N+1 can start
from member i of round N."""

from __future__ import annotations

import math
from pathlib import Path

from ase import Atoms

from ..errors import UserError
from .neighbors import decide_sel, neighbor_stat

FREE_ATOM_BOX_A = 20.0


def free_atom_energy_eV(labeler, element: str, task_dir: Path) -> float:
    """The labeler's energy of one atom alone in a large box, labeled once and kept in task_dir (VASP: the
    spin-polarized free-atom task)."""
    atom = Atoms(element, positions=[[FREE_ATOM_BOX_A / 2] * 3], cell=[FREE_ATOM_BOX_A] * 3, pbc=True)
    try:
        energy = float(labeler.compute(atom, Path(task_dir), isolated_atom=True)["energies"][0])
    except UserError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure of the reference code, reported with its folder
        raise UserError(f"the free-atom label in {task_dir} failed: {exc}; fix the labeler, or set "
                        "training.free_atom_energy_eV (or learn_free_atom: false), and rerun") from None
    if not math.isfinite(energy):
        raise UserError(f"the free-atom label in {task_dir} gave energy {energy}; fix the labeler or set "
                        "training.free_atom_energy_eV")
    return energy


def decide_model(training, element: str, data_dir: Path, labeler, workdir: Path) -> dict:
    """sel from the neighbour statistics of data_dir (or the user's, checked), and the free-atom energy (the
    user's, or labeled once, or none)."""
    workdir = Path(workdir)
    decisions = decide_sel(neighbor_stat(data_dir, training.rcut_A, [element], workdir), training.sel,
                           training.sel_margin)
    if training.free_atom_energy_eV is not None:
        free, source = training.free_atom_energy_eV, "config"
    elif training.learn_free_atom:
        free, source = free_atom_energy_eV(labeler, element, workdir / "free-atom"), labeler.name
    else:
        free, source = None, None
    return {**decisions, "free_atom_energy_eV": free, "free_atom_from": source}


def with_decisions(training, decisions: dict | None):
    """The training settings every model of the run is built with."""
    if not decisions:
        return training
    return training.model_copy(update={"sel": decisions["sel"], "free_atom_energy_eV": decisions["free_atom_energy_eV"]})


def model_shape(training, type_map: list[str]) -> dict:
    """What a parent must share with its child for `--init-frz-model` to be a warm start."""
    return {"type_map": list(type_map), **{k: getattr(training, k) for k in training.shape_keys}}
