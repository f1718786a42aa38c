"""One model against the referee: energy and force errors per held-out family, and the property set of
`dpdriver validate` (same tolerances), each property's error or the reason it could not be computed."""

from __future__ import annotations

from pathlib import Path

from datasets import read_data

from dpdriver.validate.check import model_calculator, property_rows
from dpdriver.validate.properties import properties
from dpdriver.validate.rmse import frame_differences, summarize

# short names of the property rows, for the table and plots
PROPERTY_KEYS = {
    "lattice constant": "a0",
    "cohesive energy": "Ecoh",
    "bulk modulus": "B",
    "C11": "C11",
    "C12": "C12",
    "C44": "C44",
    "vacancy formation energy (relaxed)": "Evac",
    "surface energy (111)": "gamma111",
    "surface energy (100)": "gamma100",
    "surface energy (110)": "gamma110",
    "intrinsic stacking fault energy": "ISF",
}


def _property_key(name: str) -> str:
    return PROPERTY_KEYS.get(name, "phonons" if name.startswith("phonon") else name)


def family_errors(model: Path, test_root: Path, element: str) -> dict:
    """One evaluation (one model load) over every family, then summarized per family and over all."""
    systems = {family.name: read_data(family) for family in sorted(p for p in test_root.iterdir() if p.is_dir())}
    frames = frame_differences(model, [s for family in systems.values() for s in family], [element])
    errors, start = {}, 0
    for family, family_systems in systems.items():
        count = sum(len(s) for s in family_systems)
        errors[family] = summarize(frames[start : start + count])
        start += count
    errors["all"] = summarize(frames)
    return errors


def property_errors(model: Path, config, reference: dict) -> dict:
    """{key: {error, pass}} per property row; {"error": reason} where the model breaks a calculation (a poor
    model may have no minimum, or relax into nonsense): that is a result, not a crash."""
    init = config.initial_data
    try:
        values = properties(
            config.element, init.lattice, reference["lattice_constant_A"], 1.0, model_calculator(model, config.element)
        )
    except Exception as exc:  # noqa: BLE001 - any failure of a property calculation is the model's result
        return {"error": f"{type(exc).__name__}: {exc}"[:200]}
    rows = property_rows(values, reference, config.validation.tolerances)
    return {_property_key(r["property"]): {"model": r["model"], "error": r["error"], "pass": r["pass"]} for r in rows}


def evaluate(model: Path, test_root: Path, config, reference: dict | None) -> dict:
    """Test errors per family, and the property set where there is a reference (None: not computed)."""
    return {
        "test": family_errors(model, test_root, config.element),
        "properties": property_errors(model, config, reference) if reference else {},
    }
