"""The study's settings: one place, written next to the results so that every number can be reproduced."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Optional

STRATEGIES = {
    "a": "volume + strain + shear scans",
    "b": "(a) + normal modes",
    "c": "(b) + random displacements",
    "d": "random structures",
    "e": "MD subsample (300-1500 K)",
    "f": "active learning (model deviation)",
    "g": "whole MD pool",
}


@dataclass(frozen=True)
class Settings:
    element: str = "Cu"
    repeat: int = 2  # conventional fcc cells per side: 32 atoms
    budgets: tuple[int, ...] = (50, 100, 200, 400)
    seeds: tuple[int, ...] = (1, 2)  # each seed: its own structures, MD starts and training seeds
    strategies: tuple[str, ...] = tuple(STRATEGIES)
    # the MD pool (strategies e and g): Langevin MD with the referee, one snapshot every stride steps
    pool_temperatures_K: tuple[float, ...] = (300.0, 600.0, 900.0, 1200.0, 1500.0)
    pool_frames_per_temperature: int = 2000
    pool_stride: int = 5
    md_timestep_fs: float = 2.0
    md_equilibration_steps: int = 500
    # the held-out test suite, never trained on
    test_frames_per_family: int = 20
    test_md_temperatures_K: tuple[float, ...] = (300.0, 900.0, 1500.0)
    liquid_temperature_K: float = 2500.0
    liquid_volume_change: float = 0.05  # the liquid is less dense than the crystal
    # (melted first at 2.4 x liquid_temperature_K: see dpdriver.generate.held_out.liquid)
    test_stride: int = 50
    # training: identical for every strategy
    training_steps: int = 2000
    rcut_A: Optional[float] = None  # None: dpdriver's default cutoff
    rcut_smth_A: Optional[float] = None
    # active learning (f): ensemble, exploration and trust levels
    al_models: int = 2
    al_md_steps: int = 1000
    al_deviation_every_steps: int = 5
    al_temperatures_K: tuple[float, ...] = (300.0, 700.0, 1100.0, 1500.0)  # NVT and NPT each
    al_force_trust_lo_eV_A: float = 0.05
    al_force_trust_hi_eV_A: float = 0.5
    workers: int = 2  # trainings and MD runs at once (one thread each)

    def as_dict(self) -> dict:
        return asdict(self)


FULL = Settings()
# checks that every step runs, not the numbers: tiny pool, one budget, a few training steps
QUICK = replace(
    FULL,
    budgets=(8,),
    seeds=(1,),
    pool_temperatures_K=(300.0, 1500.0),
    pool_frames_per_temperature=20,
    test_frames_per_family=2,
    test_md_temperatures_K=(300.0,),
    test_stride=10,
    md_equilibration_steps=20,
    training_steps=60,
    al_md_steps=200,
    al_temperatures_K=(600.0, 1500.0),
    rcut_A=5.0,
    rcut_smth_A=0.5,
)  # 60-step ensembles on 4 frames stay inside the trust window with it
