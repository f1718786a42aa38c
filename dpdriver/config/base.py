"""The config's building blocks: strict models, bounded numbers, and errors that name the key."""

from __future__ import annotations

from typing import Annotated, Any, Union, get_args

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    model_validator,
)


class AtError(ValueError):
    """A validation error inside a list or mapping of the model, located there for the user."""

    def __init__(self, message: str, *subpath):
        super().__init__(message)
        self.subpath = subpath


def _takes_bool(annotation) -> bool:
    return annotation in (bool, Any) or any(_takes_bool(a) for a in get_args(annotation))


def _holds_bool(value) -> bool:
    return isinstance(value, bool) or (isinstance(value, (list, tuple)) and any(isinstance(v, bool) for v in value))


class Strict(BaseModel):
    """Unknown keys, NaN and infinity are refused; so is true/false where a number is meant (YAML's `true` would
    otherwise be read as 1)."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)

    @model_validator(mode="before")
    @classmethod
    def _no_bool_for_numbers(cls, data):
        if isinstance(data, dict):
            for key, value in data.items():
                field = cls.model_fields.get(key)
                if field is not None and _holds_bool(value) and not _takes_bool(field.annotation):
                    raise AtError("true/false is not a value here; give a number", key)
        return data


def _number(x: float) -> str:
    return f"{int(x):,}" if float(x).is_integer() else f"{x:g}"


def _bounded(low: float, high: float, why: str):
    """A float in [low, high]; outside it, the error says why the bound exists."""

    def check(value: float) -> float:
        if not low <= value <= high:
            raise ValueError(f"must lie in [{_number(low)}, {_number(high)}]: {why}")
        return value

    return AfterValidator(check)


MAX_TEMPERATURE_K = 10000.0
TemperatureK = Annotated[
    float, Field(gt=0), _bounded(0, MAX_TEMPERATURE_K, "above 10,000 K no metal stays condensed (W boils at 5,900 K)")
]
LearningRate = Annotated[
    float, Field(gt=0), _bounded(0, 0.1, "Adam diverges at such rates; DeePMD-kit's are 1e-3 and below")
]
MdSteps = Annotated[
    int,
    Field(ge=1),
    _bounded(
        1, 10_000_000, "a round explores with many short MD runs; 10 million steps is 20 ns at 2 fs, days for one task"
    ),
]


IncarValue = Union[bool, int, float, str, list[float]]
