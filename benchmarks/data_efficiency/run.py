"""Which training data is worth labeling? Strategies 1-9 at label budgets, for one referee (EMT for fcc Cu, SNAP for
bcc W): free, exact labels, so only the choice of data differs. Every model trains under one rule (training.py),
is judged on one held-out test suite and the property set of `dpdriver validate`. Restartable: what is done
(data, models, evaluations) is kept and reused; finished results can be committed part by part.

    python benchmarks/data_efficiency/run.py --referee cu-emt        # the study for one referee
    python benchmarks/data_efficiency/run.py --quick                 # every step at toy sizes: not the numbers
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
import numpy as np
import picking
import yaml
from active import active_learning
from referee import calculator_factory, lattice_constant_A, loop_config, referee_config, reference_properties
from report import write_results
from settings import FULL, QUICK, REFEREES, STRATEGIES, Settings
from training import GRAPH, train_point, training_stats

from dpdriver.config import RunConfig
from dpdriver.data import count_frames
from dpdriver.files import write_atomically
from dpdriver.label import make_labeler
from dpdriver.seeds import derive_seed
from dpdriver.tools import fast_tensorflow_import
from dpdriver.train import decide_model, with_decisions

HERE = Path(__file__).resolve().parent
TEST_SEED = 424242  # the test suite is the same for every seed of the study
POOL_SEED = 777


def _spawn_pool(workers: int) -> ProcessPoolExecutor:
    """Worker processes for Python-bound work (referee MD, labeling, evaluation), each with its own LAMMPS."""
    return ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))


def _pool_part(config_json: str, settings: Settings, temperature_K: float, out: str) -> int:
    config = RunConfig.model_validate_json(config_json)
    frames = datasets.pool_part(
        config, settings, temperature_K, POOL_SEED + int(temperature_K), calculator_factory(config)
    )
    return datasets.label(frames, Path(out), config)["labeled"]


def pool_parts(settings: Settings, pool: Path) -> list[Path]:
    """One folder per pool temperature, in the settings' order (the pool's frame order)."""
    return [pool / f"{i}-{t:g}K" for i, t in enumerate(settings.pool_temperatures_K)]


def build_pool(config: RunConfig, settings: Settings, pool: Path) -> None:
    todo = [
        (t, p)
        for t, p in zip(settings.pool_temperatures_K, pool_parts(settings, pool))
        if not (p / datasets.DONE).exists()
    ]
    for _, part in todo:
        shutil.rmtree(part, ignore_errors=True)
    with _spawn_pool(settings.workers) as workers:
        list(
            workers.map(_pool_part, *zip(*[(config.model_dump_json(), settings, t, str(p)) for t, p in todo]))
        ) if todo else None


def build_tests(config: RunConfig, settings: Settings, test_root: Path) -> None:
    if (test_root / datasets.DONE).exists():
        return
    shutil.rmtree(test_root, ignore_errors=True)
    structures = datasets.test_structures(config, settings, TEST_SEED, calculator_factory(config))
    for family, frames in structures.items():
        datasets.label(frames, test_root / family, config)
    (test_root / datasets.DONE).write_text("")


def _generated_set(strategy: str, budget: int, seed: int, config_json: str, out: str) -> str:
    """A set of strategies 1-4, in a worker process (labeling and random insertion are Python-bound)."""
    config = RunConfig.model_validate_json(config_json)
    if not (Path(out) / datasets.DONE).exists():
        shutil.rmtree(out, ignore_errors=True)
        structures = datasets.strategy_structures(strategy, config, budget, seed, calculator_factory(config))
        datasets.label(structures, Path(out), config)
    return out


def _picked_set(pool, picked, out: Path, element: str) -> Path:
    if not (out / datasets.DONE).exists():
        shutil.rmtree(out, ignore_errors=True)
        datasets.write_picked(pool, picked, out, element)
    return out


def _evaluate(model: str, test_root: str, config_json: str, reference: dict | None) -> dict:
    from evaluate import evaluate  # TensorFlow: in the worker only

    from dpdriver.engine.dflow.local import output_to

    with output_to(Path(model).parent / "evaluate.log"):  # TensorFlow talks
        return evaluate(Path(model), Path(test_root), RunConfig.model_validate_json(config_json), reference)


def identity(point: dict) -> dict:
    """What a point is (strategy, budget, seed, labels, ...), without where this machine keeps its data and model."""
    return {k: v for k, v in point.items() if k not in ("data", "model")}


def recorded_points(out: Path) -> list[dict]:
    """Every point recorded in out/points with its identity: a report needs no data, models or work folder."""
    records = [json.loads(path.read_text()) for path in sorted((out / "points").glob("*.json"))]
    return [{**r.pop("point"), **r} for r in records if "point" in r]


class Study:
    """One referee's study in one folder: labels/ (pool and sets), test/, models/, loop-s<seed>/, results."""

    def __init__(self, referee: str, settings: Settings, out: Path):
        self.referee, self.settings, self.out = referee, settings, out
        self.work = out / "work"
        self.labels, self.models = self.work / "labels", self.work / "models"
        self.work.mkdir(parents=True, exist_ok=True)
        (out / "points").mkdir(exist_ok=True)
        self.evaluators: ProcessPoolExecutor | None = None
        self.started = time.time()
        config = referee_config(REFEREES[referee], settings)
        self.config = referee_config(REFEREES[referee], settings, lattice_constant_A(config, self.work / "a0.json"))

    def say(self, message: str) -> None:
        print(f"[{time.time() - self.started:6.0f} s] {message}", flush=True)

    def model_dir(self, name: str) -> Path:
        return self.models / name

    def jobs(self, strategies) -> list[tuple[str, int, int]]:
        return [
            (s, b, seed)
            for b in self.settings.budgets
            for seed in self.settings.seeds_at(b)
            for s in self.settings.strategies
            if s in strategies
        ]

    def build_data(self) -> list[dict]:
        """Every data set of strategies 1-7f and 9 (labeled or picked), and the pool."""
        s, config = self.settings, self.config
        build_tests(config, s, self.work / "test")
        self.say(
            "held-out test suite: " + ", ".join(p.name for p in sorted((self.work / "test").iterdir()) if p.is_dir())
        )
        build_pool(config, s, self.labels / "pool")
        parts = [datasets.read_data(p) for p in pool_parts(s, self.labels / "pool")]
        pool = [system for part in parts for system in part]
        sizes = [sum(len(x) for x in part) for part in parts]
        self.pool = pool
        self.say(f"MD pool: {sum(sizes)} frames")
        generated = self.jobs(("1", "2", "3", "4"))
        with _spawn_pool(s.workers) as workers:
            dirs = (
                list(
                    workers.map(
                        _generated_set,
                        *zip(
                            *[
                                (st, b, seed, config.model_dump_json(), str(self.labels / f"{st}-{b}-s{seed}"))
                                for st, b, seed in generated
                            ]
                        ),
                    )
                )
                if generated
                else []
            )
        points = [self.point(st, b, seed, Path(d)) for (st, b, seed), d in zip(generated, dirs)]
        features = picking.pool_fingerprints(pool) if "7f" in s.strategies else None
        hot = s.pool_temperatures_K.index(s.one_temperature_K)
        for st, b, seed in self.jobs(("5", "6", "7f")):
            if st == "5":
                picked = picking.consecutive(sizes, hot, b, seed)
            elif st == "6":
                picked = picking.uniform(sum(sizes), b, seed)
            else:
                picked = picking.farthest_points(features, b, seed)
            points.append(
                self.point(st, b, seed, _picked_set(pool, picked, self.labels / f"{st}-{b}-s{seed}", config.element))
            )
        if "9" in s.strategies:
            whole = _picked_set(pool, np.arange(sum(sizes)), self.labels / "9-all", config.element)
            points.append(self.point("9", sum(sizes), s.seeds[0], whole))
            points.append(self.point("9", sum(sizes), s.seeds[0], whole, steps_factor=s.converged_check_factor))
        self.say(f"data sets of strategies 1-7f and 9 ready: {len(points)}")
        return points

    def point(
        self, strategy: str, budget: int, seed: int, data: Path, steps_factor: float = 1.0, name: str | None = None
    ) -> dict:
        name = name or f"{strategy}-{budget}-s{seed}" + (f"-x{steps_factor:g}" if steps_factor != 1.0 else "")
        return {
            "strategy": strategy,
            "budget": budget,
            "seed": seed,
            "data": str(data),
            "labels": count_frames(data),
            "steps_factor": steps_factor,
            "model": str(self.model_dir(name) / GRAPH),
        }

    def decide(self) -> None:
        """sel and the free-atom energy, once for the whole study, from all of its labels (the test suite apart)."""
        path = self.work / "decisions.json"
        if not path.exists():
            decisions = decide_model(
                self.config.training,
                self.config.element,
                self.labels,
                make_labeler(self.config.labeler),
                self.work / "decide",
            )
            path.write_text(json.dumps(decisions))
        self.decisions = json.loads(path.read_text())
        training = with_decisions(self.config.training, self.decisions)
        self.config = self.config.model_copy(update={"training": training})
        self.say(f"decided once: sel {self.decisions['sel']}, free-atom energy {self.decisions['free_atom_energy_eV']}")

    def record(self, point: dict) -> Path:
        """A finished point's record (its evaluation and training statistics), kept with the results: a study run
        in parts over several machines or sessions trains and evaluates each point once."""
        return self.out / "points" / f"{Path(point['model']).parent.name}.json"

    def train(self, points: list[dict], reference: dict | None = None, evaluate: bool = True) -> None:
        """Train each point not yet recorded, and evaluate it at once (its record lands as soon as it is done)."""
        for p in points:
            self.identify(p)
        points = [p for p in points if not self.record(p).exists()]

        def one(p: dict) -> None:
            seed = derive_seed(p["seed"], "study", p["strategy"], p["budget"])
            train_point(self.config, self.settings, Path(p["data"]), Path(p["model"]).parent, seed, p["steps_factor"])
            if evaluate:
                self.finish(p, reference)

        with ThreadPoolExecutor(self.settings.workers) as pool:
            list(pool.map(one, points))

    def finish(self, point: dict, reference: dict | None) -> None:
        """Evaluate a trained point in the evaluation workers (each loads TensorFlow once) and record it."""
        if self.evaluators is None:
            self.evaluators = _spawn_pool(self.settings.workers)
        args = (point["model"], str(self.work / "test"), self.config.model_dump_json(), reference)
        result = self.evaluators.submit(_evaluate, *args).result()
        result["training"] = training_stats(Path(point["model"]).parent)
        write_atomically(self.record(point), json.dumps({"point": identity(point), **result}))

    def identify(self, point: dict) -> None:
        """A record written before records named their point gets its point's identity (what the report needs)."""
        path = self.record(point)
        if path.exists():
            record = json.loads(path.read_text())
            if "point" not in record:
                write_atomically(path, json.dumps({"point": identity(point), **record}))

    def committee_sets(self) -> list[dict]:
        """(7c): per seed, an ensemble trained on a uniform seed set ranks every pool frame by its disagreement."""
        s, points = self.settings, []
        total = sum(len(x) for x in self.pool)
        for seed in s.seeds:
            seed_set = picking.uniform(total, s.committee_seed_labels, derive_seed(seed, "committee"))
            data = _picked_set(self.pool, seed_set, self.labels / f"7c-seed-s{seed}", self.config.element)
            members = [
                self.point(
                    "7c-seed",
                    s.committee_seed_labels,
                    derive_seed(seed, "committee", m),
                    data,
                    name=f"7c-committee-s{seed}-m{m}",
                )
                for m in range(s.committee_models)
            ]
            deviation_file = self.work / f"7c-deviation-s{seed}.npy"
            if not deviation_file.exists():  # the committee's ranking of the pool, kept
                self.train(members, evaluate=False)
                models = [Path(m["model"]) for m in members]
                np.save(deviation_file, picking.max_force_deviation(models, self.pool, self.config.element))
            deviation = np.load(deviation_file)
            for b in s.budgets:
                if seed in s.seeds_at(b):
                    picked = picking.committee(deviation, seed_set, b)
                    points.append(
                        self.point(
                            "7c",
                            b,
                            seed,
                            _picked_set(self.pool, picked, self.labels / f"7c-{b}-s{seed}", self.config.element),
                        )
                    )
        return points

    def loop_points(self) -> list[dict]:
        points = []
        for seed in self.settings.seeds:
            last = max(
                self.settings.all_seeds_at
                if seed != self.settings.seeds[0] and self.settings.all_seeds_at
                else self.settings.budgets
            )
            budgets = tuple(b for b in self.settings.budgets if b <= last)
            self.say(f"active loop, seed {seed}")
            for p in active_learning(
                loop_config(self.config, self.settings),
                self.decisions,
                budgets,
                seed,
                self.work / f"loop-s{seed}",
                self.work / "loop-sets",
            ):
                labels = count_frames(p["data"])
                point = self.point("8", labels, seed, p["data"], name=Path(p["data"]).name)
                points.append({**point, "round": p["round"], "selection": p["selection"]})
        return points

    def results(self, points: list[dict]) -> list[dict]:
        """Every point with its record (whose copy of the point's identity is the point itself)."""
        records = [json.loads(self.record(p).read_text()) for p in points]
        return [{**p, **{k: v for k, v in r.items() if k != "point"}} for p, r in zip(points, records)]


def main(argv: list[str] | None = None) -> int:
    fast_tensorflow_import()
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--referee", choices=list(REFEREES), default="cu-emt")
    parser.add_argument("--quick", action="store_true", help="toy sizes: checks the pipeline, not the numbers")
    parser.add_argument("--out", help="results folder (default benchmarks/results/data_efficiency/<referee>[-quick])")
    parser.add_argument("--strategies", nargs="+", choices=list(STRATEGIES), help="a subset of the strategies")
    parser.add_argument("--data-only", action="store_true", help="stop after the data sets and decisions (a part)")
    parser.add_argument(
        "--report", action="store_true", help="write the results from the points recorded so far, train nothing"
    )
    args = parser.parse_args(argv)
    settings = QUICK if args.quick else FULL
    if args.strategies:
        settings = replace(settings, strategies=tuple(s for s in STRATEGIES if s in args.strategies))
    name = args.referee + ("-quick" if args.quick else "")
    out = Path(args.out or HERE.parent / "results" / "data_efficiency" / name)
    if args.report:
        return report_recorded(args.referee, settings, out)
    study = Study(args.referee, settings, out)
    (out / "settings.json").write_text(json.dumps({"referee": args.referee, **settings.as_dict()}, indent=1))
    reference = reference_properties(study.config, study.work / "reference.json") if settings.properties else None
    if reference:
        study.say(f"referee properties: a0 {reference['lattice_constant_A']:.4f} A")
    points = study.build_data()
    study.decide()
    (out / "config.yaml").write_text(yaml.safe_dump(json.loads(study.config.model_dump_json()), sort_keys=False))
    if args.data_only:
        return 0
    if "7c" in settings.strategies:
        points += study.committee_sets()
    study.say(f"training and evaluating {len(points)} models, {settings.workers} at a time")
    study.train(sorted(points, key=lambda p: (p["labels"], p["seed"])), reference)  # a study cut short: small budgets
    if "8" in settings.strategies:
        loop = study.loop_points()
        study.train(loop, reference)
        points += loop
    points = study.results(points)
    if study.evaluators:
        study.evaluators.shutdown()
    written = write_results(points, settings, reference, out, elapsed_s=time.time() - study.started)
    study.say("written: " + ", ".join(str(path) for path in written))
    return 0


def report_recorded(referee: str, settings: Settings, out: Path) -> int:
    """The results of a study still running or cut short: from its recorded points, marked as partial."""
    points = recorded_points(out)
    if not points:
        print(f"no recorded points in {out / 'points'}: run the study first", file=sys.stderr)
        return 1
    study = Study(referee, settings, out)
    reference = reference_properties(study.config, study.work / "reference.json") if settings.properties else None
    written = write_results(points, settings, reference, out, elapsed_s=0.0, partial=True)
    study.say(f"{len(points)} recorded points written: " + ", ".join(str(path) for path in written))
    return 0


if __name__ == "__main__":
    sys.exit(main())
