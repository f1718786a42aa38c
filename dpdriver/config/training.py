"""Training: the ensemble's DeePMD-kit models and how long they train."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal, Optional

from pydantic import (
    Field,
    model_validator,
)

from .base import (
    LearningRate,
    Strict,
    _bounded,
)


class NetsConfig(Strict):
    """The nets of a se_e2_a model: the embedding net's widths, its axis neurons, the fitting net's widths."""

    descriptor_neuron: list[int] = Field(min_length=1)
    axis_neuron: int = Field(ge=1)
    fitting_neuron: list[int] = Field(min_length=1)


class TrainingConfig(Strict):
    """DeePMD-kit se_e2_a (TensorFlow backend); the ensemble differs only in seeds. How long each model trains
    follows from the data (dpdriver/train/schedule.py); the README says how the defaults were measured."""

    models: int = Field(4, ge=2)  # >= 2: model deviation needs an ensemble
    steps: Optional[int] = Field(None, ge=1)  # fixed steps of a from-scratch member; default: epochs x batches
    epochs: float = Field(100.0, gt=0)  # passes over the training data of a from-scratch member
    min_steps: int = Field(2000, ge=1)
    max_steps: int = Field(20000, ge=1)
    # atoms per training step (DeePMD-kit's batch_size "auto:N": ceil(N / atoms per frame) frames). Measured on the
    # data-efficiency study's Cu sets: 4 frames of 32 atoms per step cost 1.9-2.6x a frame's CPU time and were not
    # more accurate per CPU-second than one frame (benchmarks/results/data_efficiency/cu-emt/rule_scan.md)
    batch_atoms: int = Field(32, ge=1)
    warm_start: bool = True  # member i of round N+1 continues member i of round N (init-frz-model)
    # measured (README: Warm starts): 0.25 at 5e-4 stayed 25 % above scratch's force error; 0.5 at 2e-4 came within 10 %
    # a member whose held-out force error in the last round is this many times the ensemble's median trains again from
    # scratch instead of inheriting a failed training (seen: one seed stuck at 4x its peers' error for three rounds)
    restart_outlier_factor: Optional[float] = Field(2.0, gt=1)
    warm_start_fraction: float = Field(0.4, gt=0, le=1)  # its steps, as a share of the from-scratch schedule
    warm_start_lr: LearningRate = 2e-4
    warm_start_pref_e: float = Field(0.2, ge=0)
    warm_start_pref_f: float = Field(100.0, ge=0)
    production: bool = True  # export a model continued from the best member on all data, checked on the held-out set
    production_steps: Optional[int] = Field(None, ge=1)  # its budget; default: production_epochs x batches
    production_epochs: float = Field(200.0, gt=0)
    production_max_steps: int = Field(40000, ge=1)
    production_start_lr: LearningRate = 1e-3
    # other nets for the exported model alone (the members stay small and cheap): it then trains from scratch for the
    # production budget, since it cannot continue a member of another shape (README: Training, the production model)
    production_nets: Optional[NetsConfig] = None
    # the exported model's energy weight at the end of its schedule (default: limit_pref_e, the members')
    production_limit_pref_e: Optional[float] = Field(None, ge=0)
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

    def production_model(self) -> TrainingConfig:
        """The settings the exported model is built with: the members' unless production_nets or
        production_limit_pref_e name others."""
        update = self.production_nets.model_dump() if self.production_nets else {}
        if self.production_limit_pref_e is not None:
            update["limit_pref_e"] = self.production_limit_pref_e
        return self.model_copy(update=update) if update else self

    def production_from_scratch(self) -> bool:
        """Whether the production model has a shape of its own, so it cannot continue a member."""
        return any(getattr(self.production_model(), k) != getattr(self, k) for k in self.shape_keys)

    @model_validator(mode="after")
    def _radii(self):
        if self.rcut_smth_A >= self.rcut_A:
            raise ValueError("rcut_smth_A must be smaller than rcut_A")
        if self.min_steps > self.max_steps:
            raise ValueError("min_steps must not exceed max_steps")
        if self.stop_lr >= self.start_lr:
            raise ValueError("stop_lr must be smaller than start_lr (the rate decays from one to the other)")
        return self
