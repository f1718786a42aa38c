"""Property calculations checked on ASE's EMT, where they must agree with each other and with physics; the
table's pass/fail logic; the command's errors."""

import numpy as np
import pytest
from ase.calculators.emt import EMT
from ase.constraints import FixScaled
from ase.units import GPa
from faulty_calculators import NoMinimumEMT, NoVacancyEMT

from dpdriver.config import RunConfig
from dpdriver.errors import UserError
from dpdriver.generate.held_out import held_out_structures
from dpdriver.generate.lattice import ideal_crystal, primitive_cell
from dpdriver.label import EMTLabeler
from dpdriver.validate.check import format_table, property_rows
from dpdriver.validate.compute import TaskEvaluator
from dpdriver.validate.properties import equation_of_state, planar_fault_cells, planar_fault_energy, properties


@pytest.fixture(scope="module")
def emt_cu():
    return properties("Cu", "fcc", 3.61, 1.633, EMT())


@pytest.mark.parametrize("guess_A", [3.52, 3.61, 3.66])
def test_bulk_modulus_is_the_curvature_at_the_calculators_own_minimum(guess_A):
    """The EOS window is centred on each calculator's own a0, so a guess 2 % off does not bias B."""

    eos = equation_of_state("Cu", "fcc", guess_A, 1.0, EMT())
    v0 = eos["lattice_constant_A"] ** 3 / 4

    def energy(volume):
        cell = primitive_cell("Cu", "fcc", (4 * volume) ** (1 / 3), 1.0)
        cell.calc = EMT()
        return cell.get_potential_energy()

    h = 1e-3 * v0
    curvature_GPa = v0 * (energy(v0 + h) - 2 * energy(v0) + energy(v0 - h)) / h**2 / GPa
    assert eos["bulk_modulus_GPa"] == pytest.approx(curvature_GPa, rel=1e-3)
    assert eos["lattice_constant_A"] == pytest.approx(3.5898, abs=2e-4)


def test_emt_copper_properties_are_self_consistent(emt_cu):
    p = emt_cu
    assert abs(p["lattice_constant_A"] - 3.59) < 0.01  # EMT's Cu lattice constant
    c = p["elastic_constants_GPa"]
    # the bulk modulus from the EOS fit equals (C11 + 2 C12) / 3 from the stress-strain slopes
    assert abs((c["C11"] + 2 * c["C12"]) / 3 - p["bulk_modulus_GPa"]) < 0.02 * p["bulk_modulus_GPa"]
    assert c["C11"] > c["C12"] > 0 and c["C44"] > 0  # mechanically stable fcc
    assert 0.5 < p["vacancy_formation_eV"] < 2.0 and p["cohesive_energy_eV_atom"] > 3
    s = p["surface_energy_J_m2"]
    assert 0 < s["111"] < s["100"] < s["110"]  # the close-packed plane costs least
    bands = np.array(p["phonons"]["frequencies_THz"][0])
    assert np.allclose(bands[0], 0, atol=0.05)  # acoustic modes vanish at Gamma
    assert np.all(np.isfinite(p["phonons"]["dos"])) and np.max(bands) > 3


def test_hcp_has_its_elastic_set_and_basal_fault(emt_cu):
    p = properties("Cu", "hcp", 3.61 / np.sqrt(2), 1.633, EMT())
    assert set(p["elastic_constants_GPa"]) == {"C11", "C12", "C13", "C33", "C44"}
    assert all(np.isfinite(v) and v > 0 for v in p["elastic_constants_GPa"].values())
    assert set(p["surface_energy_J_m2"]) == {"001", "100"} and p["planar_fault"] == "basal I2 stacking fault energy"
    # The fcc intrinsic fault puts two layers in hcp stacking, the hcp I2 fault two layers in fcc stacking: with
    # interactions between neighbouring layers only, each costs the other's energy with the sign turned. EMT
    # comes close to that, so a wrong fault vector (or the other sign's layer on top of its neighbour) shows.
    assert p["stacking_fault_mJ_m2"] == pytest.approx(-emt_cu["stacking_fault_mJ_m2"], rel=0.02)


def test_bcc_unstable_fault_is_half_a_burgers_vector():

    a0 = 2.87
    perfect, (half,) = planar_fault_cells("Cu", "bcc", a0, 1.0)
    shift = half.cell[2] - perfect.cell[2]
    assert np.linalg.norm(2 * shift) == pytest.approx(a0 * np.sqrt(3) / 2)  # b = a/2 <111>
    assert abs(shift[2]) < 1e-12  # in the (110) plane
    full = perfect.copy()
    full.set_cell(perfect.cell.array + [[0, 0, 0], [0, 0, 0], 2 * shift], scale_atoms=False)
    energies = []
    for cell in (perfect, full):
        cell.calc = EMT()
        energies.append(cell.get_potential_energy())
    assert energies[1] == pytest.approx(energies[0], abs=1e-8)  # a full Burgers vector restores the crystal
    assert isinstance(half.constraints[0], FixScaled) and list(half.constraints[0].mask) == [True, True, False]
    assert 50 < planar_fault_energy("Cu", "bcc", a0, 1.0, EMT()) < 2000


def test_reference_through_label_tasks_equals_in_process_and_resumes(emt_cu, tmp_path):
    """The task path VASP takes, run with the EMT labeler: the same numbers, and finished tasks are not redone."""

    structure = {"element": "Cu", "lattice": "fcc", "a_guess_A": 3.61, "c_over_a": 1.633}
    through_tasks = properties("Cu", "fcc", 3.61, 1.633, TaskEvaluator(EMTLabeler(), tmp_path / "ref", structure))
    for key in (
        "lattice_constant_A",
        "cohesive_energy_eV_atom",
        "elastic_constants_GPa",
        "vacancy_formation_eV",
        "surface_energy_J_m2",
        "stacking_fault_mJ_m2",
        "phonons",
    ):
        assert through_tasks[key] == emt_cu[key], key
    tasks = sorted(p.parent for p in (tmp_path / "ref").rglob("labeled"))
    assert (
        len(tasks) == 9 + 9 + 1 + 4 + 2 + 3 + 3 + 1
    )  # EOS and its refit, atom, elastic, vacancy, surfaces, fault, phonons
    stamps = {p: (p / "labeled" / "type.raw").stat().st_mtime_ns for p in tasks}
    again = properties("Cu", "fcc", 3.61, 1.633, TaskEvaluator(EMTLabeler(), tmp_path / "ref", structure))
    assert again["elastic_constants_GPa"] == through_tasks["elastic_constants_GPa"]
    assert stamps == {p: (p / "labeled" / "type.raw").stat().st_mtime_ns for p in tasks}
    with pytest.raises(UserError, match="other labeler settings or structures"):
        TaskEvaluator(EMTLabeler(), tmp_path / "ref", {**structure, "a_guess_A": 3.7})


def test_rows_pass_and_fail_against_tolerances(emt_cu):
    off = {
        **emt_cu,
        "lattice_constant_A": emt_cu["lattice_constant_A"] * 1.02,
        "elastic_constants_GPa": {
            **emt_cu["elastic_constants_GPa"],
            "C44": emt_cu["elastic_constants_GPa"]["C44"] * 1.05,
        },
    }
    rows = {r["property"]: r for r in property_rows(off, emt_cu, RunConfig().validation.tolerances)}
    assert rows["lattice constant"]["pass"] is False and abs(rows["lattice constant"]["error"] - 0.02) < 1e-9
    assert rows["C44"]["pass"] is True and rows["C11"]["error"] == 0
    assert rows["phonon bands (max frequency; error: RMSE over the path)"]["error"] == 0
    alone = property_rows(emt_cu, None, RunConfig().validation.tolerances)
    assert all(r["pass"] is None and r["reference"] is None for r in alone)
    table = format_table({"rows": alone, "passed": 0, "checked": 0, "reference": None})
    assert "nan" not in table.lower() and "values only" in table


def test_emts_planar_fault_is_shown_but_not_judged_and_a_relative_fault_tolerance(emt_cu):
    """EMT's Cu stacking fault is negative (hcp below fcc): the labeler declares it unphysical, so the row is
    shown with the reason and counts neither way; bcc's unstable fault is judged relative to its size."""
    tolerances = RunConfig().validation.tolerances
    off = {**emt_cu, "stacking_fault_mJ_m2": emt_cu["stacking_fault_mJ_m2"] + 100}
    fault = "intrinsic stacking fault energy"
    judged = {r["property"]: r for r in property_rows(off, emt_cu, tolerances)}[fault]
    assert emt_cu["stacking_fault_mJ_m2"] < 0 and judged["pass"] is False
    flagged = {r["property"]: r for r in property_rows(off, emt_cu, tolerances, EMTLabeler.unphysical_properties)}
    assert flagged[fault]["pass"] is None and "negative fault" in flagged[fault]["note"]
    table = format_table({"rows": list(flagged.values()), "passed": 0, "checked": 0, "reference": "emt"})
    assert f"{fault}: not judged: EMT puts hcp" in table
    relative = tolerances.model_copy(update={"stacking_fault_rel": 0.10})
    row = {r["property"]: r for r in property_rows(off, {**emt_cu, "stacking_fault_mJ_m2": 1000.0}, relative)}[fault]
    assert row["error_unit"] == "relative" and row["pass"] is (abs(off["stacking_fault_mJ_m2"] - 1000) / 1000 <= 0.1)


def test_a_property_that_cannot_be_computed_is_a_failed_row_with_its_reason(emt_cu):
    """A model without an energy minimum (the EOS fit cannot work) and a reference whose odd-sized cells fail:
    those rows fail and say why; every other property is still computed and judged."""

    tolerances = RunConfig().validation.tolerances
    poor = properties("Cu", "fcc", 3.61, 1.633, NoMinimumEMT())
    assert poor["lattice_constant_A"] is None and poor["eos"] is None and poor["at_lattice_constant_A"] == 3.61
    assert "maxfev" in poor["errors"]["eos"] and poor["elastic_constants_GPa"]["C11"] > 0  # the issue's own error
    rows = {r["property"]: r for r in property_rows(poor, emt_cu, tolerances)}
    assert rows["lattice constant"]["pass"] is False
    assert rows["lattice constant"]["note"] == f"not computed (model: {poor['errors']['eos']})"
    assert rows["bulk modulus"]["pass"] is False and rows["cohesive energy"]["pass"] is False
    assert rows["C44"]["pass"] is not None and "note" not in rows["C44"]  # the rest is judged, at the guess
    failing_reference = properties("Cu", "fcc", 3.61, 1.633, NoVacancyEMT())
    assert set(failing_reference["errors"]) == {"vacancy_formation_eV"}
    rows = {r["property"]: r for r in property_rows(emt_cu, failing_reference, tolerances)}
    vacancy = rows["vacancy formation energy (relaxed)"]
    assert (
        vacancy["pass"] is False and vacancy["note"] == "not computed (reference: RuntimeError: SCF did not converge)"
    )
    assert rows["bulk modulus"]["pass"] is True and rows["surface energy (111)"]["pass"] is True
    table = format_table({"rows": list(rows.values()), "passed": 0, "checked": 0, "reference": "ase"})
    assert "nan" not in table.lower() and "vacancy formation energy (relaxed): not computed (reference: " in table


def test_validate_command_errors_are_one_line(cli, tmp_path):
    missing = cli("validate", tmp_path / "nope.pb")
    assert missing.returncode == 2 and "not found" in missing.stderr and len(missing.stderr.strip().splitlines()) == 1


def test_held_out_md_is_a_family_per_temperature_and_the_liquid_is_molten():

    config = RunConfig.model_validate(
        {
            "element": "Cu",
            "validation": {
                "families": ["md", "liquid"],
                "md_temperatures_K": [300],
                "liquid_temperature_K": 2500,
                "test_structures": 2,
            },
        }
    )
    frames = held_out_structures(config, 3, EMT)
    assert [f.info["provenance"]["family"] for f in frames] == ["md 300 K"] * 2 + ["liquid"] * 2
    sites = ideal_crystal(config)

    def distance_to_nearest_site_A(atoms):
        """Mean distance of the atoms to the nearest site of the (equally scaled) ideal crystal."""
        ideal = sites.copy()
        ideal.set_cell(atoms.cell, scale_atoms=True)
        d = ideal.positions[None, :, :] - atoms.positions[:, None, :]
        frac = np.linalg.solve(atoms.cell.array.T, d.reshape(-1, 3).T).T
        d = (frac - np.round(frac)) @ atoms.cell.array
        return float(np.mean(np.min(np.linalg.norm(d, axis=1).reshape(len(atoms), len(ideal)), axis=1)))

    assert max(distance_to_nearest_site_A(f) for f in frames[:2]) < 0.3  # a crystal at 300 K
    assert min(distance_to_nearest_site_A(f) for f in frames[2:]) > 0.6  # no longer on lattice sites
    with pytest.raises(ValueError, match="liquid_temperature_K"):
        RunConfig.model_validate({"element": "Cu", "validation": {"families": ["liquid"]}})
