"""The run directory: everything one run writes, and the guard against mixing two runs in it."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

from .errors import UserError

IDENTITY = "run.json"


def config_fingerprint(plain_config: dict) -> str:
    relevant = {k: v for k, v in plain_config.items() if k != "run_dir"}
    return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()[:16]


def claim_run_dir(run_dir: Path, plain_config: dict) -> bool:
    """Create or reopen run_dir for this config; return True when resuming. Never deletes anything."""
    run_dir = Path(run_dir)
    identity = run_dir / IDENTITY
    fingerprint = config_fingerprint(plain_config)
    if identity.exists():
        recorded = json.loads(identity.read_text())
        if recorded.get("config_fingerprint") != fingerprint:
            raise UserError(
                f"run directory '{run_dir}' holds another run (made from a different config); "
                "pass a new --workdir, or run with the config it was made from to resume it"
            )
        return True
    if run_dir.exists() and any(run_dir.iterdir()):
        raise UserError(f"'{run_dir}' is not empty and holds no dpdriver run; choose an empty or new --workdir")
    run_dir.mkdir(parents=True, exist_ok=True)
    identity.write_text(json.dumps({"config_fingerprint": fingerprint, "config": plain_config}, indent=2))
    return False


def install(source: Path, target: Path) -> Path:
    """Copy a step's output into the run directory atomically: it is there complete or not at all."""
    source, target = Path(source), Path(target)
    tmp = target.with_name(target.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp) if tmp.is_dir() else tmp.unlink()
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, tmp, symlinks=False)
    else:
        shutil.copyfile(source, tmp)
    tmp.replace(target)
    return target
