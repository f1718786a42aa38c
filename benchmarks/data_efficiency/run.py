"""Which training data is worth labeling? Strategies (a)-(g) at label budgets, with EMT as the referee (free,
exact labels: only the choice of data differs), one held-out test suite and the property set of
`dpdriver validate`. Restartable: what is done (data, models, evaluations) is kept and reused.

    python benchmarks/data_efficiency/run.py            # the study (about 50 min on 2 cores)
    python benchmarks/data_efficiency/run.py --quick    # every step at toy sizes, in minutes: not the numbers
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import datasets
import yaml
from active import active_learning
from settings import FULL, QUICK, STRATEGIES, Settings

from dpdriver.config import RunConfig
from dpdriver.data import count_frames, system_dirs
from dpdriver.generate.lattice import ideal_crystal
from dpdriver.tools import fast_tensorflow_import
from dpdriver.train import train_model

HERE = Path(__file__).resolve().parent
TEST_SEED = 424242  # the test suite is the same for every seed of the study
POOL_SEED = 777


def study_config(settings: Settings, a0_A: float) -> RunConfig:
    """dpdriver's own config: the same training, exploration and selection settings a user would run."""
    return RunConfig.model_validate(
        {
            "element": settings.element,
            "initial_data": {"lattice_constant_A": a0_A, "supercell": [settings.repeat] * 3},
            "labeler": {"kind": "emt"},
            "training": {
                "models": settings.al_models,
                "steps": settings.training_steps,
                "parallel": settings.workers,
                **{k: getattr(settings, k) for k in ("rcut_A", "rcut_smth_A") if getattr(settings, k) is not None},
            },
            "exploration": {
                "temperatures_K": list(settings.al_temperatures_K),
                "ensembles": ["nvt", "npt"],
                "md_steps": settings.al_md_steps,
                "deviation_every_steps": settings.al_deviation_every_steps,
                "starts_from": ["ideal", "rounds"],
            },
            "selection": {
                "force_trust_lo_eV_A": settings.al_force_trust_lo_eV_A,
                "force_trust_hi_eV_A": settings.al_force_trust_hi_eV_A,
            },
        }
    )


def _emt_lattice_constant(element: str) -> float:
    from ase.calculators.emt import EMT

    from dpdriver.generate.lattice import reference_lattice_constant_A
    from dpdriver.validate.properties import equation_of_state

    return equation_of_state(element, "fcc", reference_lattice_constant_A(element, "fcc"), 1.0, EMT())[
        "lattice_constant_A"
    ]


def _reference(config: RunConfig, path: Path) -> dict:
    if not path.exists():
        from ase.calculators.emt import EMT

        from dpdriver.validate.properties import properties

        path.write_text(
            json.dumps(properties(config.element, "fcc", config.initial_data.lattice_constant_A, 1.0, EMT()))
        )
    return json.loads(path.read_text())


def _pool_part(config_json: str, settings: Settings, temperature_K: float, out: str) -> int:
    """One temperature of the MD pool, labeled (a separate process: EMT MD is Python-bound)."""
    config = RunConfig.model_validate_json(config_json)
    part = replace(settings, pool_temperatures_K=(temperature_K,))
    frames = datasets.md_pool(ideal_crystal(config), part, POOL_SEED + int(temperature_K))
    return datasets.label(frames, Path(out), config)["labeled"]


def build_pool(config: RunConfig, settings: Settings, pool: Path) -> None:
    todo = [t for t in settings.pool_temperatures_K if not (pool / f"{t:g}K" / datasets.DONE).exists()]
    for t in todo:
        shutil.rmtree(pool / f"{t:g}K", ignore_errors=True)
    with ProcessPoolExecutor(settings.workers, mp_context=multiprocessing.get_context("spawn")) as workers:
        list(
            workers.map(
                _pool_part,
                [config.model_dump_json()] * len(todo),
                [settings] * len(todo),
                todo,
                [str(pool / f"{t:g}K") for t in todo],
            )
        )


def build_tests(config: RunConfig, settings: Settings, test_root: Path) -> None:
    if (test_root / datasets.DONE).exists():
        return
    shutil.rmtree(test_root, ignore_errors=True)
    for family, structures in datasets.test_structures(config, settings, TEST_SEED).items():
        datasets.label(structures, test_root / family, config)
    (test_root / datasets.DONE).write_text("")


def training_set(strategy: str, budget: int, seed: int, config: RunConfig, work: Path) -> Path:
    """The labeled set of a (non-active) strategy at a budget; (g) is the whole pool, whatever the budget."""
    out = work / "sets" / f"{strategy}-{budget}-s{seed}"
    if (out / datasets.DONE).exists():
        return out
    shutil.rmtree(out, ignore_errors=True)
    if strategy in ("e", "g"):
        datasets.subsample(work / "pool", budget, seed, out, config.element)
    else:
        datasets.label(datasets.strategy_structures(strategy, ideal_crystal(config), budget, seed), out, config)
    return out


def _training_set_job(strategy: str, budget: int, seed: int, config_json: str, work: str) -> str:
    """training_set in a worker process (labeling and random insertion are Python-bound)."""
    return str(training_set(strategy, budget, seed, RunConfig.model_validate_json(config_json), Path(work)))


def _train(config: RunConfig, data: Path, out: Path, seed: int) -> Path:
    graph = out / "graph.pb"
    return graph if graph.exists() else train_model(config.training, [config.element], system_dirs(data), out, seed)


def _evaluate(model: str, test_root: str, config_json: str, reference: dict) -> dict:
    from evaluate import evaluate

    from dpdriver.engine.dflow.local import output_to

    with output_to(Path(model).parent / "evaluate.log"):  # TensorFlow talks
        return evaluate(Path(model), Path(test_root), RunConfig.model_validate_json(config_json), reference)


def main(argv: list[str] | None = None) -> int:
    fast_tensorflow_import()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="toy sizes: checks the pipeline, not the numbers")
    parser.add_argument("--out", help="results folder (default benchmarks/results/data_efficiency[-quick])")
    parser.add_argument("--seeds", type=int, nargs="+", help="override the settings' seeds")
    parser.add_argument("--strategies", nargs="+", choices=list(STRATEGIES), help="a subset of the strategies")
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else FULL
    if args.seeds:
        settings = replace(settings, seeds=tuple(args.seeds))
    if args.strategies:
        settings = replace(settings, strategies=tuple(s for s in STRATEGIES if s in args.strategies))
    out = Path(args.out or HERE.parent / "results" / ("data_efficiency-quick" if args.quick else "data_efficiency"))
    work = out / "work"
    work.mkdir(parents=True, exist_ok=True)
    start = time.time()

    def say(message: str) -> None:
        print(f"[{time.time() - start:6.0f} s] {message}", flush=True)

    a0_file = work / "a0.json"
    if not a0_file.exists():
        a0_file.write_text(json.dumps(_emt_lattice_constant(settings.element)))
    config = study_config(settings, json.loads(a0_file.read_text()))
    (out / "settings.json").write_text(json.dumps(settings.as_dict(), indent=1))
    (out / "config.yaml").write_text(yaml.safe_dump(json.loads(config.model_dump_json()), sort_keys=False))
    reference = _reference(config, work / "reference.json")
    say(f"referee (EMT) properties: a0 {reference['lattice_constant_A']:.3f} A")
    build_tests(config, settings, work / "test")
    say("held-out test suite labeled: " + ", ".join(p.name for p in sorted((work / "test").iterdir()) if p.is_dir()))
    if {"e", "g"} & set(settings.strategies):
        build_pool(config, settings, work / "pool")
        say(f"MD pool labeled: {len(settings.pool_temperatures_K) * settings.pool_frames_per_temperature} frames")

    pool_size = len(settings.pool_temperatures_K) * settings.pool_frames_per_temperature
    jobs = [
        (strategy, budget, seed)
        for seed in settings.seeds
        for strategy in settings.strategies
        if strategy != "f"
        for budget in ([pool_size] if strategy == "g" else settings.budgets)
    ]
    with ProcessPoolExecutor(settings.workers, mp_context=multiprocessing.get_context("spawn")) as workers:
        data_dirs = (
            list(
                workers.map(
                    _training_set_job, *zip(*jobs), [config.model_dump_json()] * len(jobs), [str(work)] * len(jobs)
                )
            )
            if jobs
            else []
        )
    points = [
        {
            "strategy": strategy,
            "seed": seed,
            "budget": budget,
            "data": data,  # one per model evaluated
            "model": str(work / "models" / f"{strategy}-{budget}-s{seed}" / "graph.pb"),
        }
        for (strategy, budget, seed), data in zip(jobs, data_dirs)
    ]
    say(f"training sets ready; training {len(points)} models, {settings.workers} at a time")
    with ThreadPoolExecutor(settings.workers) as pool:
        list(pool.map(lambda p: _train(config, Path(p["data"]), Path(p["model"]).parent, p["seed"]), points))
    for p in points:
        p["labels"] = count_frames(Path(p["data"]))
    if "f" in settings.strategies:
        for seed in settings.seeds:
            say(f"active learning, seed {seed}")
            for point in active_learning(config, settings.budgets, seed, work / f"active-s{seed}", settings.al_models):
                points.append({"strategy": "f", "seed": seed, "budget": point["labels"], **point})
    say(f"evaluating {len(points)} models on the test suite and the property set")
    todo = [p for p in points if not (Path(p["model"]).parent / "evaluation.json").exists()]
    with ProcessPoolExecutor(settings.workers, mp_context=multiprocessing.get_context("spawn")) as workers:
        results = workers.map(
            _evaluate,
            [p["model"] for p in todo],
            [str(work / "test")] * len(todo),
            [config.model_dump_json()] * len(todo),
            [reference] * len(todo),
        )
        for p, result in zip(todo, results):
            (Path(p["model"]).parent / "evaluation.json").write_text(json.dumps(result))
    for p in points:
        p.update(json.loads((Path(p["model"]).parent / "evaluation.json").read_text()))
    from report import write_results

    written = write_results(points, settings, reference, out, elapsed_s=time.time() - start)
    say("written: " + ", ".join(str(path) for path in written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
