"""The loop's decisions, as pure functions of the config and the rounds so far: what the next round
runs with, what a finished round records, and why the loop stops. The local runner and the Argo
workflow's `advance` step call the same functions."""

from __future__ import annotations

from .config import RunConfig


def round_config(config: RunConfig, history: list[dict]) -> RunConfig:
    """The config a round runs with: its label cap lowered to what the loop's label budget has left."""
    budget = config.convergence.max_total_labels
    cap = config.selection.max_labels_per_round
    left = None if budget is None else budget - sum(h["frames_added"] for h in history)
    if left is None or left >= cap:
        return config
    selection = config.selection.model_copy(update={"max_labels_per_round": max(1, left)})
    return config.model_copy(update={"selection": selection})


def round_record(round_index: int, frames_trained_on: int, label_report: dict, selection_summary: dict,
                 elapsed_s: float | None = None) -> dict:
    return {"round": round_index, "frames_trained_on": frames_trained_on, "frames_added": label_report["labeled"],
            "label_failures": label_report["failed"], "selection": selection_summary,
            "elapsed_s": None if elapsed_s is None else round(elapsed_s, 1)}


def stop_reason_after(history: list[dict], conv) -> str | None:
    """Why the loop stops after the last round of history, or None to go on."""
    last = history[-1]
    requested = last["frames_added"] + len(last.get("label_failures", []))
    if requested and last["frames_added"] / requested < conv.min_label_success_ratio:
        return (f"labels failing: {len(last['label_failures'])} of {requested} failed in round {len(history) - 1} "
                f"(min_label_success_ratio {conv.min_label_success_ratio}); the failed tasks and their reasons are in "
                f"quarantine/round.{len(history) - 1:03d}; fix the labeler and run again")
    ratios = [h["selection"]["accurate_ratio"] for h in history]
    streak = len(ratios) - next((i + 1 for i in range(len(ratios) - 1, -1, -1) if ratios[i] < conv.accurate_ratio_target), 0)
    if streak >= conv.consecutive_rounds:
        return (f"converged: accurate ratio >= {conv.accurate_ratio_target} in {streak} consecutive round(s) "
                f"(last {ratios[-1]:.3f})")
    labels = sum(h["frames_added"] for h in history)
    if conv.max_total_labels is not None and labels >= conv.max_total_labels:
        return f"label budget reached: {labels} labels added (max_total_labels {conv.max_total_labels})"
    if history[-1]["frames_added"] == 0 and ratios[-1] < conv.accurate_ratio_target:
        return "nothing left to label: no selectable candidate frames in this round"
    if len(history) >= conv.max_rounds:
        return f"round limit ({conv.max_rounds}) reached"
    return None
