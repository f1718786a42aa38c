"""The validation table: each property of the model beside the reference's, its error and pass/fail against the
configured tolerances; and the held-out test errors per structure family."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..cells import cell
from ..errors import UserError
from ..generate.lattice import reference_c_over_a, reference_lattice_constant_A
from ..label import EMTLabeler, make_labeler
from .compute import TaskEvaluator
from .properties import properties


def _row(name: str, unit: str, model, reference, tolerance: float, relative: bool = False, error=None) -> dict:
    """error: given (e.g. a band RMSE), or |model - reference| (relative to the reference where relative)."""
    if error is None and model is not None and reference is not None:
        error = abs(model - reference) / abs(reference) if relative else abs(model - reference)
    ok = None if error is None or not math.isfinite(error) else bool(error <= tolerance)
    return {
        "property": name,
        "unit": unit,
        "model": model,
        "reference": reference,
        "error": error,
        "error_unit": "relative" if relative else unit,
        "tolerance": tolerance,
        "pass": ok,
    }


def phonon_rmse_THz(model: dict, reference: dict) -> float:
    return float(
        np.sqrt(
            np.mean(
                [
                    (np.asarray(m) - np.asarray(r)) ** 2
                    for m, r in zip(model["frequencies_THz"], reference["frequencies_THz"])
                ]
            )
        )
    )


def property_rows(model: dict, reference: dict | None, tol, unphysical: dict[str, str] | None = None) -> list[dict]:
    """unphysical: property key -> why the reference's value is no reference; such a row is shown, not judged.
    A property either side could not compute is a failed row that says why."""
    ref = reference or {}

    def names(key: str) -> list:
        """The entries of a property that is a table (elastic constants, surfaces); [None]: unknown on both sides."""
        return list(model.get(key) or ref.get(key) or {None: None})

    def value(values: dict, key: str, name):
        v = values.get(key)
        return v.get(name) if isinstance(v, dict) else v

    # (row name, unit, key in the property set, entry, tolerance, relative, key of its failure reason)
    specs = [
        ("lattice constant", "A", "lattice_constant_A", None, tol.lattice_constant_rel, True, "eos"),
        ("cohesive energy", "eV/atom", "cohesive_energy_eV_atom", None, tol.cohesive_energy_eV_atom, False, None),
        ("bulk modulus", "GPa", "bulk_modulus_GPa", None, tol.bulk_modulus_rel, True, "eos"),
    ]
    specs += [
        (name or "elastic constants", "GPa", "elastic_constants_GPa", name, tol.elastic_constant_rel, True, None)
        for name in names("elastic_constants_GPa")
    ]
    specs.append(
        (
            "vacancy formation energy (relaxed)",
            "eV",
            "vacancy_formation_eV",
            None,
            tol.vacancy_formation_eV,
            False,
            None,
        )
    )
    specs += [
        (
            f"surface energy ({plane})" if plane else "surface energies",
            "J/m^2",
            "surface_energy_J_m2",
            plane,
            tol.surface_energy_rel,
            True,
            None,
        )
        for plane in names("surface_energy_J_m2")
    ]
    has_fault = model.get("stacking_fault_mJ_m2") is not None or "stacking_fault_mJ_m2" in model.get("errors", {})
    if has_fault:  # validations of before bcc and hcp faults: None there
        relative = tol.stacking_fault_rel is not None
        specs.append(
            (
                model.get("planar_fault", "intrinsic stacking fault energy"),
                "mJ/m^2",
                "stacking_fault_mJ_m2",
                None,
                tol.stacking_fault_rel if relative else tol.stacking_fault_mJ_m2,
                relative,
                None,
            )
        )
    rows = []
    for name, unit, key, entry, tolerance, relative, reason_key in specs:
        row = _row(name, unit, value(model, key, entry), value(ref, key, entry), tolerance, relative) | {"key": key}
        rows.append(_not_computed(row, model, reference, reason_key or key))
    for row in rows:
        if reference and row["key"] in (unphysical or {}):
            row.update({"pass": None, "note": f"not judged: {unphysical[row['key']]}"})

    def top(values: dict | None) -> float | None:
        bands = (values or {}).get("phonons")
        return float(max(np.max(f) for f in bands["frequencies_THz"])) if bands else None

    both = model.get("phonons") and ref.get("phonons")
    phonon_row = _row(
        "phonon bands (max frequency; error: RMSE over the path)",
        "THz",
        top(model),
        top(reference),
        tol.phonon_rmse_THz,
        error=phonon_rmse_THz(model["phonons"], ref["phonons"]) if both else None,
    )
    rows.append(_not_computed(phonon_row | {"key": "phonons"}, model, reference, "phonons"))
    return rows


def _not_computed(row: dict, model: dict, reference: dict | None, reason_key: str) -> dict:
    """A row whose value one side could not compute: failed, with the reason(s)."""
    reasons = [
        f"{side}: {values['errors'][reason_key]}"
        for side, values in (("model", model), ("reference", reference))
        if values and reason_key in values.get("errors", {})
    ]
    return row | {"pass": False, "note": "not computed (" + "; ".join(reasons) + ")"} if reasons else row


def test_rows(errors: dict | None, tol) -> list[dict]:
    """The held-out errors as rows: the reference is the labels themselves, so the error is the RMSE."""
    rows = []
    for family, e in sorted(((errors or {}).get("families") or {}).items()):
        rows.append(
            _row(
                f"test energy RMSE ({family}, {e['frames']} frames)",
                "meV/atom",
                e["energy_rmse_meV_atom"],
                None,
                tol.energy_rmse_meV_atom,
                error=e["energy_rmse_meV_atom"],
            )
        )
        rows.append(
            _row(
                f"test force RMSE ({family})",
                "eV/A",
                e["force_rmse_eV_A"],
                None,
                tol.force_rmse_eV_A,
                error=e["force_rmse_eV_A"],
            )
        )
    return rows


def model_calculator(model: Path, element: str):
    from deepmd.calculator import DP  # TensorFlow takes seconds: only a validation with a model pays
    from deepmd.infer import DeepPot

    type_map = DeepPot(str(model)).get_type_map()
    if element not in type_map:
        raise UserError(
            f"model {model} is for {', '.join(type_map)}, not {element}; give the model of the run's element "
            "or a config whose element matches"
        )
    return DP(model=str(model))


def reference_labeler(config, reference: str):
    """The labeler a model is judged against: 'labeler' the config's, 'emt' ASE's EMT, 'none' none."""
    return {"labeler": lambda: make_labeler(config.labeler), "emt": EMTLabeler, "none": lambda: None}[reference]()


def reference_calculator(
    labeler,
    config,
    reference_tasks: Path | None = None,
    a_guess_A: float | None = None,
    c_over_a: float | None = None,
):
    """An in-process labeler's calculator (EMT, an ASE calculator); for VASP, label tasks under reference_tasks
    (the user's command in each; finished tasks are read back)."""
    if labeler.in_process:
        return labeler.calculator()
    labeler.check(config.element)
    structure = {
        "element": config.element,
        "lattice": config.initial_data.lattice,
        "a_guess_A": a_guess_A,
        "c_over_a": c_over_a,
    }
    return TaskEvaluator(labeler, Path(reference_tasks or "reference-tasks"), structure)


def validate_model(
    model: Path,
    config,
    reference: str = "labeler",
    test_errors: dict | None = None,
    reference_tasks: Path | None = None,
) -> dict:
    """Properties of the model and of the reference (none: the model's alone), the table and a pass count."""
    init = config.initial_data
    a_guess = init.lattice_constant_A or reference_lattice_constant_A(config.element, init.lattice)
    c_over_a = init.c_over_a or reference_c_over_a(config.element)
    model_calc = model_calculator(Path(model), config.element)
    labeler = reference_labeler(config, reference)
    reference_calc = labeler and reference_calculator(labeler, config, reference_tasks, a_guess, c_over_a)
    values = properties(config.element, init.lattice, a_guess, c_over_a, model_calc)
    ref_values = properties(config.element, init.lattice, a_guess, c_over_a, reference_calc) if reference_calc else None
    unphysical = labeler.unphysical_properties if labeler else {}
    rows = property_rows(values, ref_values, config.validation.tolerances, unphysical) + test_rows(
        test_errors, config.validation.tolerances
    )
    checked = [r for r in rows if r["pass"] is not None]
    return {
        "element": config.element,
        "lattice": init.lattice,
        "reference": labeler.name if labeler else None,
        "rows": rows,
        "passed": sum(r["pass"] for r in checked),
        "checked": len(checked),
        "model": values,
        "reference_values": ref_values,
        "test_errors": test_errors,
    }


def format_table(result: dict) -> str:
    rows = [("property", "unit", "model", "reference", "error", "tolerance", "result")]
    for r in result["rows"]:
        relative = r["error_unit"] == "relative"
        rows.append(
            (
                r["property"],
                r["unit"],
                cell(r["model"], "{:.4g}"),
                cell(r["reference"], "{:.4g}"),
                cell(r["error"], "{:.1%}" if relative else "{:.3g}"),
                cell(r["tolerance"], "{:.0%}" if relative else "{:.3g}"),
                {True: "pass", False: "FAIL", None: "-"}[r["pass"]],
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(c.ljust(w) if i < 2 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))) for row in rows
    ]
    lines += [f"{r['property']}: {r['note']}" for r in result["rows"] if r.get("note")]
    lines.append(
        f"{result['passed']} of {result['checked']} checks pass"
        + (f" (reference: {result['reference']})" if result["reference"] else " (no reference: values only)")
    )
    return "\n".join(lines)
