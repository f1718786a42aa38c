"""Generators: counts, determinism and the physics each promises (volumes, strains, distances, amplitudes)."""

import json

import numpy as np
import pytest

from dpdriver.config import RunConfig, parse_config
from dpdriver.errors import UserError
from dpdriver.generate import PROVENANCE, generate, ideal_crystal, reference_lattice_constant_A
from dpdriver.generate.defects import largest_void
from dpdriver.generate.lattice import nearest_neighbour_distance_A
from dpdriver.generate.modes import displacement_set
from dpdriver.label import EMTLabeler


def config_with(*generators, **initial):
    """Through the YAML parser (JSON is YAML), so that schema errors are the UserErrors users see."""
    return parse_config(
        json.dumps(
            {
                "element": initial.pop("element", "Cu"),
                "seed": 5,
                "initial_data": {"generators": list(generators), **initial},
            }
        ),
        "test.yaml",
    )


def frames_of(*generators, labeler=None, **initial):
    frames, _ = generate(config_with(*generators, **initial), labeler)
    return frames


def deformation(frame, ideal):
    """F with frame.cell = ideal.cell @ F.T."""
    return np.linalg.solve(ideal.cell.array, frame.cell.array).T


def test_volume_scan_gives_the_requested_volumes():
    config = config_with({"kind": "volume_scan", "volume_change_range": [-0.1, 0.1], "count": 5})
    ideal = ideal_crystal(config)
    frames, _ = generate(config)
    assert len(ideal) == 32
    changes = [f.get_volume() / ideal.get_volume() - 1 for f in frames]
    assert np.allclose(changes, [-0.1, -0.05, 0.0, 0.05, 0.1])
    assert [f.info[PROVENANCE]["volume_change"] for f in frames] == pytest.approx(changes)


def test_strains_are_the_requested_tensors():
    frames = frames_of({"kind": "strain", "strain_range": [-0.02, 0.02], "count_per_mode": 3})
    ideal = ideal_crystal(config_with({"kind": "strain"}))
    assert len(frames) == 6  # 3 modes x 2 non-zero amplitudes
    for frame in frames:
        p = frame.info[PROVENANCE]
        eps = deformation(frame, ideal) - np.eye(3)
        expected = {
            "uniaxial": [[1, 0, 0], [0, 0, 0], [0, 0, 0]],
            "biaxial": [[1, 0, 0], [0, 1, 0], [0, 0, 0]],
            "shear": [[0, 1, 0], [1, 0, 0], [0, 0, 0]],
        }[p["mode"]]
        assert np.allclose(eps, p["strain"] * np.array(expected), atol=1e-12)


def test_bain_path_keeps_volume_and_spans_bcc_to_fcc():
    frames = frames_of({"kind": "bain_path", "c_over_a_range": [1.0, 2**0.5], "count": 3})
    ideal = ideal_crystal(config_with({"kind": "bain_path"}))
    v0 = ideal.get_volume() / len(ideal)
    for frame in frames:
        assert frame.get_volume() / len(frame) == pytest.approx(v0)
    # c/a = sqrt(2) of the bct cell is fcc: 12 nearest neighbours at a_fcc / sqrt(2)
    fcc = frames[-1]
    d = fcc.get_all_distances(mic=True)[0][1:]
    assert np.sum(np.isclose(d, d.min(), atol=1e-6)) == 12
    assert d.min() == pytest.approx(reference_lattice_constant_A("Cu", "fcc") / 2**0.5)
    bcc = frames[0].get_all_distances(mic=True)[0][1:]
    assert np.sum(np.isclose(bcc, bcc.min(), atol=1e-6)) == 8


def test_hcp_c_over_a_scan_at_constant_volume():
    gen = {"kind": "c_over_a", "change_range": [-0.04, 0.04], "count": 3}
    config = config_with(gen, element="Ti", lattice="hcp", target_atoms=32)
    ideal = ideal_crystal(config)
    frames, _ = generate(config)
    assert len(ideal) == 32 and len(frames) == 2
    ratio = ideal.cell.lengths()[2] / ideal.cell.lengths()[0]
    for frame in frames:
        assert frame.get_volume() == pytest.approx(ideal.get_volume())
        change = frame.info[PROVENANCE]["c_over_a_change"]
        assert frame.cell.lengths()[2] / frame.cell.lengths()[0] == pytest.approx(ratio * (1 + change))
    with pytest.raises(UserError, match="c_over_a needs lattice: hcp"):
        config_with(gen)


def test_rattle_schedule_amplitudes_and_min_distance():
    frames = frames_of({"kind": "rattle", "stdev_A": [0.02, 0.1], "per_stdev": 3, "min_distance_A": 1.9})
    ideal = ideal_crystal(config_with({"kind": "rattle"}))
    assert len(frames) == 6
    for frame in frames:
        stdev = frame.info[PROVENANCE]["stdev_A"]
        displacement = frame.positions - ideal.positions
        assert 0.7 * stdev < displacement.std() < 1.3 * stdev
        assert nearest_neighbour_distance_A(frame) >= 1.9
    with pytest.raises(UserError, match="min_distance_A"):
        frames_of({"kind": "rattle", "stdev_A": [0.3], "per_stdev": 1, "min_distance_A": 2.5})


def test_combination_applies_to_every_base_structure_and_keeps_provenance():
    frames = frames_of(
        {"kind": "strain", "name": "strained", "keep": False, "modes": ["shear"], "count_per_mode": 2},
        {"kind": "rattle", "base": "strained", "stdev_A": [0.03], "per_stdev": 2},
    )
    assert len(frames) == 4
    assert all(f.info[PROVENANCE]["base"]["kind"] == "strain" for f in frames)
    assert {f.info[PROVENANCE]["base"]["strain"] for f in frames} == {-0.03, 0.03}


def test_phonon_displacement_set_is_complete_for_force_constants():
    ideal = ideal_crystal(config_with({"kind": "rattle"}))
    frames = displacement_set(ideal, 0.01)
    assert len(frames) == 1  # fcc: one symmetry-distinct displacement
    moved = [np.flatnonzero(np.linalg.norm(f.positions - ideal.positions, axis=1) > 1e-9) for f, _ in frames]
    assert all(len(m) == 1 for m in moved)
    assert np.linalg.norm(frames[0][0].positions - ideal.positions, axis=1).max() == pytest.approx(0.01)
    # hcp has two symmetry-distinct directions: the set must hold more than one displacement
    hcp = ideal_crystal(config_with({"kind": "rattle"}, element="Ti", lattice="hcp"))
    assert len(displacement_set(hcp, 0.01)) >= 2


def test_thermal_normal_modes_grow_with_temperature():
    frames = frames_of(
        {"kind": "normal_modes", "temperatures_K": [100, 900], "per_temperature": 4}, labeler=EMTLabeler()
    )
    ideal = ideal_crystal(config_with({"kind": "rattle"}))
    thermal = [f for f in frames if "temperature_K" in f.info[PROVENANCE]]
    assert len(frames) == 9 and len(thermal) == 8
    rms = {
        t: np.sqrt(
            np.mean(
                [
                    np.sum((f.positions - ideal.positions) ** 2, axis=1).mean()
                    for f in thermal
                    if f.info[PROVENANCE]["temperature_K"] == t
                ]
            )
        )
        for t in (100, 900)
    }
    assert 0.01 < rms[100] < rms[900] < 0.5
    assert rms[900] / rms[100] == pytest.approx(3.0, rel=0.35)  # classical harmonic: sqrt(T) at high T


def test_md_with_the_labeler_keeps_strided_frames_at_temperature():
    gen = {"kind": "md", "temperatures_K": [300, 1200], "steps": 60, "stride": 20, "equilibration_steps": 20}
    frames = frames_of(gen, labeler=EMTLabeler())
    assert [f.info[PROVENANCE]["md_step"] for f in frames] == [40, 60, 80] * 2
    ideal = ideal_crystal(config_with(gen))
    spread = {
        t: np.mean(
            [
                np.linalg.norm(f.positions - ideal.positions, axis=1).mean()
                for f in frames
                if f.info[PROVENANCE]["temperature_K"] == t
            ]
        )
        for t in (300, 1200)
    }
    assert spread[300] < spread[1200]


def test_random_structures_respect_density_and_min_distance():
    frames = frames_of(
        {"kind": "random", "count": 5, "atoms": 8, "volume_per_atom_range": [1.0, 1.2], "min_distance_A": 2.0}
    )
    ideal = ideal_crystal(config_with({"kind": "rattle"}))
    v0 = ideal.get_volume() / len(ideal)
    assert len(frames) == 5
    for frame in frames:
        assert len(frame) == 8
        assert v0 * 0.999 <= frame.get_volume() / 8 <= 1.2 * v0 * 1.001
        assert nearest_neighbour_distance_A(frame) >= 2.0 - 1e-9
    with pytest.raises(UserError, match="could not place"):
        frames_of({"kind": "random", "count": 1, "atoms": 8, "min_distance_A": 4.0})


def test_vacancy_interstitial_and_surfaces():
    frames = frames_of(
        {"kind": "vacancy", "count": 2}, {"kind": "interstitial"}, {"kind": "surface", "layers": 3, "vacuum_A": 12.0}
    )
    kinds = [f.info[PROVENANCE]["kind"] for f in frames]
    assert kinds == ["vacancy", "vacancy", "interstitial", "surface", "surface", "surface"]
    assert len(frames[0]) == len(frames[1]) == 31
    a = reference_lattice_constant_A("Cu", "fcc")
    interstitial = frames[2]
    assert len(interstitial) == 33
    assert min(interstitial.get_distances(32, range(32), mic=True)) == pytest.approx(a / 2, abs=0.01)  # octahedral
    for slab in frames[3:]:
        z = slab.positions[:, 2]
        assert slab.cell.lengths()[2] - (z.max() - z.min()) == pytest.approx(12.0, abs=1e-6)
        assert min(slab.cell.lengths()[:2]) >= 7.0
        assert nearest_neighbour_distance_A(slab) == pytest.approx(a / 2**0.5, abs=1e-6)


def test_largest_void_of_bcc_is_the_tetrahedral_site():
    bcc = ideal_crystal(config_with({"kind": "rattle"}, element="Fe", lattice="bcc"))
    _, clearance = largest_void(bcc)
    # bcc's largest void is tetrahedral (a*sqrt(5)/4), larger than octahedral (a/2)
    assert clearance == pytest.approx(reference_lattice_constant_A("Fe", "bcc") * 5**0.5 / 4, abs=0.01)


def test_generation_is_deterministic_and_seeded():
    gens = [
        {"kind": "rattle", "stdev_A": [0.05], "per_stdev": 2},
        {"kind": "random", "count": 2},
        {"kind": "vacancy", "count": 2},
    ]
    a, b = frames_of(*gens), frames_of(*gens)
    assert all(np.array_equal(x.positions, y.positions) and np.array_equal(x.cell, y.cell) for x, y in zip(a, b))
    other, _ = generate(RunConfig.model_validate({**config_with(*gens).to_plain(), "seed": 6}))
    assert not np.array_equal(a[0].positions, other[0].positions)


def test_supercell_by_target_atom_count():
    assert len(ideal_crystal(config_with({"kind": "rattle"}, target_atoms=100))) == 108
    assert len(ideal_crystal(config_with({"kind": "rattle"}, element="Fe", lattice="bcc", target_atoms=54))) == 54
    with pytest.raises(UserError, match="supercell or target_atoms"):
        config_with({"kind": "rattle"}, supercell=[2, 2, 2], target_atoms=32)


def test_dry_run_counts_without_the_labeler_and_budget_is_enforced():
    gens = [
        {"kind": "md", "temperatures_K": [300], "steps": 100, "stride": 10},
        {"kind": "normal_modes", "temperatures_K": [300], "per_temperature": 3},
    ]
    frames, summaries = generate(config_with(*gens))
    assert [s.structures for s in summaries] == [10, 4]
    assert [s.labeler_calls_to_generate for s in summaries] == [100, 1]
    with pytest.raises(UserError, match="above label_budget 12"):
        generate(config_with(*gens, label_budget=12))
