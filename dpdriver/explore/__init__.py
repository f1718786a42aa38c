"""Exploration: LAMMPS MD with the ensemble, each frame's model deviation recorded."""

from .md import (
    PROGRESS_FILE,
    START_FILE,
    TASK_FILE,
    MDTask,
    draw_start,
    plan_tasks,
    read_model_devi,
    read_trajectory,
    run_md_task,
    start_pools,
)

__all__ = [
    "PROGRESS_FILE",
    "START_FILE",
    "TASK_FILE",
    "MDTask",
    "draw_start",
    "plan_tasks",
    "read_model_devi",
    "read_trajectory",
    "run_md_task",
    "start_pools",
]
