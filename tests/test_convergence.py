"""When the loop stops, and why: K consecutive converged rounds per stage, label budget, nothing left to label;
which stage the next round explores."""

import json

from dpdriver.config import RunConfig
from dpdriver.loop import RoundPlan, plan_round, round_config, run_shape, stage_for_round, stop_reason_after
from dpdriver.train import choose_member


def config_with(stages=None, **convergence):
    exploration = {"temperatures_K": [300], "ensembles": ["nvt"]}
    if stages:
        exploration["stages"] = stages
    return RunConfig.model_validate({"exploration": exploration, "convergence": convergence})


def rounds(*ratios_and_labels, stage=0, failed=0):
    return [
        {
            "stage": {"index": stage},
            "frames_added": labels,
            "selection": {"accurate_ratio": ratio, "frames": 100, "failed": failed, "force_trust_hi_eV_A": 0.2},
        }
        for ratio, labels in ratios_and_labels
    ]


def test_converged_needs_k_consecutive_rounds_at_target():
    config = config_with(accurate_ratio_target=0.9, consecutive_rounds=2, max_rounds=10)
    assert stop_reason_after(rounds((0.95, 3)), config) is None
    assert stop_reason_after(rounds((0.95, 3), (0.5, 3)), config) is None
    assert stop_reason_after(rounds((0.95, 3), (0.5, 3), (0.92, 1)), config) is None
    assert stop_reason_after(rounds((0.95, 3), (0.5, 3), (0.92, 1), (0.97, 0)), config).startswith(
        "converged: accurate ratio >= 0.9 in 2 consecutive"
    )


def test_each_stage_converges_in_turn_and_only_the_last_stops_the_run():
    stages = [
        {"name": "cold", "temperatures_K": [300]},
        {"name": "hot", "temperatures_K": [900, 1500], "ensembles": ["nvt", "npt"], "pressures_bar": [1, 1000]},
    ]
    config = config_with(stages, accurate_ratio_target=0.9, consecutive_rounds=2, max_rounds=10)
    assert stage_for_round(config, []).name == "cold"
    history = rounds((0.95, 3), (0.5, 3), (0.92, 1))
    assert stage_for_round(config, history).name == "cold"  # one round at target of two
    history += rounds((0.97, 1))
    assert stop_reason_after(history, config) is None  # cold converged; hot is next
    assert stage_for_round(config, history).name == "hot"
    assert len(plan_round(config, history, None).tasks) == 2 + 2 * 2  # NVT at 2 T, NPT at 2 T x 2 P
    history += rounds((0.99, 1), stage=1)  # a converged round of cold does not count for hot
    assert stop_reason_after(history, config) is None and stage_for_round(config, history).name == "hot"
    history += rounds((0.95, 0), stage=1)
    reason = stop_reason_after(history, config)
    assert reason.startswith("converged: accurate ratio >= 0.9 in 2 consecutive round(s) of the last of 2 stages")


def test_label_budget_and_nothing_left():
    config = config_with(accurate_ratio_target=0.9, max_total_labels=10)
    assert stop_reason_after(rounds((0.1, 6)), config) is None
    assert stop_reason_after(rounds((0.1, 6), (0.2, 4)), config).startswith("label budget reached: 10 labels")
    assert stop_reason_after(rounds((0.1, 0)), config_with()).startswith("nothing left to label")
    beyond = stop_reason_after(rounds((0.03, 0), failed=97), config_with())  # the models disagree everywhere
    assert beyond.startswith("nothing to label: 97 of 100 explored frames lie above force_trust_hi_eV_A 0.2")
    assert "larger rattles" in beyond and "\n" not in beyond


def test_failing_labels_stop_the_loop_with_where_to_look():
    history = rounds((0.1, 2))
    history[0]["label_failures"] = [{"index": i, "reason": "exit 1"} for i in range(3)]
    reason = stop_reason_after(history, config_with(min_label_success_ratio=0.5))
    assert reason.startswith("labels failing: 3 of 5 failed in round 0") and "quarantine/round.000" in reason
    assert stop_reason_after(history, config_with(min_label_success_ratio=0.4)) is None


def test_round_limit_is_the_last_reason_and_the_budget_caps_the_last_round():
    config = config_with(accurate_ratio_target=0.9, max_rounds=2)
    assert stop_reason_after(rounds((0.1, 6)), config) is None
    assert stop_reason_after(rounds((0.1, 6), (0.2, 4)), config) == "round limit (2) reached"
    config = RunConfig.model_validate(
        {"selection": {"max_labels_per_round": 30}, "convergence": {"max_total_labels": 40}}
    )
    assert round_config(config, rounds((0.1, 6))).selection.max_labels_per_round == 30
    assert round_config(config, rounds((0.1, 30))).selection.max_labels_per_round == 10


def test_a_stage_round_limit_moves_on_and_ends_the_last_stage():
    stages = [
        {"name": "cold", "temperatures_K": [300], "max_rounds": 1},
        {"name": "hot", "temperatures_K": [900], "max_rounds": 2},
    ]
    config = config_with(stages, accurate_ratio_target=0.9, max_rounds=10)
    history = rounds((0.1, 3))
    assert stop_reason_after(history, config) is None and stage_for_round(config, history).name == "hot"
    history += rounds((0.2, 3), stage=1)
    assert stop_reason_after(history, config) is None and stage_for_round(config, history).name == "hot"
    history += rounds((0.3, 3), stage=1)
    assert stop_reason_after(history, config) == "round limit of the last stage 'hot' (2) reached without converging"


def test_required_properties_gate_convergence():
    config = config_with(accurate_ratio_target=0.9, max_rounds=10, require_properties=True)
    failing = rounds((0.95, 1))
    failing[0]["validation"] = {"properties": {"passed": 11, "checked": 12, "failed": ["C44"]}}
    assert stop_reason_after(failing, config) is None  # accurate enough, but a property fails
    passing = rounds((0.95, 1))
    passing[0]["validation"] = {"properties": {"passed": 12, "checked": 12, "failed": []}}
    assert stop_reason_after(failing + passing, config).startswith(
        "converged: accurate ratio >= 0.9 and every property check passing in 1 consecutive"
    )
    assert stop_reason_after(rounds((0.95, 1)), config) is None  # not checked is not passed


def test_a_round_is_planned_once_and_its_plan_travels_as_json():
    """Every step of a round (train, explore, select, advance) reads the plan the runner made, never history."""
    config = config_with(
        [{"name": "cold", "temperatures_K": [300]}, {"name": "hot", "temperatures_K": [900, 1500]}],
        accurate_ratio_target=0.9,
        consecutive_rounds=1,
        max_total_labels=10,
    )
    history = rounds((0.95, 7))  # cold converged; 3 labels of the budget left
    plan = plan_round(config, history, None)
    assert (plan.index, plan.stage.name, len(plan.tasks)) == (1, "hot", 2)
    assert plan.selection.max_labels_per_round == 3 and not plan.warm_start  # no training recorded: from scratch
    again = RoundPlan.from_plain(json.loads(json.dumps(plan.to_plain())))
    assert again == plan
    assert (
        plan_round(config, history, None).tasks[0].seed
        == plan.tasks[0].seed
        != plan_round(config, [], None).tasks[0].seed
    )


def test_the_production_parent_is_the_member_of_lowest_held_out_error():

    def row(i, e_meV, f):
        return {
            "index": i,
            "frames": 16,
            "energy_rmse_meV_atom": e_meV,
            "force_rmse_eV_A": f,
        }

    validation = {"members": [row(0, 9.0, 0.12), row(1, 4.0, 0.05), row(2, 3.0, 0.30)]}
    chosen = choose_member(validation)
    assert chosen["index"] == 1 and len(chosen["members"]) == 3
    assert choose_member(None)["index"] == 0 and choose_member({"frames": 0, "members": []})["score"] is None


def test_a_member_whose_training_failed_restarts_from_scratch_and_the_plan_says_so():
    """One seed stuck at 4x its peers' held-out force error must not pass that on to its warm starts."""

    config = config_with()
    history = rounds((0.03, 30))
    forces = [0.024, 0.117, 0.030, 0.026]
    history[-1]["training"] = {"shape": run_shape(config, None)}
    history[-1]["validation"] = {
        "members": [
            {"index": i, "frames": 40, "energy_rmse_meV_atom": 9.0, "force_rmse_eV_A": f} for i, f in enumerate(forces)
        ]
    }
    plan = plan_round(config, history, None)
    assert plan.warm_start and plan.restart_members == (1,)
    assert RoundPlan.from_plain(json.loads(json.dumps(plan.to_plain()))).restart_members == (1,)
    history[-1]["validation"]["members"][1]["force_rmse_eV_A"] = 0.04  # within twice the median: all continue
    assert plan_round(config, history, None).restart_members == ()
    off = config.model_copy(update={"training": config.training.model_copy(update={"restart_outlier_factor": None})})
    history[-1]["validation"]["members"][1]["force_rmse_eV_A"] = 0.117
    assert plan_round(off, history, None).restart_members == ()
