"""Test errors of a model against the reference labeler on structures it never saw, per structure family."""

from __future__ import annotations

import json
from pathlib import Path

import dpdata
import numpy as np

from ..data import system_dirs
from ..label import PROVENANCE_FILE


def _rmse(x: np.ndarray):
    return float(np.sqrt(np.mean(x**2))) if x.size else None


def _max_abs(x: np.ndarray):
    return float(np.max(np.abs(x))) if x.size else None


def _milli(x):
    return None if x is None else 1000 * x


def _summary(d_e: np.ndarray, d_f: np.ndarray, d_v: np.ndarray, frames: int) -> dict:
    return {
        "frames": frames,
        "energy_rmse_meV_atom": _milli(_rmse(d_e)),
        "energy_max_abs_meV_atom": _milli(_max_abs(d_e)),
        "force_rmse_eV_A": _rmse(d_f),
        "force_max_abs_eV_A": _max_abs(d_f),
        "virial_rmse_meV_atom": _milli(_rmse(d_v)),
    }


def frame_differences(model: Path, systems, type_map: list[str]) -> list[dict]:
    """Per frame: model minus reference energy per atom (eV), forces (eV/Å), virial per atom (eV), and the
    reference values (for parity plots)."""
    from deepmd.infer import DeepPot  # heavy (TensorFlow): import only when evaluating

    potential = DeepPot(str(model))
    out = []
    for system in systems:
        natoms = system.get_natoms()
        atom_types = [type_map.index(system["atom_names"][t]) for t in system["atom_types"]]
        energy, force, virial = potential.eval(
            system["coords"].reshape(len(system), -1), system["cells"].reshape(len(system), -1), atom_types
        )[:3]
        for i in range(len(system)):
            ref_v = system["virials"][i].reshape(9) / natoms if "virials" in system.data else None
            out.append(
                {
                    "natoms": natoms,
                    "energy_ref_eV_atom": float(system["energies"][i] / natoms),
                    "energy_model_eV_atom": float(energy.reshape(-1)[i] / natoms),
                    "force_ref": system["forces"][i].reshape(-1),
                    "force_model": force.reshape(len(system), -1)[i],
                    "virial_diff": None if ref_v is None else virial.reshape(len(system), 9)[i] / natoms - ref_v,
                }
            )
    return out


def summarize(frames: list[dict]) -> dict:
    """Energy (meV/atom), force (eV/Å) and virial (meV/atom) RMSE and max errors over frames."""
    d_e = np.array([f["energy_model_eV_atom"] - f["energy_ref_eV_atom"] for f in frames], dtype=float)
    d_f = np.concatenate([f["force_model"] - f["force_ref"] for f in frames]) if frames else np.zeros(0)
    d_v = np.concatenate([f["virial_diff"] for f in frames if f["virial_diff"] is not None] or [np.zeros(0)])
    return _summary(d_e, d_f, d_v, len(frames))


def model_errors(model: Path, systems, type_map: list[str]) -> dict:
    return summarize(frame_differences(model, systems, type_map))


def families_of(system_dir: Path, frames: int) -> list[str]:
    """Each frame's test family, from the provenance the labeling step wrote beside the data."""
    provenance = system_dir.parent / PROVENANCE_FILE
    families = ["unknown"] * frames
    if provenance.exists():
        for line in provenance.read_text().splitlines():
            record = json.loads(line)
            if record["system"] == system_dir.name and record["frame"] < frames:
                families[record["frame"]] = record["structure"].get("family", "unknown")
    return families


def test_frames(model: Path, test_data: Path | None, element: str) -> list[dict]:
    """Every held-out frame with its family and the model's and reference's values."""

    frames = []
    for system_dir in system_dirs(test_data) if test_data else []:
        system = dpdata.LabeledSystem(str(system_dir), fmt="deepmd/npy", type_map=[element])
        for family, frame in zip(families_of(system_dir, len(system)), frame_differences(model, [system], [element])):
            frames.append({"family": family, **frame})
    return frames


def test_errors(model: Path, test_data: Path | None, element: str, reference: str) -> dict:
    """The model against the run's held-out test set (labeled once, at init, by the run's labeler): all frames,
    and per structure family."""
    frames = test_frames(model, test_data, element)
    families = sorted({f["family"] for f in frames})
    return {
        "reference": reference,
        **summarize(frames),
        "families": {name: summarize([f for f in frames if f["family"] == name]) for name in families},
    }


MEMBER_KEYS = ("frames", "energy_rmse_meV_atom", "force_rmse_eV_A")


def ensemble_test_errors(models: list[Path], test_data: Path | None, element: str, reference: str) -> dict:
    """Model 0's test errors (the round's yardstick) and, under "members", every member's overall errors: the
    production model continues the best member, chosen from the round's record without loading a model again."""
    errors = test_errors(models[0], test_data, element, reference)
    rows = [errors, *(test_errors(m, test_data, element, reference) for m in models[1:])]
    errors["members"] = [{"index": i, **{k: row.get(k) for k in MEMBER_KEYS}} for i, row in enumerate(rows)]
    return errors
