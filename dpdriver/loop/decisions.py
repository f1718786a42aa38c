"""The loop's decisions, as pure functions of the config and the rounds so far: what the next round
runs with, what a finished round records, and why the loop stops. The local runner and the Argo
workflow's `advance` step call the same functions."""

from __future__ import annotations

import statistics

from ..config import RunConfig
from ..rundir import RunDir, round_dataset


def round_config(config: RunConfig, history: list[dict]) -> RunConfig:
    """The config a round runs with: its label cap lowered to what the loop's label budget has left."""
    budget = config.convergence.max_total_labels
    cap = config.selection.max_labels_per_round
    left = None if budget is None else budget - sum(h["frames_added"] for h in history)
    if left is None or left >= cap:
        return config
    selection = config.selection.model_copy(update={"max_labels_per_round": max(1, left)})
    return config.model_copy(update={"selection": selection})


def _stage_of(record: dict) -> int:
    return record.get("stage", {}).get("index", 0)  # runs recorded before stages existed had one


def _stage_rounds(history: list[dict]) -> list[dict]:
    """The rounds at the end of history that explored the last round's stage."""
    count = 0
    while count < len(history) and _stage_of(history[-1 - count]) == _stage_of(history[-1]):
        count += 1
    return history[len(history) - count :]


def _at_target(record: dict, conv) -> bool:
    """The round's accurate ratio reached the target and, where required, its model passed every property check."""
    if record["selection"]["accurate_ratio"] < conv.accurate_ratio_target:
        return False
    if not conv.require_properties:
        return True
    checks = (record.get("validation") or {}).get("properties") or {}
    return bool(checks.get("checked")) and checks["passed"] == checks["checked"]


def _streak(history: list[dict], conv) -> int:
    """Rounds at the end of history, all of the last round's stage, that were at target."""
    streak = 0
    for record in reversed(_stage_rounds(history)):
        if not _at_target(record, conv):
            break
        streak += 1
    return streak


def _stage_done(history: list[dict], stage, conv) -> str | None:
    """Why the last round's stage is done ('converged' or 'round limit'), or None."""
    if _streak(history, conv) >= conv.consecutive_rounds:
        return "converged"
    if stage.max_rounds is not None and len(_stage_rounds(history)) >= stage.max_rounds:
        return "round limit"
    return None


def stage_for_round(config: RunConfig, history: list[dict]):
    """The exploration stage the next round runs: the last round's, or the next one once that converged."""
    stages = config.exploration.stage_list()
    if not history:
        return stages[0]
    last = min(_stage_of(history[-1]), len(stages) - 1)
    done = _stage_done(history, stages[last], config.convergence)
    return stages[min(last + 1, len(stages) - 1) if done else last]


def round_record(
    round_index: int,
    stage,
    frames_trained_on: int,
    label_report: dict,
    selection_summary: dict,
    elapsed_s: float | None = None,
    validation: dict | None = None,
    training: dict | None = None,
) -> dict:
    return {
        "round": round_index,
        "stage": stage.model_dump(mode="json"),
        "frames_trained_on": frames_trained_on,
        "frames_added": label_report["labeled"],
        "label_failures": label_report["failed"],
        "selection": selection_summary,
        "validation": validation,
        "training": training,
        "elapsed_s": None if elapsed_s is None else round(elapsed_s, 1),
    }


def training_summary(shape: dict, member_stats: list[dict]) -> dict:
    """What a round's training was: the model shape (the next round warm-starts only from the same shape), and
    per member how it started, how long it trained and its CPU time."""
    return {
        "shape": shape,
        "members": member_stats,
        "cpu_s": round(sum(m["cpu_s"] for m in member_stats), 1),
        "kinds": sorted({m["kind"] for m in member_stats}),
    }


def warm_start_possible(config: RunConfig, history: list[dict], shape: dict) -> bool:
    """Member i of the next round starts from member i of the last one: allowed by the config, and the last round
    trained models of this very shape (a changed shape trains from scratch)."""
    if not (config.training.warm_start and history):
        return False
    return ((history[-1].get("training") or {}).get("shape")) == shape


def members_to_restart(validation: dict | None, factor: float | None) -> tuple[int, ...]:
    """Members whose held-out force error is `factor` times the ensemble's median or more: a training that failed
    (stuck or diverged) would pass its error on to every warm start after it and steer the selection by its noise."""
    rows = [m for m in (validation or {}).get("members") or [] if m.get("frames")]
    if factor is None or len(rows) < 2:
        return ()
    median = statistics.median(m["force_rmse_eV_A"] for m in rows)
    return tuple(m["index"] for m in rows if m["force_rmse_eV_A"] >= factor * median)


def _nothing_to_label(last: dict, config: RunConfig) -> str:
    """No candidate to label while the run is not converged: say which way the frames missed the window."""
    chosen = last["selection"]
    frames, failed = max(chosen["frames"], 1), chosen["failed"]
    if failed / frames > 0.5:
        return (
            f"nothing to label: {failed} of {chosen['frames']} explored frames lie above force_trust_hi_eV_A "
            f"{chosen['force_trust_hi_eV_A']} (the models disagree there more than any label could fix); add "
            "initial data nearer to MD (larger rattles, an md generator), or raise selection.force_trust_hi_eV_A"
        )
    return "nothing left to label: no selectable candidate frames in this round"


def failing_labels(report: dict, min_success_ratio: float, where: str, quarantine_dir: str) -> str | None:
    """The one failure policy of init, the run's initial data and every round: when fewer than min_success_ratio of
    the labels succeed, the labeler needs fixing; the message says where the failed tasks are."""
    requested, failed = report["labeled"] + len(report["failed"]), len(report["failed"])
    if not requested or report["labeled"] / requested >= min_success_ratio:
        return None
    first = report["failed"][0]["reason"].splitlines()[0][:160] if report["failed"] else ""
    return (
        f"labels failing: {failed} of {requested} failed in {where} (convergence.min_label_success_ratio "
        f"{min_success_ratio}; first reason: {first}); the failed tasks and their reasons are in {quarantine_dir}: "
        f"fix the labeler and start again, or lower the ratio to go on with the {report['labeled']} that succeeded"
    )


def stop_reason_after(history: list[dict], config: RunConfig) -> str | None:
    """Why the loop stops after the last round of history, or None to go on."""
    conv, stages = config.convergence, config.exploration.stage_list()
    n_stages, last = len(stages), history[-1]
    stage = stages[min(_stage_of(last), n_stages - 1)]
    failing = failing_labels(
        {"labeled": last["frames_added"], "failed": last.get("label_failures", [])},
        conv.min_label_success_ratio,
        f"round {len(history) - 1}",
        str(RunDir(".").quarantine(round_dataset(len(history) - 1))),  # relative to the run directory
    )
    if failing:
        return failing
    ratios = [h["selection"]["accurate_ratio"] for h in history]
    streak = _streak(history, conv)
    if streak >= conv.consecutive_rounds and _stage_of(last) >= n_stages - 1:
        stages = f"the last of {n_stages} stages" if n_stages > 1 else "the exploration"
        properties = " and every property check passing" if conv.require_properties else ""
        return (
            f"converged: accurate ratio >= {conv.accurate_ratio_target}{properties} in {streak} consecutive "
            f"round(s) of {stages} (last {ratios[-1]:.3f})"
        )
    labels = sum(h["frames_added"] for h in history)
    if conv.max_total_labels is not None and labels >= conv.max_total_labels:
        return f"label budget reached: {labels} labels added (max_total_labels {conv.max_total_labels})"
    if last["frames_added"] == 0 and ratios[-1] < conv.accurate_ratio_target:
        return _nothing_to_label(last, config)
    if stage.index == n_stages - 1 and _stage_done(history, stage, conv) == "round limit":
        return f"round limit of the last stage '{stage.name}' ({stage.max_rounds}) reached without converging"
    if len(history) >= conv.max_rounds:
        return f"round limit ({conv.max_rounds}) reached"
    return None
