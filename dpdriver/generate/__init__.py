"""Structures to label for a bulk metal: composable generators over the element's ideal crystal."""

from .lattice import ideal_crystal, reference_lattice_constant_A
from .plan import PROVENANCE, generate, plan_table
from .transforms import deformed, rattle

__all__ = ["PROVENANCE", "generate", "plan_table", "ideal_crystal", "reference_lattice_constant_A",
           "held_out_structures"]


def held_out_structures(config, seed: int):
    """Fresh structures for test errors: other volumes, a stronger rattle, their own seed."""
    import numpy as np

    val = config.validation
    ideal = ideal_crystal(config)
    rng = np.random.default_rng(seed)
    per_scale = max(1, -(-val.test_structures // len(val.test_lattice_scales)))
    frames = [frame for scale in val.test_lattice_scales
              for frame, _ in rattle(deformed(ideal, scale * np.eye(3)), [val.test_rattle_stdev_A], per_scale, rng)]
    return frames[: val.test_structures]
