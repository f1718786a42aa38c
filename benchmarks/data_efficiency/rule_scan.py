"""Which training rule converges? The study's own data sets (a small, a mid and the whole pool) trained under
rules of different length, each judged on the study's held-out test suite, with its CPU time: the rule the study
uses is the shortest one whose errors a longer one no longer improves.

    python benchmarks/data_efficiency/rule_scan.py --referee cu-emt
Results in benchmarks/results/data_efficiency/<referee>/rule_scan.{json,md}; finished trainings are kept.
"""

from __future__ import annotations

import argparse
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from run import HERE, Study, _evaluate
from settings import FULL, REFEREES
from training import train_point, training_stats

from dpdriver.tools import fast_tensorflow_import

EVALUATION = "evaluation.json"  # beside each model
RULES = {  # the training keys of each rule; steps = epochs x batches of the data, within [min_steps, max_steps]
    "half": {"epochs": 50.0, "min_steps": 1000, "max_steps": 10000},
    "dpdriver": {"epochs": 100.0, "min_steps": 2000, "max_steps": 20000},  # dpdriver's defaults
    "double": {"epochs": 200.0, "min_steps": 4000, "max_steps": 40000},
    "batch4": {"batch_atoms": 128, "epochs": 100.0, "min_steps": 2000, "max_steps": 20000},  # 4 frames per step
    "batch4-double": {"batch_atoms": 128, "epochs": 200.0, "min_steps": 4000, "max_steps": 40000},
}
SETS = ("6-100-s1", "3-400-s1", "9-all")


def main(argv: list[str] | None = None) -> int:
    fast_tensorflow_import()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--referee", choices=list(REFEREES), default="cu-emt")
    args = parser.parse_args(argv)
    out = HERE.parent / "results" / "data_efficiency" / args.referee
    study = Study(args.referee, FULL, out)
    study.build_data()
    study.decide()
    jobs = [(rule, name) for rule in RULES for name in SETS]

    def train(job: tuple[str, str]) -> Path:
        rule, name = job
        training = study.config.training.model_copy(update=RULES[rule])
        config = study.config.model_copy(update={"training": training})
        return train_point(config, FULL, study.labels / name, study.work / "rule-scan" / rule / name, seed=2026)

    with ThreadPoolExecutor(FULL.workers) as pool:
        graphs = list(pool.map(train, jobs))
    rows = []
    for (rule, name), graph in zip(jobs, graphs):
        evaluation = graph.parent / EVALUATION
        if not evaluation.exists():
            evaluation.write_text(
                json.dumps(_evaluate(str(graph), str(study.work / "test"), study.config.model_dump_json(), None))
            )
        test = json.loads(evaluation.read_text())["test"]
        stats = training_stats(graph.parent)
        rows.append(
            {
                "rule": rule,
                "set": name,
                "frames": stats["frames"],
                "steps": stats["steps"],
                "cpu_s": stats["cpu_s"],
                "force_rmse_eV_A": test["all"]["force_rmse_eV_A"],
                "energy_rmse_meV_atom": test["all"]["energy_rmse_meV_atom"],
                "families": {f: v["force_rmse_eV_A"] for f, v in test.items() if f != "all"},
                "family_energies": {f: v["energy_rmse_meV_atom"] for f, v in test.items() if f != "all"},
            }
        )
    (out / "rule_scan.json").write_text(json.dumps({"rules": RULES, "base": FULL.training, "rows": rows}, indent=1))
    families = sorted(rows[0]["families"])
    lines = [
        "| set | rule | training frames | steps | CPU (s) | F all (eV/A) | E all (meV/atom) | "
        + " | ".join(f"F {f}" for f in families)
        + " |",
        "|" + "---|" * (7 + len(families)),
    ]
    for r in sorted(rows, key=lambda r: (SETS.index(r["set"]), list(RULES).index(r["rule"]))):
        lines.append(
            f"| {r['set']} | {r['rule']} | {r['frames']} | {r['steps']} | {r['cpu_s']:.0f} | "
            f"{r['force_rmse_eV_A']:.4f} | {r['energy_rmse_meV_atom']:.2f} | "
            + " | ".join(f"{r['families'][f]:.4f}" for f in families)
            + " |"
        )
    (out / "rule_scan.md").write_text(
        f"# Training rules on the {args.referee} study's data\n\n"
        f"`python benchmarks/data_efficiency/rule_scan.py --referee {args.referee}`; "
        f"the study trains with {FULL.training} (double).\n\n" + "\n".join(lines) + "\n"
    )
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
