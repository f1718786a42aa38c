"""Test errors of a model against the reference labeler on structures it never saw."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .data import system_dirs


def model_errors(model: Path, systems, type_map: list[str]) -> dict:
    """Energy (meV/atom), force (eV/Å) and virial (meV/atom) RMSE and max errors of model on labeled systems."""
    from deepmd.infer import DeepPot  # heavy (TensorFlow): import only when evaluating

    potential = DeepPot(str(model))
    d_e, d_f, d_v = [], [], []
    for system in systems:
        natoms = system.get_natoms()
        atom_types = [type_map.index(system["atom_names"][t]) for t in system["atom_types"]]
        energy, force, virial = potential.eval(
            system["coords"].reshape(len(system), -1), system["cells"].reshape(len(system), -1), atom_types
        )[:3]
        d_e.extend((energy.reshape(-1) - system["energies"]) / natoms)
        d_f.extend((force.reshape(len(system), -1, 3) - system["forces"]).reshape(-1))
        if "virials" in system.data:
            d_v.extend(((virial.reshape(len(system), 9) - system["virials"].reshape(len(system), 9)) / natoms).reshape(-1))
    d_e, d_f, d_v = (np.asarray(x, dtype=float) for x in (d_e, d_f, d_v))

    def rmse(x):
        return float(np.sqrt(np.mean(x**2))) if x.size else None

    return {
        "frames": int(sum(len(s) for s in systems)),
        "energy_rmse_meV_atom": 1000 * rmse(d_e),
        "energy_max_abs_meV_atom": 1000 * float(np.max(np.abs(d_e))),
        "force_rmse_eV_A": rmse(d_f),
        "force_max_abs_eV_A": float(np.max(np.abs(d_f))),
        "virial_rmse_meV_atom": 1000 * rmse(d_v) if d_v.size else None,
    }


def test_errors(model: Path, test_data: Path | None, element: str, reference: str) -> dict:
    """The model against the run's held-out test set (labeled once, at init, by the run's labeler)."""
    import dpdata

    systems = [dpdata.LabeledSystem(str(d), fmt="deepmd/npy") for d in system_dirs(test_data)] if test_data else []
    if not systems:
        return {"reference": reference, "frames": 0, "energy_rmse_meV_atom": None, "energy_max_abs_meV_atom": None,
                "force_rmse_eV_A": None, "force_max_abs_eV_A": None, "virial_rmse_meV_atom": None}
    return {"reference": reference, **model_errors(model, systems, [element])}
