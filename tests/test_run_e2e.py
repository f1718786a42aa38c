"""The whole loop, as a user runs it: real dflow (debug mode), DeePMD-kit, LAMMPS and EMT, tiny sizes."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from ase.calculators.emt import EMT
from conftest import run_cli
from dflow.python import OPIO
from test_label import potcar_library

from dpdriver.config import RunConfig, load_config
from dpdriver.data import count_frames
from dpdriver.engine.dflow import ops
from dpdriver.engine.dflow.build import explore_steps
from dpdriver.export.model_card import sha256
from dpdriver.generate import deformed, ideal_crystal, rattle
from dpdriver.loop import plan_round

pytestmark = pytest.mark.slow

# Stated tolerances for a 500-step model on ~27 frames (a production model does far better):
ENERGY_RMSE_TOLERANCE_meV_atom = 25.0
FORCE_RMSE_TOLERANCE_eV_A = 0.30


@pytest.fixture(scope="module")
def finished_run(tiny_reference, tmp_path_factory):
    """This file's own copy of the shared tiny run: its tests rerun, export and report in it."""
    reference, config, result = tiny_reference
    run_dir = tmp_path_factory.mktemp("e2e") / "run"
    shutil.copytree(reference, run_dir, symlinks=True)
    return run_dir, config, result


def test_progress_lines_and_where_the_potential_is(tiny_reference):
    run_dir, _, result = tiny_reference
    for stage in (
        "init     label",
        "init     test-label",
        "round 0 (cold) train",
        "round 0 (cold) explore",
        "round 0 (cold) validate",
        "round 0 (cold) select",
        "round 1 (hot) label",
        "export   export",
    ):
        assert stage in result.stdout
    assert "round 0 (cold) explore  2 LAMMPS MD tasks done" in result.stdout  # the plan's tasks, each counted once
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
        assert record["selection"]["frames"] == 2 * 13  # 2 tasks x (120 / 10 + 1) frames
        assert record["validation"]["frames"] == 16 and record["validation"]["force_rmse_eV_A"] > 0  # 4 per family
        members = record["validation"]["members"]  # every member's held-out error: production continues the best
        assert [m["index"] for m in members] == [0, 1] and all(m["frames"] == 16 for m in members)
    assert records[1]["frames_trained_on"] == 15 + records[0]["frames_added"]
    assert count_frames(run_dir / "data") == 15 + sum(r["frames_added"] for r in records)


def test_stages_run_in_turn_and_later_stages_start_from_earlier_data(finished_run):
    run_dir, _, _ = finished_run
    records = [json.loads((run_dir / f"rounds/round.{r:03d}/round.json").read_text()) for r in range(2)]
    assert [r["stage"]["name"] for r in records] == ["cold", "hot"]  # cold: max_rounds 1, then hot
    assert {t["temperature_K"] for t in records[1]["selection"]["tasks"]} == {900.0}
    starts = [
        json.loads(p.read_text()) for p in run_dir.glob("dflow/round-001/explore-r001-*/workdir/tasks/*/start.json")
    ]
    assert len(starts) == 2 and all(s["source"] in ("initial", "rounds") for s in starts)
    assert all(s["system"].startswith(("init/", "round.000/")) for s in starts)
    assert all(
        json.loads(p.read_text())["ok"]
        for p in run_dir.glob("dflow/round-001/explore-r001-*/workdir/tasks/*/status.json")
    )
    assert count_frames(run_dir / "test_data") == 16 and count_frames(run_dir / "data") > 0
    assert not list((run_dir / "data").glob("test*"))  # the held-out set is never trained on


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
    assert summary["test_errors"]["frames"] == 16 and summary["test_errors"]["force_rmse_eV_A"] > 0
    assert set(summary["test_errors"]["families"]) == {"rattled", "strained", "vacancy", "surface"}
    decided = json.loads((run_dir / "run.json").read_text())["decisions"]  # once per run, from the initial data
    assert decided["sel_from"] == "data" and decided["sel"] == 4 * -(-decided["max_neighbors"] * 1.2 // 4)
    assert decided["free_atom_energy_eV"] == pytest.approx(3.51) and decided["free_atom_from"] == "emt"
    kinds = [r["training"]["kinds"] for r in summary["rounds"]]
    assert kinds == [["scratch"], ["warm"]]  # round 1's members continue round 0's
    production = summary["production"]
    best = min(summary["rounds"][-1]["validation"]["members"], key=lambda m: m["force_rmse_eV_A"])
    assert production["steps"] == 100 and production["member"]["index"] in (0, 1) and production["best_step"] > 0
    assert production["member"]["force_rmse_eV_A"] <= best["force_rmse_eV_A"] * 1.5  # scored on E and F together
    assert production["frames"] == count_frames(run_dir / "data")


def test_export_carries_the_ensemble_validation_and_a_model_card_with_checksums(finished_run):

    run_dir, _, _ = finished_run
    export = run_dir / "export"
    assert sorted(p.name for p in (export / "ensemble").glob("*.pb")) == ["graph.000.pb", "graph.001.pb"]
    card = json.loads((export / "model_card.json").read_text())
    assert card["element"] == "Cu" and card["deepmd_kit_version"] == "3.2.0" and card["descriptor"]["rcut_A"] == 5.0
    assert {"compressed_model.pb", "frozen_model.pb", "in.lammps", "validation.json", "ensemble/graph.001.pb"} <= set(
        card["checksums"]
    )
    assert all(sha256(export / name) == digest for name, digest in card["checksums"].items())
    assert card["training_data"]["init"]["frames"] == 15 and card["training_data"]["init"]["origins"] == ["rattle"]
    assert card["training_data"]["round.001"]["origins"] == ["exploration (hot)"]
    validation = json.loads((export / "validation.json").read_text())
    rows = {r["property"]: r for r in validation["rows"]}
    assert rows["lattice constant"]["reference"] == pytest.approx(3.59, abs=0.01)  # EMT, the run's labeler
    assert {"C11", "C12", "C44", "intrinsic stacking fault energy", "surface energy (111)"} <= set(rows)
    assert validation["checked"] == len([r for r in validation["rows"] if r["pass"] is not None]) > 10
    readme = (export / "README.md").read_text()
    assert f"{validation['passed']} of {validation['checked']} checks pass" in readme
    assert "pair_style      deepmd compressed_model.pb" in readme and "nan" not in readme.lower()


def test_validate_command_on_the_exported_model(finished_run, tmp_path):

    run_dir, config, _ = finished_run
    result = run_cli(
        "validate",
        run_dir / "export/compressed_model.pb",
        "--config",
        config,
        "--test-data",
        run_dir / "test_data",
        "-o",
        tmp_path / "v",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "checks pass (reference: emt)" in result.stdout and "test force RMSE (surface)" in result.stdout
    assert json.loads((tmp_path / "v/validation.json").read_text())["test_errors"]["frames"] == 16
    wrong = tmp_path / "ni.yaml"
    wrong.write_text(config.read_text().replace("element: Cu", "element: Ni"))
    refused = run_cli("validate", run_dir / "export/compressed_model.pb", "--config", wrong, cwd=tmp_path)
    assert refused.returncode == 2 and "is for Cu, not Ni" in refused.stderr
    assert not (tmp_path / "validation").exists()  # a refused model leaves no folder behind


def test_validate_against_vasp_runs_reference_tasks_and_keeps_them(finished_run, tmp_path):
    """VASP cannot run here: every reference task fails; the model's table is still written, each reference row
    a FAIL naming the task's folder, which is kept for the user to look into."""

    run_dir, _, _ = finished_run
    library = potcar_library(tmp_path / "potcars", {"Cu/POTCAR": ("Cu", 295.4)})
    config = tmp_path / "vasp.yaml"
    config.write_text(
        f"element: Cu\nlabeler: {{kind: vasp, command: 'echo no VASP here; exit 3', potcar_dir: {library}}}\n"
    )
    model = run_dir / "export/compressed_model.pb"
    failed = run_cli("validate", model, "--config", config, "-o", tmp_path / "v")
    assert failed.returncode == 0, failed.stderr[-2000:]
    first = tmp_path / "v/reference-tasks/eos/scale-0.960"
    rows = {r["property"]: r for r in json.loads((tmp_path / "v/validation.json").read_text())["rows"]}
    assert rows["bulk modulus"]["pass"] is False and rows["bulk modulus"]["model"] > 0
    assert f"reference: reference task {first} failed: VASP command exited with 3" in rows["bulk modulus"]["note"]
    assert "not computed (reference: " in failed.stdout
    assert {"INCAR", "KPOINTS", "POSCAR", "POTCAR", "vasp.out"} <= {p.name for p in first.iterdir()}
    config.write_text(config.read_text().replace("potcar_dir", "encut_eV: 600, potcar_dir"))
    changed = run_cli("validate", model, "--config", config, "-o", tmp_path / "v")
    assert changed.returncode == 2 and "other labeler settings" in changed.stderr and first.is_dir()


def test_export_command_exports_the_last_round_again_and_keeps_the_previous(finished_run, tmp_path):

    run_dir, _, _ = finished_run
    copy = shutil.copytree(run_dir, tmp_path / "run", ignore=shutil.ignore_patterns("dflow"))
    result = run_cli("export", copy, "--reference", "emt")
    assert result.returncode == 0, result.stderr[-2000:]
    before = json.loads((run_dir / "export/summary.json").read_text())
    after = json.loads((copy / "export/summary.json").read_text())
    assert after["exported_from_round"] == before["exported_from_round"] and after["rounds"] == before["rounds"]
    assert (copy / "export.r001/compressed_model.pb").is_file()  # the previous export, set aside
    card = json.loads((copy / "export/model_card.json").read_text())
    assert (
        card["validation"]["reference"] == "emt" and f"exported round {after['exported_from_round']}" in result.stdout
    )
    missing = run_cli("export", tmp_path / "nothing")
    assert missing.returncode == 2 and "is not a dpdriver run directory" in missing.stderr
    assert len(missing.stderr.strip().splitlines()) == 1


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
    fresh = [
        atoms
        for scale in (0.985, 1.015)
        for atoms, _ in rattle(deformed(ideal_crystal(config), scale * np.eye(3)), [0.04], 3, rng)
    ]
    model = DeepPot(str(run_dir / "export/compressed_model.pb"))
    d_e, d_f, f_ref = [], [], []
    for atoms in fresh:
        atoms.calc = EMT()
        energy, force, _ = model.eval(
            atoms.positions.reshape(1, -1), atoms.cell.array.reshape(1, -1), [0] * len(atoms)
        )[:3]
        d_e.append((energy.item() - atoms.get_potential_energy()) / len(atoms))
        d_f.append(force.reshape(-1, 3) - atoms.get_forces())
        f_ref.append(atoms.get_forces())
    energy_rmse_meV = 1000 * np.sqrt(np.mean(np.square(d_e)))
    force_rmse = np.sqrt(np.mean(np.square(d_f)))
    assert energy_rmse_meV < ENERGY_RMSE_TOLERANCE_meV_atom
    assert force_rmse < FORCE_RMSE_TOLERANCE_eV_A
    assert force_rmse < 0.7 * np.sqrt(np.mean(np.square(f_ref)))  # better than predicting zero forces


def test_same_command_again_resumes_without_redoing_work(finished_run):

    run_dir, config, _ = finished_run
    frames = count_frames(run_dir / "data")
    models = {p: p.stat().st_mtime for p in run_dir.glob("rounds/*/models/*.pb")}
    again = run_cli("run", config, "--workdir", run_dir)
    assert again.returncode == 0, again.stderr[-2000:]
    assert "resuming" in again.stdout
    assert count_frames(run_dir / "data") == frames
    assert {p: p.stat().st_mtime for p in run_dir.glob("rounds/*/models/*.pb")} == models


def test_status_shows_every_round_and_never_nan(finished_run):

    run_dir, _, _ = finished_run
    result = run_cli("status", run_dir)
    assert result.returncode == 0, result.stderr
    rows = [line.split() for line in result.stdout.splitlines() if line.split()[:1] in (["0"], ["1"])]
    assert [row[:2] for row in rows] == [["0", "cold"], ["1", "hot"]]
    assert "test F eV/A" in result.stdout and all(float(row[-2]) > 0 for row in rows)  # per-round test force RMSE
    assert "nan" not in result.stdout.lower() and "stopped:" in result.stdout and "exported:" in result.stdout


@pytest.mark.skipif(shutil.which("chromium") is None, reason="Debian's chromium is not installed (.ci/run installs it)")
def test_report_opens_in_headless_chromium_with_every_image(finished_run):

    run_dir, _, _ = finished_run
    result = run_cli("report", run_dir)
    assert result.returncode == 0, result.stderr[-2000:]
    page = run_dir / "report/index.html"
    html = page.read_text()
    images = re.findall(r'<img src="([^"]+)"', html)
    assert {
        "rounds.png",
        "learning_curves.png",
        "deviation_histograms.png",
        "parity_energy.png",
        "parity_force.png",
        "eos.png",
        "phonons.png",
    } <= set(images)
    assert 'class="missing">No' not in html and "nan" not in html.lower()
    browser = subprocess.run(
        [
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--virtual-time-budget=10000",
            "--dump-dom",
            page.resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert browser.returncode == 0, browser.stderr[-2000:]
    check = re.search(r'id="image-check"[^>]*data-images="(\d+)" data-broken="(\d+)"', browser.stdout)
    assert check, "the page's script did not run in the browser"
    assert (int(check.group(1)), int(check.group(2))) == (len(images), 0)
    assert "Uncaught" not in browser.stderr


def test_an_explore_step_runs_its_share_of_the_tasks_and_select_finds_them(finished_run, tmp_path, monkeypatch):
    """Locally an explore step runs tasks k, k + n, ... of the plan (a new Python per worker, not per task); the
    select step finds every task inside the steps' folders. The finished run's round-1 models, 4 tasks, 2 steps."""

    run_dir, config_path, _ = finished_run
    config = load_config(config_path).model_dump()
    config["exploration"] = {"temperatures_K": [300, 600], "ensembles": ["nvt", "npt"], "md_steps": 20}
    config = RunConfig.model_validate(config)
    plan = plan_round(config, [], None)
    assert len(plan.tasks) == 4 and explore_steps(4, 2) == [0, 1] and explore_steps(1, 2) == [0]
    models = sorted((run_dir / "rounds" / "round.001" / "models").glob("graph.*.pb"))
    explored = []
    for k in (0, 1):
        (tmp_path / f"step{k}").mkdir()
        monkeypatch.chdir(tmp_path / f"step{k}")  # an OP writes into its step's working folder
        out = ops.Explore().execute(
            OPIO(
                element="Cu",
                initial_data=config.initial_data.model_dump(),
                plan=plan.to_plain(),
                step_index=k,
                steps=[0, 1],
                models=models,
                data=run_dir / "data",
            )
        )
        explored.append(Path(out["tasks"]).resolve())
    assert [sorted(p.name for p in d.iterdir()) for d in explored] == [
        sorted(plan.tasks[i].name for i in (0, 2)),
        sorted(plan.tasks[i].name for i in (1, 3)),
    ]
    monkeypatch.chdir(tmp_path)
    selected = ops.Select().execute(
        OPIO(
            element="Cu",
            labeler=config.labeler.model_dump(),
            plan=plan.to_plain(),
            explored=explored,
            data=run_dir / "data",
        )
    )
    assert len(selected["summary"]["tasks"]) == 4
    assert selected["summary"]["frames"] == 4 * (20 // config.exploration.deviation_every_steps + 1)
