"""What a run decides once, from its initial data and labeler, before anything trains: sel and the free-atom
energy. Every model of the run is built with the same decisions, so that member i of round N+1 can start
from member i of round N."""

from __future__ import annotations

import math
from pathlib import Path

from ase import Atoms

from ..errors import UserError
from ..label import Calculation
from .neighbors import decide_sel, neighbor_stat

FREE_ATOM_BOX_A = 20.0


def free_atom_energy_eV(labeler, element: str, task_dir: Path) -> float:
    """The labeler's energy of one atom alone in a large box, labeled once and kept in task_dir (VASP: the
    spin-polarized free-atom task)."""
    atom = Atoms(element, positions=[[FREE_ATOM_BOX_A / 2] * 3], cell=[FREE_ATOM_BOX_A] * 3, pbc=True)
    try:
        energy = float(labeler.compute(atom, Path(task_dir), Calculation(isolated_atom=True))["energies"][0])
    except UserError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure of the reference code, reported with its folder
        raise UserError(
            f"the free-atom label in {task_dir} failed: {exc}; fix the labeler, or set "
            "training.free_atom_energy_eV (or learn_free_atom: false), and rerun"
        ) from None
    if not math.isfinite(energy):
        raise UserError(
            f"the free-atom label in {task_dir} gave energy {energy}; fix the labeler or set "
            "training.free_atom_energy_eV"
        )
    return energy


def decide_model(training, element: str, data_dir: Path, labeler, workdir: Path) -> dict:
    """sel from the neighbour statistics of data_dir (or the user's, checked), and the free-atom energy (the
    user's, or labeled once, or none)."""
    workdir = Path(workdir)
    decisions = decide_sel(
        neighbor_stat(data_dir, training.rcut_A, [element], workdir), training.sel, training.sel_margin
    )
    if training.free_atom_energy_eV is not None:
        free, source = training.free_atom_energy_eV, "config"
    elif training.learn_free_atom and labeler.free_atom_is_physical:
        free, source = free_atom_energy_eV(labeler, element, workdir / "free-atom"), labeler.name
    elif training.learn_free_atom:  # measured on W SNAP: building its lone atom in raised the energy error 6x
        free, source = None, f"{labeler.name}'s free atom is not physical"
    else:
        free, source = None, None
    return {**decisions, "free_atom_energy_eV": free, "free_atom_from": source}


def decisions_line(decisions: dict) -> str:
    """The run's decisions in one line, as the run prints them and status shows them."""
    why = (
        f"{decisions['max_neighbors']} neighbours within {decisions['rcut_A']} A in the initial data x "
        f"{decisions['margin']}"
        if decisions.get("margin")
        else "from the config"
    )
    free, source = decisions.get("free_atom_energy_eV"), decisions.get("free_atom_from")
    atom = (
        f"; free-atom energy {free:.4f} eV ({source})"
        if free is not None
        else f"; no free-atom energy ({source})"
        if source
        else ""
    )
    return f"sel {decisions['sel']} ({why}){atom}"


def with_decisions(training, decisions: dict | None):
    """The training settings every model of the run is built with."""
    if not decisions:
        return training
    return training.model_copy(
        update={"sel": decisions["sel"], "free_atom_energy_eV": decisions["free_atom_energy_eV"]}
    )


def model_shape(training, type_map: list[str]) -> dict:
    """What a parent must share with its child for `--init-frz-model` to be a warm start."""
    return {"type_map": list(type_map), **{k: getattr(training, k) for k in training.shape_keys}}
