"""ASE calculators that fail the way real reference codes do, importable by path from the labeler's process."""

import os
import sys
import time

import numpy as np
from ase.calculators.emt import EMT


class NaNStressEMT(EMT):
    """EMT whose stress is NaN for cells expanded beyond the reference volume (a code's failed stress tensor)."""

    def calculate(self, atoms=None, properties=("energy",), system_changes=()):
        super().calculate(atoms, properties, system_changes)
        if self.atoms.get_volume() / len(self.atoms) > 12.0:  # fcc Cu at 3.63 A: 11.96 A^3 per atom
            self.results["stress"] = np.full(6, np.nan)


class NoMinimumEMT(EMT):
    """EMT plus a pressure-like term that removes its energy minimum: a model too poor to be a stable crystal."""

    def calculate(self, atoms=None, properties=("energy",), system_changes=()):
        super().calculate(atoms, properties, system_changes)
        self.results["energy"] -= 0.5 * self.atoms.get_volume()  # -0.5 eV/A^3: E(V) falls all the way


class NoVacancyEMT(EMT):
    """EMT that fails on supercells with an odd atom count (a vacancy cell), as a reference code fails one
    calculation."""

    def calculate(self, atoms=None, properties=("energy",), system_changes=()):
        n = len(atoms if atoms is not None else self.atoms)
        if n > 2 and n % 2:
            raise RuntimeError("SCF did not converge")
        super().calculate(atoms, properties, system_changes)


class SlowEMT(EMT):
    """EMT at a reference code's pace (0.5 s a label), so that a test can act on its job while it runs; it fails
    on expanded cells, as a code fails one calculation."""

    def calculate(self, atoms=None, properties=("energy",), system_changes=()):
        time.sleep(0.5)
        super().calculate(atoms, properties, system_changes)
        if self.atoms.get_volume() / len(self.atoms) > 12.5:  # EMT Cu at its a0 (3.59 A): 11.57 A^3 per atom
            raise RuntimeError("SCF did not converge")


class StallingEMT(EMT):
    """A calculation that outlasts Slurm's time-limit check (every 30 s), so that the limit, not the end, stops it."""

    def calculate(self, atoms=None, properties=("energy",), system_changes=()):
        time.sleep(60)
        super().calculate(atoms, properties, system_changes)


class AbortingEMT(EMT):
    """A reference code that takes its whole process down (a segfault, an out-of-memory kill)."""

    def calculate(self, atoms=None, properties=("energy",), system_changes=()):
        sys.stderr.write("forrtl: severe (174): SIGSEGV, segmentation fault occurred\n")
        sys.stderr.flush()
        os.abort()
