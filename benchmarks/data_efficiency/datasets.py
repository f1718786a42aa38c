"""Structures of every strategy, the MD pool and the held-out test suite, all made with dpdriver's generators
and labeled by the referee (EMT) through dpdriver's labeler, so that only the choice of data differs."""

from __future__ import annotations

import tempfile
from pathlib import Path

import dpdata
import numpy as np
from ase import Atoms
from ase.calculators.emt import EMT

from dpdriver.config import RunConfig
from dpdriver.data import system_dirs
from dpdriver.generate import defects, modes, transforms
from dpdriver.generate.held_out import held_out_structures, liquid
from dpdriver.generate.lattice import ideal_crystal, nearest_neighbour_distance_A, volume_per_atom_A3
from dpdriver.label import make_labeler
from dpdriver.label.base import label_to_data

SCAN_MODES = ("uniaxial", "biaxial", "shear")
MODE_TEMPERATURES_K = (300.0, 600.0, 900.0, 1200.0, 1500.0)
RATTLE_STDEV_A = (0.02, 0.05, 0.1, 0.15, 0.2, 0.3)  # "varying intensity", from phonon-like to near-melting
DONE = "done"  # marker: a folder without it is rebuilt (a killed study never leaves half a data set behind)


def _tag(frames: transforms.Generated, kind: str) -> list[Atoms]:
    out = []
    for atoms, params in frames:
        atoms.info["provenance"] = {"generator": kind, **params}
        out.append(atoms)
    return out


def _split(n: int, parts: int) -> list[int]:
    return [n // parts + (1 if i < n % parts else 0) for i in range(parts)]


def scans(ideal: Atoms, n: int) -> list[Atoms]:
    """(a): volume scan over +-15 % and uniaxial, biaxial and shear strain up to +-5 %: ideal positions."""
    n_volume, n_strain = _split(n, 2)
    per_mode = -(-n_strain // len(SCAN_MODES))
    strained = transforms.strains(ideal, SCAN_MODES, (-0.05, 0.05), per_mode + per_mode % 2)  # even: no zero strain
    k = len(strained) // len(SCAN_MODES)
    by_turn = [strained[m * k + i] for i in range(k) for m in range(len(SCAN_MODES))]  # every mode, if few
    return _tag(transforms.volume_scan(ideal, (-0.15, 0.15), n_volume), "volume_scan") + _tag(
        by_turn[:n_strain], "strain"
    )


def normal_modes(ideal: Atoms, n: int, seed: int) -> list[Atoms]:
    """Thermal phonon samples (harmonic, from the referee's force constants) at 300-1500 K."""
    fc = modes.force_constants(ideal, 0.01, EMT)
    per_temperature = _split(n, len(MODE_TEMPERATURES_K))
    out = []
    for i, (temperature, count) in enumerate(zip(MODE_TEMPERATURES_K, per_temperature)):
        if count:
            out += _tag(modes.thermal_samples(ideal, fc, [temperature], count, seed + 7919 * i), "normal_modes")
    return out


def displacements(ideal: Atoms, n: int, rng: np.random.Generator) -> list[Atoms]:
    """Random displacements of varying intensity on cells within +-5 % in volume."""
    out = []
    for stdev, count in zip(RATTLE_STDEV_A, _split(n, len(RATTLE_STDEV_A))):
        for _ in range(count):
            scale = (1 + rng.uniform(-0.05, 0.05)) ** (1 / 3)
            out += _tag(
                transforms.rattle(
                    transforms.deformed(ideal, scale * np.eye(3)),
                    [stdev],
                    1,
                    rng,
                    min_distance=0.6 * nearest_neighbour_distance_A(ideal),
                ),
                "rattle",
            )
    return out


def random_structures(ideal: Atoms, n: int, rng: np.random.Generator) -> list[Atoms]:
    """(d): random cells (skew up to 0.3, 0.9-1.4 x the crystal's volume) filled at random, atoms >= 0.8 nn apart."""
    v0 = volume_per_atom_A3(ideal)
    return _tag(
        defects.random_structures(
            ideal[0].symbol, n, len(ideal), (0.9 * v0, 1.4 * v0), 0.8 * nearest_neighbour_distance_A(ideal), 0.3, rng
        ),
        "random",
    )


def strategy_structures(strategy: str, ideal: Atoms, n: int, seed: int) -> list[Atoms]:
    """The n structures a strategy labels (a-d); e and g draw from the MD pool instead."""
    rng = np.random.default_rng(seed)
    if strategy == "a":
        return scans(ideal, n)
    if strategy == "b":
        n_scan, n_modes = _split(n, 2)
        return scans(ideal, n_scan) + normal_modes(ideal, n_modes, seed)
    if strategy == "c":
        n_scan, n_modes, n_rattle = _split(n, 3)
        return scans(ideal, n_scan) + normal_modes(ideal, n_modes, seed) + displacements(ideal, n_rattle, rng)
    if strategy == "d":
        return random_structures(ideal, n, rng)
    raise ValueError(f"strategy {strategy} draws from the MD pool")


def label(structures: list[Atoms], out_dir: Path, config: RunConfig) -> dict:
    """Label with the referee into out_dir (deepmd/npy); the folder is complete or rebuilt."""
    with tempfile.TemporaryDirectory() as tasks:  # the labeler's task folders, never below a data root
        report = label_to_data(
            make_labeler(config.labeler), structures, out_dir, [config.element], work_dir=Path(tasks)
        )
    if report["failed"]:
        raise RuntimeError(
            f"{len(report['failed'])} referee labels failed in {out_dir}: {report['failed'][0]['reason']}"
        )
    (out_dir / DONE).write_text(str(report["labeled"]))
    return report


def md_frames(
    ideal: Atoms, temperatures_K, frames_per_temperature: int, stride: int, settings, seed: int, family: str
) -> list[Atoms]:
    """Langevin MD with the referee (the 'AIMD' of this study): one snapshot every stride steps."""
    rng = np.random.default_rng(seed)
    frames = modes.labeler_md(
        ideal,
        EMT,
        list(temperatures_K),
        frames_per_temperature * stride,
        stride,
        settings.md_equilibration_steps,
        settings.md_timestep_fs,
        0.01,
        rng,
    )
    return _tag(
        [(atoms, {**params, "family": family.format(T=params["temperature_K"])}) for atoms, params in frames], "md"
    )


def md_pool(ideal: Atoms, settings, seed: int) -> list[Atoms]:
    return md_frames(
        ideal,
        settings.pool_temperatures_K,
        settings.pool_frames_per_temperature,
        settings.pool_stride,
        settings,
        seed,
        "pool_{T:g}K",
    )


def test_structures(config: RunConfig, settings, seed: int) -> dict[str, list[Atoms]]:
    """Held-out families: MD at each test temperature, liquid, vacancy, surface and strained cells."""
    ideal = ideal_crystal(config)
    n = settings.test_frames_per_family
    families: dict[str, list[Atoms]] = {}
    for i, temperature in enumerate(settings.test_md_temperatures_K):
        families[f"md_{temperature:g}K"] = md_frames(
            ideal, [temperature], n, settings.test_stride, settings, seed + 101 * i, "md"
        )
    molten = liquid(
        ideal,
        EMT,
        settings.liquid_temperature_K,
        n,
        settings.test_stride,
        settings.md_equilibration_steps,
        np.random.default_rng(seed + 991),
        np.random.default_rng(seed + 997),
        settings.liquid_volume_change,
        settings.md_timestep_fs,
    )
    families["liquid"] = _tag(
        [(atoms, {"temperature_K": settings.liquid_temperature_K, "family": "liquid"}) for atoms in molten], "md"
    )
    defects_config = config.model_copy(
        update={
            "validation": config.validation.model_copy(
                update={"families": ["vacancy", "surface", "strained"], "test_structures": n}
            )
        }
    )
    for atoms in held_out_structures(defects_config, seed):
        families.setdefault(atoms.info["provenance"]["family"], []).append(atoms)
    return families


def read_data(root: Path) -> list[dpdata.LabeledSystem]:
    return [dpdata.LabeledSystem(str(system_dir), fmt="deepmd/npy") for system_dir in system_dirs(root)]


def subsample(pool_dir: Path, n: int, seed: int, out_dir: Path, element: str) -> int:
    """(e) and (g): n frames drawn uniformly (without replacement) from the labeled MD pool."""
    from dpdriver.data import write_systems

    pool = read_data(pool_dir)
    sizes = [len(s) for s in pool]
    picked = np.sort(np.random.default_rng(seed).choice(sum(sizes), size=min(n, sum(sizes)), replace=False))
    offsets = np.cumsum([0] + sizes)
    parts = [
        s.sub_system((picked[(picked >= lo) & (picked < hi)] - lo).tolist())
        for s, lo, hi in zip(pool, offsets[:-1], offsets[1:])
    ]
    written = write_systems([p for p in parts if len(p)], out_dir, [element])
    (out_dir / DONE).write_text(str(written))
    return written
