"""When the loop stops, and why: K consecutive converged rounds, label budget, nothing left to label."""

from dpdriver.config import ConvergenceConfig
from dpdriver.run import stop_reason_after


def rounds(*ratios_and_labels):
    return [{"selection": {"accurate_ratio": ratio}, "frames_added": labels} for ratio, labels in ratios_and_labels]


def test_converged_needs_k_consecutive_rounds_at_target():
    conv = ConvergenceConfig(accurate_ratio_target=0.9, consecutive_rounds=2)
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
