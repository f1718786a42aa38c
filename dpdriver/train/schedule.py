"""How long and how each model trains, derived from the amount of data (pure functions).

A from-scratch model sees every frame `epochs` times, between `min_steps` and `max_steps`; a warm start
(member i of round N+1 from member i of round N) continues with a lower learning rate for a fraction
of that; the production model continues the best member on all data. The learning rate decays
exponentially to `stop_lr` at the last step, and the loss prefactors follow it, so every schedule
ends on the same energy/force balance, whatever its length.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

from ..data import count_frames

KINDS = ("scratch", "warm", "production")


@dataclass(frozen=True)
class Schedule:
    kind: str
    steps: int
    start_lr: float
    stop_lr: float
    start_pref_e: float
    limit_pref_e: float
    start_pref_f: float
    limit_pref_f: float
    start_pref_v: float
    limit_pref_v: float

    @property
    def decay_steps(self) -> int:
        """Small enough that the exponential decay is smooth (about 100 decays per training)."""
        return max(1, min(5000, self.steps // 100))

    def as_dict(self) -> dict:
        return {**asdict(self), "decay_steps": self.decay_steps}


def batches_per_epoch(system_dirs: list[Path], batch_atoms: int) -> int:
    """Training steps that show each frame once, at DeePMD-kit's batch size "auto:batch_atoms"."""
    total = 0
    for system in system_dirs:
        atoms = len((Path(system) / "type.raw").read_text().split())
        frames = count_frames(Path(system))
        total += math.ceil(frames / math.ceil(batch_atoms / atoms))
    return max(1, total)


def _steps(epochs: float, batches: int, lo: int, hi: int) -> int:
    return int(min(hi, max(lo, round(epochs * batches))))


def plan_schedule(training, batches: int, kind: str = "scratch") -> Schedule:
    """The schedule of one model: kind 'scratch' (no parent), 'warm' (a parent of the same shape) or
    'production' (the exported model, continued from the best member on all data)."""
    if kind not in KINDS:
        raise ValueError(f"unknown schedule kind {kind}")
    t = training
    prefs = dict(
        limit_pref_e=t.limit_pref_e,
        limit_pref_f=t.limit_pref_f,
        start_pref_v=t.start_pref_v,
        limit_pref_v=t.limit_pref_v,
    )
    if kind == "scratch":
        steps = t.steps or _steps(t.epochs, batches, t.min_steps, t.max_steps)
        return Schedule(
            kind, steps, t.start_lr, t.stop_lr, start_pref_e=t.start_pref_e, start_pref_f=t.start_pref_f, **prefs
        )
    if kind == "warm":
        scratch = t.steps or _steps(t.epochs, batches, t.min_steps, t.max_steps)
        steps = max(1, round(t.warm_start_fraction * scratch))
        # the parent already balances energy and forces: start nearer the limits, at a lower rate
        return Schedule(
            kind,
            steps,
            t.warm_start_lr,
            t.stop_lr,
            start_pref_e=t.warm_start_pref_e,
            start_pref_f=t.warm_start_pref_f,
            **prefs,
        )
    steps = t.production_steps or _steps(t.production_epochs, batches, t.min_steps, t.production_max_steps)
    return Schedule(
        kind,
        steps,
        t.production_start_lr,
        t.stop_lr,
        start_pref_e=t.warm_start_pref_e,
        start_pref_f=t.warm_start_pref_f,
        **prefs,
    )
