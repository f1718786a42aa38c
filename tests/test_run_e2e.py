"""The whole loop, as a user runs it: real dflow (debug mode), DeePMD-kit, LAMMPS and EMT, tiny sizes."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from ase.calculators.emt import EMT

from dpdriver.config import load_config
from dpdriver.data import count_frames
from dpdriver.generate import deformed, ideal_crystal, rattle

pytestmark = pytest.mark.slow

TINY = """\
element: Cu
seed: 11
initial_data:
  generators:
    - {kind: volume_scan, name: volumes, volume_change_range: [-0.09, 0.09], count: 3, keep: false}
    - {kind: rattle, base: volumes, stdev_A: [0.05], per_stdev: 5}
training:
  models: 2
  steps: 500
  start_lr: 0.002
exploration:
  temperatures_K: [300, 900]
  ensembles: [nvt, npt]
  md_steps: 120
  deviation_every_steps: 10
selection:
  force_trust_lo_eV_A: 0.05
  force_trust_hi_eV_A: 0.5
  max_labels_per_round: 6
convergence:
  max_rounds: 2
  accurate_ratio_target: 1.0
validation:
  test_structures: 4
"""

# Stated tolerances for a 500-step model on ~27 frames (a production model does far better):
ENERGY_RMSE_TOLERANCE_meV_atom = 25.0
FORCE_RMSE_TOLERANCE_eV_A = 0.30


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    from conftest import run_cli

    folder = tmp_path_factory.mktemp("e2e")
    config = folder / "tiny.yaml"
    config.write_text(TINY)
    result = run_cli("run", config, "--workdir", folder / "run")
    assert result.returncode == 0, result.stderr[-3000:]
    return folder / "run", config, result


def test_progress_lines_and_where_the_potential_is(finished_run):
    run_dir, _, result = finished_run
    for stage in ("init     label", "round 0 train", "round 0 explore", "round 0 select", "round 1 label", "export   export"):
        assert stage in result.stdout
    assert f"exported potential: {(run_dir / 'export' / 'compressed_model.pb').resolve()}" in result.stdout
    assert "lmp -in in.lammps" in result.stdout


def test_data_grew_by_exactly_the_selected_frames(finished_run):
    run_dir, _, _ = finished_run
    records = [json.loads((run_dir / f"rounds/round.{r:03d}/round.json").read_text()) for r in range(2)]
    assert count_frames(run_dir / "data/init") == 15
    for r, record in enumerate(records):
        assert record["label_failures"] == []
        selected = record["selection"]["selected"]
        assert 0 < selected <= 6
        assert record["frames_added"] == selected == count_frames(run_dir / f"data/round.{r:03d}")
        assert record["selection"]["frames"] == 4 * 13  # 4 tasks x (120 / 10 + 1) frames
    assert records[1]["frames_trained_on"] == 15 + records[0]["frames_added"]
    assert count_frames(run_dir / "data") == 15 + sum(r["frames_added"] for r in records)


def test_models_frozen_compressed_and_summarised(finished_run):
    run_dir, _, _ = finished_run
    for r in range(2):
        assert all((run_dir / f"rounds/round.{r:03d}/models/graph.{i:03d}.pb").stat().st_size > 0 for i in range(2))
    export = run_dir / "export"
    assert (export / "frozen_model.pb").stat().st_size > 0 and (export / "compressed_model.pb").stat().st_size > 0
    summary = json.loads((export / "summary.json").read_text())
    assert len(summary["rounds"]) == 2 and summary["stop_reason"].startswith("round limit")
    assert summary["frames_per_round"] == [r["frames_added"] for r in summary["rounds"]]
    assert all(0.0 <= a <= 1.0 for a in summary["accurate_ratios"])
    assert summary["test_errors"]["frames"] == 4 and summary["test_errors"]["force_rmse_eV_A"] > 0


def test_exported_in_lammps_runs_as_it_is(finished_run, tmp_path):
    run_dir, _, _ = finished_run
    export = shutil.copytree(run_dir / "export", tmp_path / "export")
    lmp = Path(sys.executable).parent / "lmp"
    result = subprocess.run([str(lmp), "-in", "in.lammps"], cwd=export, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-2000:]
    thermo = [line.split() for line in result.stdout.splitlines() if line.split()[:1] == ["100"]]
    assert thermo and np.isfinite(float(thermo[-1][2]))


def test_exported_model_agrees_with_emt_on_fresh_structures(finished_run):
    from deepmd.infer import DeepPot

    run_dir, config_path, _ = finished_run
    config = load_config(config_path)
    rng = np.random.default_rng(12345)
    fresh = [atoms for scale in (0.985, 1.015)
             for atoms, _ in rattle(deformed(ideal_crystal(config), scale * np.eye(3)), [0.04], 3, rng)]
    model = DeepPot(str(run_dir / "export/compressed_model.pb"))
    d_e, d_f, f_ref = [], [], []
    for atoms in fresh:
        atoms.calc = EMT()
        energy, force, _ = model.eval(atoms.positions.reshape(1, -1), atoms.cell.array.reshape(1, -1), [0] * len(atoms))[:3]
        d_e.append((energy.item() - atoms.get_potential_energy()) / len(atoms))
        d_f.append(force.reshape(-1, 3) - atoms.get_forces())
        f_ref.append(atoms.get_forces())
    energy_rmse_meV = 1000 * np.sqrt(np.mean(np.square(d_e)))
    force_rmse = np.sqrt(np.mean(np.square(d_f)))
    assert energy_rmse_meV < ENERGY_RMSE_TOLERANCE_meV_atom
    assert force_rmse < FORCE_RMSE_TOLERANCE_eV_A
    assert force_rmse < 0.7 * np.sqrt(np.mean(np.square(f_ref)))  # better than predicting zero forces


def test_same_command_again_resumes_without_redoing_work(finished_run):
    from conftest import run_cli

    run_dir, config, _ = finished_run
    frames = count_frames(run_dir / "data")
    models = {p: p.stat().st_mtime for p in run_dir.glob("rounds/*/models/*.pb")}
    again = run_cli("run", config, "--workdir", run_dir)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "resuming" in again.stdout
    assert count_frames(run_dir / "data") == frames
    assert {p: p.stat().st_mtime for p in run_dir.glob("rounds/*/models/*.pb")} == models


def test_status_shows_every_round_and_never_nan(finished_run):
    from conftest import run_cli

    run_dir, _, _ = finished_run
    result = run_cli("status", run_dir)
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines() if line.split()[:1] in (["0"], ["1"])]
    assert [row[0] for row in rows] == ["0", "1"]
    assert "nan" not in result.stdout.lower() and "stopped:" in result.stdout and "exported:" in result.stdout
