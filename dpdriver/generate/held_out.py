"""The held-out test set, by structure family: never trained on, labeled once, the yardstick of every round."""

from __future__ import annotations

import numpy as np
from ase import Atoms

from .defects import slabs, vacancies
from .lattice import ideal_crystal, reference_unit_cell
from .modes import labeler_md
from .transforms import deformed, rattle

SURFACE_MILLER = {"fcc": (1, 1, 1), "bcc": (1, 1, 0), "hcp": (0, 0, 1)}  # the close-packed plane


def _family(config, family: str, count: int, rng: np.random.Generator, calculator_factory) -> list[Atoms]:
    val, ideal = config.validation, ideal_crystal(config)
    stdev = [val.test_rattle_stdev_A]
    if family == "rattled":  # other volumes, a stronger rattle than the initial data
        per_scale = -(-count // len(val.test_lattice_scales))
        frames = [
            f for s in val.test_lattice_scales for f, _ in rattle(deformed(ideal, s * np.eye(3)), stdev, per_scale, rng)
        ]
    elif family == "strained":  # random symmetric strains up to 3 %
        frames = []
        for _ in range(count):
            eps = rng.uniform(-0.03, 0.03, (3, 3))
            frames += [
                f
                for f, _ in rattle(
                    deformed(ideal, np.eye(3) + (eps + eps.T) / 2), [val.test_rattle_stdev_A / 2], 1, rng
                )
            ]
    elif family == "vacancy":
        frames = [
            f
            for base, _ in vacancies(ideal, 1, count, rng)
            for f, _ in rattle(base, [val.test_rattle_stdev_A / 2], 1, rng)
        ]
    elif family == "surface":
        unit = reference_unit_cell(config, hexagonal=True)
        slab = slabs(unit, [SURFACE_MILLER[config.initial_data.lattice]], 6, 12.0, 7.0)[0][0]
        frames = [f for f, _ in rattle(slab, [val.test_rattle_stdev_A / 2], count, rng)]
    elif family == "md":  # the labeler's own MD, a family per temperature
        frames = []
        for temperature in val.md_temperatures_K:
            frames += [
                _named(f, f"md {temperature:g} K")
                for f, _ in labeler_md(ideal, calculator_factory, [temperature], 40 * count, 40, 400, 2.0, 0.01, rng)
            ]
        return frames
    elif family == "liquid":
        frames = liquid(ideal, calculator_factory, val.liquid_temperature_K, count, 40, 400, rng, rng)
    else:
        raise ValueError(f"unknown test family {family}")
    return frames[:count]


def _named(atoms: Atoms, family: str) -> Atoms:
    atoms.info["family"] = family
    return atoms


def liquid(
    ideal: Atoms,
    calculator_factory,
    temperature_K: float,
    count: int,
    stride: int,
    equilibration_steps: int,
    melt_rng: np.random.Generator,
    sample_rng: np.random.Generator,
    volume_change: float = 0.05,
    timestep_fs: float = 2.0,
) -> list[Atoms]:
    """Snapshots of the liquid, 5 % less dense than the crystal. A small periodic crystal superheats far past
    its melting point, so the cell is first melted at 2.4 x the temperature (400 steps melt 32 Cu atoms
    at 6000 K: mean square displacement > 3 A^2), then sampled at temperature_K."""
    expanded = deformed(ideal, (1 + volume_change) ** (1 / 3) * np.eye(3))
    molten = labeler_md(expanded, calculator_factory, [2.4 * temperature_K], 400, 400, 0, timestep_fs, 0.01, melt_rng)[
        -1
    ][0]
    return [
        f
        for f, _ in labeler_md(
            molten,
            calculator_factory,
            [temperature_K],
            stride * count,
            stride,
            equilibration_steps,
            timestep_fs,
            0.01,
            sample_rng,
        )
    ]


def held_out_structures(config, seed: int, calculator_factory=None) -> list[Atoms]:
    """validation.test_structures per family (md: per temperature), each tagged with its family in its provenance."""
    rng = np.random.default_rng(seed)
    out = []
    for family in config.validation.families:
        for i, atoms in enumerate(_family(config, family, config.validation.test_structures, rng, calculator_factory)):
            atoms.info["provenance"] = {"generator": "held_out", "family": atoms.info.pop("family", family), "index": i}
            out.append(atoms)
    return out
