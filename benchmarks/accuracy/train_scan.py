"""Error against training CPU time (dp train + freeze, from the kernel; two trainings shared the 2 cores, so
the CPU seconds are the comparable figure, not wall time): one model per variant on a fixed labeled set, judged on unseen structures.

    python benchmarks/accuracy/train_scan.py DATA_DIR TEST_DATA_DIR [--variants NAME ...] [--out FILE]

DATA_DIR is a run's data/ (all its labels), TEST_DATA_DIR its held-out set (validation for production
variants). Each variant trains once (restartable: a finished variant is kept) and is judged on the
unseen 900 K MD and vacancy cells of unseen.py. Results go to benchmarks/results/accuracy/train_scan.json.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ase.calculators.emt import EMT

from dpdriver.config import TrainingConfig
from dpdriver.data import system_dirs
from dpdriver.generate.lattice import reference_lattice_constant_A
from dpdriver.train import train_model
from dpdriver.validate.properties import equation_of_state, surface_energies

sys.path.insert(0, str(Path(__file__).resolve().parent))
from unseen import errors, unseen_sets  # noqa: E402

HERE = Path(__file__).resolve().parent
RESULTS = HERE.parent / "results" / "accuracy"
BASE = {"descriptor_neuron": [10, 20, 40], "fitting_neuron": [60, 60, 60], "start_lr": 0.002, "sel": 68}

FREE = {"free_atom_energy_eV": 3.51}  # EMT's Cu atom alone
RC6 = {**FREE, "precision": "float32", "rcut_A": 6.0, "rcut_smth_A": 5.0, "sel": 104}
RC62 = {**RC6, "rcut_smth_A": 2.0}  # today's default cutoff
PARENT_MODEL = "--parent-model"  # a variant's parent given on the command line (a run's member)
R1, R2 = ["init", "round.000"], ["init", "round.000", "round.001"]

# name: (training overrides, kind, parent variant)
VARIANTS = {
    "f64-1200": ({"steps": 1200}, "scratch", None),
    "f64-6000": ({"steps": 6000}, "scratch", None),
    "f32-6000": ({"steps": 6000, "precision": "float32"}, "scratch", None),
    "f64-6000-e10": ({"steps": 6000, "limit_pref_e": 10}, "scratch", None),
    "f64-6000-lr1e-3": ({"steps": 6000, "start_lr": 0.001}, "scratch", None),
    "f64-6000-stop1e-6": ({"steps": 6000, "stop_lr": 1e-6}, "scratch", None),
    "f64-6000-atom": ({"steps": 6000, **FREE}, "scratch", None),
    "atom-6000-seed2": ({"steps": 6000, **FREE, "seed_offset": 1}, "scratch", None),
    "atom-3000": ({"steps": 3000, **FREE}, "scratch", None),
    "atom-12000": ({"steps": 12000, **FREE}, "scratch", None),
    "atom-24000": ({"steps": 24000, **FREE}, "scratch", None),
    "atom-f32-6000": ({"steps": 6000, **FREE, "precision": "float32"}, "scratch", None),
    "atom-6000-lr4e-3": ({"steps": 6000, **FREE, "start_lr": 0.004}, "scratch", None),
    "atom-6000-e10": ({"steps": 6000, **FREE, "limit_pref_e": 10}, "scratch", None),
    "atom-f32-6000-lr4e-3": ({"steps": 6000, **FREE, "precision": "float32", "start_lr": 0.004}, "scratch", None),
    "atom-f32-12000-lr4e-3": ({"steps": 12000, **FREE, "precision": "float32", "start_lr": 0.004}, "scratch", None),
    "f32-12000": ({"steps": 12000, "precision": "float32"}, "scratch", None),
    "atom-f32-12000": ({"steps": 12000, **FREE, "precision": "float32"}, "scratch", None),
    "atom-f32-12000-nov": ({"steps": 12000, **FREE, "precision": "float32", "start_pref_v": 0, "limit_pref_v": 0}, "scratch", None),
    "atom-f32-12000-fit120": ({"steps": 12000, **FREE, "precision": "float32", "fitting_neuron": [120, 120, 120]}, "scratch", None),
    "atom-f32-12000-rc6": ({"steps": 12000, **FREE, "precision": "float32", "rcut_A": 6.0, "sel": 100}, "scratch", None),
    "atom-f32-12000-smth4": ({"steps": 12000, **FREE, "precision": "float32", "rcut_smth_A": 4.0}, "scratch", None),
    "atom-f32-12000-rc6-smth5": ({"steps": 12000, **FREE, "precision": "float32", "rcut_A": 6.0, "rcut_smth_A": 5.0, "sel": 100}, "scratch", None),
    "atom-f32-12000-rc6-smth2": ({"steps": 12000, **FREE, "precision": "float32", "rcut_A": 6.0, "rcut_smth_A": 2.0, "sel": 100}, "scratch", None),
    "atom-f32-12000-rc5.5-smth4.5": ({"steps": 12000, **FREE, "precision": "float32", "rcut_A": 5.5, "rcut_smth_A": 4.5, "sel": 80}, "scratch", None),
    "atom-f32-6000-rc6-smth5": ({"steps": 6000, **FREE, "precision": "float32", "rcut_A": 6.0, "rcut_smth_A": 5.0, "sel": 100}, "scratch", None),
    # warm starts on the new cutoff: a parent on round 1's data (init + round.000), children on round 2's
    **{f"rc6-r1-scratch-s{k}": ({**RC6, "data_subdirs": R1, "seed_offset": k}, "scratch", None) for k in (0, 1)},
    **{f"rc6-r2-scratch-s{k}": ({**RC6, "data_subdirs": R2, "seed_offset": k}, "scratch", None) for k in (0, 1)},
    **{f"rc6-r2-warm{int(100 * f)}-lr{lr:g}-s{k}": ({**RC6, "data_subdirs": R2, "seed_offset": k, "warm_start_fraction": f,
                                                    "warm_start_lr": lr}, "warm", f"rc6-r1-scratch-s{k}")
       for k in (0, 1) for f, lr in ((0.25, 5e-4), (0.25, 1e-3), (0.4, 1e-3), (0.25, 2e-4), (0.25, 1e-4), (0.5, 5e-4), (0.5, 2e-4))},
    "atom-f32-24000-lr4e-3": ({"steps": 24000, **FREE, "precision": "float32", "start_lr": 0.004}, "scratch", None),
    # speed, one training at a time on an otherwise idle machine (--parallel 1): wall time is the figure here
    "solo-f32-t1": ({"steps": 4000, **FREE, "precision": "float32"}, "scratch", None),
    "solo-f32-t2": ({"steps": 4000, **FREE, "precision": "float32", "threads_per_model": 2}, "scratch", None),
    "solo-f32-sel80": ({"steps": 4000, **FREE, "precision": "float32", "sel": 80}, "scratch", None),
    "solo-f64-t1": ({"steps": 4000, **FREE, "precision": "float64"}, "scratch", None),
    # the production model's energy weight: continued from a run's best member (--parent-model) on all its data
    **{f"prod-6000-e{e:g}": ({**RC62, "production_steps": 6000, "limit_pref_e": e}, "production", PARENT_MODEL)
       for e in (1, 10, 50)},
}


def surface_errors(model: Path) -> dict:
    """Relative error of each relaxed low-index surface energy against EMT, each side at its own a0."""
    from deepmd.calculator import DP

    def surfaces(calc) -> dict:
        eos = equation_of_state("Cu", "fcc", 3.59, 1.0, calc)
        return surface_energies("Cu", "fcc", eos["lattice_constant_A"], 1.0, eos["energy_eV_atom"], calc)

    model_values, reference = surfaces(DP(str(model))), surfaces(EMT())
    return {plane: (model_values[plane] - value) / value for plane, value in reference.items()}


def cpu_seconds_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_variant(name: str, data: Path, test_data: Path, work: Path, parent_model: Path | None = None) -> dict:
    overrides, kind, parent = VARIANTS[name]
    overrides = dict(overrides)
    seed = 11 + overrides.pop("seed_offset", 0)
    subdirs = overrides.pop("data_subdirs", None)
    systems = [s for sub in subdirs for s in system_dirs(data / sub)] if subdirs else system_dirs(data)
    training = TrainingConfig.model_validate({**BASE, **overrides})
    out = work / name
    started = time.monotonic()
    parent_graph = parent_model if parent == PARENT_MODEL else work / parent / "graph.pb" if parent else None
    graph = train_model(training, ["Cu"], systems, out, seed=seed, kind=kind, parent=parent_graph,
                        validation_dirs=system_dirs(test_data) if kind == "production" else None,
                        saves=20 if kind == "production" else 1)
    wall = time.monotonic() - started
    stats = json.loads((out / "train_stats.json").read_text())
    return {"variant": name, "overrides": overrides, "kind": kind, "steps": stats["steps"], "wall_s": round(wall, 1),
            "cpu_s": stats["cpu_s"], "graph": str(graph)}


# what each results file trained on (its DATA_DIR)
DATA_SETS = {"train_scan": "the old example's 111 labels", "train_scan_b": "the old example's 111 labels",
             "train_scan_example": "the example's 132 labels (slabs and a vacancy in its initial data)",
             "train_scan_noslab": "the same without the 9 slab frames",
             "train_scan_warm": "the example's labels of rounds 1 and 2 (parents: init + round.000; children: + round.001)",
             "train_scan_production": "the example's 132 labels, production models continued from its best round-2 member"}


def table(results: dict) -> str:
    """One results file as a markdown table, rows in the order of VARIANTS."""
    lines = ["| variant | kind | rcut / smooth (A) | precision | free atom | start lr | sel | steps | CPU s | wall s | "
             "F RMSE 900 K MD | E MAE 900 K MD | F RMSE vacancy | E MAE vacancy | surface energies (111 / 100 / 110) |",
             "|---" * 15 + "|"]
    for name in [v for v in VARIANTS if v in results]:
        row = results[name]
        o = {**BASE, "rcut_A": 5.0, "rcut_smth_A": 0.5, **row["overrides"]}
        lr = o["warm_start_lr"] if row["kind"] == "warm" else o["start_lr"]
        kind = f"warm {o['warm_start_fraction']:g}" if row["kind"] == "warm" else row["kind"]
        cpu_s = row.get("cpu_s") or json.loads((Path(row["graph"]).parent / "train_stats.json").read_text())["cpu_s"]
        md, vac = row["unseen"]["md_900K_108"], row["unseen"]["vacancy_600K_107"]
        lines.append(f"| {name} | {kind} | {o['rcut_A']:g} / {o['rcut_smth_A']:g} | {o.get('precision', 'float64')} | "
                     f"{'yes' if o.get('free_atom_energy_eV') else 'no'} | {lr:g} | {o['sel']} | {row['steps']} | "
                     f"{cpu_s:.0f} | {row['wall_s']:.0f} | {md['force_rmse_eV_A']:.4f} | "
                     f"{md['energy_mae_meV_atom']:.2f} | {vac['force_rmse_eV_A']:.4f} | {vac['energy_mae_meV_atom']:.2f} | "
                     f"{' / '.join(f'{e:+.1%}' for e in row['surfaces'].values()) if 'surfaces' in row else '-'} |")
    return "\n".join(lines) + "\n"


def tables() -> str:
    """Every results file's table under the data it trained on."""
    parts = ["# Training scan: one model per variant, judged on unseen 900 K MD and a vacancy cell (EMT Cu)", "",
             "`python benchmarks/accuracy/train_scan.py DATA TEST_DATA --variants ... --out FILE`; "
             "`--table` writes this file. Two trainings shared the 2 cores: CPU s is the comparable cost.", ""]
    for path in sorted(RESULTS.glob("train_scan*.json")):
        parts += [f"## {DATA_SETS.get(path.stem, path.stem)} (`{path.name}`)", "", table(json.loads(path.read_text()))]
    return "\n".join(parts)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data", nargs="?")
    parser.add_argument("test_data", nargs="?")
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS))
    parser.add_argument("--out", default=str(RESULTS / "train_scan.json"))
    parser.add_argument("--work", default=str(RESULTS / "work" / "train_scan"))
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--parent-model", help="the parent of the production variants: a run's member graph")
    parser.add_argument("--table", action="store_true", help="print the table of every results file, train nothing")
    args = parser.parse_args()
    out, work = Path(args.out), Path(args.work)
    if args.table:
        (RESULTS / "train_scan.md").write_text(tables())
        print(tables())
        return
    results = json.loads(out.read_text()) if out.exists() else {}
    sets = unseen_sets("Cu", reference_lattice_constant_A("Cu", "fcc"), EMT, RESULTS / "unseen_cu_emt")
    todo = [v for v in args.variants if v not in results]

    def one(name):
        row = run_variant(name, Path(args.data), Path(args.test_data), work,
                          Path(args.parent_model) if args.parent_model else None)
        row["unseen"] = {k: errors(Path(row["graph"]), frames) for k, frames in sets.items()}
        row["surfaces"] = surface_errors(Path(row["graph"]))
        return row

    with ThreadPoolExecutor(args.parallel) as pool:
        for row in pool.map(one, todo):
            results[row["variant"]] = row
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(results, indent=1))
            md, vac = row["unseen"]["md_900K_108"], row["unseen"]["vacancy_600K_107"]
            print(f"{row['variant']:22s} steps {row['steps']:6d} wall {row['wall_s']:7.1f} s  "
                  f"MD F {md['force_rmse_eV_A']:.4f} E {md['energy_mae_meV_atom']:.2f}  "
                  f"vac F {vac['force_rmse_eV_A']:.4f} E {vac['energy_mae_meV_atom']:.2f}", flush=True)


if __name__ == "__main__":
    main()
