"""Accuracy per CPU-minute of the Cu example, in one run on this machine.

    python benchmarks/accuracy/run.py [--config examples/cu-emt/config.yaml] [--work DIR] [--results DIR]
        [--parts ...] [--redo ...]   (--redo: measure those parts again after a change)

1. The README's first command (`dpdriver run examples/cu-emt/config.yaml`), timed, with every tool
   interval logged (DPDRIVER_TIMING_LOG): wall time, and the driver's share (time no dp, lmp, labeler or
   validation ran).
2. Its exported model against EMT on structures no run sees (unseen.py: 900 K MD, 108 atoms; a 107-atom
   vacancy cell at 600 K): force RMSE, energy MAE; and its validation table.
3. Warm starts against from scratch: each round after the first trained again from scratch on the same
   data with the same seeds; training CPU time and held-out errors side by side.
4. The cost of accuracy: the production model trained for other budgets from the same parent; error
   against training CPU time.
Also the machine's speed at the time of the run (a fixed 1,000-step training), since it varies between days.
Every part is kept in results.json as it lands (a rerun continues); results.md is written from it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from ase.calculators.emt import EMT

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from unseen import errors as unseen_errors  # noqa: E402
from unseen import unseen_sets  # noqa: E402
from variant import is_variant, write_variant_config  # noqa: E402

from dpdriver.config import load_config  # noqa: E402
from dpdriver.data import system_dirs  # noqa: E402
from dpdriver.files import write_atomically  # noqa: E402
from dpdriver.generate.lattice import reference_lattice_constant_A  # noqa: E402
from dpdriver.rundir import INIT, RunDir, read_decisions, round_dataset  # noqa: E402
from dpdriver.seeds import derive_seed  # noqa: E402
from dpdriver.tools import fast_tensorflow_import  # noqa: E402
from dpdriver.train import train_model, train_production, with_decisions  # noqa: E402
from dpdriver.validate.rmse import test_errors  # noqa: E402

RESULTS = REPO / "benchmarks" / "results" / "accuracy"
DPDRIVER = [sys.executable, "-m", "dpdriver.cli"]
BUDGETS = (3000, 6000, 12000)  # production steps besides the run's own
TARGETS = {
    "force_rmse_eV_A": 0.02,
    "energy_mae_meV_atom": 1.5,
    "wall_min": 20.0,
    "warm_cpu_ratio": 0.5,
    "driver_share": 0.05,
}


def load(path: Path) -> dict:
    return json.loads(path.read_text()) if path.exists() else {}


def save(results: dict, path: Path) -> None:
    write_atomically(path, json.dumps(results, indent=1))


def run_example(config: Path, run_dir: Path, timing_log: Path) -> dict:
    if timing_log.exists():
        timing_log.unlink()
    started = time.time()
    proc = subprocess.run(
        DPDRIVER + ["run", str(config), "--workdir", str(run_dir)],
        cwd=REPO,
        text=True,
        capture_output=True,
        env={**os.environ, "DPDRIVER_TIMING_LOG": str(timing_log)},
    )
    ended = time.time()
    if proc.returncode != 0:
        raise SystemExit(f"the example failed: {proc.stderr[-2000:]}")
    return {"wall_s": round(ended - started, 1), "start": started, "end": ended, "stdout": proc.stdout}


def union_s(intervals: list[tuple[float, float]]) -> float:
    total, end = 0.0, None
    for a, b in sorted(intervals):
        if end is None or a > end:
            total, end = total + (b - a), b
        elif b > end:
            total, end = total + (b - end), b
    return total


def overhead(timing_log: Path, start: float, end: float) -> dict:
    rows = [json.loads(line) for line in timing_log.read_text().splitlines()]
    by_kind = {}
    for kind in sorted({r["kind"] for r in rows}):
        by_kind[kind] = round(union_s([(r["start"], r["end"]) for r in rows if r["kind"] == kind]), 1)
    busy = union_s([(r["start"], r["end"]) for r in rows])
    wall = end - start
    return {
        "wall_s": round(wall, 1),
        "tool_busy_s": round(busy, 1),
        "driver_s": round(wall - busy, 1),
        "driver_share": round((wall - busy) / wall, 3),
        "busy_by_kind_s": by_kind,
    }


def held_out(model: Path, test_data: Path) -> dict:
    e = test_errors(model, test_data, "Cu", "emt")
    return {"energy_rmse_meV_atom": e["energy_rmse_meV_atom"], "force_rmse_eV_A": e["force_rmse_eV_A"]}


def warm_vs_scratch(config, run_dir: Path, work: Path) -> list[dict]:
    """Each round after the first, trained again from scratch on the data that round had, same seeds."""
    training = with_decisions(config.training, read_decisions(run_dir))
    rows = []
    dirs = RunDir(run_dir)
    for record in dirs.history()[1:]:
        r = record["round"]
        if "warm" not in record["training"]["kinds"]:
            continue
        data = [dirs.dataset(INIT)] + [dirs.dataset(round_dataset(k)) for k in range(r)]
        systems = [s for d in data if d.exists() for s in system_dirs(d)]
        scratch = []
        for i in range(len(record["training"]["members"])):
            out = work / f"scratch.r{r:03d}.{i:03d}"
            graph = out / "graph.pb"
            if not graph.exists():
                train_model(training, [config.element], systems, out, derive_seed(config.seed, "train", r, i))
            stats = json.loads((out / "train_stats.json").read_text())
            scratch.append({"steps": stats["steps"], "cpu_s": stats["cpu_s"], **held_out(graph, dirs.test_data)})
        warm = [
            {
                "steps": m["steps"],
                "cpu_s": m["cpu_s"],
                **held_out(dirs.model(r, i), dirs.test_data),
            }
            for i, m in enumerate(record["training"]["members"])
        ]
        # a member restarted from scratch (a failed parent) is scratch in both columns: the round's figure counts it,
        # the warm-started members' figure does not
        warm_only = [i for i, m in enumerate(record["training"]["members"]) if m["kind"] == "warm"]
        rows.append(
            {
                "round": r,
                "frames": record["frames_trained_on"],
                "warm": _mean(warm),
                "scratch": _mean(scratch),
                "warm_members": len(warm_only),
                "warm_only": _mean([warm[i] for i in warm_only]),
                "scratch_same_members": _mean([scratch[i] for i in warm_only]),
            }
        )
        rows[-1]["cpu_ratio"] = round(rows[-1]["warm"]["cpu_s"] / rows[-1]["scratch"]["cpu_s"], 3)
        rows[-1]["cpu_ratio_warm_members"] = round(
            rows[-1]["warm_only"]["cpu_s"] / rows[-1]["scratch_same_members"]["cpu_s"], 3
        )
    return rows


def _mean(rows: list[dict]) -> dict:
    keys = ("steps", "cpu_s", "energy_rmse_meV_atom", "force_rmse_eV_A")
    return {k: sum(x[k] for x in rows) / len(rows) for k in keys}


def cost_curve(config, run_dir: Path, work: Path, sets: dict, results: dict) -> list[dict]:
    """The production model for other budgets, from the same parent (the run's chosen member; none where the
    production model has nets of its own and trains from scratch)."""
    training = with_decisions(config.training, read_decisions(run_dir))
    summary = json.loads((run_dir / "production" / "production.json").read_text())
    last = summary["round"]
    parent = RunDir(run_dir).model(last, summary["member"]["index"]) if summary["member"] else None
    rows = [
        {
            "steps": summary["steps"],
            "cpu_s": summary["cpu_s"],
            "source": "the run's production model",
            **{k: v for k, v in results["unseen"].items()},
        }
    ]
    for steps in BUDGETS:
        out = work / f"production.{steps}"
        if not (out / "out" / "graph.pb").exists():
            train_production(
                training.model_copy(update={"production_steps": steps}),
                config.element,
                parent,
                summary["member"],
                system_dirs(RunDir(run_dir).data),
                RunDir(run_dir).test_data,
                out,
                derive_seed(config.seed, "production"),
            )
        stats = json.loads((out / "out" / "production.json").read_text())
        rows.append(
            {
                "steps": steps,
                "cpu_s": stats["cpu_s"],
                "source": "same parent, other budget",
                **{name: unseen_errors(out / "out" / "graph.pb", frames) for name, frames in sets.items()},
            }
        )
    return sorted(rows, key=lambda r: r["steps"])


PROBE_STEPS = 1000


def machine_speed(config, run_dir: Path, work: Path) -> dict:
    """One from-scratch member, 1,000 steps on the run's initial data, alone on the machine: the machine's speed at
    the time of the run, so that runs on other days can be compared (round 0's members once took 1.56x the CPU-s of
    an earlier run for the same steps)."""
    training = with_decisions(config.training, read_decisions(run_dir)).model_copy(update={"steps": PROBE_STEPS})
    out = work / "machine"
    shutil.rmtree(out, ignore_errors=True)
    train_model(training, [config.element], system_dirs(RunDir(run_dir).dataset(INIT)), out, seed=1, threads=1)
    stats = json.loads((out / "train_stats.json").read_text())
    return {"steps": PROBE_STEPS, "cpu_s": stats["cpu_s"], "wall_s": stats["wall_s"]}


def report(results: dict) -> str:
    lines = [
        "# Accuracy benchmark: the Cu example against EMT",
        "",
        "One run on this machine (2 cores), `python benchmarks/accuracy/run.py`; targets from issue 15.",
        "",
    ]
    ex = results.get("example")
    if ex:
        shown = ex.get("config", "examples/cu-emt/config.yaml")
        lines += [
            f"- Wall time of `dpdriver run {shown}`: {ex['wall_s'] / 60:.1f} min (target < {TARGETS['wall_min']:.0f})."
        ]
    probe = results.get("machine")
    if probe:
        lines += [
            f"- Machine speed at the time (one member, {probe['steps']} steps from scratch on the initial data, "
            f"alone, start-up included): {probe['cpu_s']:.0f} CPU-s."
        ]
    oh = results.get("overhead")
    if oh:
        kinds = ", ".join(f"{k} {v:.0f} s" for k, v in oh["busy_by_kind_s"].items())
        lines += [
            f"- Driver overhead: {oh['driver_s']:.0f} s of {oh['wall_s']:.0f} s = {100 * oh['driver_share']:.1f} % "
            f"of the wall time ran no tool (target <= 5 %); tools busy: {kinds}."
        ]
    un = results.get("unseen")
    if un:
        lines += [
            "",
            "| unseen set | force RMSE (eV/Å) | energy MAE (meV/atom) | EMT's RMS force (eV/Å) |",
            "|---|---|---|---|",
        ]
        for name, e in un.items():
            lines.append(
                f"| {name} | {e['force_rmse_eV_A']:.4f} | {e['energy_mae_meV_atom']:.2f} | "
                f"{e['reference_force_rms_eV_A']:.3f} |"
            )
        lines.append(
            f"\nTargets: force RMSE <= {TARGETS['force_rmse_eV_A']} eV/Å, energy MAE <= "
            f"{TARGETS['energy_mae_meV_atom']} meV/atom."
        )
    val = results.get("validation")
    if val:
        lines += [
            "",
            f"Validation table ({val['passed']} of {val['checked']} checks pass):",
            "",
            "| property | model | EMT | error | tolerance | pass |",
            "|---|---|---|---|---|---|",
        ]
        for row in val["rows"]:
            fmt = lambda v: "-" if v is None else f"{v:.4g}"  # noqa: E731
            lines.append(
                f"| {row['property']} | {fmt(row['model'])} | {fmt(row['reference'])} | {fmt(row['error'])} | "
                f"{fmt(row['tolerance'])} | {row['pass']} |"
            )
    ws = results.get("warm_vs_scratch")
    if ws:
        lines += [
            "",
            "Warm starts against from scratch (mean over the round's members, and over the warm-started members "
            "alone where one restarted from scratch; held-out set of the run):",
            "",
            "| round | members | frames | warm: steps, CPU s, E RMSE, F RMSE | scratch: steps, CPU s, E RMSE, F RMSE "
            "| CPU ratio |",
            "|---|---|---|---|---|---|",
        ]

        def cells(m: dict) -> str:
            return f"{m['steps']:.0f}, {m['cpu_s']:.0f}, {m['energy_rmse_meV_atom']:.2f}, {m['force_rmse_eV_A']:.4f}"

        for row in ws:
            n = row.get("warm_members")  # results measured before this column have none
            lines.append(
                f"| {row['round']} | all | {row['frames']} | {cells(row['warm'])} | {cells(row['scratch'])} | "
                f"{row['cpu_ratio']:.2f} |"
            )
            if n and row["cpu_ratio_warm_members"] != row["cpu_ratio"]:
                lines.append(
                    f"| {row['round']} | the {n} warm-started | {row['frames']} | {cells(row['warm_only'])} | "
                    f"{cells(row['scratch_same_members'])} | {row['cpu_ratio_warm_members']:.2f} |"
                )
    cc = results.get("cost_curve")
    if cc:
        lines += [
            "",
            "The cost of accuracy (production model, same parent, other budgets):",
            "",
            "| steps | training CPU s | F RMSE 900 K MD | E MAE 900 K MD | F RMSE vacancy | E MAE vacancy |",
            "|---|---|---|---|---|---|",
        ]
        for row in cc:
            md, vac = row["md_900K_108"], row["vacancy_600K_107"]
            lines.append(
                f"| {row['steps']} | {row['cpu_s']:.0f} | {md['force_rmse_eV_A']:.4f} | "
                f"{md['energy_mae_meV_atom']:.2f} | {vac['force_rmse_eV_A']:.4f} | {vac['energy_mae_meV_atom']:.2f} |"
            )
    return "\n".join(lines) + "\n"


# the keys of results.json each part writes; --redo drops them (and, for the example, its run) first
PART_RESULTS = {
    "example": ("example", "overhead"),
    "machine": ("machine",),
    "unseen": ("unseen", "validation"),
    "warm_vs_scratch": ("warm_vs_scratch",),
    "cost_curve": ("cost_curve",),
}


def main() -> None:
    fast_tensorflow_import()
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--config",
        default=str(REPO / "examples" / "cu-emt" / "config.yaml"),
        help="the example's config, or a variant of it (benchmarks/variant.py)",
    )
    parser.add_argument("--work", default=str(RESULTS / "work"))
    parser.add_argument("--parts", nargs="*", default=list(PART_RESULTS), choices=list(PART_RESULTS))
    parser.add_argument(
        "--redo", nargs="*", default=[], choices=list(PART_RESULTS), help="measure these parts again (after a change)"
    )
    parser.add_argument("--results", default=str(RESULTS), help="folder of results.json and results.md")
    args = parser.parse_args()
    work, results_dir = Path(args.work), Path(args.results)
    work.mkdir(parents=True, exist_ok=True)
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / "results.json"
    results = load(path)
    config_path = Path(args.config)
    if is_variant(config_path):
        config_path = write_variant_config(config_path, work)
    config = load_config(config_path)
    run_dir, timing_log = work / "cu-emt", work / "cu-emt.timing.jsonl"
    for part in args.redo:
        for key in PART_RESULTS[part]:
            results.pop(key, None)
    if "example" in args.redo:
        shutil.rmtree(run_dir, ignore_errors=True)
        timing_log.unlink(missing_ok=True)
    sets = unseen_sets("Cu", reference_lattice_constant_A("Cu", "fcc"), EMT, RESULTS / "unseen_cu_emt")
    if "example" in args.parts and "example" not in results:
        example = run_example(config_path, run_dir, timing_log)
        results["overhead"] = overhead(timing_log, example.pop("start"), example.pop("end"))
        results["example"] = example
        save(results, path)
    if "example" in results and "config" not in results["example"]:  # the config (or variant) this folder ran
        results["example"]["config"] = str(Path(args.config).resolve().relative_to(REPO))
        save(results, path)
    if "machine" in args.parts and "machine" not in results:
        results["machine"] = machine_speed(config, run_dir, work)
        save(results, path)
    if "unseen" in args.parts and "unseen" not in results:
        model = RunDir(run_dir).exported_model
        results["unseen"] = {name: unseen_errors(model, frames) for name, frames in sets.items()}
        results["validation"] = {
            k: v
            for k, v in json.loads(RunDir(run_dir).export_validation.read_text()).items()
            if k in ("passed", "checked", "rows")
        }
        save(results, path)
    if "warm_vs_scratch" in args.parts and "warm_vs_scratch" not in results:
        results["warm_vs_scratch"] = warm_vs_scratch(config, run_dir, work)
        save(results, path)
    if "cost_curve" in args.parts and "cost_curve" not in results:
        results["cost_curve"] = cost_curve(config, run_dir, work, sets, results)
        save(results, path)
    (results_dir / "results.md").write_text(report(results))
    print(report(results))


if __name__ == "__main__":
    main()
