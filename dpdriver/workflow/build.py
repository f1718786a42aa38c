"""dflow Workflows of a run. The same steps run locally (debug mode, one Workflow per stage of the
run, driven by run.py) and on Argo (one Workflow whose rounds recurse until `advance` says stop)."""

from __future__ import annotations

import sys
from pathlib import Path

from dflow import Inputs, InputArtifact, InputParameter, Outputs, OutputArtifact, OutputParameter, Step, Steps, \
    Workflow, argo_range, if_expression, upload_artifact
from dflow.python import PythonOPTemplate, Slices

from ..config import RunConfig
from ..explore import plan_tasks
from . import ops


def template(op, config: RunConfig, stage: str, slices: Slices | None = None, on_argo: bool = False) -> PythonOPTemplate:
    """Locally the step's interpreter is this one (dpdriver and its tools importable there); on Argo it is
    the image's, with the stage's resources and retries."""
    argo = config.execution.argo
    resources = argo.steps.get(stage)
    requests = {k: v for k, v in (("cpu", resources and resources.cpu), ("memory", resources and resources.memory)) if v}
    limits = {"nvidia.com/gpu": str(resources.gpu)} if resources and resources.gpu else None
    return PythonOPTemplate(
        op, image=(resources and resources.image) or argo.image, command=[argo.python if on_argo else sys.executable],
        upload_dflow=False, slices=slices, requests=requests or None, limits=limits,
        retry_on_failure_and_error=argo.retries if on_argo and argo.retries else None,
    )


def executor(config: RunConfig, stage: str):
    """dpdispatcher for the stages sent to an HPC queue (Slurm, PBS, LSF, or a local shell)."""
    dispatcher = config.execution.dispatcher
    if dispatcher is None or stage not in dispatcher.stages:
        return None
    from dflow.plugins.dispatcher import DispatcherExecutor

    return DispatcherExecutor(machine_dict=dict(dispatcher.machine), resources_dict=dict(dispatcher.resources),
                              command=sys.executable if dispatcher.machine.get("context_type") == "LocalContext" else "python3")


def stage_key(stage: str, round_tag: str | None = None) -> str:
    return stage if round_tag is None else f"{stage}-r{round_tag}"


def round_tag(round_index: int) -> str:
    return f"{round_index:03d}"


def explore_task_count(config: RunConfig) -> int:
    return len(plan_tasks(config.exploration, 0, config.exploration.starts_per_task, config.seed))


class Builder:
    """Steps of one run, with the config's execution settings; on_argo picks the image's interpreter."""

    def __init__(self, config: RunConfig, on_argo: bool = False):
        self.config, self.on_argo, self.plain = config, on_argo, config.to_plain()

    def step(self, stage: str, op, key: str, parameters: dict, artifacts: dict | None = None, slices=None, **kw) -> Step:
        return Step(stage, template(op, self.config, stage, slices, self.on_argo), parameters={"config": self.plain, **parameters},
                    artifacts=artifacts or {}, key=key, executor=executor(self.config, stage), **kw)

    def label(self, dataset: str, structures, batches, key: str) -> Step:
        """The labeling fan-out: one task per `labeler.structures_per_task` structures, a count known at run time."""
        return self.step("label", ops.Label, key + "-{{item}}", {"dataset": dataset, "batch": batches},
                         {"structures": structures}, with_param=batches,
                         slices=Slices("{{item}}", input_parameter=["batch"], output_artifact=["data", "quarantine"]))

    def init_steps(self) -> list[Step]:
        generate = self.step("generate", ops.Generate, stage_key("generate"), {})
        return [generate, self.label("init", generate.outputs.artifacts["structures"],
                                     generate.outputs.parameters["label_batches"], stage_key("label"))]

    def round_steps(self, round_index, tag: str, history, data) -> list[Step]:
        """train an ensemble -> explore with LAMMPS -> select by model deviation -> label."""
        n_models, n_tasks = self.config.training.models, explore_task_count(self.config)
        train = self.step("train", ops.Train, stage_key("train", tag) + "-{{item}}",
                          {"round_index": round_index, "model_index": list(range(n_models))}, {"data": data},
                          with_param=argo_range(n_models),
                          slices=Slices("{{item}}", input_parameter=["model_index"], output_artifact=["model", "lcurve"]))
        explore = self.step("explore", ops.Explore, stage_key("explore", tag) + "-{{item}}",
                            {"round_index": round_index, "task_index": list(range(n_tasks))},
                            {"models": train.outputs.artifacts["model"]}, with_param=argo_range(n_tasks),
                            slices=Slices("{{item}}", input_parameter=["task_index"], output_artifact=["task_dir"]))
        select = self.step("select", ops.Select, stage_key("select", tag), {"round_index": round_index, "history": history},
                           {"task_dirs": explore.outputs.artifacts["task_dir"], "data": data})
        label = self.label(f"round.{tag}", select.outputs.artifacts["candidates"],
                           select.outputs.parameters["label_batches"], stage_key("label", tag))
        return [train, explore, select, label]

    def export_step(self, model, history, stop_reason, key: str) -> Step:
        return self.step("export", ops.Export, key, {"history": history, "stop_reason": stop_reason}, {"model": model})


def _workflow(name: str, steps: list[Step], **kw) -> Workflow:
    wf = Workflow(name=name, id=name, **kw)
    for step in steps:
        wf.add(step)
    return wf


def init_workflow(config: RunConfig) -> Workflow:
    return _workflow("init", Builder(config).init_steps())


def round_workflow(config: RunConfig, round_index: int, history: list[dict], data_dir: Path) -> Workflow:
    tag = round_tag(round_index)
    return _workflow(f"round-{tag}", Builder(config).round_steps(round_index, tag, history, upload_artifact(str(data_dir))))


def export_workflow(config: RunConfig, model: Path, history: list[dict], stop_reason: str) -> Workflow:
    # keyed by the last round: a run continued after an export (round limit raised) exports again
    key = stage_key("export", round_tag(history[-1]["round"]))
    return _workflow(key, [Builder(config).export_step(upload_artifact(str(model)), history, stop_reason, key)])


def loop_workflow(config: RunConfig, on_argo: bool = True, name: str | None = None, given=None) -> Workflow:
    """The whole run as one Workflow: init, rounds by recursion until `advance` says stop, export."""
    builder = Builder(config, on_argo)
    rounds = Steps("rounds", inputs=Inputs(
        parameters={"round_index": InputParameter(type=int), "round_tag": InputParameter(type=str),
                    "history": InputParameter(type=list)},
        artifacts={"data": InputArtifact()}),
        outputs=Outputs(parameters={"history": OutputParameter(type=list), "stop_reason": OutputParameter(type=str)},
                        artifacts={"models": OutputArtifact()}))
    index, tag = rounds.inputs.parameters["round_index"], rounds.inputs.parameters["round_tag"]
    history, data = rounds.inputs.parameters["history"], rounds.inputs.artifacts["data"]
    train, explore, select, label = builder.round_steps(index, "{{inputs.parameters.round_tag}}", history, data)
    advance = builder.step("advance", ops.Advance, stage_key("advance", "{{inputs.parameters.round_tag}}"),
                           {"round_index": index, "history": history, "summary": select.outputs.parameters["summary"]},
                           {"data": data, "new_data": label.outputs.artifacts["data"]})
    following = Step("next", template=rounds, parameters={
        "round_index": advance.outputs.parameters["next_round_index"],
        "round_tag": advance.outputs.parameters["next_round_tag"],
        "history": advance.outputs.parameters["history"]},
        artifacts={"data": advance.outputs.artifacts["data"]},
        when="%s == false" % advance.outputs.parameters["stop"])
    for step in (train, explore, select, label, advance, following):
        rounds.add(step)
    stopped = advance.outputs.parameters["stop"] == True  # noqa: E712 (an Argo expression, not a Python test)
    rounds.outputs.parameters["history"].value_from_expression = if_expression(
        _if=stopped, _then=advance.outputs.parameters["history"], _else=following.outputs.parameters["history"])
    rounds.outputs.parameters["stop_reason"].value_from_expression = if_expression(
        _if=stopped, _then=advance.outputs.parameters["stop_reason"], _else=following.outputs.parameters["stop_reason"])
    rounds.outputs.artifacts["models"].from_expression = if_expression(
        _if=stopped, _then=train.outputs.artifacts["model"], _else=following.outputs.artifacts["models"])

    steps = builder.init_steps() if any(g.keep for g in config.initial_data.generators) else []
    if given is None and config.initial_data.data_dirs:
        given = upload_artifact([str(Path(d)) for d in config.initial_data.data_dirs])
    start = builder.step("gather", ops.Gather, "gather", {}, {
        **({"init": steps[-1].outputs.artifacts["data"]} if steps else {}),
        **({"given": given} if given is not None else {})})
    first = Step("rounds", template=rounds, parameters={"round_index": 0, "round_tag": round_tag(0), "history": []},
                 artifacts={"data": start.outputs.artifacts["data"]})
    export = builder.export_step(first.outputs.artifacts["models"], first.outputs.parameters["history"],
                                 first.outputs.parameters["stop_reason"], "export")
    name = name or f"dpdriver-{config.element.lower()}"
    wf = Workflow(name=name, id=None if on_argo else name, parallelism=config.execution.argo.parallelism)
    for step in steps + [start, first, export]:
        wf.add(step)
    return wf
