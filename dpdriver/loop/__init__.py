"""The loop: its decisions as pure functions of the config and the rounds so far (decisions.py), and the one
definition of a round (round.py) that the local runner, the Argo workflow and the Python API share."""

from .decisions import (
    failing_labels,
    round_config,
    round_record,
    stage_for_round,
    stop_reason_after,
    training_summary,
    warm_start_possible,
)
from .round import (
    RoundPlan,
    explore_task,
    plan_round,
    record_round,
    run_round,
    run_shape,
    select_round,
    train_member,
)

__all__ = [
    "RoundPlan",
    "explore_task",
    "failing_labels",
    "plan_round",
    "record_round",
    "round_config",
    "round_record",
    "run_round",
    "run_shape",
    "select_round",
    "stage_for_round",
    "stop_reason_after",
    "train_member",
    "training_summary",
    "warm_start_possible",
]
