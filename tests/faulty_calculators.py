"""ASE calculators that fail the way real reference codes do, importable by path from the labeler's process."""

import numpy as np
from ase.calculators.emt import EMT


class NaNStressEMT(EMT):
    """EMT whose stress is NaN for cells expanded beyond the reference volume (a code's failed stress tensor)."""

    def calculate(self, atoms=None, properties=("energy",), system_changes=()):
        super().calculate(atoms, properties, system_changes)
        if self.atoms.get_volume() / len(self.atoms) > 12.0:  # fcc Cu at 3.63 A: 11.96 A^3 per atom
            self.results["stress"] = np.full(6, np.nan)
