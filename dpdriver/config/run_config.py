"""The whole config of a run."""

from __future__ import annotations

from typing import Any, Optional

from ase.data import chemical_symbols
from pydantic import (
    field_validator,
)

from .base import (
    Strict,
)
from .execution import ExecutionConfig
from .exploration import (
    ConvergenceConfig,
    ExplorationConfig,
    SelectionConfig,
)
from .generators import (
    InitialDataConfig,
)
from .labelers import (
    EMTLabelerConfig,
    LabelerConfig,
)
from .training import TrainingConfig
from .validation import ValidationConfig


class RunConfig(Strict):
    element: str = "Cu"
    seed: int = 2026
    run_dir: Optional[str] = None  # relative to the config file; --workdir overrides
    labeler: LabelerConfig = EMTLabelerConfig()
    initial_data: InitialDataConfig = InitialDataConfig()
    training: TrainingConfig = TrainingConfig()
    exploration: ExplorationConfig = ExplorationConfig()
    selection: SelectionConfig = SelectionConfig()
    convergence: ConvergenceConfig = ConvergenceConfig()
    validation: ValidationConfig = ValidationConfig()
    execution: ExecutionConfig = ExecutionConfig()

    @field_validator("element")
    @classmethod
    def _chemical_symbol(cls, value: str) -> str:
        if value not in chemical_symbols[1:]:
            near = next((s for s in chemical_symbols[1:] if s.lower() == value.lower()), None)
            raise ValueError(
                f"'{value}' is not a chemical symbol; " + (f"did you mean '{near}'?" if near else "e.g. Cu, W, Fe")
            )
        return value

    def to_plain(self) -> dict[str, Any]:
        return self.model_dump(mode="json")
