"""The `lammps` labeler: a shipped DFT-fitted potential (or the user's own) in this process, checked against
the `lmp` program on the same frame, and its one-line refusals."""

import subprocess

import ase.io
import numpy as np
import pytest
from ase import units
from ase.build import bulk
from test_cli import assert_one_line_error

from dpdriver.config import RunConfig, load_config
from dpdriver.errors import UserError
from dpdriver.label import make_labeler
from dpdriver.label.lammps import PRESETS, LammpsLabeler, potentials_dir
from dpdriver.tools import executable, tool_process


def _frame(element: str, lattice: str, a_A: float, seed: int):
    """A rattled, strained (non-cubic) orthorhombic supercell."""
    atoms = bulk(element, lattice, a=a_A, cubic=True) * (2, 2, 2)
    atoms.set_cell(atoms.cell.array @ np.diag([1.02, 0.99, 1.01]), scale_atoms=True)
    atoms.rattle(0.08, seed=seed)
    return atoms


def _lmp_reference(atoms, commands: list[str], folder) -> tuple[float, np.ndarray, np.ndarray]:
    """Energy, forces and virial (eV) of the same frame from the `lmp` program."""
    folder.mkdir()
    ase.io.write(folder / "frame.data", atoms, format="lammps-data", masses=True)
    script = [
        "units metal",
        "atom_style atomic",
        "boundary p p p",
        "read_data frame.data",
        *commands,
        "thermo_style custom step pe pxx pyy pzz pxy pxz pyz",
        "thermo_modify format float %.15g",
        "dump forces all custom 1 forces.dump id fx fy fz",
        "dump_modify forces sort id format float %.15g",
        "run 0",
    ]
    (folder / "in.lmp").write_text("\n".join(script) + "\n")
    argv, env = tool_process([executable("lmp"), "-in", "in.lmp"])
    subprocess.run(argv, cwd=folder, env=env, check=True, capture_output=True)
    log = (folder / "log.lammps").read_text().splitlines()
    row = log[next(i for i, line in enumerate(log) if line.split()[:2] == ["Step", "PotEng"]) + 1].split()
    energy, (pxx, pyy, pzz, pxy, pxz, pyz) = float(row[1]), map(float, row[2:8])
    pressure_bar = np.array([[pxx, pxy, pxz], [pxy, pyy, pyz], [pxz, pyz, pzz]])
    forces = np.loadtxt(folder / "forces.dump", skiprows=9)[:, 1:]
    return energy, forces, pressure_bar * units.bar * atoms.get_volume()  # virial = P V (no kinetic part)


@pytest.mark.parametrize("preset", ["W-snap-2017", "Ni-snap-2020", "Fe-eam-2003"])
def test_labels_agree_with_the_lmp_program_on_the_same_frame(preset, tmp_path):
    p = PRESETS[preset]
    a_A = {"W": 3.18, "Ni": 3.52, "Fe": 2.86}[p.element]
    atoms = _frame(p.element, p.lattice, a_A, seed=5)
    labeler = LammpsLabeler(preset, None, [], [])
    labeler.check(p.element)
    system = labeler.label_one(atoms, tmp_path / "task")
    energy, forces, virial = _lmp_reference(atoms, labeler.commands(), tmp_path / "lmp")
    assert system["energies"][0] == pytest.approx(energy, rel=1e-6)
    assert np.allclose(system["forces"][0], forces, rtol=1e-6, atol=1e-6 * np.abs(forces).max())
    assert np.allclose(system["virials"][0], virial, rtol=1e-6, atol=1e-6 * np.abs(virial).max())
    assert np.abs(forces).max() > 0.1 and np.abs(virial).max() > 0.1  # a frame that tests something


def test_own_pair_style_lines_with_files_relative_to_the_config_match_the_preset(tmp_path):
    folder = tmp_path / "potentials"
    folder.mkdir()
    for name in PRESETS["Mo-snap-2020"].files:
        (folder / name).write_bytes((potentials_dir() / name).read_bytes())
    config = tmp_path / "mo.yaml"
    config.write_text(
        "element: Mo\ninitial_data: {lattice: bcc}\nlabeler:\n  kind: lammps\n  pair_style: snap\n"
        "  pair_coeff: ['* * Mo_Zuo_JPCA2020.snapcoeff potentials/Mo_Zuo_JPCA2020.snapparam Mo']\n"
        "  files: [potentials/Mo_Zuo_JPCA2020.snapcoeff, potentials/Mo_Zuo_JPCA2020.snapparam]\n"
    )
    own = make_labeler(load_config(config).labeler)
    own.check("Mo")
    preset = make_labeler(
        RunConfig.model_validate({"element": "Mo", "labeler": {"kind": "lammps", "potential": "Mo-snap-2020"}}).labeler
    )
    atoms = _frame("Mo", "bcc", 3.17, seed=2)
    assert own.label_one(atoms, tmp_path / "a")["energies"][0] == preset.label_one(atoms, tmp_path / "b")["energies"][0]
    assert own.settings["file_sha256"] == preset.settings["file_sha256"]  # what the labels depend on, recorded


def test_a_kept_lammps_instance_gives_the_numbers_of_a_fresh_one_for_any_next_cell():
    labeler = LammpsLabeler("W-snap-2017", None, [], [])
    kept = labeler.label_calculator()
    for n, a_A in ((2, 3.18), (3, 3.10), (2, 3.30)):
        atoms = bulk("W", "bcc", a=a_A, cubic=True) * (n, n, n)
        atoms.rattle(0.05, seed=n)
        one, other = atoms.copy(), atoms.copy()
        one.calc, other.calc = kept, labeler.calculator()
        assert one.get_potential_energy() == other.get_potential_energy()
        assert np.array_equal(one.get_forces(), other.get_forces())
        assert np.array_equal(one.get_stress(), other.get_stress())


def test_snap_declares_its_lone_atom_unphysical_and_eam_does_not():
    """SNAP was fitted to condensed phases: its isolated atom is the fit's constant (W: a cohesive energy of 2.45
    eV/atom against about 8.9 in DFT), so it is not built into the models and its cohesive energy is not judged."""
    w, fe = LammpsLabeler("W-snap-2017", None, [], []), LammpsLabeler("Fe-eam-2003", None, [], [])
    assert not w.free_atom_is_physical and "cohesive_energy_eV_atom" in w.unphysical_properties
    assert fe.free_atom_is_physical and fe.unphysical_properties == {}
    lone = bulk("W", "bcc", a=3.18)
    lone.set_cell([20.0] * 3)
    crystal = bulk("W", "bcc", a=3.18, cubic=True)
    e_lone = w.label_one(lone, None)["energies"][0]
    e_bulk = w.label_one(crystal, None)["energies"][0] / len(crystal)
    assert e_lone - e_bulk < 3.0  # far below W's real cohesive energy: the lone atom is no reference


def test_refusals_are_one_line(tmp_path, cli):
    with pytest.raises(UserError) as unknown:
        LammpsLabeler("W-snap-2099", None, [], []).check("W")
    assert all(name in str(unknown.value) for name in PRESETS)
    with pytest.raises(UserError, match="W-snap-2017 covers W, not the run's element Cu"):
        LammpsLabeler("W-snap-2017", None, [], []).check("Cu")
    with pytest.raises(UserError, match="covers Ni, not the run's element Cu"):
        LammpsLabeler(None, "eam/alloy", ["* * Ni_u3.eam Ni"], [str(potentials_dir() / "Ni_u3.eam")]).check("Cu")
    with pytest.raises(UserError, match=r"potential file /nowhere/Cu\.eam does not exist"):
        LammpsLabeler(None, "eam", ["* * Cu.eam"], ["/nowhere/Cu.eam"]).check("Cu")
    config = tmp_path / "w.yaml"
    config.write_text("element: W\ninitial_data: {lattice: bcc}\nlabeler: {kind: lammps, potential: W-snap-2099}\n")
    result = cli("init", config, "--output", tmp_path / "out", cwd=tmp_path)
    assert_one_line_error(result, "W-snap-2017, Mo-snap-2020")
    assert not (tmp_path / "out").exists()
