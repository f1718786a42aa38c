"""The model card that travels with every export: what the potential is, what it was trained on, how it
validates, how to run it, and checksums of every file (README.md for people, model_card.json for tools)."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import time
from pathlib import Path

from ..cells import cell
from ..label import PROVENANCE_FILE, make_labeler
from ..rundir import EXPORT_SUMMARY, EXPORTED_MODEL, FROZEN_MODEL, VALIDATION
from ..templates import render
from ..train import production_origin, with_decisions

CARD_JSON, CARD_MD = "model_card.json", "README.md"
FILE_ROLES = {
    EXPORTED_MODEL: "compressed model (use this)",
    FROZEN_MODEL: "the same model, uncompressed",
    "in.lammps": "ready NVT run",
    "conf.lmp": "ideal crystal for in.lammps",
    EXPORT_SUMMARY: "run summary",
    VALIDATION: "properties and test errors, model and reference",
}


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def training_data(data_dir: Path | None) -> dict:
    """Frames per dataset (init, given.N, round.N) and where they came from (generator, or exploration stage)."""
    out: dict[str, dict] = {}
    if data_dir is None or not Path(data_dir).is_dir():
        return out
    for provenance in sorted(Path(data_dir).rglob(PROVENANCE_FILE)):
        dataset = provenance.relative_to(data_dir).parts[0]
        entry = out.setdefault(dataset, {"frames": 0, "origins": set()})
        for line in provenance.read_text().splitlines():
            structure = json.loads(line)["structure"]
            entry["frames"] += 1
            entry["origins"].add(
                structure.get("generator", "unknown") + (f" ({structure['stage']})" if structure.get("stage") else "")
            )
    return {k: {"frames": v["frames"], "origins": sorted(v["origins"])} for k, v in sorted(out.items())}


def write_model_card(
    config,
    out_dir: Path,
    history: list[dict],
    stop_reason: str,
    validation: dict,
    data_dir: Path | None,
    mass_amu: float,
    decisions: dict | None = None,
    production: dict | None = None,
) -> dict:
    out_dir = Path(out_dir)
    files = sorted(
        p
        for p in out_dir.rglob("*")
        if p.is_file() and p.name not in (CARD_JSON, CARD_MD) and "compress" not in p.relative_to(out_dir).parts[:1]
    )
    ensemble = sorted(str(p.relative_to(out_dir)) for p in out_dir.glob("ensemble/*.pb"))
    members = with_decisions(config.training, decisions)
    training = members.production_model() if production else members  # the exported model's own shape
    last = history[-1]["selection"]
    card = {
        "element": config.element,
        "exported_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "exported_from_round": history[-1]["round"],
        "stop_reason": stop_reason,
        "deepmd_kit_version": importlib.metadata.version("deepmd-kit"),
        "backend": "TensorFlow",
        "descriptor": {
            "type": "se_e2_a",
            "rcut_A": training.rcut_A,
            "rcut_smth_A": training.rcut_smth_A,
            "sel": training.sel,
            "neuron": training.descriptor_neuron,
            "axis_neuron": training.axis_neuron,
            "precision": training.precision,
        },
        "fitting_neuron": training.fitting_neuron,
        "sel_decision": {
            k: v for k, v in (decisions or {}).items() if k not in ("free_atom_energy_eV", "free_atom_from")
        },
        "free_atom_energy_eV": training.free_atom_energy_eV,
        "training": {
            "models": training.models,
            "start_lr": training.start_lr,
            "stop_lr": training.stop_lr,
            "rounds": [
                {
                    "round": h["round"],
                    **{k: (h.get("training") or {}).get(k) for k in ("kinds", "cpu_s")},
                    "steps": [m["steps"] for m in (h.get("training") or {}).get("members", [])],
                }
                for h in history
            ],
            "production": {**production, "origin": production_origin(production)} if production else None,
        },
        "labeler": {"kind": config.labeler.kind},
        "labeler_settings": _labeler_settings(config),
        "training_data": training_data(data_dir),
        "trust_levels": {
            "force_trust_lo_eV_A": last["force_trust_lo_eV_A"],
            "force_trust_hi_eV_A": last["force_trust_hi_eV_A"],
            "virial_trust_lo_eV": last.get("virial_trust_lo_eV"),
            "virial_trust_hi_eV": last.get("virial_trust_hi_eV"),
        },
        "validation": {k: validation[k] for k in ("reference", "passed", "checked", "rows")},
        "lammps": {
            "model": EXPORTED_MODEL,
            "mass_amu": mass_amu,
            "timestep_ps": 0.002,
            "deviation_pair_style": f"pair_style deepmd {EXPORTED_MODEL} "
            + " ".join(ensemble[1:])
            + " out_freq 100 out_file model_devi.out"
            if len(ensemble) > 1
            else "-",
        },
        "checksums": {str(p.relative_to(out_dir)): sha256(p) for p in files},
        "file_roles": {**FILE_ROLES, **{name: "ensemble member (uncertainty)" for name in ensemble}},
    }
    (out_dir / CARD_JSON).write_text(json.dumps(card, indent=1))
    (out_dir / CARD_MD).write_text(render("model_card.md.j2", card=card, fmt=cell))
    return card


def _labeler_settings(config) -> str:
    settings = make_labeler(config.labeler).settings
    return ", ".join(f"{k}={v}" for k, v in settings.items() if k != "kind" and v not in (None, {}, []))
