import numpy as np
import pytest
from ase.calculators.emt import EMT

from dpdriver.config import RunConfig
from dpdriver.errors import UserError
from dpdriver.generate import held_out_structures, initial_structures, reference_lattice_constant_A
from dpdriver.label import EMTLabeler, label_to_data
from dpdriver.data import count_frames


def small_config(**initial):
    return RunConfig.model_validate({"initial_data": {"lattice_scales": [0.94, 1.0, 1.06], "rattled_per_scale": 3, **initial}})


def test_volume_scan_counts_volumes_and_rattle():
    config = small_config(rattle_stdev_A=0.05)
    frames = initial_structures(config)
    assert len(frames) == 9 and all(len(f) == 32 for f in frames)
    a0 = reference_lattice_constant_A("Cu", "fcc")
    volumes = sorted({round(f.get_volume(), 6) for f in frames})
    assert np.allclose(volumes, [(2 * a0 * s) ** 3 for s in (0.94, 1.0, 1.06)])
    ideal = initial_structures(small_config(rattle_stdev_A=0.0))
    displacement = np.concatenate([f.positions - g.positions for f, g in zip(frames, ideal)])
    assert 0.03 < displacement.std() < 0.07


def test_generation_is_deterministic_and_seeded():
    a, b = initial_structures(small_config()), initial_structures(small_config())
    assert all(np.array_equal(x.positions, y.positions) for x, y in zip(a, b))
    other = initial_structures(RunConfig.model_validate({**small_config().to_plain(), "seed": 7}))
    assert not np.array_equal(a[0].positions, other[0].positions)
    assert not np.array_equal(held_out_structures(small_config(), 99)[0].positions, a[0].positions)


def test_emt_labels_match_ase_and_carry_virials(tmp_path):
    frames = initial_structures(small_config())
    report = label_to_data(EMTLabeler(), frames, tmp_path / "data", ["Cu"])
    assert report == {"labeler": "emt", "requested": 9, "labeled": 9, "failed": []}
    assert count_frames(tmp_path / "data") == 9
    system_dir = next((tmp_path / "data").rglob("type.raw")).parent
    energies = np.load(system_dir / "set.000/energy.npy")
    virials = np.load(system_dir / "set.000/virial.npy").reshape(-1, 3, 3)
    atoms = frames[0].copy()
    atoms.calc = EMT()
    assert energies[0] == pytest.approx(atoms.get_potential_energy(), abs=1e-8)
    stress = atoms.get_stress(voigt=False)
    assert np.allclose(virials[0], -stress * atoms.get_volume(), atol=1e-6)


def test_failed_label_is_recorded_and_others_go_on(tmp_path):
    frames = initial_structures(small_config())[:3]
    frames[1].set_chemical_symbols(["Fe"] * len(frames[1]))  # EMT has no Fe parameters
    report = label_to_data(EMTLabeler(), frames, tmp_path / "data", ["Cu"])
    assert report["labeled"] == 2
    assert [f["index"] for f in report["failed"]] == [1] and "Fe" in report["failed"][0]["reason"]


def test_unsupported_element_is_a_user_error():
    with pytest.raises(UserError, match="does not support Fe"):
        EMTLabeler().check_element("Fe")
