"""The initial-data plan: generators applied in order (each to the ideal crystal or to another's output),
counted and costed before anything is labeled, every structure carrying its provenance."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from ase import Atoms

from ..errors import UserError
from ..seeds import derive_seed
from . import defects, modes, transforms
from .lattice import ideal_crystal, nearest_neighbour_distance_A, reference_unit_cell, volume_per_atom_A3

PROVENANCE = "provenance"  # key in Atoms.info


@dataclass
class Context:
    config: object
    ideal: Atoms
    labeler: object | None  # None: a dry run, nothing is computed with the labeler

    @property
    def calculator_factory(self):
        return self.labeler.calculator


@dataclass
class GeneratorSummary:
    name: str
    kind: str
    base: str | None
    keep: bool
    structures: int = 0
    atoms: list[int] = field(default_factory=list)
    labeler_calls_to_generate: int = 0  # MD steps or force-constant displacements, not kept as labels

    @property
    def labels(self) -> int:
        return self.structures if self.keep else 0


def _needs_labeler(gen) -> bool:
    return gen.kind == "md" or (gen.kind == "normal_modes" and bool(gen.temperatures_K))


def _stand_ins(ideal: Atoms, params: list[dict]) -> transforms.Generated:
    """Copies of the ideal crystal standing in for labeler-made structures in a dry run (same count and size)."""
    return [(ideal.copy(), p) for p in params]


def _normal_modes(gen, base, rng, ctx: Context) -> transforms.Generated:
    out = modes.displacement_set(ctx.ideal, gen.displacement_A)
    if not gen.temperatures_K:
        return out
    if ctx.labeler is None:
        return out + _stand_ins(
            ctx.ideal, [{"temperature_K": t} for t in gen.temperatures_K for _ in range(gen.per_temperature)]
        )
    fc = modes.force_constants(ctx.ideal, gen.displacement_A, ctx.calculator_factory)
    return out + modes.thermal_samples(ctx.ideal, fc, gen.temperatures_K, gen.per_temperature, int(rng.integers(2**31)))


def _md(gen, base, rng, ctx: Context) -> transforms.Generated:
    if ctx.labeler is None:
        per_t = gen.steps // gen.stride
        return _stand_ins(
            ctx.ideal,
            [
                {"temperature_K": t, "md_step": gen.equilibration_steps + (k + 1) * gen.stride}
                for t in gen.temperatures_K
                for k in range(per_t)
            ],
        )
    return modes.labeler_md(
        ctx.ideal,
        ctx.calculator_factory,
        gen.temperatures_K,
        gen.steps,
        gen.stride,
        gen.equilibration_steps,
        gen.timestep_fs,
        gen.friction_per_fs,
        rng,
    )


def _random(gen, base, rng, ctx: Context) -> transforms.Generated:
    v0 = volume_per_atom_A3(ctx.ideal)
    min_distance = gen.min_distance_A or 0.8 * nearest_neighbour_distance_A(ctx.ideal)
    return defects.random_structures(
        ctx.ideal[0].symbol,
        gen.count,
        gen.atoms,
        [v0 * f for f in gen.volume_per_atom_range],
        min_distance,
        gen.max_cell_skew,
        rng,
    )


def _surface(gen, base, rng, ctx: Context) -> transforms.Generated:
    miller = gen.miller_indices or defects.DEFAULT_MILLER[ctx.config.initial_data.lattice]
    unit = reference_unit_cell(ctx.config, hexagonal=True)
    return defects.slabs(unit, miller, gen.layers, gen.vacuum_A, gen.min_in_plane_A)


GENERATORS = {
    "volume_scan": lambda g, base, rng, ctx: transforms.volume_scan(base, g.volume_change_range, g.count),
    "strain": lambda g, base, rng, ctx: transforms.strains(base, g.modes, g.strain_range, g.count_per_mode),
    "bain_path": lambda g, base, rng, ctx: transforms.bain_path(ctx.ideal, g.c_over_a_range, g.count),
    "c_over_a": lambda g, base, rng, ctx: transforms.c_over_a_scan(base, g.change_range, g.count),
    "rattle": lambda g, base, rng, ctx: transforms.rattle(base, g.stdev_A, g.per_stdev, rng, g.min_distance_A),
    "vacancy": lambda g, base, rng, ctx: defects.vacancies(base, g.vacancies, g.count, rng),
    "interstitial": lambda g, base, rng, ctx: defects.interstitial(base),
    "normal_modes": _normal_modes,
    "md": _md,
    "random": _random,
    "surface": _surface,
}


def _extra_labeler_calls(gen, frames: list[Atoms]) -> int:
    """Labeler runs that make structures: MD steps, or the displacement set behind thermal force constants."""
    if gen.kind == "md":
        return len(gen.temperatures_K) * (gen.equilibration_steps + gen.steps)
    if gen.kind == "normal_modes" and gen.temperatures_K:
        return sum(1 for f in frames if "displaced_atom" in f.info[PROVENANCE])
    return 0


def check_labeler_can_generate(config, labeler) -> None:
    """MD and thermal normal modes run the labeler in-process; a queued code (VASP) cannot."""
    if labeler is None or getattr(labeler, "in_process", True):
        return
    for gen in config.initial_data.generators:
        if _needs_labeler(gen):
            raise UserError(
                f"generator '{gen.label}' ({gen.kind}) runs the labeler step by step, which labeler "
                f"'{labeler.name}' cannot; use kind emt or ase for it, or for VASP run AIMD yourself and "
                "`dpdriver convert` it"
                + (" (normal_modes without temperatures_K is fine)" if gen.kind == "normal_modes" else "")
            )


def generate(config, labeler=None) -> tuple[list[Atoms], list[GeneratorSummary]]:
    """All structures to label, with provenance in atoms.info, and a summary per generator.

    Without a labeler (a dry run) labeler-made structures are counted but stand-ins."""
    check_labeler_can_generate(config, labeler)
    ctx = Context(config, ideal_crystal(config), labeler)
    produced: dict[str, list[Atoms]] = {}
    summaries = []
    for gen in config.initial_data.generators:
        rng = np.random.default_rng(derive_seed(config.seed, "generate", gen.label))
        bases = produced[gen.base] if gen.base else [ctx.ideal]
        frames = []
        for base in bases:
            for atoms, params in GENERATORS[gen.kind](gen, base, rng, ctx):
                provenance = {"generator": gen.label, "kind": gen.kind, **params}
                if gen.base:
                    provenance["base"] = base.info[PROVENANCE]
                atoms.info = {PROVENANCE: provenance}
                frames.append(atoms)
        produced[gen.label] = frames
        summaries.append(
            GeneratorSummary(
                gen.label,
                gen.kind,
                gen.base,
                gen.keep,
                len(frames),
                sorted({len(a) for a in frames}),
                _extra_labeler_calls(gen, frames),
            )
        )
    kept = [atoms for gen in config.initial_data.generators if gen.keep for atoms in produced[gen.label]]
    budget = config.initial_data.label_budget
    if budget is not None and len(kept) > budget:
        raise UserError(
            f"the initial-data plan labels {len(kept)} structures, above label_budget {budget}; "
            "lower the generators' counts or raise initial_data.label_budget"
        )
    return kept, summaries


def plan_table(summaries: list[GeneratorSummary], ideal_atoms: int, labeler_name: str) -> str:
    """What `init --dry-run` prints: structures, atoms and a label cost in ideal-supercell labels (DFT ~ atoms^3)."""
    rows = [("generator", "kind", "base", "structures", "atoms", "labels", "extra calls", "cost")]
    total_labels = total_cost = total_calls = 0
    for s in summaries:
        size = f"{s.atoms[0]}" if len(s.atoms) == 1 else f"{s.atoms[0]}-{s.atoms[-1]}" if s.atoms else "-"
        per_structure = float(np.mean([(n / ideal_atoms) ** 3 for n in s.atoms])) if s.atoms else 0.0
        cost = s.labels * per_structure + s.labeler_calls_to_generate
        total_labels, total_cost, total_calls = (
            total_labels + s.labels,
            total_cost + cost,
            total_calls + s.labeler_calls_to_generate,
        )
        rows.append(
            (
                s.name,
                s.kind,
                s.base or "ideal",
                str(s.structures),
                size,
                str(s.labels),
                str(s.labeler_calls_to_generate),
                f"{cost:.1f}",
            )
        )
    rows.append(("total", "", "", "", "", str(total_labels), str(total_calls), f"{total_cost:.1f}"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.append(
        f"labeler: {labeler_name}; cost in labels of the {ideal_atoms}-atom ideal supercell, taking a "
        "label's cost as ~ atoms^3; extra calls are labeler runs that make structures (MD steps, "
        "force-constant displacements) and are not kept as training data"
    )
    return "\n".join(lines)
