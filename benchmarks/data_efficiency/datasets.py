"""Structures of strategies 1-4, the MD pool and the held-out test suite, all made with dpdriver's generators and
labeled by the referee through dpdriver's labeler, so that only the choice of data differs."""

from __future__ import annotations

import tempfile
from pathlib import Path

import dpdata
import numpy as np
from ase import Atoms

from dpdriver.config import RunConfig
from dpdriver.data import system_dirs, write_systems
from dpdriver.generate import defects, modes, transforms
from dpdriver.generate.held_out import held_out_structures, liquid
from dpdriver.generate.lattice import ideal_crystal, nearest_neighbour_distance_A, volume_per_atom_A3
from dpdriver.label import make_labeler
from dpdriver.label.base import label_to_data

SCAN_MODES = ("uniaxial", "biaxial", "shear")
MODE_TEMPERATURES_K = (300.0, 600.0, 900.0, 1200.0, 1500.0)
# graded intensity, as a share of the nearest-neighbour distance: phonon-like to near-melting (Cu: 0.02-0.31 A)
RATTLE_SHARE_OF_NN = (0.008, 0.02, 0.04, 0.06, 0.08, 0.12)
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
    """(1): volume scan over +-15 % and uniaxial, biaxial and shear strain up to +-5 %: ideal positions."""
    n_volume, n_strain = _split(n, 2)
    per_mode = -(-n_strain // len(SCAN_MODES))
    strained = transforms.strains(ideal, SCAN_MODES, (-0.05, 0.05), per_mode + per_mode % 2)  # even: no zero strain
    k = len(strained) // len(SCAN_MODES)
    by_turn = [strained[m * k + i] for i in range(k) for m in range(len(SCAN_MODES))]  # every mode, if few
    return _tag(transforms.volume_scan(ideal, (-0.15, 0.15), n_volume), "volume_scan") + _tag(
        by_turn[:n_strain], "strain"
    )


def normal_modes(ideal: Atoms, n: int, seed: int, calculator_factory) -> list[Atoms]:
    """Thermal phonon samples (harmonic, from the referee's force constants) at 300-1500 K."""
    fc = modes.force_constants(ideal, 0.01, calculator_factory)
    out = []
    for i, (temperature, count) in enumerate(zip(MODE_TEMPERATURES_K, _split(n, len(MODE_TEMPERATURES_K)))):
        if count:
            out += _tag(modes.thermal_samples(ideal, fc, [temperature], count, seed + 7919 * i), "normal_modes")
    return out


def displacements(ideal: Atoms, n: int, rng: np.random.Generator) -> list[Atoms]:
    """Random displacements of graded intensity on cells within +-5 % in volume."""
    nn = nearest_neighbour_distance_A(ideal)
    out = []
    for share, count in zip(RATTLE_SHARE_OF_NN, _split(n, len(RATTLE_SHARE_OF_NN))):
        for _ in range(count):
            scale = (1 + rng.uniform(-0.05, 0.05)) ** (1 / 3)
            cell = transforms.deformed(ideal, scale * np.eye(3))
            out += _tag(transforms.rattle(cell, [round(share * nn, 4)], 1, rng, min_distance=0.6 * nn), "rattle")
    return out


def random_structures(ideal: Atoms, n: int, rng: np.random.Generator) -> list[Atoms]:
    """(4): random cells (skew up to 0.3, 0.9-1.4 x the crystal's volume) filled at random, atoms >= 0.8 nn apart."""
    v0 = volume_per_atom_A3(ideal)
    return _tag(
        defects.random_structures(
            ideal[0].symbol, n, len(ideal), (0.9 * v0, 1.4 * v0), 0.8 * nearest_neighbour_distance_A(ideal), 0.3, rng
        ),
        "random",
    )


def strategy_structures(strategy: str, config: RunConfig, n: int, seed: int, calculator_factory) -> list[Atoms]:
    """The n structures strategies 1-4 label; the others draw from the MD pool or run the loop."""
    ideal, rng = ideal_crystal(config), np.random.default_rng(seed)
    if strategy == "1":
        return scans(ideal, n)
    if strategy == "2":
        n_scan, n_modes = _split(n, 2)
        return scans(ideal, n_scan) + normal_modes(ideal, n_modes, seed, calculator_factory)
    if strategy == "3":
        n_scan, n_modes, n_rattle = _split(n, 3)
        return (
            scans(ideal, n_scan)
            + normal_modes(ideal, n_modes, seed, calculator_factory)
            + displacements(ideal, n_rattle, rng)
        )
    if strategy == "4":
        return random_structures(ideal, n, rng)
    raise ValueError(f"strategy {strategy} does not generate structures")


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
    ideal: Atoms,
    calculator_factory,
    temperature_K: float,
    count: int,
    stride: int,
    friction_per_fs: float,
    settings,
    seed: int,
    family: str,
) -> list[Atoms]:
    """Langevin MD with the referee (the 'AIMD' of this study): one snapshot every stride steps."""
    frames = modes.labeler_md(
        ideal,
        calculator_factory,
        [temperature_K],
        count * stride,
        stride,
        settings.md_equilibration_steps,
        settings.md_timestep_fs,
        friction_per_fs,
        np.random.default_rng(seed),
    )
    return _tag([(atoms, {**params, "family": family}) for atoms, params in frames], "md")


def pool_part(config: RunConfig, settings, temperature_K: float, seed: int, calculator_factory) -> list[Atoms]:
    """One temperature of the pool: one trajectory in the example's supercell, a frame every pool_stride steps."""
    return md_frames(
        ideal_crystal(config),
        calculator_factory,
        temperature_K,
        settings.pool_frames_per_temperature,
        settings.pool_stride,
        settings.pool_friction_per_fs,
        settings,
        seed,
        f"pool_{temperature_K:g}K",
    )


def test_cell(config: RunConfig, factor: float) -> Atoms:
    """The test MD's supercell: the example's, scaled per side (another cell size than the pool's)."""
    repeat = [max(1, round(factor * n)) for n in config.initial_data.supercell]
    return ideal_crystal(
        config.model_copy(update={"initial_data": config.initial_data.model_copy(update={"supercell": repeat})})
    )


def test_structures(config: RunConfig, settings, seed: int, calculator_factory) -> dict[str, list[Atoms]]:
    """Held-out families: MD at each test temperature (a larger cell, another thermostat), the liquid, vacancy,
    surface and strained cells."""
    n = settings.test_frames_per_family
    big = test_cell(config, settings.test_supercell_factor)
    families: dict[str, list[Atoms]] = {}
    for i, temperature in enumerate(settings.test_md_temperatures_K):
        families[f"md_{temperature:g}K"] = md_frames(
            big,
            calculator_factory,
            temperature,
            n,
            settings.test_stride,
            settings.test_friction_per_fs,
            settings,
            seed + 101 * i,
            "md",
        )
    molten = liquid(
        ideal_crystal(config),
        calculator_factory,
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


def write_picked(pool: list[dpdata.LabeledSystem], picked, out_dir: Path, element: str) -> int:
    """The pool's frames at the given overall indices (in pool order) as a data set, marked done."""
    picked = np.sort(np.asarray(picked, dtype=int))
    sizes = [len(s) for s in pool]
    offsets = np.cumsum([0] + sizes)
    parts = [
        s.sub_system((picked[(picked >= lo) & (picked < hi)] - lo).tolist())
        for s, lo, hi in zip(pool, offsets[:-1], offsets[1:])
    ]
    written = write_systems([p for p in parts if len(p)], out_dir, [element])
    (out_dir / DONE).write_text(str(written))
    return written
