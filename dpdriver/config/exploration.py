"""Exploration, selection and convergence: what each round explores, labels, and when the loop stops."""

from __future__ import annotations

from typing import Annotated, Literal, Optional

from pydantic import (
    Field,
    model_validator,
)

from .base import (
    MdSteps,
    Strict,
    TemperatureK,
    _bounded,
)

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
