"""Structures to label for a bulk metal: composable generators over the element's ideal crystal."""

from .held_out import held_out_structures
from .lattice import crystal_supercell, ideal_crystal, reference_lattice_constant_A
from .plan import PROVENANCE, generate, plan_table
from .transforms import deformed, rattle

__all__ = [
    "PROVENANCE",
    "generate",
    "plan_table",
    "crystal_supercell",
    "ideal_crystal",
    "reference_lattice_constant_A",
    "held_out_structures",
    "deformed",
    "rattle",
]
