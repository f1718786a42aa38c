"""`dpdriver status RUNDIR`: what a run has done, per round, read from the records it leaves (no NaN, ever)."""

from __future__ import annotations

import json
from pathlib import Path

from ..cells import cell
from ..engine.dflow.dispatch import jobs_line
from ..generate.initial_data import REPORT_FILE
from ..loop import stop_reason_after
from ..rundir import INIT, RunDir, read_decisions, recorded_config
from ..train import PRODUCTION_SUMMARY, production_origin
from ..train.decide import decisions_line


def _range(values: list, unit: str) -> str:
    finite = [v for v in values if v is not None]
    if not finite:
        return "-"
    low, high = min(finite), max(finite)
    return f"{low:g} {unit}" if low == high else f"{low:g}-{high:g} {unit}"


def describe_round(record: dict) -> str:
    """One line per finished round, as `watch` prints it."""
    s, errors = record["selection"], record.get("validation") or {}
    stage = (record.get("stage") or {}).get("name")
    return (
        f"round {record['round']}" + (f" ({stage})" if stage else "") + f": accurate ratio "
        f"{cell(s['accurate_ratio'], '{:.3f}')} of {cell(s['frames'])} frames, {cell(record['frames_added'])} "
        f"labels added, {len(record['label_failures'])} failed; test F RMSE "
        f"{cell(errors.get('force_rmse_eV_A'), '{:.3f}')} eV/A"
    )


def _training_cells(training: dict | None) -> tuple[str, str]:
    """How the round's members started and how long they trained (e.g. warm:1500), and their CPU minutes."""
    if not training or not training.get("members"):
        return "-", "-"
    members = training["members"]
    kinds = "+".join(training["kinds"])
    return f"{kinds}:{max(m['steps'] for m in members)}", cell(training["cpu_s"] / 60, "{:.1f}")


def _decisions_line(run_dir: Path) -> str | None:
    decisions = read_decisions(run_dir)
    if not decisions:
        return None
    return f"model: {decisions_line(decisions)}"


def _production_line(run_dir: Path) -> str | None:
    path = RunDir(run_dir).production / PRODUCTION_SUMMARY
    if not path.exists():
        return None
    p = json.loads(path.read_text())
    kept = f", kept step {p['best_step']} (lowest held-out error)" if p.get("best_step") else ""
    return (
        f"production model (round {p.get('round', '-')}): {production_origin(p)} for "
        f"{p['steps']} steps on {p['frames']} frames{kept}; {p['cpu_s'] / 60:.1f} CPU min"
    )


def status_table(run_dir: Path) -> str:
    run_dir, dirs = Path(run_dir), RunDir(run_dir)
    dirs.require_run()
    history = dirs.history()
    rows = [
        (
            "round",
            "stage",
            "temperatures",
            "ensembles",
            "frames",
            "accurate",
            "candidate",
            "failed",
            "filtered",
            "acc. ratio",
            "trust lo-hi eV/A",
            "labels",
            "label fails",
            "training",
            "train CPU min",
            "test E meV/at",
            "test F eV/A",
            "minutes",
        )
    ]
    for r in history:
        s, stage, errors = r["selection"], r.get("stage") or {}, r.get("validation") or {}
        temperatures = stage.get("temperatures_K") or [t["temperature_K"] for t in s.get("tasks", [])] or [None]
        ensembles = stage.get("ensembles") or sorted({t["ensemble"] for t in s.get("tasks", [])})
        rows.append(
            (
                str(r["round"]),
                stage.get("name", "-"),
                _range(temperatures, "K"),
                ",".join(ensembles) or "-",
                cell(s["frames"]),
                cell(s["accurate"]),
                cell(s["candidate"]),
                cell(s["failed"]),
                cell(sum(s.get("filtered", {}).values())),
                cell(s["accurate_ratio"], "{:.3f}"),
                f"{cell(s['force_trust_lo_eV_A'], '{:.3f}')}-{cell(s['force_trust_hi_eV_A'], '{:.3f}')}",
                cell(r["frames_added"]),
                cell(len(r["label_failures"])),
                *_training_cells(r.get("training")),
                cell(errors.get("energy_rmse_meV_atom"), "{:.2f}"),
                cell(errors.get("force_rmse_eV_A"), "{:.3f}"),
                cell(None if r.get("elapsed_s") is None else r["elapsed_s"] / 60, "{:.1f}"),
            )
        )
    done = len(rows) - 1
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in rows]
    init_report = dirs.dataset(INIT) / REPORT_FILE
    if init_report.exists():
        init = json.loads(init_report.read_text())
        lines.insert(
            0, f"initial data: {init['labeled']} of {init['requested']} structures labeled with {init['labeler']}"
        )
    decided = _decisions_line(run_dir)
    if decided:
        lines.insert(1 if init_report.exists() else 0, decided)
    production = _production_line(run_dir)
    if production:
        lines.append(production)
    queued = jobs_line(dirs.workflows)
    if queued:
        lines.append(queued)
    summary_path = dirs.export_summary
    if summary_path.exists():
        summary = json.loads(summary_path.read_text())
        errors = summary["test_errors"]
        lines.append(f"stopped: {summary['stop_reason']}")
        lines.append(
            f"exported: {dirs.export / summary['model']}; test RMSE vs {errors['reference']} on "
            f"{cell(errors['frames'])} held-out frames: E {cell(errors['energy_rmse_meV_atom'], '{:.2f}')} "
            f"meV/atom, F {cell(errors['force_rmse_eV_A'], '{:.3f}')} eV/A"
        )
    else:
        config = recorded_config(run_dir)
        stop_reason = stop_reason_after(history, config) if history else None
        if stop_reason:
            lines.append(
                f"stopped: {stop_reason}; not exported (the export failed or was interrupted): "
                f"`dpdriver export {run_dir}` or `dpdriver run` with the same config exports it"
            )
        else:
            lines.append(f"round {done}: running or interrupted; `dpdriver run` with the same config resumes it")
    return "\n".join(lines)
