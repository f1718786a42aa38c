"""The one typed schema of a dpdriver run; every default is documented here and only here.

YAML is validated strictly: an unknown key, a wrong type or an impossible value is a
UserError naming the key, its line in the file and, for typos, the nearest valid key.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any, Literal, Optional

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from .errors import UserError


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LabelerConfig(Strict):
    """Who computes reference energies, forces and virials."""

    kind: Literal["emt"] = "emt"  # ASE's EMT: the free, exact stand-in for DFT


class InitialDataConfig(Strict):
    """Initial training set: a volume scan of the ideal crystal, each volume rattled."""

    lattice: Literal["fcc", "bcc"] = "fcc"
    lattice_constant_A: Optional[float] = Field(None, gt=0)  # None: ASE's reference value
    supercell: tuple[int, int, int] = (2, 2, 2)  # conventional cells; fcc 2x2x2 = 32 atoms
    lattice_scales: list[float] = Field(
        default_factory=lambda: [0.94, 0.97, 1.0, 1.03, 1.06], min_length=1
    )
    rattled_per_scale: int = Field(6, ge=1)
    rattle_stdev_A: float = Field(0.05, ge=0)

    @model_validator(mode="after")
    def _positive(self):
        if any(s <= 0 for s in self.lattice_scales):
            raise ValueError("lattice_scales must all be > 0")
        if any(n < 1 for n in self.supercell):
            raise ValueError("supercell entries must be >= 1")
        return self


class TrainingConfig(Strict):
    """DeePMD-kit se_e2_a (TensorFlow backend); the ensemble differs only in seeds."""

    models: int = Field(4, ge=2)  # >= 2: model deviation needs an ensemble
    steps: int = Field(2000, ge=1)
    rcut_A: float = Field(5.0, gt=0)
    rcut_smth_A: float = Field(0.5, ge=0)
    sel: int = Field(80, ge=1)  # fixed, never "auto": the model shape must not change between rounds
    descriptor_neuron: list[int] = Field(default_factory=lambda: [10, 20, 40], min_length=1)
    axis_neuron: int = Field(8, ge=1)
    fitting_neuron: list[int] = Field(default_factory=lambda: [60, 60, 60], min_length=1)
    start_lr: float = Field(1e-3, gt=0)
    stop_lr: float = Field(1e-5, gt=0)
    parallel: int = Field(2, ge=1)  # models trained at once (one CPU thread each)

    @model_validator(mode="after")
    def _radii(self):
        if self.rcut_smth_A >= self.rcut_A:
            raise ValueError("rcut_smth_A must be smaller than rcut_A")
        return self


class ExplorationConfig(Strict):
    """LAMMPS MD with all models of the ensemble, at a ladder of temperatures."""

    temperatures_K: list[float] = Field(
        default_factory=lambda: [300.0, 600.0, 900.0, 1200.0], min_length=1
    )
    ensembles: list[Literal["nvt", "npt"]] = Field(default_factory=lambda: ["nvt", "npt"], min_length=1)
    pressure_bar: float = 1.0
    md_steps: int = Field(1000, ge=1)
    timestep_ps: float = Field(0.002, gt=0)
    deviation_every_steps: int = Field(20, ge=1)  # model_devi.out and trajectory stride
    starts_per_task: int = Field(1, ge=1)  # initial structures (lattice scale 1.0) per task

    @model_validator(mode="after")
    def _temperatures(self):
        if any(t <= 0 for t in self.temperatures_K):
            raise ValueError("temperatures_K must all be > 0")
        return self


class SelectionConfig(Strict):
    """Frames with max force deviation in [lo, hi) are candidates; at most N are labeled."""

    force_trust_lo_eV_A: float = Field(0.05, ge=0)
    force_trust_hi_eV_A: float = Field(0.20, gt=0)
    max_labels_per_round: int = Field(30, ge=1)

    @model_validator(mode="after")
    def _order(self):
        if self.force_trust_lo_eV_A >= self.force_trust_hi_eV_A:
            raise ValueError("force_trust_lo_eV_A must be smaller than force_trust_hi_eV_A")
        return self


class ConvergenceConfig(Strict):
    max_rounds: int = Field(3, ge=1)
    accurate_ratio_target: float = Field(0.95, gt=0, le=1)


class ValidationConfig(Strict):
    """Fresh structures, never trained on, labeled by the reference to measure test errors."""

    test_structures: int = Field(10, ge=1)
    test_rattle_stdev_A: float = Field(0.08, ge=0)
    test_lattice_scales: list[float] = Field(default_factory=lambda: [0.96, 1.0, 1.04], min_length=1)


class RunConfig(Strict):
    element: str = "Cu"
    seed: int = 2026
    run_dir: Optional[str] = None  # relative to the config file; --workdir overrides
    labeler: LabelerConfig = LabelerConfig()
    initial_data: InitialDataConfig = InitialDataConfig()
    training: TrainingConfig = TrainingConfig()
    exploration: ExplorationConfig = ExplorationConfig()
    selection: SelectionConfig = SelectionConfig()
    convergence: ConvergenceConfig = ConvergenceConfig()
    validation: ValidationConfig = ValidationConfig()

    def to_plain(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


def _key_lines(node: yaml.Node, prefix: tuple = ()) -> dict[tuple, int]:
    """Map each key path to its 1-based line in the YAML file."""
    lines: dict[tuple, int] = {}
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            path = prefix + (key_node.value,)
            lines[path] = key_node.start_mark.line + 1
            lines.update(_key_lines(value_node, path))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[prefix + (i,)] = item.start_mark.line + 1
            lines.update(_key_lines(item, prefix + (i,)))
    return lines


def _model_at(path: tuple) -> type[BaseModel] | None:
    model: Any = RunConfig
    for part in path:
        field = model.model_fields.get(part) if isinstance(part, str) else None
        if field is None or not (isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)):
            return None
        model = field.annotation
    return model


def _describe(error: dict, source: str, lines: dict[tuple, int]) -> str:
    loc = tuple(p for p in error["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    key = ".".join(str(p) for p in loc) or "(top level)"
    line = next((lines[loc[:n]] for n in range(len(loc), 0, -1) if loc[:n] in lines), None)
    where = f"{source}:{line}" if line else source
    if error["type"] == "extra_forbidden":
        parent = _model_at(loc[:-1])
        valid = sorted(parent.model_fields) if parent else []
        near = difflib.get_close_matches(str(loc[-1]), valid, n=1, cutoff=0.5)
        hint = f"did you mean '{near[0]}'?" if near else f"valid keys here: {', '.join(valid)}"
        return f"{where}: unknown key '{key}'; {hint}"
    message = error["msg"].removeprefix("Value error, ")
    return f"{where}: '{key}': {message} (got {error.get('input')!r})"


def parse_config(text: str, source: str = "<config>") -> RunConfig:
    try:
        root = yaml.compose(text)
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{source}:{mark.line + 1}" if mark else source
        raise UserError(f"{where}: not valid YAML ({getattr(exc, 'problem', exc)}); fix the syntax") from None
    raw = {} if raw is None else raw
    if not isinstance(raw, dict):
        raise UserError(f"{source}: the config must be a YAML mapping of keys to values")
    try:
        return RunConfig.model_validate(raw)
    except ValidationError as exc:
        lines = _key_lines(root) if root is not None else {}
        first = _describe(exc.errors()[0], source, lines)
        more = len(exc.errors()) - 1
        raise UserError(first + (f" (and {more} more problem(s))" if more else "")) from None


def load_config(path: str | Path) -> RunConfig:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"config file '{path}' not found; pass the path of a YAML config such as examples/cu-emt/config.yaml")
    return parse_config(path.read_text(), str(path))
