"""`sel` from the data: DeePMD-kit's own neighbour statistics of the initial data, with a margin.

se_e2_a keeps at most `sel` neighbours within `rcut`; beyond that it silently drops the farthest, so a
frame denser than any the model was shaped for gets a wrong descriptor. Neighbour counts grow with
density: a margin of 1.2 leaves room for local environments 20 % denser than the densest initial
frame (hot MD, NPT compression). `sel` is decided once per run and kept: the model's shape must not
change between rounds, or warm starts break.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

from ase import Atoms
from ase.neighborlist import neighbor_list

from ..errors import UserError
from ..tools import executable, run_tool

STAT_LOG = "neighbor_stat.log"


def _wrap_up_4(n: float) -> int:
    """DeePMD-kit rounds sel up to a multiple of 4 ('auto' does the same)."""
    return 4 * math.ceil(n / 4)


def neighbor_stat(data_dir: Path, rcut_A: float, type_map: list[str], workdir: Path) -> dict:
    """`dp --tf neighbor-stat` over every system below data_dir: the largest neighbour count within rcut_A and
    the smallest interatomic distance."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    run_tool(
        [
            executable("dp"),
            "--tf",
            "neighbor-stat",
            "-s",
            str(Path(data_dir).resolve()),
            "-r",
            str(rcut_A),
            "-t",
            *type_map,
        ],
        workdir,
        STAT_LOG,
    )
    text = (workdir / STAT_LOG).read_text()
    counts = re.search(r"max_nbor_size:\s*\[([\d,\s]+)\]", text)
    distance = re.search(r"min_nbor_dist:\s*([\d.eE+-]+)", text)
    if not counts or not distance:
        raise UserError(f"dp neighbor-stat gave no statistics for {data_dir}; see {workdir / STAT_LOG}")
    return {
        "rcut_A": rcut_A,
        "max_neighbors": max(int(c) for c in counts.group(1).split(",")),
        "min_neighbor_distance_A": float(distance.group(1)),
    }


def decide_sel(stat: dict, user_sel: int | None, margin: float) -> dict:
    """The run's sel and why: the user's value if given (refused if the data already needs more), else the data's
    largest neighbour count times the margin, rounded up to a multiple of 4."""
    need = stat["max_neighbors"]
    if need == 0:
        raise UserError(
            f"no atom of the initial data has a neighbour within training.rcut_A = {stat['rcut_A']} A "
            f"(nearest distance {stat['min_neighbor_distance_A']:.2f} A); raise training.rcut_A"
        )
    if user_sel is not None:
        if user_sel < need:
            raise UserError(
                f"training.sel = {user_sel} is smaller than the {need} neighbours within "
                f"rcut_A = {stat['rcut_A']} A that the initial data already has; set sel >= "
                f"{_wrap_up_4(need * margin)} or remove it to let dpdriver decide"
            )
        return {**stat, "sel": user_sel, "sel_from": "config", "margin": None}
    return {**stat, "sel": _wrap_up_4(need * margin), "sel_from": "data", "margin": margin}


def check_user_sel(training, ideal: Atoms) -> None:
    """A user's sel below what the ideal crystal already has within rcut cannot work: refused before anything runs
    (the data's own, larger count is checked once the initial data is labeled)."""
    if training.sel is None:
        return
    need = max(len(neighbor_list("i", ideal, training.rcut_A)) // len(ideal), 1)
    if training.sel < need:
        raise UserError(
            f"training.sel = {training.sel} is smaller than the {need} neighbours every atom of the ideal "
            f"crystal has within rcut_A = {training.rcut_A} A; set sel >= "
            f"{_wrap_up_4(need * training.sel_margin)} or remove it to let dpdriver decide from the data"
        )
