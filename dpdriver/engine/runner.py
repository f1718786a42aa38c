"""`dpdriver run`: rounds of train -> explore -> select -> label until converged, then export.

Each round is one dflow Workflow; this module only decides what runs next and moves finished
outputs into the run directory, so a killed run resumes from its last finished round or step.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path

from ..config import RunConfig
from ..data import check_data_dir, count_frames
from ..doctor import check_pair_style
from ..errors import UserError
from ..export import export_potential
from ..files import discard, install, partial_path, write_atomically
from ..generate import ideal_crystal
from ..generate.initial_data import REPORT_FILE, dry_run
from ..label import make_labeler, merge_reports
from ..loop import failing_labels, plan_round, record_round, run_shape, stop_reason_after
from ..rundir import (
    INIT,
    RUN_CHANGES_ALLOWED,
    TEST,
    RunDir,
    claim_run_dir,
    read_decisions,
    record_decisions,
    recorded_config,
    round_dataset,
    round_tag,
    set_aside,
)
from ..train import PRODUCTION_SUMMARY, TRAIN_STATS, decide_model, decisions_line, production_origin
from ..train.neighbors import check_user_sel
from .dflow import build
from .dflow.dispatch import local_workers, merged
from .dflow.local import configure_local, output_to, run_workflow, workflow_dir
from .dflow.ops import EXPLORED_DIR, LABEL_REPORT_FILE
from .dflow.progress import StageMonitor, StepGroup, read_output_parameter
from .processes import leftovers_of_previous_runner, take_over


def _artifact(wf_dir: Path, key: str, name: str, relative_path: str) -> Path:
    """A file or folder a finished step produced, by the relative path its OP returned.

    An artifact is a folder holding the OP's outputs at their relative paths (all slices' for a
    sliced step), locally as after `download_artifact` from Argo.
    """
    path = wf_dir / key / "outputs" / "artifacts" / name / relative_path
    if not path.exists():
        raise FileNotFoundError(f"step {key} has no output {name}/{relative_path}")
    return path


def _task_reports(dirs: list[Path]) -> list[dict]:
    """One report per labeling task, from the data it wrote (where a queue job's results come back too; the
    steps of a fan-out share one output folder, and on the queue one step runs them all)."""
    found = {
        p.resolve() for d in dirs for p in (d / "outputs" / "artifacts" / "data").glob(f"*/batch.*/{LABEL_REPORT_FILE}")
    }
    return [json.loads(p.read_text()) for p in sorted(found)]


def _describe_labels(dirs: list[Path]) -> str:
    tasks = _task_reports(dirs)
    report = merge_reports(tasks)
    return (
        f"{report['labeled']} of {report['requested']} structures labeled with {report['labeler']} in "
        f"{len(tasks)} task(s), {len(report['failed'])} failed"
        + (" (quarantined with their reasons)" if report["failed"] else "")
    )


def _label_dirs(wf_dir: Path, key: str) -> list[Path]:
    return sorted(wf_dir.glob(f"{key}-*[0-9]"), key=lambda p: int(p.name.rsplit("-", 1)[1]))


def _describe_selection(dirs: list[Path]) -> str:
    s = read_output_parameter(dirs[0], "summary")
    return (
        f"{s['frames']} frames: accurate {s['accurate']}, candidate {s['candidate']}, failed {s['failed']} "
        f"(accurate ratio {s['accurate_ratio']:.3f}); {s['selected']} selected"
    )


def _describe_exploration(dirs: list[Path]) -> str:
    """Counted from the steps' output (where a queue job's results come back too); the explore steps of a round
    share one output folder, so each task is counted once."""
    found = {p.resolve() for d in dirs for p in (d / "outputs" / "artifacts" / EXPLORED_DIR).glob("*/*/status.json")}
    statuses = [json.loads(p.read_text()) for p in sorted(found)]
    crashed = sum(1 for status in statuses if not status["ok"])
    return f"{len(statuses)} LAMMPS MD tasks done" + (
        f", {crashed} crashed (their frames count as failed)" if crashed else ""
    )


def describe_errors(errors: dict) -> str:
    if not errors["frames"]:
        return f"no test errors (no held-out structure could be labeled with {errors['reference']})"
    return (
        f"test RMSE vs {errors['reference']} on {errors['frames']} held-out frames: "
        f"E {errors['energy_rmse_meV_atom']:.1f} meV/atom, F {errors['force_rmse_eV_A']:.3f} eV/A"
    )


def _describe_validation(dirs: list[Path]) -> str:
    return "model 0: " + describe_errors(read_output_parameter(dirs[0], "errors"))


def _describe_training(step_dir: Path, n_models: int) -> str:
    stats = [json.loads(p.read_text()) for p in sorted(step_dir.glob(f"outputs/artifacts/stats/train.*/{TRAIN_STATS}"))]
    if not stats:
        return f"{n_models} models trained and frozen"
    kinds = ", ".join(f"{sum(s['kind'] == k for s in stats)} {k}" for k in sorted({s["kind"] for s in stats}))
    return (
        f"{len(stats)} models trained and frozen ({kinds}; {max(s['steps'] for s in stats)} steps; "
        f"{sum(s['cpu_s'] for s in stats):.0f} CPU-s)"
    )


def _describe_production(dirs: list[Path]) -> str:
    s = read_output_parameter(dirs[0], "summary")
    best = f", kept step {s['best_step']} (lowest held-out error)" if s.get("best_step") else ""
    return (
        f"production model: {production_origin(s)} for {s['steps']} steps on {s['frames']} "
        f"frames{best}; {s['cpu_s']:.0f} CPU-s"
    )


def _describe_export(dirs: list[Path]) -> str:
    summary = read_output_parameter(dirs[0], "summary")
    checks = summary["validation"]
    return f"compressed; {checks['passed']} of {checks['checked']} property checks pass; " + describe_errors(
        summary["test_errors"]
    )


class Runner:
    def __init__(self, config: RunConfig, run_dir: Path, echo=print):
        self.config, self.run_dir, self.echo = config, Path(run_dir), echo
        self.dirs = RunDir(run_dir)
        self.decisions: dict | None = None
        self.data_dir = self.dirs.data
        self.test_data = self.dirs.test_data  # never trained on
        self.log = self.dirs.log

    def _submit(self, wf, prefix: str, stages: list[StepGroup]) -> Path:
        monitor = StageMonitor(workflow_dir(wf), prefix, stages)
        return run_workflow(wf, self.log, monitor, self.config.execution.dispatcher)

    def initial_data(self) -> None:
        """The initial set into data/init and the held-out test set into test_data/, each labeled once."""
        for i, given in enumerate(self.config.initial_data.data_dirs):
            if not self.dirs.given(i).exists():
                install(Path(given), self.dirs.given(i))
        target = self.dirs.dataset(INIT)
        generated = not target.exists() and build.has_generators(self.config)
        held_out = not self.test_data.exists()
        if not (generated or held_out):
            return self._check_initial_labels()
        wf = build.init_workflow(self.config, generated, held_out)
        wf_dir = workflow_dir(wf)
        stages = []
        for wanted, generate_key, label_key in (
            (generated, "generate", "label"),
            (held_out, "test-structures", "test-label"),
        ):
            if wanted:
                stages += [
                    StepGroup(
                        generate_key,
                        generate_key,
                        1,
                        lambda d: f"{len(read_output_parameter(d[0], 'label_batches'))} labeling task(s)",
                    ),
                    StepGroup(
                        label_key,
                        label_key,
                        lambda key=generate_key: self._label_steps(wf_dir / key),
                        _describe_labels,
                    ),
                ]
        self._submit(wf, "init    ", stages)
        if held_out:
            report = self._install_labels(wf_dir, "test-label", TEST, self.test_data)
            self.test_data.mkdir(parents=True, exist_ok=True)  # none labeled: no test errors, said in the status
            (self.test_data / REPORT_FILE).write_text(json.dumps(report, indent=2))
        if not generated:
            return
        report = self._install_labels(wf_dir, "label", INIT, target)
        if not report["labeled"]:
            first = report["failed"][0]["reason"] if report["failed"] else "nothing to label"
            raise UserError(
                f"none of the {report['requested']} initial structures could be labeled (first reason: {first}); "
                f"the failed tasks are in {self.dirs.quarantine(INIT)}"
            )
        report["generators"] = read_output_parameter(wf_dir / "generate", "generators")
        (target / REPORT_FILE).write_text(json.dumps(report, indent=2))
        self._check_initial_labels()

    def _check_initial_labels(self) -> None:
        """The loop's failure policy on the initial data, at every start: a rerun stops the same way until fixed."""
        report_path = self.dirs.dataset(INIT) / REPORT_FILE
        if report_path.exists():
            failing = failing_labels(
                json.loads(report_path.read_text()),
                self.config.convergence.min_label_success_ratio,
                "the initial data",
                str(self.dirs.quarantine(INIT)),
            )
            if failing:
                raise UserError(failing)

    def _label_steps(self, planning_step: Path) -> int:
        """Steps of a labeling fan-out: one per task, or one for all on the queue (dispatch.merged)."""
        if merged(self.config.execution.dispatcher, "label"):
            return 1
        return len(read_output_parameter(planning_step, "label_batches"))

    def _install_labels(self, wf_dir: Path, key: str, dataset: str, target: Path) -> dict:
        """The fan-out's data into target and its failures into quarantine/<dataset>; the merged report."""
        dirs = _label_dirs(wf_dir, key)
        report = merge_reports(_task_reports(dirs))
        if report["failed"]:
            install(
                _artifact(wf_dir, dirs[0].name, "quarantine", str(RunDir(".").quarantine(dataset))),
                self.dirs.quarantine(dataset),
            )
        if report["labeled"]:
            install(_artifact(wf_dir, dirs[0].name, "data", dataset), target)
        return report

    def decide(self) -> dict:
        """sel and the free-atom energy, decided once from the initial data and the labeler, kept in run.json."""
        decisions = read_decisions(self.run_dir)
        if decisions is None:
            decisions = decide_model(
                self.config.training,
                self.config.element,
                self.data_dir,
                make_labeler(self.config.labeler),
                self.dirs.decide,
            )
            record_decisions(self.run_dir, decisions)
            self.echo(f"model    {decisions_line(decisions)}")
        self.decisions = decisions
        return decisions

    def round(self, r: int, history: list[dict]) -> dict:
        record_path = self.dirs.round_record(r)
        if record_path.exists():
            return json.loads(record_path.read_text())
        started = time.monotonic()
        frames_before = count_frames(self.data_dir)
        plan = plan_round(self.config, history, self.decisions)
        parents = self.dirs.models(r - 1) if plan.warm_start else None
        wf = build.round_workflow(self.config, plan, self.data_dir, self.test_data, self.decisions, parents)
        n_models, n_tasks, stage = self.config.training.models, len(plan.tasks), plan.stage
        n_workers = self.config.training.parallel
        key = {s: build.stage_key(s, round_tag(r)) for s in ("train", "explore", "validate", "select", "label")}
        stages = [
            StepGroup("train", key["train"], n_models, lambda d: _describe_training(d[0], n_models)),
            StepGroup("explore", key["explore"], len(build.explore_steps(n_tasks, n_workers)), _describe_exploration),
            StepGroup("validate", key["validate"], 1, _describe_validation),
            StepGroup("select", key["select"], 1, _describe_selection),
            StepGroup(
                "label",
                key["label"],
                lambda: self._label_steps(wf_dir / key["select"]),
                _describe_labels,
            ),
        ]
        wf_dir = workflow_dir(wf)
        self._submit(wf, f"round {r}" + (f" ({stage.name})" if len(self.config.exploration.stages) > 1 else ""), stages)
        member_stats = []
        for i in range(n_models):
            model = _artifact(wf_dir, key["train"] + "-0", "model", f"train.{i:03d}/graph.pb")
            install(model, self.dirs.model(r, i))
            lcurve = _artifact(wf_dir, key["train"] + "-0", "lcurve", f"train.{i:03d}/lcurve.out")
            install(lcurve, self.dirs.lcurve(r, i))
            member_stats.append(
                json.loads(_artifact(wf_dir, key["train"] + "-0", "stats", f"train.{i:03d}/{TRAIN_STATS}").read_text())
            )
        select_dir = wf_dir / key["select"]
        summary = read_output_parameter(select_dir, "summary")
        report = self._install_labels(wf_dir, key["label"], round_dataset(r), self.dirs.dataset(round_dataset(r)))
        validation = read_output_parameter(wf_dir / key["validate"], "errors")
        shape = run_shape(self.config, self.decisions)
        record = record_round(
            plan, frames_before, report, summary, validation, member_stats, shape, time.monotonic() - started
        )
        write_atomically(record_path, json.dumps(record, indent=2))  # the round is done when this exists
        return record

    def production(self, history: list[dict]) -> Path | None:
        """The exported model, trained on top of the last round (resumed after a kill); None if switched off."""
        if not self.config.training.production:
            return None
        last = history[-1]["round"]
        target = self.dirs.production
        if _production_of(self.dirs, last):
            return target
        if target.exists():
            set_aside(target, "previous")
        models = self.dirs.models(last)
        wf = build.production_workflow(self.config, models, self.data_dir, self.test_data, self.decisions, history)
        key = build.stage_key("production", round_tag(last))
        wf_dir = self._submit(wf, "export  ", [StepGroup("production", key, 1, _describe_production)])
        out = _artifact(wf_dir, key, "production", "production/out")
        stamped = json.loads((out / PRODUCTION_SUMMARY).read_text()) | {"round": last}
        (out / PRODUCTION_SUMMARY).write_text(json.dumps(stamped, indent=1))
        install(out, target)
        return target

    def export(self, history: list[dict], stop_reason: str) -> dict:
        target = self.dirs.export
        last = history[-1]["round"]
        models = self.dirs.models(last)
        summary_path = self.dirs.export_summary
        exported = json.loads(summary_path.read_text()) if summary_path.exists() else None
        if exported is not None and exported["rounds"] != history:
            moved = set_aside(target, f"r{exported['exported_from_round']:03d}")
            self.echo(f"the run went on after its last export; that export is kept in {moved}")
        if not target.exists():
            production = self.production(history)
            wf = build.export_workflow(
                self.config, models, history, stop_reason, self.test_data, self.data_dir, self.decisions, production
            )
            key = build.stage_key("export", round_tag(last))
            wf_dir = self._submit(wf, "export  ", [StepGroup("export", key, 1, _describe_export)])
            install(_artifact(wf_dir, key, "export", "export"), target)
        return json.loads(summary_path.read_text())

    def run(self) -> dict:
        self.initial_data()
        self.decide()
        history, stop_reason = [], None
        while stop_reason is None:
            history.append(self.round(len(history), history))
            stop_reason = stop_reason_after(history, self.config)
        self.echo(f"stopped: {stop_reason}")
        return self.export(history, stop_reason)


def check_config(config: RunConfig, planning_only: bool = False) -> str:
    """What the config shows cannot work (no tool started): the run, `submit --local` and `init`, dry runs
    included, refuse it alike; planning only (a dry run) leaves out the labeler's programs and files (POTCARs,
    potential files), which may live on the cluster only. Returns the initial data's plan table."""
    labeler = make_labeler(config.labeler)
    if planning_only:
        labeler.check_element(config.element)
    else:
        labeler.check(config.element)
    if config.convergence.require_properties and not labeler.in_process:
        raise UserError(
            "convergence.require_properties needs a reference computed in-process (EMT, an ASE or a LAMMPS "
            f"labeler); with {labeler.name}, set it to false and run `dpdriver export RUN` after the run: it "
            f"validates against {labeler.name} with label tasks"
        )
    in_process = {"md", "liquid"} & set(config.validation.families)
    if in_process and not labeler.in_process:
        raise UserError(
            f"validation.families: {', '.join(sorted(in_process))} run(s) MD with the labeler in-process, "
            f"which {labeler.name} cannot; remove them from validation.families (the rounds' MD covers temperatures)"
        )
    for given in config.initial_data.data_dirs:
        check_data_dir(Path(given), [config.element])
    check_user_sel(config.training, ideal_crystal(config))
    return dry_run(config)  # generator plan problems (budget, labeler cannot run MD) before anything is written


def preflight(config: RunConfig) -> None:
    """Fail in seconds, before anything is written, on what would fail a round later."""

    check_config(config)
    with tempfile.TemporaryDirectory(prefix="dpdriver-preflight-") as tmp:
        try:
            check_pair_style(Path(tmp))
        except UserError as exc:
            raise UserError(f"{exc} (run `dpdriver doctor` for all checks)") from None


def run(config: RunConfig, run_dir: Path, echo=print) -> dict:
    preflight(config)
    leftovers_of_previous_runner(run_dir)  # a live runner there: refused before anything is written
    changes = claim_run_dir(run_dir, config.to_plain(), RUN_CHANGES_ALLOWED)
    stopped = take_over(run_dir)
    configure_local(RunDir(run_dir).workflows, workers=local_workers(config))
    if stopped:
        echo(f"stopped {stopped} leftover process(es) of the interrupted run")
    if changes is not None:
        echo(f"resuming the run in {run_dir}" + (f" with config changes: {'; '.join(changes)}" if changes else ""))
    return Runner(config, Path(run_dir), echo).run()


def _production_of(dirs: RunDir, last_round: int) -> Path | None:
    """The run's production model if it was trained on top of last_round."""
    summary = dirs.production / PRODUCTION_SUMMARY
    return summary.parent if summary.exists() and json.loads(summary.read_text()).get("round") == last_round else None


def export_run(run_dir: Path, reference: str = "labeler", reference_tasks: Path | None = None) -> dict:
    """`dpdriver export RUN`: the last finished round's models exported in this process, for a run stopped before
    it converged, or to validate against a VASP reference (label tasks, RUN/reference-tasks by default). The
    previous export is set aside, never overwritten."""

    dirs = RunDir(run_dir)
    dirs.require_run()
    config = recorded_config(run_dir)
    history = dirs.history()
    if not history:
        raise UserError(f"no round of {run_dir} has finished yet; run `dpdriver run` until one has, then export")
    take_over(run_dir)  # refuses while a runner is alive: it may be writing the export itself
    last = history[-1]["round"]
    stop_reason = stop_reason_after(history, config) or f"exported by hand after round {last}, before a stop criterion"
    models = sorted(dirs.models(last).glob("graph.*.pb"))
    target = dirs.export
    partial = partial_path(target)
    discard(partial)
    try:
        with output_to(dirs.log):  # TensorFlow and DeePMD-kit talk a lot
            export_potential(
                config,
                models,
                partial,
                history,
                stop_reason,
                dirs.test_data,
                dirs.data,
                reference,
                Path(reference_tasks or dirs.reference_tasks),
                production=_production_of(dirs, last),
                decisions=read_decisions(run_dir),
            )
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)  # half an export is no export; the run's own files are untouched
        raise
    if dirs.export_summary.exists():
        set_aside(target, f"r{json.loads(dirs.export_summary.read_text())['exported_from_round']:03d}")
    partial.replace(target)
    return json.loads(dirs.export_summary.read_text())
