"""Labelers: EMT, any ASE calculator, VASP (inputs by content; outputs from the real files in ../shared)."""

import json
import shutil
from pathlib import Path

import ase.io
import dpdata
import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk
from ase.calculators.emt import EMT
from ase.calculators.lj import LennardJones

from dpdriver.config import parse_config
from dpdriver.data import count_frames
from dpdriver.errors import UserError
from dpdriver.generate import generate
from dpdriver.label import PROVENANCE_FILE, ASELabeler, Calculation, EMTLabeler, label_to_data, make_labeler
from dpdriver.validate.properties import planar_fault_cells

FIXTURES = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "vasp"
needs_fixtures = pytest.mark.skipif(not FIXTURES.is_dir(), reason=f"VASP fixtures not found at {FIXTURES}")
AL2_CONVERGED = FIXTURES / "dpgen/tests/generator/out_data_post_fp_vasp/02.fp/task.000.000000/OUTCAR"
SI2_UNCONVERGED = FIXTURES / "aiida-vasp/src/aiida_vasp/test_data/exit_codes/elec-unconverged/out/OUTCAR"
SI2_TRUNCATED = FIXTURES / "aiida-vasp/src/aiida_vasp/test_data/exit_codes/unfinished/out/OUTCAR"
SI2_CONVERGED = FIXTURES / "aiida-vasp/examples/mock_registry/si-simple/calc-000/out/OUTCAR"


def mixed_structures():
    config = parse_config(
        json.dumps(
            {
                "element": "Cu",
                "initial_data": {
                    "generators": [
                        {"kind": "volume_scan", "count": 3},
                        {"kind": "vacancy"},
                        {"kind": "rattle", "stdev_A": [0.05], "per_stdev": 2},
                    ]
                },
            }
        )
    )
    return generate(config)[0]


def test_emt_labels_match_ase_with_virials_and_provenance_per_frame(tmp_path):
    frames = mixed_structures()
    report = label_to_data(EMTLabeler(), frames, tmp_path / "data", ["Cu"], tmp_path / "tasks")
    assert (report["requested"], report["labeled"], report["failed"]) == (6, 6, [])
    assert count_frames(tmp_path / "data") == 6
    provenance = [json.loads(line) for line in (tmp_path / "data" / PROVENANCE_FILE).read_text().splitlines()]
    assert sorted(p["structure"]["kind"] for p in provenance) == ["rattle"] * 2 + ["vacancy"] + ["volume_scan"] * 3
    for line, frame in zip(provenance, frames):  # each line points at the frame labeled from that structure
        system = dpdata.LabeledSystem(str(tmp_path / "data" / line["system"]), fmt="deepmd/npy")
        atoms = frame.copy()
        atoms.calc = EMT()
        assert system["energies"][line["frame"]] == pytest.approx(atoms.get_potential_energy(), abs=1e-8)
        virial = system["virials"][line["frame"]]
        assert np.allclose(virial, -atoms.get_stress(voigt=False) * atoms.get_volume(), atol=1e-6)
        assert line["labeler"] == {"kind": "emt"} and line["structure"] == frame.info["provenance"]
    assert sorted(p.name for p in (tmp_path / "tasks").iterdir()) == [f"task.{i:06d}" for i in range(6)]


class CountingEMT(EMTLabeler):
    calls = 0

    def label_one(self, atoms, task_dir, calculation):
        CountingEMT.calls += 1
        return super().label_one(atoms, task_dir, calculation)


def test_finished_labels_of_an_interrupted_task_are_never_computed_again(tmp_path):
    frames = mixed_structures()
    first = label_to_data(CountingEMT(), frames, tmp_path / "data", ["Cu"], tmp_path / "tasks")
    assert CountingEMT.calls == 6
    # as after a kill during task 3: its result never landed, the others did

    shutil.rmtree(tmp_path / "tasks" / "task.000003" / "labeled")
    again = label_to_data(CountingEMT(), frames, tmp_path / "again", ["Cu"], tmp_path / "tasks")
    assert CountingEMT.calls == 7  # only task 3 was computed again
    assert again == first
    for name in ("energy.npy", "force.npy", "coord.npy", "virial.npy"):
        a, b = (np.load(next((tmp_path / d).rglob(name))) for d in ("data", "again"))
        assert np.array_equal(a, b)


def test_failed_label_is_quarantined_with_its_reason_and_others_go_on(tmp_path):
    frames = mixed_structures()[:3]
    frames[1].set_chemical_symbols(["Fe"] * len(frames[1]))  # EMT has no Fe parameters
    report = label_to_data(
        EMTLabeler(),
        frames,
        tmp_path / "data",
        ["Cu"],
        tmp_path / "tasks",
        first_index=10,
        quarantine_dir=tmp_path / "quarantine",
    )
    assert report["labeled"] == 2
    assert [f["index"] for f in report["failed"]] == [11] and "Fe" in report["failed"][0]["reason"]
    assert report["failed"][0]["structure"]["kind"] == "volume_scan"
    held = tmp_path / "quarantine" / "task.000011"
    assert json.loads((held / "reason.json").read_text())["reason"] == report["failed"][0]["reason"]
    assert ase.io.read(held / "structure.extxyz").get_chemical_symbols() == frames[1].get_chemical_symbols()
    assert sorted(p.name for p in (tmp_path / "quarantine").iterdir()) == ["task.000011"]


def test_a_failure_read_back_keeps_its_reason_as_it_was(tmp_path):
    frames = mixed_structures()[:1]
    frames[0].set_chemical_symbols(["Fe"] * len(frames[0]))
    first = label_to_data(EMTLabeler(), frames, tmp_path / "a", ["Cu"], tmp_path / "tasks")["failed"][0]["reason"]
    again = label_to_data(EMTLabeler(), frames, tmp_path / "b", ["Cu"], tmp_path / "tasks")["failed"][0]["reason"]
    assert again == first and not first.startswith("RuntimeError: ")  # read back from the task folder, not re-run


def test_unsupported_element_is_a_user_error():
    with pytest.raises(UserError, match="does not support Fe"):
        EMTLabeler().check("Fe")


LJ = {
    "kind": "ase",
    "calculator": "ase.calculators.lj.LennardJones",
    "parameters": {"sigma": 2.3, "epsilon": 0.4, "rc": 5.0, "smooth": True},
}


def test_any_ase_calculator_by_import_path(tmp_path):
    labeler = make_labeler(parse_config(json.dumps({"labeler": LJ})).labeler)
    labeler.check("Cu")
    frames = mixed_structures()[:2]
    report = label_to_data(labeler, frames, tmp_path / "data", ["Cu"], tmp_path / "tasks")
    assert report["labeled"] == 2
    system = dpdata.LabeledSystem(str(next((tmp_path / "data").rglob("type.raw")).parent), fmt="deepmd/npy")
    atoms = frames[0].copy()
    atoms.calc = LennardJones(**LJ["parameters"])
    assert system["energies"][0] == pytest.approx(atoms.get_potential_energy())
    assert np.allclose(system["forces"][0], atoms.get_forces())
    assert json.loads((tmp_path / "data" / PROVENANCE_FILE).read_text().splitlines()[0])["labeler"] == LJ
    assert sorted(p.name for p in (tmp_path / "tasks").iterdir()) == ["task.000000", "task.000001"]


def test_gpaw_labels_a_small_cu_cell_and_writes_into_its_task_folder(tmp_path, monkeypatch):
    pytest.importorskip("gpaw", reason="GPAW is optional (see examples/cu-gpaw/config.yaml to install it)")

    monkeypatch.chdir(tmp_path)
    labeler = ASELabeler(
        "gpaw.GPAW", {"mode": {"name": "pw", "ecut": 200}, "xc": "PBE", "kpts": [2, 2, 2], "txt": "gpaw.txt"}
    )
    labeler.check("Cu")
    cell = bulk("Cu", "fcc", a=3.6, cubic=True)
    cell.positions[0] += [0.05, 0.0, 0.0]
    report = label_to_data(labeler, [cell], tmp_path / "data", ["Cu"], tmp_path / "tasks")
    assert report["labeled"] == 1, report["failed"]
    assert (tmp_path / "tasks" / "task.000000" / "gpaw.txt").exists() and not (tmp_path / "gpaw.txt").exists()
    system = dpdata.LabeledSystem(str(next((tmp_path / "data").rglob("type.raw")).parent), fmt="deepmd/npy")
    assert abs(system["forces"][0][0, 0]) > 0.01 and np.allclose(system["forces"][0].sum(axis=0), 0, atol=0.05)


def test_ase_labeler_mistakes_are_one_line_errors():
    with pytest.raises(UserError, match="cannot import nosuchcode"):
        ASELabeler("nosuchcode.Calc", {}).check("Cu")
    with pytest.raises(UserError, match="has no LJ"):
        ASELabeler("ase.calculators.lj.LJ", {}).check("Cu")
    with pytest.raises(UserError, match="sigmaa is not a parameter .* did you mean 'sigma'"):
        ASELabeler("ase.calculators.lj.LennardJones", {"sigmaa": 1.0}).check("Cu")


def potcar_library(root: Path, entries: dict) -> Path:
    """Small text files carrying the lines VASP's POTCARs have: TITEL and ENMAX."""
    for relative, (title, enmax) in entries.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            f"  PAW_PBE {title} 06Sep2000\n  10.0000\n parameters from PSCTR are:\n"
            f"   VRHFIN ={title.split('_')[0]}: d10 p1\n   TITEL  = PAW_PBE {title} 06Sep2000\n"
            f"   ENMAX  =  {enmax}; ENMIN  =  200.000 eV\n End of Dataset\n"
        )
    return root


def vasp_labeler(tmp_path, **settings):
    library = potcar_library(
        tmp_path / "potcars",
        {
            "Cu/POTCAR": ("Cu_pv", 368.648),
            "Ni_pv/POTCAR": ("Ni_pv", 367.828),
            "Al/POTCAR": ("Al", 240.3),
            "Fe/POTCAR": ("Ni", 270.0),
        },
    )
    plain = {
        "kind": "vasp",
        "command": "true",
        "potcar_dir": str(library),
        "potcars": {"Ni": "Ni_pv/POTCAR"},
        **settings,
    }
    return make_labeler(parse_config(json.dumps({"labeler": plain})).labeler)


def incar_tags(path: Path) -> dict:
    return {
        k.strip(): v.strip() for k, v in (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    }


def test_vasp_task_folder_content(tmp_path):
    labeler = vasp_labeler(tmp_path, encut_eV=450, kspacing_per_A=0.2, incar={"NCORE": 4})
    cu = mixed_structures()[0]
    labeler.write_inputs(cu, tmp_path / "task")
    tags = incar_tags(tmp_path / "task" / "INCAR")
    assert tags["ENCUT"] == "450" and tags["NSW"] == "0" and tags["IBRION"] == "-1" and tags["ISMEAR"] == "1"
    assert tags["LWAVE"] == ".FALSE." and tags["LCHARG"] == ".FALSE." and tags["NCORE"] == "4"
    assert tags["EDIFF"] == "1e-06" and tags["NELM"] == "120" and tags["PREC"] == "Accurate"
    assert "ISPIN" not in tags and "MAGMOM" not in tags  # Cu is not magnetic
    kpoints = (tmp_path / "task" / "KPOINTS").read_text().splitlines()
    a = cu.cell.lengths()[0]  # cubic cell: N = ceil(2 pi / (a * kspacing))
    assert kpoints[2] == "Gamma" and kpoints[3].split() == [str(int(np.ceil(2 * np.pi / (a * 0.2))))] * 3
    potcar = (tmp_path / "task" / "POTCAR").read_text()
    assert potcar.count("TITEL") == 1 and "Cu_pv" in potcar
    poscar = ase.io.read(tmp_path / "task" / "POSCAR", format="vasp")
    assert np.allclose(poscar.positions, cu.positions) and poscar.get_chemical_formula() == cu.get_chemical_formula()


def test_vasp_magnetic_elements_get_ispin_and_magmom(tmp_path):
    labeler = vasp_labeler(tmp_path, magmom_per_atom={"Ni": 0.7})
    ni = mixed_structures()[0]
    ni.set_chemical_symbols(["Ni"] * len(ni))
    labeler.write_inputs(ni, tmp_path / "task")
    tags = incar_tags(tmp_path / "task" / "INCAR")
    assert tags["ISPIN"] == "2" and tags["MAGMOM"] == f"{len(ni)}*0.7"
    assert "Ni_pv" in (tmp_path / "task" / "POTCAR").read_text()


def test_vasp_potcar_checks(tmp_path):
    labeler = vasp_labeler(tmp_path)
    labeler.check("Cu")
    with pytest.raises(UserError, match="is for Ni, not Fe"):
        labeler.check("Fe")
    with pytest.raises(UserError, match="no POTCAR for W"):
        labeler.check("W")
    with pytest.raises(UserError, match="below the Cu POTCAR's ENMAX 368.648"):
        vasp_labeler(tmp_path, encut_eV=300).check("Cu")


@needs_fixtures
def test_vasp_results_are_read_back_through_the_convert_gates(tmp_path):
    al2 = ase.io.read(AL2_CONVERGED, format="vasp-out")
    si2 = ase.io.read(SI2_UNCONVERGED, format="vasp-out")
    cases = [
        (al2, f"ln -s {AL2_CONVERGED} OUTCAR"),
        (si2, f"ln -s {SI2_UNCONVERGED} OUTCAR"),
        (si2, f"ln -s {SI2_TRUNCATED} OUTCAR"),
        (al2, f"ln -s {SI2_CONVERGED} OUTCAR"),
        (al2, "echo segmentation fault; exit 3"),
        (al2, "echo forgot to write an OUTCAR"),
    ]
    labeler = vasp_labeler(tmp_path, command="sh run.sh")
    for i, (_, command) in enumerate(cases):
        task = tmp_path / "tasks" / f"task.{i:06d}"
        task.mkdir(parents=True)
        (task / "run.sh").write_text(command + "\necho ran >> runs.log\n")
    (tmp_path / "potcars" / "Si").mkdir()
    (tmp_path / "potcars" / "Si" / "POTCAR").write_text("   TITEL  = PAW_PBE Si 05Jan2001\n   ENMAX  =  245.345\n")
    report = label_to_data(labeler, [s for s, _ in cases], tmp_path / "data", ["Al", "Si"], tmp_path / "tasks")
    assert report["labeled"] == 1
    reasons = {f["index"]: f["reason"] for f in report["failed"]}
    assert "scf_unconverged 1" in reasons[1]  # NELM reached and |dE| above EDIFF
    assert "no usable frame" in reasons[2]  # killed before its first ionic step finished
    assert "OUTCAR holds {'Si': 2}" in reasons[3] and "{'Al': 2}" in reasons[3]
    assert "exited with 3" in reasons[4] and "segmentation fault" in reasons[4]
    assert "wrote no OUTCAR" in reasons[5]
    labeled = dpdata.LabeledSystem(str(next((tmp_path / "data").rglob("type.raw")).parent), fmt="deepmd/npy")
    reference = dpdata.LabeledSystem(str(AL2_CONVERGED), fmt="vasp/outcar")
    assert np.allclose(labeled["energies"], reference["energies"]) and np.allclose(
        labeled["forces"], reference["forces"]
    )
    assert np.allclose(labeled["virials"], reference["virials"])
    # labeling again reads the finished task and never runs VASP for it twice
    label_to_data(labeler, [al2], tmp_path / "data2", ["Al"], tmp_path / "tasks")
    assert (tmp_path / "tasks" / "task.000000" / "runs.log").read_text().count("ran") == 1


def test_vasp_command_not_found_stops_with_one_line(tmp_path):
    labeler = vasp_labeler(tmp_path, command="no-such-vasp-binary")
    with pytest.raises(UserError, match="not found"):
        labeler.label(mixed_structures()[:1], tmp_path / "tasks")


def test_vasp_property_tasks_relax_and_free_atom_inputs(tmp_path):
    """What the VASP reference of `dpdriver validate` runs: positions relaxed at a fixed cell (the fault cells with
    selective dynamics along the cell's third vector only), and a spin-polarized free atom at one k-point."""

    labeler = vasp_labeler(tmp_path, incar={"NCORE": 4})
    _, (fault, _) = planar_fault_cells("Cu", "fcc", 3.6, 1.0)
    labeler.write_inputs(fault, tmp_path / "relax", Calculation(relax_fmax_eV_A=1e-4))
    tags = incar_tags(tmp_path / "relax" / "INCAR")
    assert (tags["IBRION"], tags["ISIF"], tags["NSW"], tags["EDIFFG"], tags["NCORE"]) == ("2", "2", "100", "-0.01", "4")
    poscar = (tmp_path / "relax" / "POSCAR").read_text().splitlines()
    assert poscar[7] == "Selective dynamics" and all(line.split()[3:] == ["F", "F", "T"] for line in poscar[9 : 9 + 24])
    labeler.write_inputs(
        Atoms("Cu", positions=[[10, 10, 10]], cell=[20] * 3, pbc=True),
        tmp_path / "atom",
        Calculation(isolated_atom=True),
    )
    tags = incar_tags(tmp_path / "atom" / "INCAR")
    assert (tags["ISPIN"], tags["ISMEAR"], tags["NSW"]) == ("2", "0", "0") and float(tags["MAGMOM"]) > 0
    assert (tmp_path / "atom" / "KPOINTS").read_text().splitlines()[3].split() == ["1", "1", "1"]


@needs_fixtures
def test_vasp_relaxation_result_is_its_last_step_and_only_if_it_converged(tmp_path):
    relaxed = FIXTURES / "aiida-vasp/src/aiida_vasp/test_data/outcar_extras/OUTCAR.converged"  # 8 steps, EDIFFG met
    stopped = FIXTURES / "aiida-vasp/src/aiida_vasp/test_data/exit_codes/ionic-unconverged/out/OUTCAR"  # NSW reached
    (tmp_path / "potcars" / "Si").mkdir(parents=True)
    (tmp_path / "potcars" / "Si" / "POTCAR").write_text("   TITEL  = PAW_PBE Si 05Jan2001\n   ENMAX  =  245.345\n")
    labeler = vasp_labeler(tmp_path, command="ln -s $(cat source) OUTCAR")
    for name, outcar in (("relaxed", relaxed), ("stopped", stopped)):
        (tmp_path / name).mkdir()
        (tmp_path / name / "source").write_text(str(outcar))
    start = ase.io.read(relaxed, index=0, format="vasp-out")
    system = labeler.compute(start, tmp_path / "relaxed", Calculation(relax_fmax_eV_A=0.01))
    steps = dpdata.LabeledSystem(str(relaxed), fmt="vasp/outcar")
    assert len(steps) == 8 and system["energies"][0] == pytest.approx(steps["energies"][-1])
    assert np.allclose(system["coords"][0], steps["coords"][-1]) and not np.allclose(
        steps["coords"][0], steps["coords"][-1]
    )
    with pytest.raises(ValueError, match="did not reach EDIFFG"):
        labeler.compute(
            ase.io.read(stopped, index=0, format="vasp-out"), tmp_path / "stopped", Calculation(relax_fmax_eV_A=0.01)
        )
