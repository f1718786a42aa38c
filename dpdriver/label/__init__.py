"""One labeler interface for every reference method: EMT, any ASE calculator, a LAMMPS potential, VASP."""

from .ase_calculator import ASELabeler, EMTLabeler
from .base import PROVENANCE_FILE, SINGLE_POINT, Calculation, Labeler, LabelResult, label_to_data, merge_reports
from .lammps import LammpsLabeler
from .vasp import VaspLabeler

__all__ = [
    "Labeler",
    "LabelResult",
    "Calculation",
    "SINGLE_POINT",
    "EMTLabeler",
    "ASELabeler",
    "LammpsLabeler",
    "VaspLabeler",
    "PROVENANCE_FILE",
    "label_to_data",
    "make_labeler",
    "merge_reports",
]


def make_labeler(labeler_config) -> Labeler:
    settings = labeler_config.model_dump(mode="json", exclude={"structures_per_task"})  # what the labels depend on
    if labeler_config.kind == "emt":
        return EMTLabeler(settings)
    if labeler_config.kind == "ase":
        return ASELabeler(labeler_config.calculator, labeler_config.parameters, settings)
    if labeler_config.kind == "lammps":
        c = labeler_config
        return LammpsLabeler(c.potential, c.pair_style, c.pair_coeff, c.files, settings)
    return VaspLabeler(labeler_config, settings)
