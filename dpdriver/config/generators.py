"""Initial data: the structure generators and the initial data set they build."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal, Optional, Union

from pydantic import (
    Field,
    NonNegativeFloat,
    PositiveFloat,
    model_validator,
)

from .base import (
    AtError,
    Strict,
    TemperatureK,
)


class GeneratorConfig(Strict):
    """Shared by all generators: a name, an optional base generator, and whether its structures are labeled."""

    name: Optional[str] = None  # default: the kind; must be unique
    base: Optional[str] = None  # apply to every structure of that generator instead of the ideal crystal
    keep: bool = True  # false: only a base for other generators, not labeled itself
    takes_base: ClassVar[bool] = True

    @property
    def label(self) -> str:
        return self.name or self.kind


class VolumeScanConfig(GeneratorConfig):
    kind: Literal["volume_scan"]
    volume_change_range: tuple[float, float] = (-0.10, 0.10)  # relative volume change, e.g. -10 % ... +10 %
    count: int = Field(5, ge=1)


class StrainConfig(GeneratorConfig):
    """Homogeneous strain F = 1 + eps of the cell; eps by mode, amplitudes spread over the range (0 left out)."""

    kind: Literal["strain"]
    modes: list[Literal["uniaxial", "biaxial", "shear"]] = Field(
        default_factory=lambda: ["uniaxial", "biaxial", "shear"], min_length=1
    )
    strain_range: tuple[float, float] = (-0.03, 0.03)
    count_per_mode: int = Field(4, ge=1)


class BainPathConfig(GeneratorConfig):
    """Body-centred tetragonal cells at the reference volume per atom: c/a = 1 is bcc, sqrt(2) is fcc."""

    kind: Literal["bain_path"]
    c_over_a_range: tuple[float, float] = (0.9, 1.5)
    count: int = Field(7, ge=1)
    takes_base: ClassVar[bool] = False


class COverAConfig(GeneratorConfig):
    """hcp only: c/a changed at constant volume."""

    kind: Literal["c_over_a"]
    change_range: tuple[float, float] = (-0.05, 0.05)
    count: int = Field(5, ge=1)


class NormalModesConfig(GeneratorConfig):
    """phonopy finite displacements of the supercell; with temperatures, harmonic thermal samples from
    force constants computed with the labeler on those displacements (which are labeled anyway)."""

    kind: Literal["normal_modes"]
    displacement_A: float = Field(0.01, gt=0)
    temperatures_K: list[TemperatureK] = Field(default_factory=list)
    per_temperature: int = Field(5, ge=1)
    takes_base: ClassVar[bool] = False


class RattleConfig(GeneratorConfig):
    """Gaussian displacements of every atom, per_stdev structures at each amplitude of the schedule."""

    kind: Literal["rattle"]
    stdev_A: list[NonNegativeFloat] = Field(default_factory=lambda: [0.02, 0.05, 0.1], min_length=1)
    per_stdev: int = Field(3, ge=1)
    min_distance_A: Optional[PositiveFloat] = None  # redraw a structure with atoms closer than this


class MDConfig(GeneratorConfig):
    """Langevin NVT with the labeler itself (AIMD-style) from the ideal supercell, kept every `stride` steps."""

    kind: Literal["md"]
    temperatures_K: list[TemperatureK] = Field(default_factory=lambda: [300.0, 900.0], min_length=1)
    steps: int = Field(200, ge=1)
    stride: int = Field(20, ge=1)  # keep one frame per stride: decorrelated, not every step
    equilibration_steps: int = Field(0, ge=0)
    timestep_fs: float = Field(2.0, gt=0)
    friction_per_fs: float = Field(0.01, gt=0)
    takes_base: ClassVar[bool] = False


class RandomStructuresConfig(GeneratorConfig):
    """Random cells and positions (random-structure-search style) at a density range, atoms kept apart."""

    kind: Literal["random"]
    count: int = Field(10, ge=1)
    atoms: int = Field(8, ge=1)
    volume_per_atom_range: tuple[float, float] = (0.9, 1.3)  # times the reference volume per atom
    min_distance_A: Optional[PositiveFloat] = None  # default: 0.8 x the nearest-neighbour distance
    max_cell_skew: float = Field(0.3, ge=0, le=0.6)  # off-diagonal cell entries relative to the diagonal
    takes_base: ClassVar[bool] = False


class VacancyConfig(GeneratorConfig):
    kind: Literal["vacancy"]
    vacancies: int = Field(1, ge=1)  # atoms removed per structure
    count: int = Field(1, ge=1)  # structures per base (sites drawn at random)


class InterstitialConfig(GeneratorConfig):
    """One extra atom at the largest empty site of each base structure."""

    kind: Literal["interstitial"]


class SurfaceConfig(GeneratorConfig):
    """Slabs with vacuum, low-index planes of the reference crystal."""

    kind: Literal["surface"]
    miller_indices: Optional[list[tuple[int, int, int]]] = None  # default fcc/bcc 111,100,110; hcp 001,100
    layers: int = Field(4, ge=2)
    vacuum_A: float = Field(10.0, gt=0)  # total vacuum between periodic images
    min_in_plane_A: float = Field(7.0, gt=0)  # in-plane repeats until both lengths reach this
    takes_base: ClassVar[bool] = False


Generator = Annotated[
    Union[
        VolumeScanConfig,
        StrainConfig,
        BainPathConfig,
        COverAConfig,
        NormalModesConfig,
        RattleConfig,
        MDConfig,
        RandomStructuresConfig,
        VacancyConfig,
        InterstitialConfig,
        SurfaceConfig,
    ],
    Field(discriminator="kind"),
]


def _default_generators() -> list:
    return [
        VolumeScanConfig(kind="volume_scan", keep=False, volume_change_range=(-0.17, 0.17), count=5),
        RattleConfig(kind="rattle", base="volume_scan", stdev_A=[0.05], per_stdev=6),
    ]


class InitialDataConfig(Strict):
    """The initial training set: generators applied to the element's ideal crystal, then labeled."""

    lattice: Literal["fcc", "bcc", "hcp"] = "fcc"
    lattice_constant_A: Optional[PositiveFloat] = None  # None: ASE's reference value for the element
    c_over_a: Optional[PositiveFloat] = None  # hcp; None: ASE's reference value, else ideal 1.633
    supercell: Optional[tuple[int, int, int]] = None  # repeats of the unit cell; default (2, 2, 2)
    target_atoms: Optional[int] = Field(None, ge=1)  # or: the repeats whose atom count is nearest this
    generators: list[Generator] = Field(default_factory=_default_generators)
    data_dirs: list[str] = Field(
        default_factory=list
    )  # DeePMD data you have (dpdriver convert/init output), added as is
    label_budget: Optional[int] = Field(None, ge=1)  # refuse a plan that labels more structures than this

    @model_validator(mode="after")
    def _consistent(self):
        if self.supercell is not None and self.target_atoms is not None:
            raise ValueError("give supercell or target_atoms, not both")
        if self.supercell is not None and any(n < 1 for n in self.supercell):
            raise ValueError("supercell entries must be >= 1")
        seen: list[str] = []
        for i, gen in enumerate(self.generators):

            def fail(message, gen=gen, i=i):
                raise AtError(f"generator '{gen.label}': {message}", "generators", i)

            if gen.label in seen:
                fail("another generator has this name; give each a unique name")
            if gen.base is not None and not gen.takes_base:
                fail(f"{gen.kind} builds its own cells and takes no base")
            if gen.base is not None and gen.base not in seen:
                fail(
                    f"base '{gen.base}' is not a generator listed before it "
                    f"(listed before: {', '.join(seen) or 'none'})"
                )
            for lo_hi in (
                "volume_change_range",
                "strain_range",
                "c_over_a_range",
                "change_range",
                "volume_per_atom_range",
            ):
                if hasattr(gen, lo_hi) and getattr(gen, lo_hi)[0] > getattr(gen, lo_hi)[1]:
                    fail(f"{lo_hi} must be [low, high]")
            if gen.kind == "c_over_a" and self.lattice != "hcp":
                fail("c_over_a needs lattice: hcp")
            if gen.kind == "volume_scan" and gen.volume_change_range[0] <= -1:
                fail("volume_change_range must stay above -1")
            seen.append(gen.label)
        if not any(g.keep for g in self.generators) and not self.data_dirs:
            raise ValueError("no generator has keep: true and no data_dirs are given, so there is nothing to train on")
        return self
