"""bcc W labeled by the shipped W SNAP potential: init, one round and export, as a user runs it (tiny sizes)."""

import json

import dpdata
import numpy as np
import pytest

from dpdriver.data import system_dirs
from dpdriver.label.lammps import LammpsLabeler

pytestmark = pytest.mark.slow

TINY_W = """\
element: W
seed: 5
labeler: {kind: lammps, potential: W-snap-2017}
initial_data:
  lattice: bcc
  generators:
    - {kind: volume_scan, name: volumes, volume_change_range: [-0.06, 0.06], count: 3, keep: false}
    - {kind: rattle, base: volumes, stdev_A: [0.08], per_stdev: 4}
    - {kind: md, temperatures_K: [1500], steps: 40, stride: 10}
training: {models: 2, steps: 400, production: false, descriptor_neuron: [8, 16], fitting_neuron: [32, 32]}
exploration: {temperatures_K: [1000], ensembles: [nvt], md_steps: 100, deviation_every_steps: 10}
selection: {force_trust_lo_eV_A: 0.05, force_trust_hi_eV_A: 1.0, max_labels_per_round: 5}
convergence: {max_rounds: 1}
validation: {test_structures: 3}
"""


def test_w_with_the_snap_labeler_runs_init_a_round_and_export(cli, tmp_path):
    config = tmp_path / "w.yaml"
    config.write_text(TINY_W)
    run_dir = tmp_path / "run"
    result = cli("run", config, "--workdir", run_dir)
    assert result.returncode == 0, result.stderr[-3000:]
    record = json.loads((run_dir / "rounds" / "round.000" / "round.json").read_text())
    assert record["frames_trained_on"] == 12 + 4 and record["frames_added"] > 0  # rattles + MD snapshots, then labels
    card = json.loads((run_dir / "export" / "model_card.json").read_text())
    assert card["labeler"] == {"kind": "lammps"} and "potential=W-snap-2017" in card["labeler_settings"]
    assert "W_2940_2017_2.snapcoeff" in card["labeler_settings"]  # the potential's checksums
    decisions = json.loads((run_dir / "run.json").read_text())["decisions"]
    assert (
        decisions["free_atom_energy_eV"] is None and "not physical" in decisions["free_atom_from"]
    )  # SNAP's lone atom
    rows = {r["property"]: r for r in card["validation"]["rows"]}
    assert rows["cohesive energy"]["pass"] is None and "fitted to condensed phases" in rows["cohesive energy"]["note"]
    fault = rows["unstable stacking fault energy (110)[111]"]
    assert card["validation"]["reference"] == "lammps" and fault["reference"] > 1000  # W's USF ~1.5-1.8 J/m^2
    provenance = [
        json.loads(line)
        for path in sorted((run_dir / "data" / "round.000").rglob("provenance.jsonl"))
        for line in path.read_text().splitlines()
        if line.strip()
    ]
    assert len(provenance) == record["frames_added"]
    assert all(p["labeler"]["potential"] == "W-snap-2017" and p["labeler"]["file_sha256"] for p in provenance)
    # the stored labels are the referee's: each frame evaluated afresh gives the same energy and forces
    labeler = LammpsLabeler("W-snap-2017", None, [], [])
    for system in system_dirs(run_dir / "data" / "round.000"):
        for atoms in dpdata.LabeledSystem(str(system), fmt="deepmd/npy").to("ase/structure"):
            fresh = labeler.label_one(atoms, tmp_path / "fresh")
            assert fresh["energies"][0] == pytest.approx(atoms.get_potential_energy(), abs=1e-6)
            assert np.allclose(fresh["forces"][0], atoms.get_forces(), atol=1e-6)
