"""Training stage: DeePMD-kit models whose shape, length and start follow from the run's data."""

from .decide import decide_model, decisions_line, model_shape, with_decisions
from .dp import TRAIN_STATS, train_model
from .production import PRODUCTION_SUMMARY, choose_member, production_origin, train_production
from .schedule import Schedule, plan_schedule

__all__ = [
    "decide_model",
    "decisions_line",
    "model_shape",
    "with_decisions",
    "train_model",
    "TRAIN_STATS",
    "choose_member",
    "train_production",
    "production_origin",
    "PRODUCTION_SUMMARY",
    "Schedule",
    "plan_schedule",
]
