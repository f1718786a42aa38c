import json

import dpdata
import numpy as np
from ase import Atoms
from ase.build import bulk, fcc111
from ase.calculators.emt import EMT
from ase.neighborlist import neighbor_list

from dpdriver.config import RunConfig
from dpdriver.data import count_frames, read_frames, system_dirs, write_systems
from dpdriver.explore import TASK_FILE, MDTask, read_model_devi
from dpdriver.select import ACCURATE, CANDIDATE, FAILED, classify, select_candidates
from dpdriver.select.fingerprint import pair_distances_A

HEADER = (
    "#       step"
    + "".join(
        f"{name:>19}" for name in ("max_devi_v", "min_devi_v", "avg_devi_v", "max_devi_f", "min_devi_f", "avg_devi_f")
    )
    + "\n"
)


def test_classify_bounds_and_non_finite():
    labels = classify(np.array([0.0, 0.049, 0.05, 0.19, 0.2, np.nan, np.inf]), 0.05, 0.2)
    assert list(labels) == [ACCURATE, ACCURATE, CANDIDATE, CANDIDATE, FAILED, FAILED, FAILED]


def write_task(
    folder,
    name,
    deviations,
    md_steps=None,
    every=10,
    write_frames=True,
    positions=None,
    box_A=3.6,
    virial_deviations=None,
):
    """An MD task folder as LAMMPS leaves it: model_devi.out and a lammps dump of the same frames
    (by default distinct rattled fcc cells, seeded by frame)."""
    folder.mkdir(parents=True)
    md_steps = md_steps if md_steps is not None else every * (len(deviations) - 1)
    task = MDTask(name, "stage.0", "nvt", 300.0, 1.0, md_steps, 0.002, every, 1, 2)
    (folder / TASK_FILE).write_text(json.dumps(task.__dict__))
    virial = virial_deviations or [0.0] * len(deviations)
    rows = "".join(f"{i * every:12d} {v:18.6e} 0 0 {d:18.6e} 0 0\n" for i, (d, v) in enumerate(zip(deviations, virial)))
    (folder / "model_devi.out").write_text(HEADER + rows)
    if write_frames:
        ideal = bulk("Cu", "fcc", a=3.6, cubic=True).positions
        with open(folder / "traj.dump", "w") as dump:
            for i in range(len(deviations)):
                xyz = (
                    positions[i] if positions is not None else ideal + np.random.default_rng(i).normal(0, 0.05, (4, 3))
                )
                dump.write(
                    f"ITEM: TIMESTEP\n{i * every}\nITEM: NUMBER OF ATOMS\n4\nITEM: BOX BOUNDS pp pp pp\n"
                    f"0 {box_A}\n0 {box_A}\n0 {box_A}\nITEM: ATOMS id type x y z\n"
                )
                for k, p in enumerate(xyz):
                    dump.write(f"{k + 1} 1 {p[0]} {p[1]} {p[2]}\n")


def test_select_counts_caps_and_is_seeded(tmp_path):
    write_task(tmp_path / "a", "a", [0.01, 0.06, 0.07, 0.08, 0.5])
    write_task(tmp_path / "b", "b", [0.02, 0.03, 0.1, float("nan")])
    selection = RunConfig.model_validate({"selection": {"max_labels_per_round": 2, "method": "random"}}).selection
    summary, picked = select_candidates([tmp_path / "a", tmp_path / "b"], "Cu", selection, seed=1)
    assert (summary["accurate"], summary["candidate"], summary["failed"]) == (3, 4, 2)
    assert summary["frames"] == 9 and summary["selected"] == 2 and len(picked) == 2
    assert summary["accurate_ratio"] == 3 / 9
    assert all(a.get_chemical_symbols() == ["Cu"] * 4 for a in picked)
    again = select_candidates([tmp_path / "a", tmp_path / "b"], "Cu", selection, seed=1)[1]
    assert all(np.array_equal(x.positions, y.positions) for x, y in zip(picked, again))


def test_crashed_task_counts_missing_frames_as_failed(tmp_path):
    # LAMMPS died after 3 of the 11 planned frames; a half-written line ends model_devi.out
    write_task(tmp_path / "a", "a", [0.01, 0.01, 0.06], md_steps=100)
    with open(tmp_path / "a" / "model_devi.out", "a") as f:
        f.write("          30   1.0e-0")
    selection = RunConfig().selection
    summary, picked = select_candidates([tmp_path / "a"], "Cu", selection, seed=1)
    assert (summary["accurate"], summary["candidate"], summary["failed"]) == (2, 1, 8)
    assert len(picked) == 1


def test_model_devi_columns_found_by_header(tmp_path):
    path = tmp_path / "md.out"
    path.write_text(
        "# step max_devi_v min_devi_v avg_devi_v max_devi_f min_devi_f avg_devi_f devi_e\n0 1 2 3 0.4 5 6 7\n"
    )
    assert read_model_devi(path).tolist() == [[0.0, 0.4, 1.0]]
    assert read_model_devi(tmp_path / "missing.out").shape == (0, 3)


def test_virial_trust_levels_make_a_frame_candidate_or_failed(tmp_path):
    # force deviations all accurate; the virial deviation decides: below lo, in [lo, hi), above hi, NaN
    write_task(tmp_path / "a", "a", [0.01, 0.01, 0.01, 0.01], virial_deviations=[0.001, 0.05, 0.5, float("nan")])
    plain = select_candidates([tmp_path / "a"], "Cu", selection_with(method="random"), seed=1)[0]
    assert (plain["accurate"], plain["candidate"], plain["failed"]) == (4, 0, 0)
    with_virial = selection_with(method="random", virial_trust_lo_eV=0.02, virial_trust_hi_eV=0.2)
    summary, picked = select_candidates([tmp_path / "a"], "Cu", with_virial, seed=1)
    assert (summary["accurate"], summary["candidate"], summary["failed"]) == (1, 1, 2)
    assert summary["virial_trust_lo_eV"] == 0.02 and len(picked) == 1
    assert picked[0].info["provenance"]["frame"] == 1 and picked[0].info["provenance"]["stage"] == "stage.0"


def selection_with(**settings):
    return RunConfig.model_validate({"selection": settings}).selection


def test_fps_picks_diverse_frames_and_skips_what_is_already_labeled(tmp_path):
    ideal = bulk("Cu", "fcc", a=3.6, cubic=True).positions
    near = ideal + np.random.default_rng(0).normal(0, 0.05, (4, 3))
    far = ideal + np.random.default_rng(1).normal(0, 0.15, (4, 3))
    frames = [ideal, near, near + 1e-4, far]  # frames 1 and 2 are the same structure
    write_task(tmp_path / "a", "a", [0.01, 0.1, 0.1, 0.1], positions=frames)
    summary, picked = select_candidates([tmp_path / "a"], "Cu", selection_with(max_labels_per_round=2), seed=1)
    assert summary["candidate"] == 3 and len(picked) == 2
    assert any(np.allclose(p.positions, far) for p in picked)
    labeled = [p.copy() for p in picked if np.allclose(p.positions, far)]
    summary, again = select_candidates(
        [tmp_path / "a"], "Cu", selection_with(max_labels_per_round=3), seed=1, labeled=labeled
    )
    assert len(again) == 1 and summary["skipped_as_duplicates"] == 2  # 'far' is labeled, 1 and 2 are one structure
    assert not any(np.allclose(p.positions, far) for p in again)


def test_unphysical_candidates_are_filtered_with_reasons(tmp_path):
    ideal = bulk("Cu", "fcc", a=3.6, cubic=True).positions
    squeezed = ideal.copy()
    squeezed[1] = squeezed[0] + [0.5, 0, 0]
    write_task(tmp_path / "a", "a", [0.01, 0.1, 0.1], positions=[ideal, squeezed, ideal + 0.01])
    summary, picked = select_candidates([tmp_path / "a"], "Cu", selection_with(), seed=1)
    assert summary["filtered"] == {"atoms_too_close": 1} and len(picked) == 1


def test_adaptive_lower_trust_level_from_a_candidate_fraction(tmp_path):
    write_task(tmp_path / "a", "a", [0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09, 0.5])
    selection = selection_with(adaptive_candidate_fraction=0.3, force_trust_hi_eV_A=0.3, method="random")
    summary, _ = select_candidates([tmp_path / "a"], "Cu", selection, seed=1)
    assert 0.06 < summary["force_trust_lo_eV_A"] <= 0.08
    assert summary["candidate"] == 2 and summary["failed"] == 1  # 0.08, 0.09 candidates; 0.5 above hi


def test_pair_distances_are_those_of_ase_neighbor_list_for_every_cell_kind():

    sheared = bulk("Cu", "fcc", a=3.61, cubic=True) * (2, 2, 2)
    sheared.set_cell(sheared.cell.array + [[0, 0, 0], [1.5, 0, 0], [0.7, -0.4, 0]], scale_atoms=True)
    cases = [
        bulk("Cu", "fcc", a=3.61),
        bulk("W", "bcc", a=3.18) * (3, 3, 3),
        fcc111("Cu", (4, 4, 4), vacuum=5.0),
        sheared,
        Atoms("Cu3", positions=[[0, 0, 0], [2.5, 0, 0], [0, 2.5, 0]]),
        bulk("Cu", "fcc", a=3.61, cubic=True) * (5, 5, 5),
    ]  # the last one through ASE's own search
    rng = np.random.default_rng(0)
    for atoms in cases:
        atoms.positions += rng.normal(0, 0.05, atoms.positions.shape)
        expected, got = np.sort(neighbor_list("d", atoms, 5.0)), np.sort(pair_distances_A(atoms, 5.0))
        assert len(got) == len(expected) > 0 and np.allclose(got, expected, atol=1e-12)


def test_labeled_data_handed_over_as_a_link_is_seen(tmp_path):
    """dflow gives a step its input folders as symbolic links; the labeled frames behind them must count
    (FPS keeps away from them, duplicates of them are skipped)."""

    frames = []
    for stdev in (0.02, 0.04, 0.06):
        atoms = bulk("Cu", "fcc", a=3.6, cubic=True)
        atoms.rattle(stdev, seed=1)
        atoms.calc = EMT()
        frames.append(dpdata.LabeledSystem(atoms, fmt="ase/structure"))
    write_systems(frames, tmp_path / "real" / "round.000" / "batch.0000", ["Cu"])
    (tmp_path / "artifact").mkdir()
    (tmp_path / "artifact" / "data").symlink_to(tmp_path / "real", target_is_directory=True)
    (tmp_path / "artifact" / "again").symlink_to(tmp_path / "real", target_is_directory=True)  # the same folder once
    assert len(system_dirs(tmp_path / "artifact")) == 1 and count_frames(tmp_path / "artifact") == 3
    assert len(read_frames(tmp_path / "artifact" / "data")) == 3
