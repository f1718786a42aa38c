import json

import numpy as np
from ase.build import bulk

from dpdriver.config import RunConfig
from dpdriver.explore import MDTask, TASK_FILE, read_model_devi
from dpdriver.select import ACCURATE, CANDIDATE, FAILED, classify, select_candidates

HEADER = "#       step         max_devi_v         min_devi_v         avg_devi_v         max_devi_f         min_devi_f         avg_devi_f\n"


def test_classify_bounds_and_non_finite():
    labels = classify(np.array([0.0, 0.049, 0.05, 0.19, 0.2, np.nan, np.inf]), 0.05, 0.2)
    assert list(labels) == [ACCURATE, ACCURATE, CANDIDATE, CANDIDATE, FAILED, FAILED, FAILED]


def write_task(folder, name, deviations, md_steps=None, every=10, write_frames=True):
    """An MD task folder as LAMMPS leaves it: model_devi.out and a lammps dump of the same frames."""
    folder.mkdir(parents=True)
    md_steps = md_steps if md_steps is not None else every * (len(deviations) - 1)
    task = MDTask(name, "nvt", 300.0, 1.0, md_steps, 0.002, every, 1)
    (folder / TASK_FILE).write_text(json.dumps(task.__dict__))
    rows = "".join(f"{i * every:12d} 0 0 0 {d:18.6e} 0 0\n" for i, d in enumerate(deviations))
    (folder / "model_devi.out").write_text(HEADER + rows)
    if write_frames:
        atoms = bulk("Cu", "fcc", a=3.6, cubic=True)
        with open(folder / "traj.dump", "w") as dump:
            for i in range(len(deviations)):
                dump.write(f"ITEM: TIMESTEP\n{i * every}\nITEM: NUMBER OF ATOMS\n4\nITEM: BOX BOUNDS pp pp pp\n"
                           "0 3.6\n0 3.6\n0 3.6\nITEM: ATOMS id type x y z\n")
                for k, p in enumerate(atoms.positions):
                    dump.write(f"{k + 1} 1 {p[0] + 0.01 * i} {p[1]} {p[2]}\n")


def test_select_counts_caps_and_is_seeded(tmp_path):
    write_task(tmp_path / "a", "a", [0.01, 0.06, 0.07, 0.08, 0.5])
    write_task(tmp_path / "b", "b", [0.02, 0.03, 0.1, float("nan")])
    selection = RunConfig.model_validate({"selection": {"max_labels_per_round": 2}}).selection
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
    path.write_text("# step max_devi_v min_devi_v avg_devi_v max_devi_f min_devi_f avg_devi_f devi_e\n0 1 2 3 0.4 5 6 7\n")
    assert read_model_devi(path).tolist() == [[0.0, 0.4]]
    assert read_model_devi(tmp_path / "missing.out").shape == (0, 2)
