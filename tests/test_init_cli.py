"""`dpdriver init` as a user runs it: the plan, the labeled set with provenance, resume, refusals."""

import json
import sys
from pathlib import Path

import dpdata
import numpy as np
from ase.build import bulk
from ase.calculators.emt import EMT
from test_cli import assert_one_line_error
from test_label import potcar_library

from dpdriver.cli import main
from dpdriver.config import load_config
from dpdriver.data import count_frames

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))
from variant import write_variant_config  # noqa: E402

SMALL = """\
element: Cu
seed: 3
initial_data:
  label_budget: 40
  generators:
    - {kind: volume_scan, name: volumes, count: 3, keep: false}
    - {kind: rattle, base: volumes, stdev_A: [0.02, 0.08], per_stdev: 2}
    - {kind: normal_modes, temperatures_K: [600], per_temperature: 2}
    - {kind: md, temperatures_K: [900], steps: 40, stride: 20}
    - {kind: surface, miller_indices: [[1, 1, 1]], layers: 3}
"""


def test_dry_run_of_every_example_prints_the_plan_and_writes_nothing(cli, tmp_path, monkeypatch, capsys):
    variants = [
        write_variant_config(v, tmp_path / "variants")  # the benchmarks run them
        for v in sorted((REPO / "benchmarks").glob("*/variants/*.yaml"))
    ]
    examples = [
        REPO / "examples" / e / "config.yaml" for e in ("cu-init-mix", "ni-vasp", "cu-emt", "w-snap", "mo-snap")
    ]
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    for config in examples + variants:
        if config in examples:  # the command as a user runs it
            result = cli("init", config, "--dry-run", cwd=tmp_path / "cwd")
            code, stdout, stderr = result.returncode, result.stdout, result.stderr
        else:  # the same command in this process: the variants only change settings
            code = main(["init", str(config), "--dry-run"])
            stdout, stderr = capsys.readouterr()
        assert code == 0, stderr
        assert stdout.splitlines()[0].split()[:4] == ["generator", "kind", "base", "structures"]
        assert "total" in stdout
    assert not any((tmp_path / "cwd").iterdir())
    large = load_config(tmp_path / "variants" / "w-snap-large-nets.yaml")  # the variant's lines over the example's
    assert large.training.descriptor_neuron == [25, 50, 100] and large.training.models == 4
    mix = cli("init", REPO / "examples/cu-init-mix/config.yaml", "--dry-run").stdout
    for kind in (
        "volume_scan",
        "strain",
        "bain_path",
        "normal_modes",
        "rattle",
        "md",
        "random",
        "vacancy",
        "interstitial",
        "surface",
    ):
        assert f" {kind} " in mix


def test_init_labels_the_plan_with_provenance_and_resumes(cli, tmp_path):
    config = tmp_path / "small.yaml"
    config.write_text(SMALL)
    result = cli("init", config, "-o", tmp_path / "out")
    assert result.returncode == 0, result.stderr
    data = tmp_path / "out" / "data"
    report = json.loads((data / "init_report.json").read_text())
    expected = 12 + 3 + 2 + 1  # 3 volumes x 2 amplitudes x 2, displacement + thermal modes, MD frames, one slab
    assert report["labeled"] == expected == count_frames(data) and report["failed"] == []
    lines = [json.loads(line) for line in (data / "provenance.jsonl").read_text().splitlines()]
    assert len(lines) == expected
    assert {line["structure"]["generator"] for line in lines} == {"rattle", "normal_modes", "md", "surface"}
    assert all(
        line["structure"]["base"]["generator"] == "volumes" for line in lines if line["structure"]["kind"] == "rattle"
    )
    again = cli("init", config, "-o", tmp_path / "out")
    assert again.returncode == 0 and "nothing relabeled" in again.stdout
    other = tmp_path / "other.yaml"
    other.write_text(SMALL.replace("seed: 3", "seed: 4"))
    assert_one_line_error(cli("init", other, "-o", tmp_path / "out"), "cannot change within a run")


def test_init_refusals_are_one_line(cli, tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(SMALL.replace("label_budget: 40", "label_budget: 5"))
    assert_one_line_error(cli("init", config, "--dry-run"), "above label_budget 5")
    potcars = potcar_library(tmp_path / "potcars", {"Cu/POTCAR": ("Cu", 295.4)})
    config.write_text(
        f"element: Cu\nlabeler: {{kind: vasp, command: vasp_std, potcar_dir: {potcars}}}\n"
        "initial_data:\n  generators:\n    - {kind: md}\n"
    )
    assert_one_line_error(cli("init", config, "--dry-run"), "'md' (md) runs the labeler step by step")
    config.write_text("element: Cu\nlabeler: {kind: vasp, command: vasp_std, potcar_dir: /nowhere}\n")
    assert_one_line_error(cli("init", config, "-o", tmp_path / "out"), "no POTCAR for Cu at /nowhere/Cu/POTCAR")
    config.write_text("element: Cu\ninitial_data:\n  generators:\n    - {kind: rattle, base: strained}\n")
    assert_one_line_error(cli("init", config, "--dry-run"), "c.yaml:4", "initial_data.generators.0", "base 'strained'")
    # the dry run refuses what the run refuses, the labeler's reach first
    config.write_text("element: W\n")
    assert_one_line_error(cli("init", config, "--dry-run"), "labeler 'emt' does not support W")
    config.write_text("element: Cu\ntraining: {sel: 8}\n")
    assert_one_line_error(cli("init", config, "--dry-run"), "training.sel = 8 is smaller than the 78 neighbours")


NAN_STRESS = """\
element: Cu
labeler: {kind: ase, calculator: faulty_calculators.NaNStressEMT}
initial_data:
  generators: [{kind: volume_scan, volume_change_range: [-0.06, 0.06], count: 5}]
convergence: {min_label_success_ratio: 0.9}
"""


def test_nan_stress_is_never_kept_and_init_applies_the_loops_failure_policy(cli, tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text(NAN_STRESS)
    env = {"PYTHONPATH": str(Path(__file__).parent)}
    result = cli("init", config, "-o", tmp_path / "out", env=env)
    assert_one_line_error(
        result,
        "labels failing: 2 of 5 failed in the initial data",
        "NaN or infinity in virials",
        "min_label_success_ratio 0.9",
    )
    data = tmp_path / "out" / "data"
    assert count_frames(data) == 3  # the good labels are kept
    assert all(np.all(np.isfinite(np.load(p))) for p in data.rglob("*.npy"))
    assert len(list((tmp_path / "out" / "quarantine").glob("task.*/reason.json"))) == 2
    again = cli("init", config, "-o", tmp_path / "out", env=env)  # the same stop on a rerun, nothing relabeled
    assert "nothing relabeled" in again.stdout
    assert_one_line_error(again, "labels failing: 2 of 5")
    config.write_text(NAN_STRESS.replace("0.9", "0.5"))
    assert cli("init", config, "-o", tmp_path / "out", env=env).returncode == 0  # go on with what succeeded


def test_given_data_with_nan_is_refused_before_anything_runs(cli, tmp_path):

    atoms = bulk("Cu", "fcc", a=3.6, cubic=True)
    atoms.calc = EMT()
    atoms.get_potential_energy()
    dpdata.LabeledSystem(atoms, fmt="ase/structure").to("deepmd/npy", str(tmp_path / "given"))
    energy = next((tmp_path / "given").rglob("energy.npy"))
    np.save(energy, np.full_like(np.load(energy), np.nan))
    config = tmp_path / "c.yaml"
    config.write_text(f"element: Cu\ninitial_data: {{data_dirs: [{tmp_path / 'given'}]}}\n")
    assert_one_line_error(cli("init", config, "--dry-run"), "holds NaN or infinity in energies")
