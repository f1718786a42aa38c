"""dflow OPs: each unpacks its inputs, calls one stage function and packs the outputs; no logic of its own."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import List

from dflow.python import OP, OPIO, Artifact, OPIOSign
from pydantic import TypeAdapter

from ...config import InitialDataConfig, LabelerConfig, RunConfig, TrainingConfig
from ...data import count_frames, read_frames, system_dirs
from ...explore import TASK_FILE
from ...export import export_potential
from ...generate import held_out_structures
from ...generate.initial_data import generate_initial_structures
from ...label import label_to_data, make_labeler, merge_reports
from ...loop import (
    RoundPlan,
    explore_task,
    plan_round,
    record_round,
    run_shape,
    select_round,
    stop_reason_after,
    train_member,
)
from ...rundir import RunDir, round_dataset, round_tag
from ...seeds import derive_seed
from ...structures import batch_slice, label_batches, read_structures, write_structures
from ...tools import timed
from ...train import PRODUCTION_SUMMARY, TRAIN_STATS, choose_member, decide_model, train_production, with_decisions
from ...validate import ensemble_test_errors
from ...validate.check import validate_model

STRUCTURES_FILE = "structures.extxyz"
EXPLORED_DIR = "tasks"  # an explore step's output: one folder per MD task
LABEL_REPORT_FILE = "label_report.json"


SECTIONS = {"training": TrainingConfig, "labeler": LabelerConfig, "initial_data": InitialDataConfig}


def _config(op_in: OPIO) -> RunConfig:
    """The whole config, for the steps that plan or judge across stages (init, validate, advance, export)."""
    return RunConfig.model_validate(op_in["config"])


def _section(op_in: OPIO, name: str):
    """One section of the config, checked by its own schema: a stage step is given only the sections it reads
    (Builder.step fills an OP's inputs named after them)."""
    return TypeAdapter(SECTIONS[name]).validate_python(op_in[name])


def _ensemble(paths) -> list[Path]:
    """The models of an ensemble, model 0 first, given as graph files or folders of them (models/graph.NNN.pb
    locally, train.NNN/graph.pb from Argo's artifacts)."""
    graphs = [g for p in paths for g in ([Path(p)] if Path(p).is_file() else Path(p).rglob("*.pb"))]
    return sorted(graphs, key=lambda g: (g.parent.name, g.name))


def _production_dir(path) -> Path | None:
    """The production step's output folder (production/out, below the artifact's root on Argo)."""
    if path is None:
        return None
    found = [p.parent for p in Path(path).rglob(PRODUCTION_SUMMARY)]
    return found[0] if found else None


class StageOP(OP):
    """An OP declared by its `inputs` and `outputs` signatures."""

    inputs: dict = {}
    outputs: dict = {}

    @classmethod
    def get_input_sign(cls):
        return OPIOSign(cls.inputs)

    @classmethod
    def get_output_sign(cls):
        return OPIOSign(cls.outputs)


class Generate(StageOP):
    """Generate the initial structures (running the labeler where a generator needs it: MD, force constants)."""

    inputs = {"config": dict}
    outputs = {"structures": Artifact(Path), "label_batches": List[int], "generators": list}

    @OP.exec_sign_check
    def execute(self, op_in: OPIO) -> OPIO:
        config = _config(op_in)
        with timed("labeler"):  # generators that run the labeler (MD, force constants)
            _, structures, generators = generate_initial_structures(config)
        return OPIO(
            {
                "structures": write_structures(structures, Path(STRUCTURES_FILE)),
                "label_batches": label_batches(len(structures), config.labeler.structures_per_task),
                "generators": generators,
            }
        )


class HeldOut(StageOP):
    """The held-out test structures: never trained on, labeled once, the yardstick of every round and the export."""

    inputs = {"config": dict}
    outputs = {"structures": Artifact(Path), "label_batches": List[int]}

    @OP.exec_sign_check
    def execute(self, op_in: OPIO) -> OPIO:
        config = _config(op_in)
        with timed("labeler"):
            structures = held_out_structures(
                config, derive_seed(config.seed, "test"), make_labeler(config.labeler).calculator
            )
        return OPIO(
            {
                "structures": write_structures(structures, Path(STRUCTURES_FILE)),
                "label_batches": label_batches(len(structures), config.labeler.structures_per_task),
            }
        )


class Validate(StageOP):
    """Every member's errors on the held-out test set (model 0 in detail, the yardstick of the round; the best member
    is the production model's parent)."""

    inputs = {"config": dict, "models": Artifact(List[Path]), "test_data": Artifact(Path, optional=True)}
    outputs = {"errors": dict}

    @OP.exec_sign_check
    def execute(self, op_in: OPIO) -> OPIO:
        config = _config(op_in)
        models = _ensemble(op_in["models"])
        with timed("validate"):
            errors = ensemble_test_errors(models, op_in["test_data"], config.element, make_labeler(config.labeler).name)
            if config.convergence.require_properties:  # the loop's gate: properties against the labeler every round
                result = validate_model(models[0], config, "labeler", errors)
                errors["properties"] = {
                    "passed": result["passed"],
                    "checked": result["checked"],
                    "failed": [r["property"] for r in result["rows"] if r["pass"] is False],
                }
        return OPIO({"errors": errors})


class Train(StageOP):
    """Train and freeze one member of the ensemble on every dataset so far (loop.train_member)."""

    inputs = {
        "training": dict,
        "element": str,
        "seed": int,
        "decisions": dict,
        "plan": dict,
        "model_index": int,
        "data": Artifact(Path),
        "parents": Artifact(List[Path], optional=True),
    }
    outputs = {"model": Artifact(Path), "lcurve": Artifact(Path), "stats": Artifact(Path)}

    @OP.exec_sign_check
    def execute(self, op_in: OPIO) -> OPIO:
        i = op_in["model_index"]
        workdir = Path(f"train.{i:03d}")
        graph = train_member(
            with_decisions(_section(op_in, "training"), op_in["decisions"]),
            op_in["element"],
            op_in["seed"],
            RoundPlan.from_plain(op_in["plan"]),
            i,
            [Path(op_in["data"])],
            workdir,
            _ensemble(op_in["parents"] or []),
        )
        return OPIO({"model": graph, "lcurve": workdir / "lcurve.out", "stats": workdir / TRAIN_STATS})


class Production(StageOP):
    """The exported model: the best member of the last round (lowest held-out error) continued on all data, the
    held-out set as validation, the checkpoint of lowest validation error frozen. Rerun after a kill, it resumes."""

    inputs = {
        "training": dict,
        "element": str,
        "seed": int,
        "decisions": dict,
        "history": list,
        "models": Artifact(List[Path]),
        "data": Artifact(Path),
        "test_data": Artifact(Path, optional=True),
    }
    outputs = {"production": Artifact(Path), "summary": dict}

    @OP.exec_sign_check
    def execute(self, op_in: OPIO) -> OPIO:
        training = with_decisions(_section(op_in, "training"), op_in["decisions"])
        member = choose_member(op_in["history"][-1].get("validation"))
        out = train_production(
            training,
            op_in["element"],
            _ensemble(op_in["models"])[member["index"]],
            member,
            system_dirs(op_in["data"]),
            op_in["test_data"],
            Path("production"),
            derive_seed(op_in["seed"], "production"),
        )
        return OPIO({"production": out, "summary": json.loads((out / PRODUCTION_SUMMARY).read_text())})


class Explore(StageOP):
    """The LAMMPS MD tasks of one explore step, one after another, with model deviation from the whole ensemble:
    step k of n runs the plan's tasks k, k + n, ... (one task per step on Argo; locally one step per worker, so that
    a new Python starts per worker, not per task)."""

    inputs = {
        "element": str,
        "initial_data": dict,
        "plan": dict,
        "step_index": int,
        "steps": List[int],
        "models": Artifact(List[Path]),
        "data": Artifact(Path),
    }
    outputs = {"tasks": Artifact(Path)}

    @OP.exec_sign_check
    def execute(self, op_in: OPIO) -> OPIO:
        plan = RoundPlan.from_plain(op_in["plan"])
        out = Path(EXPLORED_DIR)
        for index in range(op_in["step_index"], len(plan.tasks), len(op_in["steps"])):
            explore_task(
                op_in["element"],
                _section(op_in, "initial_data"),
                plan,
                index,
                op_in["models"],
                Path(op_in["data"]),
                out / plan.tasks[index].name,
            )
        return OPIO({"tasks": out})


class Select(StageOP):
    """Classify all explored frames and choose the candidates to label, by the round's plan."""

    inputs = {"element": str, "labeler": dict, "plan": dict, "explored": Artifact(List[Path]), "data": Artifact(Path)}
    outputs = {"summary": dict, "candidates": Artifact(Path), "label_batches": List[int]}

    @OP.exec_sign_check
    def execute(self, op_in: OPIO) -> OPIO:
        plan = RoundPlan.from_plain(op_in["plan"])
        task_dirs = sorted({task.parent for folder in op_in["explored"] for task in Path(folder).rglob(TASK_FILE)})
        summary, candidates = select_round(op_in["element"], plan, task_dirs, read_frames(op_in["data"]))
        return OPIO(
            {
                "summary": summary,
                "candidates": write_structures(candidates, Path(STRUCTURES_FILE)),
                "label_batches": label_batches(len(candidates), _section(op_in, "labeler").structures_per_task),
            }
        )


class Label(StageOP):
    """Label one task's share of the structures; failures go to quarantine with their reasons."""

    inputs = {"element": str, "labeler": dict, "dataset": str, "batch": int, "structures": Artifact(Path)}
    outputs = {"data": Artifact(Path), "quarantine": Artifact(Path)}

    @OP.exec_sign_check
    def execute(self, op_in: OPIO) -> OPIO:
        labeler = _section(op_in, "labeler")
        per_task, batch = labeler.structures_per_task, op_in["batch"]
        share = batch_slice(batch, per_task)
        structures = read_structures(op_in["structures"])[share]
        out = Path(op_in["dataset"]) / f"batch.{batch:04d}"
        quarantined = RunDir(".").quarantine(op_in["dataset"]) / f"batch.{batch:04d}"  # the run's layout, relative
        quarantined.mkdir(parents=True, exist_ok=True)
        report = label_to_data(
            make_labeler(labeler),
            structures,
            out,
            [op_in["element"]],
            Path("label-tasks"),
            first_index=share.start,
            quarantine_dir=quarantined,
        )
        (out / LABEL_REPORT_FILE).write_text(json.dumps(report))  # travels with the data (read by runner, advance)
        return OPIO({"data": out, "quarantine": quarantined})


class Gather(StageOP):
    """The first round's training data (the initial set and the data given in the config), and what the run
    decides from it once: sel and the free-atom energy."""

    inputs = {
        "training": dict,
        "element": str,
        "labeler": dict,
        "init": Artifact(List[Path], optional=True),
        "given": Artifact(List[Path], optional=True),
    }
    outputs = {"data": Artifact(Path), "decisions": dict}

    @OP.exec_sign_check
    def execute(self, op_in: OPIO) -> OPIO:
        out = Path("data")
        for batch in op_in["init"] or []:  # the labeling fan-out's folders init/batch.*
            shutil.copytree(batch, out / "init" / Path(batch).name)
        for i, given in enumerate(op_in["given"] or []):
            shutil.copytree(given, out / f"given.{i:03d}")
        decisions = decide_model(
            _section(op_in, "training"), op_in["element"], out, make_labeler(_section(op_in, "labeler")), Path("decide")
        )
        return OPIO({"data": out, "decisions": decisions})


class Advance(StageOP):
    """Record the round, add its labels to the data, and plan the next round, or say why the loop stops."""

    inputs = {
        "config": dict,
        "decisions": dict,
        "plan": dict,
        "history": list,
        "summary": dict,
        "validation": dict,
        "data": Artifact(Path),
        "new_data": Artifact(List[Path], optional=True),
        "stats": Artifact(List[Path], optional=True),
    }
    outputs = {
        "history": list,
        "stop": bool,
        "stop_reason": str,
        "next_plan": dict,
        "next_round_tag": str,
        "next_explore_tasks": List[int],
        "data": Artifact(Path),
    }

    @OP.exec_sign_check
    def execute(self, op_in: OPIO) -> OPIO:
        config, decisions, plan = _config(op_in), op_in["decisions"], RoundPlan.from_plain(op_in["plan"])
        dataset = round_dataset(plan.index)
        batches = sorted(Path(p) for p in op_in["new_data"] or [])  # the labeling fan-out's folders round.NNN/batch.*
        reports = [json.loads((b / LABEL_REPORT_FILE).read_text()) for b in batches]
        report = merge_reports(reports) if reports else {"labeled": 0, "failed": []}
        stats = sorted(p for s in op_in["stats"] or [] for p in Path(s).rglob(TRAIN_STATS))
        record = record_round(
            plan,
            count_frames(op_in["data"]),
            report,
            op_in["summary"],
            op_in["validation"],
            [json.loads(p.read_text()) for p in stats],
            run_shape(config, decisions),
        )
        history = op_in["history"] + [record]
        out = Path("data")
        shutil.copytree(op_in["data"], out)
        for batch in batches:
            shutil.copytree(batch, out / dataset / batch.name)
        reason = stop_reason_after(history, config)
        following = plan_round(config, history, decisions)
        return OPIO(
            {
                "history": history,
                "stop": reason is not None,
                "stop_reason": reason or "",
                "next_plan": following.to_plain(),
                "next_round_tag": round_tag(following.index),
                "next_explore_tasks": list(range(len(following.tasks))),
                "data": out,
            }
        )


class Export(StageOP):
    """Compress the production model (else member 0), validate it, and write the folder a LAMMPS user takes away
    with its model card."""

    inputs = {
        "config": dict,
        "history": list,
        "stop_reason": str,
        "decisions": dict,
        "model": Artifact(Path),
        "test_data": Artifact(Path, optional=True),
        "data": Artifact(Path, optional=True),
        "production": Artifact(Path, optional=True),
    }
    outputs = {"export": Artifact(Path), "summary": dict}

    @OP.exec_sign_check
    def execute(self, op_in: OPIO) -> OPIO:
        config = _config(op_in)
        out = Path("export")
        summary = export_potential(
            config,
            _ensemble([op_in["model"]]),
            out,
            op_in["history"],
            op_in["stop_reason"],
            op_in["test_data"],
            op_in["data"],
            production=_production_dir(op_in["production"]),
            decisions=op_in["decisions"] or None,
        )
        return OPIO({"export": out, "summary": summary})
