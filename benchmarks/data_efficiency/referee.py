"""A referee of the study: an example's config (element, lattice, supercell, labeler, model shape, loop settings),
with the study's one training rule set on it, and the referee's own equilibrium and properties."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import yaml

from dpdriver.config import RunConfig
from dpdriver.generate.lattice import reference_lattice_constant_A
from dpdriver.label import make_labeler
from dpdriver.validate.properties import equation_of_state, properties

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "benchmarks"))
from variant import merged  # noqa: E402


def referee_config(example: str, settings, a0_A: float | None = None) -> RunConfig:
    """The example's config with the study's training rule (and the referee's own lattice constant, once known)."""
    base = yaml.safe_load((REPO / example).read_text())
    changes = {"training": {**settings.training, "models": settings.loop_models, "parallel": settings.workers}}
    if a0_A is not None:
        changes["initial_data"] = {"lattice_constant_A": a0_A}
    config = merged(base, changes)
    config.pop("run_dir", None)
    return RunConfig.model_validate(config)


def loop_config(config: RunConfig, settings) -> RunConfig:
    """The config the loop (8) runs: the referee's, with the settings' loop overrides."""
    return RunConfig.model_validate(merged(json.loads(config.model_dump_json()), settings.loop_overrides))


def calculator_factory(config: RunConfig):
    """A fresh ASE calculator of the referee for each MD run (its labeler's, in this process)."""
    return make_labeler(config.labeler).calculator


def lattice_constant_A(config: RunConfig, path: Path) -> float:
    """The referee's own equilibrium lattice constant (kept in path): every structure of the study is built on it."""
    if not path.exists():
        init = config.initial_data
        guess = reference_lattice_constant_A(config.element, init.lattice)
        fit = equation_of_state(config.element, init.lattice, guess, 1.0, calculator_factory(config)())
        path.write_text(json.dumps(fit["lattice_constant_A"]))
    return json.loads(path.read_text())


def reference_properties(config: RunConfig, path: Path) -> dict:
    """The property set of `dpdriver validate`, computed with the referee (kept in path)."""
    if not path.exists():
        init = config.initial_data
        values = properties(config.element, init.lattice, init.lattice_constant_A, 1.0, calculator_factory(config)())
        path.write_text(json.dumps(values))
    return json.loads(path.read_text())
