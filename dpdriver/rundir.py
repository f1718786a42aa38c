"""The run directory: everything one run writes, and the guard against mixing two runs in it. `RunDir` is the one
place that spells its paths; a file is finished when it exists (each is written atomically, the record last)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from .config import RunConfig, TrainingConfig
from .errors import UserError
from .files import write_atomically

IDENTITY = "run.json"
ROUND_RECORD = "round.json"
# what an export folder holds (the run's export/, or any folder `dpdriver export` is given)
EXPORTED_MODEL, FROZEN_MODEL = "compressed_model.pb", "frozen_model.pb"
EXPORT_SUMMARY, VALIDATION = "summary.json", "validation.json"
INIT, TEST = "init", "test"  # the datasets of the initial data and of the held-out set
ROUND_PREFIX = "round."


def round_tag(r: int) -> str:
    return f"{r:03d}"


def round_dataset(r: int) -> str:
    """The name of round r's labels (their folder under data/ and quarantine/) and of its folder under rounds/."""
    return ROUND_PREFIX + round_tag(r)


@dataclass(frozen=True)
class RunDir:
    """The layout of one run directory:

    run.json              the config (and its accepted changes) and the run's decisions
    runner.json           the live runner's pid and mark
    data/init, data/given.NNN, data/round.NNN     labeled data, one dataset per source
    test_data/            the held-out set, never trained on
    rounds/round.NNN/     round.json (the round's record, written last), models/, lcurves/
    quarantine/<dataset>  failed label tasks with their reasons
    production/, export/  the production model; what the user takes away
    argo.json             the workflow `dpdriver submit` started (Argo or --local)
    decide/, dflow/, tasks/, .download/, dpdriver.log, reference-tasks/   work folders and the tools' output
    """

    root: Path

    def __post_init__(self):
        object.__setattr__(self, "root", Path(self.root))

    identity = property(lambda self: self.root / IDENTITY)
    runner = property(lambda self: self.root / "runner.json")
    data = property(lambda self: self.root / "data")
    test_data = property(lambda self: self.root / "test_data")
    production = property(lambda self: self.root / "production")
    export = property(lambda self: self.root / "export")
    export_summary = property(lambda self: self.export / EXPORT_SUMMARY)
    exported_model = property(lambda self: self.export / EXPORTED_MODEL)
    export_validation = property(lambda self: self.export / VALIDATION)
    decide = property(lambda self: self.root / "decide")
    workflows = property(lambda self: self.root / "dflow")
    log = property(lambda self: self.root / "dpdriver.log")
    reference_tasks = property(lambda self: self.root / "reference-tasks")

    def dataset(self, name: str) -> Path:
        return self.data / name

    def given(self, i: int) -> Path:
        return self.data / f"given.{i:03d}"

    def quarantine(self, dataset: str = "") -> Path:
        return self.root / "quarantine" / dataset

    label_tasks = property(lambda self: self.root / "tasks")  # `dpdriver init`'s label task folders
    submitted = property(lambda self: self.root / "argo.json")  # the workflow `submit` started
    downloads = property(lambda self: self.root / ".download")  # `download`'s artifacts before they are filed

    def round_dir(self, r: int) -> Path:
        return self.root / "rounds" / round_dataset(r)

    def round_record(self, r: int) -> Path:
        return self.round_dir(r) / ROUND_RECORD

    def models(self, r: int) -> Path:
        return self.round_dir(r) / "models"

    def model(self, r: int, member: int) -> Path:
        return self.models(r) / f"graph.{member:03d}.pb"

    def lcurve(self, r: int, member: int) -> Path:
        return self.round_dir(r) / "lcurves" / f"lcurve.{member:03d}.out"

    def is_run(self) -> bool:
        return self.identity.exists()

    def history(self) -> list[dict]:
        """The records of the finished rounds, in order."""
        return [json.loads(p.read_text()) for p in sorted(self.root.glob(f"rounds/round.*/{ROUND_RECORD}"))]

    def require_run(self) -> None:
        if not self.is_run():
            raise UserError(
                f"'{self.root}' is not a dpdriver run directory (no {IDENTITY}); give the --workdir of a run"
            )


# What a stopped run may change, and why the rest may not (longest matching prefix wins).
RUN_CHANGES_ALLOWED = (
    "run_dir",
    "convergence",
    "exploration",
    "selection",
    "validation",
    *(
        f"training.{k}"
        for k in TrainingConfig.model_fields
        if k not in TrainingConfig.shape_keys + TrainingConfig.decided_keys
    ),
    "labeler.structures_per_task",
    "execution",
)
WHY_NOT = {
    "element": "the type map of every dataset and model",
    "seed": "the seeds decide what is explored and selected; a new seed is a new run",
    "labeler": "all labels of a run must come from one reference",
    "initial_data": "the initial data set is already built from it",
    "training": "it sets the model's shape (descriptor, sel, fitting net, precision, free-atom energy); models of "
    "two shapes are not one run",
}


def config_fingerprint(plain_config: dict) -> str:
    relevant = {k: v for k, v in plain_config.items() if k != "run_dir"}
    return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()[:16]


def changed_keys(old: dict, new: dict, prefix: str = "") -> list[tuple[str, object, object]]:
    """(dotted key, old, new) for each leaf that differs; lists are leaves."""
    changes = []
    for key in sorted(set(old) | set(new)):
        a, b, path = old.get(key), new.get(key), f"{prefix}{key}"
        if isinstance(a, dict) and isinstance(b, dict):
            changes += changed_keys(a, b, path + ".")
        elif a != b:
            changes.append((path, a, b))
    return changes


def _allowed(path: str, allowed: tuple[str, ...]) -> bool:
    return any(path == a or path.startswith(a + ".") for a in allowed)


def check_config_changes(old: dict, new: dict, allowed: tuple[str, ...]) -> list[str]:
    """Descriptions of the safe changes; UserError naming the first change that is not safe."""
    changes = changed_keys(old, new)
    for path, a, b in changes:
        if not _allowed(path, allowed):
            why = WHY_NOT.get(path.split(".")[0], "it is fixed once a run has started")
            raise UserError(
                f"this run directory was made with {path} = {json.dumps(a)}, the config now says {json.dumps(b)}; "
                f"it cannot change within a run ({why}): restore it to resume, or pass a new --workdir"
            )
    return [f"{path}: {json.dumps(a)} -> {json.dumps(b)}" for path, a, b in changes]


def claim_run_dir(run_dir: Path, plain_config: dict, allowed_changes: tuple[str, ...] = ()) -> list[str] | None:
    """Create or reopen run_dir for this config. Returns None for a new run, else the accepted config
    changes of a resumed one (possibly none). Never deletes anything."""
    run_dir = Path(run_dir)
    identity = RunDir(run_dir).identity
    fingerprint = config_fingerprint(plain_config)
    if identity.exists():
        recorded = json.loads(identity.read_text())
        if recorded.get("config_fingerprint") == fingerprint:
            return []
        if "config" not in recorded:
            raise UserError(f"run directory '{run_dir}' holds another run (no config recorded); pass a new --workdir")
        accepted = check_config_changes(recorded["config"], plain_config, allowed_changes)
        recorded.setdefault("config_changes", []).append(accepted)
        recorded.update(config_fingerprint=fingerprint, config=plain_config)
        write_atomically(identity, json.dumps(recorded, indent=2))
        return accepted
    if run_dir.exists() and any(run_dir.iterdir()):
        raise UserError(f"'{run_dir}' is not empty and holds no dpdriver run; choose an empty or new --workdir")
    run_dir.mkdir(parents=True, exist_ok=True)
    write_atomically(identity, json.dumps({"config_fingerprint": fingerprint, "config": plain_config}, indent=2))
    return None


def record_decisions(run_dir: Path, decisions: dict) -> None:
    """What the run decided once (sel, free-atom energy), kept beside its config in run.json."""
    identity = RunDir(run_dir).identity
    recorded = json.loads(identity.read_text())
    recorded["decisions"] = decisions
    write_atomically(identity, json.dumps(recorded, indent=2))


def recorded_config(run_dir: Path) -> RunConfig:
    """The config a run was started (or last continued) with, as run.json keeps it."""
    return RunConfig.model_validate(json.loads(RunDir(run_dir).identity.read_text())["config"])


def read_decisions(run_dir: Path) -> dict | None:
    identity = RunDir(run_dir).identity
    return json.loads(identity.read_text()).get("decisions") if identity.exists() else None


def set_aside(path: Path, suffix: str) -> Path | None:
    """Rename an output that a changed run will write again, so that nothing is lost."""
    path = Path(path)
    if not path.exists():
        return None
    target = path.with_name(f"{path.name}.{suffix}")
    n = 1
    while target.exists():
        target, n = path.with_name(f"{path.name}.{suffix}.{n}"), n + 1
    path.rename(target)
    return target
