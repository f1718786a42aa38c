"""Training: schedules from the data, sel from the data, the free-atom energy and warm starts, with the real dp at
tiny sizes (a killed production training's resumption: tests/test_run_e2e.py, through the command)."""

import json
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import run_cli

from dpdriver.config import NetsConfig, RunConfig, TrainingConfig
from dpdriver.data import system_dirs
from dpdriver.errors import UserError
from dpdriver.generate.initial_data import build_initial_data
from dpdriver.loop import plan_round, train_member, warm_start_possible
from dpdriver.train import (
    PRODUCTION_SUMMARY,
    model_shape,
    plan_schedule,
    production_origin,
    train_model,
    train_production,
)
from dpdriver.train.dp import PROGRESS_FILE, display_every, render_training_input, validation_draws
from dpdriver.train.lcurve import best_step, read_lcurve
from dpdriver.train.neighbors import decide_sel, neighbor_stat
from dpdriver.train.schedule import batches_per_epoch

FREE_ATOM_EV = 3.51  # EMT's Cu atom alone


def test_from_scratch_steps_follow_the_data_within_bounds():
    t = TrainingConfig(epochs=100, min_steps=500, max_steps=5000)
    assert plan_schedule(t, 20).steps == 2000
    assert plan_schedule(t, 2).steps == 500 and plan_schedule(t, 200).steps == 5000
    assert plan_schedule(t.model_copy(update={"steps": 123}), 200).steps == 123  # the user's value wins


def test_batch_atoms_sets_frames_per_step_and_so_the_steps_of_an_epoch(tmp_path):
    """DeePMD-kit's "auto:N": ceil(N / atoms) frames per step; an epoch of 10 frames of 32 atoms and 3 of 54."""
    for name, atoms, frames in (("a", 32, 10), ("b", 54, 3)):
        system = tmp_path / name
        (system / "set.000").mkdir(parents=True)
        (system / "type.raw").write_text("0\n" * atoms)
        np.save(system / "set.000" / "energy.npy", np.zeros(frames))
    systems = [tmp_path / "a", tmp_path / "b"]
    assert batches_per_epoch(systems, 32) == 10 + 3  # one frame per step
    assert batches_per_epoch(systems, 128) == 3 + 1  # 4 frames of 32 atoms, 3 of 54 atoms per step
    training = TrainingConfig(batch_atoms=128)
    script = render_training_input(training, ["Cu"], ["data"], 1, plan_schedule(training, 4))
    assert script["training"]["training_data"]["batch_size"] == "auto:128"


def test_warm_and_production_schedules():
    t = TrainingConfig(
        epochs=100,
        min_steps=500,
        max_steps=5000,
        warm_start_fraction=0.25,
        production_epochs=300,
        production_max_steps=9000,
    )
    scratch, warm, production = (plan_schedule(t, 20, kind) for kind in ("scratch", "warm", "production"))
    assert warm.steps == scratch.steps // 4 and warm.start_lr < scratch.start_lr
    assert warm.start_pref_f < scratch.start_pref_f and warm.start_pref_e > scratch.start_pref_e
    assert production.steps == 6000 and production.start_lr == t.production_start_lr < scratch.start_lr
    assert all(s.decay_steps <= s.steps for s in (scratch, warm, production))
    with pytest.raises(ValueError):
        plan_schedule(t, 20, "finetune")


def test_sel_from_the_data_with_its_margin_and_a_user_value_checked():
    stat = {"rcut_A": 5.0, "max_neighbors": 54, "min_neighbor_distance_A": 2.1}
    decided = decide_sel(stat, None, 1.2)
    assert decided["sel"] == 68 and decided["sel_from"] == "data"  # 54 x 1.2 = 64.8, up to a multiple of 4
    assert decide_sel(stat, 60, 1.2)["sel"] == 60
    with pytest.raises(UserError) as refused:
        decide_sel(stat, 40, 1.2)
    message = str(refused.value)
    assert "\n" not in message and "training.sel = 40" in message and "54 neighbours" in message and "68" in message
    with pytest.raises(UserError, match="raise training.rcut_A"):
        decide_sel({**stat, "max_neighbors": 0}, None, 1.2)


def test_lcurve_last_row_wins_and_best_saved_step():
    text = (
        "# step rmse_val rmse_trn rmse_e_val rmse_e_trn rmse_f_val rmse_f_trn lr\n"
        "# If there is no available reference data, rmse_*_{val,trn} will print nan\n"
        "0 1 1 0.010 0.01 0.50 0.5 1e-3\n"
        "10 1 1 0.002 0.01 0.05 0.5 1e-3\n"
        "15 1 1 0.001 0.01 0.01 0.5 1e-3\n"  # best, but never saved (saves every 10)
        "20 1 1 0.003 0.01 0.06 0.5 1e-3\n"
        "# step rmse_val rmse_trn rmse_e_val rmse_e_trn rmse_f_val rmse_f_trn lr\n"
        "20 1 1 0.004 0.01 0.07 0.5 1e-3\n"  # a resumed training writes step 20 again
        "30 1 1 0.003 0.01 0.08 0.5 1e-3\n"
    )
    path = Path(__file__).parent / "_lcurve_tmp.out"
    try:
        path.write_text(text)
        columns = read_lcurve(path)
        assert list(columns["step"]) == [0, 10, 15, 20, 30] and columns["rmse_f_val"][3] == 0.07
        assert best_step(path, saved_every=10, last=30) == 30  # of the second half: 10 and 15 are earlier
        assert best_step(path, saved_every=10, last=20) == 10
    finally:
        path.unlink()


def test_warm_start_only_from_a_round_of_the_same_shape():
    config = RunConfig.model_validate({"training": {"sel": 68}})
    shape = model_shape(config.training, ["Cu"])
    record = {"training": {"shape": shape}}
    assert warm_start_possible(config, [record], shape)
    assert not warm_start_possible(config, [], shape)
    assert not warm_start_possible(config, [{"training": None}], shape)  # a round of an older dpdriver
    other = model_shape(config.training.model_copy(update={"precision": "float64"}), ["Cu"])
    assert not warm_start_possible(config, [record], other)
    off = RunConfig.model_validate({"training": {"sel": 68, "warm_start": False}})
    assert not warm_start_possible(off, [record], shape)


# --- with the real dp -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def emt_data(tmp_path_factory):
    """24 rattled 32-atom Cu frames at three volumes, and 6 more as a check set, labeled by EMT."""

    root = tmp_path_factory.mktemp("train")
    for name, seed, per in (("data", 1, 8), ("check", 2, 2)):
        config = RunConfig.model_validate(
            {
                "seed": seed,
                "initial_data": {
                    "generators": [
                        {
                            "kind": "volume_scan",
                            "name": "v",
                            "volume_change_range": [-0.06, 0.06],
                            "count": 3,
                            "keep": False,
                        },
                        {"kind": "rattle", "base": "v", "stdev_A": [0.06], "per_stdev": per},
                    ]
                },
            }
        )
        build_initial_data(config, root / name, root / f"{name}-tasks", root / f"{name}-quarantine")
    return root, system_dirs(root / "data"), system_dirs(root / "check")


def _training(**kw) -> TrainingConfig:
    return TrainingConfig.model_validate(
        {
            "descriptor_neuron": [8, 16],
            "fitting_neuron": [24, 24],
            "axis_neuron": 4,
            "rcut_A": 5.0,
            "rcut_smth_A": 0.5,
            "sel": 60,
            "start_lr": 0.003,
            **kw,
        }
    )


def _lone_atom_energy(model: Path) -> float:
    from deepmd.infer import DeepPot

    box = 20.0
    energy = DeepPot(str(model)).eval(np.array([[box / 2] * 3]), np.diag([box] * 3).reshape(1, 9), [0])[0]
    return float(energy.reshape(-1)[0])


@pytest.mark.slow
def test_neighbour_statistics_of_real_data(emt_data):

    root, _, _ = emt_data
    stat = neighbor_stat(root / "data", 5.0, ["Cu"], root / "stat")
    assert 42 <= stat["max_neighbors"] <= 60  # fcc within 5 A: 42 at a0, more when compressed by 6 %
    assert 1.8 < stat["min_neighbor_distance_A"] < 2.55


@pytest.mark.slow
def test_warm_start_begins_near_its_parent_and_keeps_the_free_atom_energy(emt_data):
    """A member warm-started from its parent starts at the parent's error, not from scratch; a model built
    with the free-atom energy gives exactly that energy for an atom alone in a large box, and its child too."""

    root, data, check = emt_data
    training = _training(steps=600, free_atom_energy_eV=FREE_ATOM_EV, warm_start_fraction=0.25)
    parent = train_model(training, ["Cu"], data, root / "parent", seed=3)
    assert _lone_atom_energy(parent) == pytest.approx(FREE_ATOM_EV, abs=1e-6)
    parent_end = read_lcurve(root / "parent" / "lcurve.out")
    child = train_model(
        training, ["Cu"], data, root / "child", seed=4, kind="warm", parent=parent, validation_dirs=check
    )
    scratch = train_model(
        training.model_copy(update={"steps": 20}), ["Cu"], data, root / "scratch", seed=4, validation_dirs=check
    )
    warm_start, cold_start = read_lcurve(root / "child" / "lcurve.out"), read_lcurve(root / "scratch" / "lcurve.out")
    assert "initialize training from the frozen model" in (root / "child" / "train.log").read_text()
    assert json.loads((root / "child" / "train_stats.json").read_text())["steps"] == 150
    # step 0 of the child, on frames the parent never saw, against the parent's own last training error
    assert warm_start["rmse_f_val"][0] < 2.0 * parent_end["rmse_f_trn"][-3:].mean()
    assert warm_start["rmse_f_val"][0] < 0.5 * cold_start["rmse_f_val"][0]
    assert warm_start["rmse_e_val"][0] < 0.2 * cold_start["rmse_e_val"][0]
    assert _lone_atom_energy(child) == pytest.approx(FREE_ATOM_EV, abs=1e-6)
    assert _lone_atom_energy(scratch) == pytest.approx(FREE_ATOM_EV, abs=1e-6)
    # a member the round's plan restarts (its last training failed) does not continue its parent
    plan = replace(plan_round(RunConfig(), [], None), index=1, warm_start=True, restart_members=(1,))
    short = training.model_copy(update={"steps": 20})
    train_member(short, "Cu", 7, plan, 1, [root / "data"], root / "restarted", [parent, parent])
    assert json.loads((root / "restarted" / "train_stats.json").read_text())["kind"] == "scratch"
    assert "initialize training from the frozen model" not in (root / "restarted" / "train.log").read_text()


@pytest.mark.slow
def test_production_nets_train_the_exported_model_from_scratch_in_its_own_shape(emt_data):
    """production_nets give the exported model other nets than the members': it cannot continue a member, so it trains
    from scratch for the production budget (and says so), with its own energy weight; nets equal to the members'
    still continue the member."""

    root, data, check = emt_data
    members = _training(steps=40, production_steps=30)
    parent = train_model(members, ["Cu"], data, root / "member", seed=5)
    member = {"index": 0, "frames": 6}
    larger = members.model_copy(
        update={
            "production_nets": NetsConfig(descriptor_neuron=[12, 24], axis_neuron=6, fitting_neuron=[32, 32]),
            "production_limit_pref_e": 4.0,
        }
    )
    out = train_production(larger, "Cu", parent, member, data, check[0].parent, root / "own", seed=6)
    script = json.loads((out / "input.json").read_text())
    assert script["model"]["descriptor"]["neuron"] == [12, 24] and script["model"]["fitting_net"]["neuron"] == [32, 32]
    assert script["model"]["descriptor"]["axis_neuron"] == 6 and script["training"]["numb_steps"] == 30
    assert script["loss"]["limit_pref_e"] == 4.0  # the exported model's energy weight; the members' stays 1
    assert "initialize training from the frozen model" not in (root / "own" / "train" / "train.log").read_text()
    summary = json.loads((out / PRODUCTION_SUMMARY).read_text())
    assert summary["member"] is None and summary["kind"] == "scratch" and summary["validation_frames"] == 6
    assert production_origin(summary) == "trained from scratch with its own nets (embedding [12, 24], fitting [32, 32])"
    same = members.model_copy(
        update={"production_nets": NetsConfig(descriptor_neuron=[8, 16], axis_neuron=4, fitting_neuron=[24, 24])}
    )
    out = train_production(same, "Cu", parent, member, data, check[0].parent, root / "same", seed=6)
    assert "initialize training from the frozen model" in (root / "same" / "train" / "train.log").read_text()
    assert (
        production_origin(json.loads((out / PRODUCTION_SUMMARY).read_text())) == "member 0 of the last round continued"
    )


@pytest.mark.slow
def test_training_progress_and_log_keep_up_while_it_trains(emt_data):
    """The progress file (the run's progress line reads it) and train.log (a user follows it) keep up with DeePMD-kit's
    own learning curve while the model trains, not 8 kB (some 25 display intervals) at a time."""

    root, data, _ = emt_data
    workdir = root / "progress"
    steps = 4000
    lags = []
    with ThreadPoolExecutor(1) as pool:
        training = pool.submit(train_model, _training(steps=steps), ["Cu"], data, workdir, 5)
        while not training.done():
            rows = [r for r in _text(workdir / "lcurve.out").splitlines() if r.strip() and not r.startswith("#")]
            progress = _text(workdir / PROGRESS_FILE).split()
            logged = re.findall(r"Batch\s+(\d+):", _text(workdir / "train.log"))
            if rows and progress and int(rows[-1].split()[0]) < steps:
                learned = int(rows[-1].split()[0])
                lags.append(learned - min(int(progress[0]), int(logged[-1]) if logged else 0))
            time.sleep(0.02)
        training.result()
    assert lags and max(lags) <= 3 * display_every(steps), f"behind the learning curve by up to {max(lags)} steps"


def _text(path: Path) -> str:
    return path.read_text() if path.exists() else ""


SMALL_SEL = """\
element: Cu
seed: 3
initial_data:
  generators:
    - {kind: volume_scan, name: volumes, volume_change_range: [-0.17, 0.0], count: 2, keep: false}
    - {kind: rattle, base: volumes, stdev_A: [0.05], per_stdev: 2}
training: {models: 2, steps: 50, sel: 80}  # the ideal crystal has 78 neighbours within 6 A; 17 % denser cells 86
validation: {test_structures: 1, families: [rattled]}
"""


@pytest.mark.slow
def test_a_user_sel_smaller_than_the_data_needs_is_refused_before_training(tmp_path):
    """A sel the ideal crystal already exceeds is refused before anything runs (test_init_cli); one that only the
    labeled data exceeds, once the initial data is labeled, before any training."""

    config = tmp_path / "small.yaml"
    config.write_text(SMALL_SEL)
    result = run_cli("run", config, "--workdir", tmp_path / "run")
    assert result.returncode == 2, result.stderr[-2000:]
    lines = result.stderr.strip().splitlines()
    needed = re.search(r"smaller than the (\d+) neighbours", lines[0])
    assert len(lines) == 1 and "training.sel = 80" in lines[0] and needed and int(needed.group(1)) > 80
    assert not (tmp_path / "run" / "rounds").exists()  # nothing trained
    assert (tmp_path / "run" / "data" / "init").is_dir()  # the labels are kept for the rerun


def test_validation_draws_three_per_frame_unless_that_outweighs_the_training_between_two_rows():
    assert validation_draws(40, display_every(26400)) == 120  # the Cu example's production: 3 per held-out frame
    assert validation_draws(16, display_every(100)) == 16  # a 100-step production: each frame once, not 48 draws
    assert validation_draws(16, display_every(1000)) == 48


def test_an_unset_sel_is_left_to_deepmd_kit_with_the_margin():
    """Outside a run (doctor, benchmarks), DeePMD-kit's own 'auto' decides from the data it trains on."""
    training = TrainingConfig(sel_margin=1.3)
    script = render_training_input(training, ["Cu"], ["data"], 1, plan_schedule(training, 10))
    assert script["model"]["descriptor"]["sel"] == "auto:1.3"
    decided = training.model_copy(update={"sel": 68})
    assert render_training_input(decided, ["Cu"], ["data"], 1, plan_schedule(decided, 10))["model"]["descriptor"][
        "sel"
    ] == [68]
