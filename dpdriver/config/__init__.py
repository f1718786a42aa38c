"""The one typed schema of a dpdriver run; every default is documented here and only here.

YAML is validated strictly: an unknown key, a duplicate key, a wrong type, a non-finite number, true/false where a
number is meant, or an impossible value is a UserError naming the key, its line in the file and, for typos, the
nearest valid key. Physically absurd values are bounded, and the bound says why.
"""

from .base import MAX_TEMPERATURE_K, AtError, IncarValue, LearningRate, MdSteps, Strict, TemperatureK
from .execution import ArgoConfig, DispatcherConfig, ExecutionConfig, StepKind, StepResources
from .exploration import (
    ConvergenceConfig,
    Ensemble,
    ExplorationConfig,
    ExplorationStage,
    ExplorationStageConfig,
    SelectionConfig,
    StartSource,
)
from .generators import (
    BainPathConfig,
    COverAConfig,
    Generator,
    GeneratorConfig,
    InitialDataConfig,
    InterstitialConfig,
    MDConfig,
    NormalModesConfig,
    RandomStructuresConfig,
    RattleConfig,
    StrainConfig,
    SurfaceConfig,
    VacancyConfig,
    VolumeScanConfig,
)
from .labelers import (
    ASELabelerConfig,
    EMTLabelerConfig,
    LabelerBase,
    LabelerConfig,
    LammpsLabelerConfig,
    VaspLabelerConfig,
)
from .load import SECRET_KEY, load_config, parse_config
from .run_config import RunConfig
from .training import NetsConfig, TrainingConfig
from .validation import PropertyTolerances, TestFamily, ValidationConfig

__all__ = [
    "ASELabelerConfig",
    "ArgoConfig",
    "AtError",
    "BainPathConfig",
    "COverAConfig",
    "ConvergenceConfig",
    "DispatcherConfig",
    "EMTLabelerConfig",
    "Ensemble",
    "ExecutionConfig",
    "ExplorationConfig",
    "ExplorationStage",
    "ExplorationStageConfig",
    "Generator",
    "GeneratorConfig",
    "IncarValue",
    "InitialDataConfig",
    "InterstitialConfig",
    "LabelerBase",
    "LabelerConfig",
    "LammpsLabelerConfig",
    "LearningRate",
    "MAX_TEMPERATURE_K",
    "MDConfig",
    "MdSteps",
    "NormalModesConfig",
    "PropertyTolerances",
    "RandomStructuresConfig",
    "RattleConfig",
    "RunConfig",
    "SECRET_KEY",
    "SelectionConfig",
    "StartSource",
    "StepKind",
    "StepResources",
    "StrainConfig",
    "Strict",
    "SurfaceConfig",
    "TemperatureK",
    "TestFamily",
    "TrainingConfig",
    "NetsConfig",
    "VacancyConfig",
    "ValidationConfig",
    "VaspLabelerConfig",
    "VolumeScanConfig",
    "load_config",
    "parse_config",
]
