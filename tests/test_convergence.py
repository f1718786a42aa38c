"""When the loop stops, and why: K consecutive converged rounds, label budget, nothing left to label."""

from dpdriver.config import ConvergenceConfig
from dpdriver.config import RunConfig
from dpdriver.loop import round_config, stop_reason_after


def rounds(*ratios_and_labels):
    return [{"selection": {"accurate_ratio": ratio}, "frames_added": labels} for ratio, labels in ratios_and_labels]


def test_converged_needs_k_consecutive_rounds_at_target():
    conv = ConvergenceConfig(accurate_ratio_target=0.9, consecutive_rounds=2, max_rounds=10)
    assert stop_reason_after(rounds((0.95, 3)), conv) is None
    assert stop_reason_after(rounds((0.95, 3), (0.5, 3)), conv) is None
    assert stop_reason_after(rounds((0.95, 3), (0.5, 3), (0.92, 1)), conv) is None
    assert stop_reason_after(rounds((0.95, 3), (0.5, 3), (0.92, 1), (0.97, 0)), conv).startswith(
        "converged: accurate ratio >= 0.9 in 2 consecutive")


def test_label_budget_and_nothing_left():
    conv = ConvergenceConfig(accurate_ratio_target=0.9, max_total_labels=10)
    assert stop_reason_after(rounds((0.1, 6)), conv) is None
    assert stop_reason_after(rounds((0.1, 6), (0.2, 4)), conv).startswith("label budget reached: 10 labels")
    assert stop_reason_after(rounds((0.1, 0)), ConvergenceConfig()).startswith("nothing left to label")


def test_failing_labels_stop_the_loop_with_where_to_look():
    history = rounds((0.1, 2))
    history[0]["label_failures"] = [{"index": i, "reason": "exit 1"} for i in range(3)]
    reason = stop_reason_after(history, ConvergenceConfig(min_label_success_ratio=0.5))
    assert reason.startswith("labels failing: 3 of 5 failed in round 0") and "quarantine/round.000" in reason
    assert stop_reason_after(history, ConvergenceConfig(min_label_success_ratio=0.4)) is None


def test_round_limit_is_the_last_reason_and_the_budget_caps_the_last_round():
    conv = ConvergenceConfig(accurate_ratio_target=0.9, max_rounds=2)
    assert stop_reason_after(rounds((0.1, 6)), conv) is None
    assert stop_reason_after(rounds((0.1, 6), (0.2, 4)), conv) == "round limit (2) reached"
    config = RunConfig.model_validate({"selection": {"max_labels_per_round": 30}, "convergence": {"max_total_labels": 40}})
    assert round_config(config, rounds((0.1, 6))).selection.max_labels_per_round == 30
    assert round_config(config, rounds((0.1, 30))).selection.max_labels_per_round == 10
