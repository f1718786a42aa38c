"""dflow Workflows of a run. The same steps run locally (debug mode, one Workflow per stage of the
run, driven by run.py) and on Argo (one Workflow whose rounds recurse until `advance` says stop)."""

from __future__ import annotations

import sys
from pathlib import Path

from dflow import (
    InputArtifact,
    InputParameter,
    Inputs,
    OutputArtifact,
    OutputParameter,
    Outputs,
    Step,
    Steps,
    Workflow,
    argo_range,
    if_expression,
    upload_artifact,
)
from dflow.python import PythonOPTemplate, Slices

from ...config import RunConfig
from ...loop import RoundPlan, plan_round
from ...rundir import ROUND_PREFIX, round_tag
from . import ops
from .dispatch import executor


def template(
    op, config: RunConfig, stage: str, slices: Slices | None = None, on_argo: bool = False
) -> PythonOPTemplate:
    """Locally the step's interpreter is this one (dpdriver and its tools importable there); on Argo it is
    the image's, with the stage's resources and retries."""
    argo = config.execution.argo
    resources = argo.steps.get(stage)
    requests = {
        k: v for k, v in (("cpu", resources and resources.cpu), ("memory", resources and resources.memory)) if v
    }
    limits = {"nvidia.com/gpu": str(resources.gpu)} if resources and resources.gpu else None
    return PythonOPTemplate(
        op,
        image=(resources and resources.image) or argo.image,
        command=[argo.python if on_argo else sys.executable],
        upload_dflow=False,
        slices=slices,
        requests=requests or None,
        limits=limits,
        retry_on_failure_and_error=argo.retries if on_argo and argo.retries else None,
    )


def stage_key(stage: str, round_tag: str | None = None) -> str:
    return stage if round_tag is None else f"{stage}-r{round_tag}"


def has_generators(config: RunConfig) -> bool:
    return any(g.keep for g in config.initial_data.generators)


class Builder:
    """Steps of one run, with the config's execution settings; on_argo picks the image's interpreter."""

    def __init__(self, config: RunConfig, on_argo: bool = False):
        self.config, self.on_argo, self.plain = config, on_argo, config.to_plain()

    def config_inputs(self, op) -> dict:
        """What of the config a step is given: the sections its OP names as inputs, or all of it as `config`."""
        sections = {**self.plain, "config": self.plain}
        return {name: sections[name] for name in op.inputs if name in sections}

    def step(
        self,
        stage: str,
        op,
        key: str,
        parameters: dict,
        artifacts: dict | None = None,
        slices=None,
        name: str | None = None,
        **kw,
    ) -> Step:
        """A step of a stage (its resources, image, executor); two fan-outs in one workflow need distinct names,
        or dflow gathers their slices together."""
        return Step(
            name or stage,
            template(op, self.config, stage, slices, self.on_argo),
            parameters={**self.config_inputs(op), **parameters},
            artifacts=artifacts or {},
            key=key,
            executor=executor(self.config.execution.dispatcher, stage),
            **kw,
        )

    def label(self, dataset: str, structures, batches, key: str, name: str = "label") -> Step:
        """The labeling fan-out: one task per `labeler.structures_per_task` structures, a count known at run time."""
        return self.step(
            "label",
            ops.Label,
            key + "-{{item}}",
            {"dataset": dataset, "batch": batches},
            {"structures": structures},
            with_param=batches,
            name=name,
            slices=Slices("{{item}}", input_parameter=["batch"], output_artifact=["data", "quarantine"]),
        )

    def init_steps(self, generated: bool = True, held_out: bool = True) -> dict[str, tuple[Step, Step]]:
        """(generate, label) for the initial set ("init") and for the held-out test set ("test")."""
        pairs = {}
        for wanted, op, generate_key, dataset, label_key in (
            (generated, ops.Generate, stage_key("generate"), "init", stage_key("label")),
            (held_out, ops.HeldOut, stage_key("test-structures"), "test", stage_key("test-label")),
        ):
            if wanted:
                generate = self.step("generate", op, generate_key, {}, name=generate_key)
                pairs[dataset] = (
                    generate,
                    self.label(
                        dataset,
                        generate.outputs.artifacts["structures"],
                        generate.outputs.parameters["label_batches"],
                        label_key,
                        name=label_key,
                    ),
                )
        return pairs

    def round_steps(self, plan, tag: str, data, test_data, explore_steps, decisions, parents=None) -> list[Step]:
        """train an ensemble (each member from its parent of the last round, if any) -> (explore with LAMMPS,
        validate on the test set) -> select by model deviation -> label, all by the round's plan (loop.RoundPlan,
        as JSON or the loop's parameter). explore_steps: the explore steps' indices (see explore_steps())."""
        n_models = self.config.training.models
        train = self.step(
            "train",
            ops.Train,
            stage_key("train", tag) + "-{{item}}",
            {"plan": plan, "model_index": list(range(n_models)), "decisions": decisions},
            {"data": data, **({"parents": parents} if parents is not None else {})},
            with_param=argo_range(n_models),
            slices=Slices("{{item}}", input_parameter=["model_index"], output_artifact=["model", "lcurve", "stats"]),
        )
        models = train.outputs.artifacts["model"]
        explore = self.step(
            "explore",
            ops.Explore,
            stage_key("explore", tag) + "-{{item}}",
            {"plan": plan, "step_index": explore_steps, "steps": explore_steps},
            {"models": models, "data": data},
            with_param=explore_steps,
            slices=Slices("{{item}}", input_parameter=["step_index"], output_artifact=["tasks"]),
        )
        validate = self.step(
            "validate",
            ops.Validate,
            stage_key("validate", tag),
            {},
            {"models": models, **({"test_data": test_data} if test_data is not None else {})},
        )
        select = self.step(
            "select",
            ops.Select,
            stage_key("select", tag),
            {"plan": plan},
            {"explored": explore.outputs.artifacts["tasks"], "data": data},
        )
        label = self.label(
            ROUND_PREFIX + tag,  # round_dataset(r), where tag may be the loop's parameter
            select.outputs.artifacts["candidates"],
            select.outputs.parameters["label_batches"],
            stage_key("label", tag),
        )
        return [train, [explore, validate], select, label]

    def production_step(self, models, data, test_data, decisions, history, key: str) -> Step:
        optional = {"test_data": test_data} if test_data is not None else {}
        return self.step(
            "production",
            ops.Production,
            key,
            {"decisions": decisions, "history": history},
            {"models": models, "data": data, **optional},
        )

    def export_step(
        self, models, history, stop_reason, key: str, test_data=None, data=None, decisions=None, production=None
    ) -> Step:
        optional = {
            name: art
            for name, art in (("test_data", test_data), ("data", data), ("production", production))
            if art is not None
        }
        return self.step(
            "export",
            ops.Export,
            key,
            {"history": history, "stop_reason": stop_reason, "decisions": decisions or {}},
            {"model": models, **optional},
        )


def _one_after_another(pairs: dict[str, tuple[Step, Step]]) -> list[Step]:
    """The initial set, then the held-out set. Side by side (two sliced fan-outs in one parallel group),
    dflow's debug mode once left a finished slice process blocked on a pipe, and the runner hung at exit."""
    return [step for pair in pairs.values() for step in pair]


def _workflow(name: str, steps: list[Step], **kw) -> Workflow:
    wf = Workflow(name=name, id=name, **kw)
    for step in steps:
        wf.add(step)
    return wf


def init_workflow(config: RunConfig, generated: bool = True, held_out: bool = True) -> Workflow:
    return _workflow("init", _one_after_another(Builder(config).init_steps(generated, held_out)))


def _uploaded(path: Path | None):
    return upload_artifact(str(path)) if path is not None and Path(path).exists() else None


def explore_steps(n_tasks: int, workers: int) -> list[int]:
    """The explore steps of a local round: one per worker, each running its share of the MD tasks (a step is a new
    Python, 2-3 s before LAMMPS starts); on Argo every task is a step of its own (the loop's explore_tasks)."""
    return list(range(max(1, min(n_tasks, workers))))


def round_workflow(
    config: RunConfig,
    plan: RoundPlan,
    data_dir: Path,
    test_data_dir: Path | None,
    decisions: dict,
    parents_dir: Path | None = None,
) -> Workflow:
    tag = round_tag(plan.index)
    return _workflow(
        f"round-{tag}",
        Builder(config).round_steps(
            plan.to_plain(),
            tag,
            upload_artifact(str(data_dir)),
            _uploaded(test_data_dir),
            explore_steps(len(plan.tasks), config.training.parallel),
            decisions,
            _uploaded(parents_dir),
        ),
    )


def production_workflow(
    config: RunConfig,
    models_dir: Path,
    data_dir: Path,
    test_data_dir: Path | None,
    decisions: dict,
    history: list[dict],
) -> Workflow:
    # keyed by the last round, as the export: a killed production training reruns in its folder and resumes
    key = stage_key("production", round_tag(history[-1]["round"]))
    return _workflow(
        key,
        [
            Builder(config).production_step(
                upload_artifact(str(models_dir)),
                upload_artifact(str(data_dir)),
                _uploaded(test_data_dir),
                decisions,
                history,
                key,
            )
        ],
    )


def export_workflow(
    config: RunConfig,
    models_dir: Path,
    history: list[dict],
    stop_reason: str,
    test_data_dir: Path | None,
    data_dir: Path | None,
    decisions: dict | None = None,
    production: Path | None = None,
) -> Workflow:
    # keyed by the last round: a run continued after an export (round limit raised) exports again
    key = stage_key("export", round_tag(history[-1]["round"]))
    return _workflow(
        key,
        [
            Builder(config).export_step(
                upload_artifact(str(models_dir)),
                history,
                stop_reason,
                key,
                _uploaded(test_data_dir),
                _uploaded(data_dir),
                decisions,
                _uploaded(production),
            )
        ],
    )


def loop_workflow(config: RunConfig, on_argo: bool = True, name: str | None = None, given=None) -> Workflow:
    """The whole run as one Workflow: init, rounds by recursion until `advance` says stop, export."""
    builder = Builder(config, on_argo)
    rounds = Steps(
        "rounds",
        inputs=Inputs(
            parameters={
                "plan": InputParameter(type=dict),
                "round_tag": InputParameter(type=str),
                "history": InputParameter(type=list),
                "explore_tasks": InputParameter(type=list),
                "decisions": InputParameter(type=dict),
            },
            artifacts={"data": InputArtifact(), "test_data": InputArtifact(), "parents": InputArtifact(optional=True)},
        ),
        outputs=Outputs(
            parameters={"history": OutputParameter(type=list), "stop_reason": OutputParameter(type=str)},
            artifacts={"models": OutputArtifact(), "data": OutputArtifact()},
        ),
    )
    inputs = rounds.inputs
    tag = "{{inputs.parameters.round_tag}}"
    plan, history = inputs.parameters["plan"], inputs.parameters["history"]
    data, test_data = inputs.artifacts["data"], inputs.artifacts["test_data"]
    decisions = inputs.parameters["decisions"]
    train, (explore, validate), select, label = builder.round_steps(
        plan, tag, data, test_data, inputs.parameters["explore_tasks"], decisions, inputs.artifacts["parents"]
    )
    advance = builder.step(
        "advance",
        ops.Advance,
        stage_key("advance", tag),
        {
            "plan": plan,
            "decisions": decisions,
            "history": history,
            "summary": select.outputs.parameters["summary"],
            "validation": validate.outputs.parameters["errors"],
        },
        {"data": data, "new_data": label.outputs.artifacts["data"], "stats": train.outputs.artifacts["stats"]},
    )
    following = Step(
        "next",
        template=rounds,
        parameters={
            "plan": advance.outputs.parameters["next_plan"],
            "round_tag": advance.outputs.parameters["next_round_tag"],
            "history": advance.outputs.parameters["history"],
            "explore_tasks": advance.outputs.parameters["next_explore_tasks"],
            "decisions": decisions,
        },
        artifacts={
            "data": advance.outputs.artifacts["data"],
            "test_data": test_data,
            "parents": train.outputs.artifacts["model"],
        },
        when=f"{advance.outputs.parameters['stop']} == false",
    )
    for step in (train, [explore, validate], select, label, advance, following):
        rounds.add(step)
    stopped = advance.outputs.parameters["stop"] == True  # noqa: E712 (an Argo expression, not a Python test)
    rounds.outputs.parameters["history"].value_from_expression = if_expression(
        _if=stopped, _then=advance.outputs.parameters["history"], _else=following.outputs.parameters["history"]
    )
    rounds.outputs.parameters["stop_reason"].value_from_expression = if_expression(
        _if=stopped, _then=advance.outputs.parameters["stop_reason"], _else=following.outputs.parameters["stop_reason"]
    )
    rounds.outputs.artifacts["models"].from_expression = if_expression(
        _if=stopped, _then=train.outputs.artifacts["model"], _else=following.outputs.artifacts["models"]
    )
    rounds.outputs.artifacts["data"].from_expression = if_expression(
        _if=stopped, _then=advance.outputs.artifacts["data"], _else=following.outputs.artifacts["data"]
    )

    init = builder.init_steps(generated=has_generators(config))
    init_data = init["init"][1].outputs.artifacts["data"] if "init" in init else None
    test_labels = init["test"][1].outputs.artifacts["data"]
    if given is None and config.initial_data.data_dirs:
        given = upload_artifact([str(Path(d)) for d in config.initial_data.data_dirs])
    start = builder.step(
        "gather",
        ops.Gather,
        "gather",
        {},
        {**({"init": init_data} if init_data is not None else {}), **({"given": given} if given is not None else {})},
    )
    decided = start.outputs.parameters["decisions"]
    plan = plan_round(config, [], None)  # round 0 depends on no decision: it trains from scratch
    first = Step(
        "rounds",
        template=rounds,
        parameters={
            "plan": plan.to_plain(),
            "round_tag": round_tag(0),
            "history": [],
            "explore_tasks": list(range(len(plan.tasks))),
            "decisions": decided,
        },
        artifacts={"data": start.outputs.artifacts["data"], "test_data": test_labels},
    )
    steps = [start, first]
    production = None
    if config.training.production:
        production_step = builder.production_step(
            first.outputs.artifacts["models"],
            first.outputs.artifacts["data"],
            test_labels,
            decided,
            first.outputs.parameters["history"],
            "production",
        )
        steps.append(production_step)
        production = production_step.outputs.artifacts["production"]
    export = builder.export_step(
        first.outputs.artifacts["models"],
        first.outputs.parameters["history"],
        first.outputs.parameters["stop_reason"],
        "export",
        test_labels,
        first.outputs.artifacts["data"],
        decided,
        production,
    )
    name = name or f"dpdriver-{config.element.lower()}"
    wf = Workflow(name=name, id=None if on_argo else name, parallelism=config.execution.argo.parallelism)
    for step in _one_after_another(init) + steps + [export]:
        wf.add(step)
    return wf
