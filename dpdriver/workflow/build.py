"""dflow Workflows of a run: init, one per round, export. The same objects run locally or on Argo."""

from __future__ import annotations

import os
import sys
from dataclasses import asdict
from pathlib import Path

from dflow import Step, Workflow, argo_range, upload_artifact
from dflow.python import PythonOPTemplate, Slices

from ..config import RunConfig
from ..explore import plan_tasks
from . import ops

IMAGE = os.environ.get("DPDRIVER_IMAGE", "dpdriver:0.1.0")  # the image Argo pods run; unused locally


def template(op, slices: Slices | None = None) -> PythonOPTemplate:
    # the step's interpreter is this one, so dpdriver and the tools of its install are importable there
    return PythonOPTemplate(op, image=IMAGE, command=[sys.executable], upload_dflow=False, slices=slices)


def round_id(round_index: int) -> str:
    return f"round-{round_index:03d}"


def stage_key(stage: str, round_index: int | None = None) -> str:
    return stage if round_index is None else f"{stage}-r{round_index:03d}"


def round_step(stage: str, op, plain_config: dict, round_index: int, **artifacts) -> Step:
    """A one-pod step of a round, keyed by stage and round so that a resumed run skips it once done."""
    return Step(stage, template(op), parameters={"config": plain_config, "round_index": round_index},
                artifacts=artifacts, key=stage_key(stage, round_index))


def label_step(plain_config: dict, dataset: str, structures, batches, key: str) -> Step:
    """The labeling fan-out: one task per `labeler.structures_per_task` structures, a count known only at run time."""
    return Step(
        "label",
        template(ops.Label, Slices("{{item}}", input_parameter=["batch"], output_artifact=["data", "quarantine"])),
        parameters={"config": plain_config, "dataset": dataset, "batch": batches},
        artifacts={"structures": structures},
        with_param=batches,
        key=key + "-{{item}}",
    )


def init_workflow(config: RunConfig) -> Workflow:
    plain = config.to_plain()
    generate = Step("generate", template(ops.Generate), parameters={"config": plain}, key=stage_key("generate"))
    label = label_step(plain, "init", generate.outputs.artifacts["structures"],
                       generate.outputs.parameters["label_batches"], stage_key("label"))
    wf = Workflow(name="init", id="init")
    wf.add(generate)
    wf.add(label)
    return wf


def round_workflow(config: RunConfig, round_index: int, data_dir: Path) -> Workflow:
    """train an ensemble -> explore with LAMMPS -> select by model deviation -> label."""
    plain = config.to_plain()
    n_models = config.training.models
    train = Step(
        "train",
        template(ops.Train, Slices("{{item}}", input_parameter=["model_index"], output_artifact=["model", "lcurve"])),
        parameters={"config": plain, "round_index": round_index, "model_index": list(range(n_models))},
        artifacts={"data": upload_artifact(str(data_dir))},
        with_param=argo_range(n_models),
        key=stage_key("train", round_index) + "-{{item}}",
    )
    tasks = [asdict(t) for t in plan_tasks(config.exploration, round_index, config.exploration.starts_per_task, config.seed)]
    explore = Step(
        "explore",
        template(ops.Explore, Slices("{{item}}", input_parameter=["task"], output_artifact=["task_dir"])),
        parameters={"config": plain, "task": tasks},
        artifacts={"models": train.outputs.artifacts["model"]},
        with_param=argo_range(len(tasks)),
        key=stage_key("explore", round_index) + "-{{item}}",
    )
    select = round_step("select", ops.Select, plain, round_index, task_dirs=explore.outputs.artifacts["task_dir"],
                        data=upload_artifact(str(data_dir)))
    label = label_step(plain, f"round.{round_index:03d}", select.outputs.artifacts["candidates"],
                       select.outputs.parameters["label_batches"], stage_key("label", round_index))
    wf = Workflow(name=round_id(round_index), id=round_id(round_index))
    for step in (train, explore, select, label):
        wf.add(step)
    return wf


def export_workflow(config: RunConfig, model: Path, history: list[dict], stop_reason: str) -> Workflow:
    # keyed by the last round: a run continued after an export (round limit raised) exports again
    key = stage_key("export", history[-1]["round"])
    wf = Workflow(name=key, id=key)
    wf.add(
        Step(
            "export",
            template(ops.Export),
            parameters={"config": config.to_plain(), "history": history, "stop_reason": stop_reason},
            artifacts={"model": upload_artifact(str(model))},
            key=key,
        )
    )
    return wf
