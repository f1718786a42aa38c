"""Validation: the held-out families and the property tolerances of the exported model."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import (
    Field,
    model_validator,
)

from .base import (
    Strict,
    TemperatureK,
)


class PropertyTolerances(Strict):
    """Largest model-reference differences that pass `dpdriver validate` (absolute, or relative where named so)."""

    lattice_constant_rel: float = Field(0.01, gt=0)
    cohesive_energy_eV_atom: float = Field(0.05, gt=0)
    bulk_modulus_rel: float = Field(0.10, gt=0)
    elastic_constant_rel: float = Field(0.15, gt=0)
    vacancy_formation_eV: float = Field(0.15, gt=0)
    surface_energy_rel: float = Field(0.15, gt=0)
    stacking_fault_mJ_m2: float = Field(20.0, gt=0)
    stacking_fault_rel: Optional[float] = Field(None, gt=0)  # relative instead (bcc's unstable fault is ~1.5 J/m^2)
    phonon_rmse_THz: float = Field(0.3, gt=0)
    energy_rmse_meV_atom: float = Field(10.0, gt=0)
    force_rmse_eV_A: float = Field(0.15, gt=0)


TestFamily = Literal["rattled", "strained", "vacancy", "surface", "md", "liquid"]


class ValidationConfig(Strict):
    """Fresh structures, never trained on, labeled once by the reference: test errors per structure family."""

    test_structures: int = Field(10, ge=1)  # per family
    families: list[TestFamily] = Field(
        default_factory=lambda: ["rattled", "strained", "vacancy", "surface"], min_length=1
    )
    md_temperatures_K: list[TemperatureK] = Field(default_factory=lambda: [900.0, 1800.0], min_length=1)  # family md
    liquid_temperature_K: Optional[TemperatureK] = None  # family liquid: above the element's melting point
    test_rattle_stdev_A: float = Field(0.08, ge=0)
    test_lattice_scales: list[float] = Field(default_factory=lambda: [0.96, 1.0, 1.04], min_length=1)
    tolerances: PropertyTolerances = PropertyTolerances()

    @model_validator(mode="after")
    def _liquid(self):
        if "liquid" in self.families and self.liquid_temperature_K is None:
            raise ValueError(
                "family 'liquid' needs validation.liquid_temperature_K, above the element's melting "
                "point (e.g. 2500 for Cu)"
            )
        return self
