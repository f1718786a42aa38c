"""`dpdriver report RUNDIR`: one HTML page and its PNGs that a person reads instead of logs.

Everything comes from what the run left on disk (round records, learning curves, the export's validation and
model card, the data's provenance), so a report can be written for a finished run, a stopped one, or one
downloaded from Argo; a section whose inputs are missing says so instead of failing."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from ..cells import cell
from ..export.model_card import training_data
from ..rundir import RunDir, recorded_config
from ..templates import render
from .status import status_table

REPORT_DIR = "report"


def _pyplot():
    import matplotlib  # only a report draws: status and the run do not import it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, out: Path, name: str) -> str:
    fig.tight_layout()
    fig.savefig(out / name, dpi=90)
    _pyplot().close(fig)
    return name


def read_lcurve(path: Path) -> dict[str, np.ndarray]:
    """DeePMD-kit's lcurve.out as columns by header name."""
    lines = path.read_text().splitlines()
    names = next(line for line in lines if line.startswith("#")).lstrip("#").split()
    rows = np.array([[float(x) for x in line.split()] for line in lines if line.strip() and not line.startswith("#")])
    return {name: rows[:, i] for i, name in enumerate(names)} if rows.size else {}


def learning_curves(records: list[dict], run_dir: Path, out: Path) -> str | None:
    curves = [
        (r["round"], read_lcurve(p)) for r in records for p in [RunDir(run_dir).lcurve(r["round"], 0)] if p.exists()
    ]
    if not curves:
        return None
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    for r, lc in curves:
        for ax, key in zip(axes, ("rmse_e_trn", "rmse_f_trn")):
            if key in lc:
                ax.semilogy(lc["step"], lc[key], label=f"round {r}")
    axes[0].set(xlabel="training step", ylabel="energy RMSE, training batch (eV/atom)")
    axes[1].set(xlabel="training step", ylabel="force RMSE, training batch (eV/Å)")
    axes[1].legend(fontsize=8)
    return _save(fig, out, "learning_curves.png")


def deviation_histograms(records: list[dict], out: Path) -> str | None:
    rounds = [r for r in records if r["selection"].get("deviation_histogram")]
    if not rounds:
        return None
    plt = _pyplot()
    columns = min(3, len(rounds))
    rows = math.ceil(len(rounds) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(4.2 * columns, 3.0 * rows), squeeze=False)
    for ax, r in zip(axes.flat, rounds):
        s, h = r["selection"], r["selection"]["deviation_histogram"]
        edges = np.array(h["edges_eV_A"])
        ax.stairs(h["counts"], edges, fill=True, alpha=0.6)
        ax.set_xscale("log")
        for level, style in ((s["force_trust_lo_eV_A"], "--"), (s["force_trust_hi_eV_A"], "-")):
            ax.axvline(level, color="k", linestyle=style, linewidth=1)
        stage = (r.get("stage") or {}).get("name", "")
        ax.set_title(f"round {r['round']} {stage}: accurate {s['accurate_ratio']:.2f}", fontsize=9)
        ax.set(xlabel="max force deviation (eV/Å)", ylabel="frames")
    for ax in list(axes.flat)[len(rounds) :]:
        ax.axis("off")
    return _save(fig, out, "deviation_histograms.png")


def round_progress(records: list[dict], out: Path) -> str | None:
    if not records:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.4))
    rounds = [r["round"] for r in records]
    ax.plot(rounds, [r["selection"]["accurate_ratio"] for r in records], "o-", label="accurate ratio")
    ax.set(xlabel="round", ylabel="accurate ratio", ylim=(0, 1.05))
    force = [(r.get("validation") or {}).get("force_rmse_eV_A") for r in records]
    if any(f is not None for f in force):
        twin = ax.twinx()
        twin.plot(rounds, [np.nan if f is None else f for f in force], "s--", color="C1", label="test force RMSE")
        twin.set_ylabel("held-out force RMSE (eV/Å)")
    ax.legend(loc="lower left", fontsize=8)
    return _save(fig, out, "rounds.png")


def parity(frames: list[dict], out: Path) -> list[str]:
    if not frames:
        return []
    plt = _pyplot()
    families = sorted({f["family"] for f in frames})
    fig_e, ax_e = plt.subplots(figsize=(4.6, 4.2))
    fig_f, ax_f = plt.subplots(figsize=(4.6, 4.2))
    for i, family in enumerate(families):
        chosen = [f for f in frames if f["family"] == family]
        ax_e.plot(
            [f["energy_ref_eV_atom"] for f in chosen],
            [f["energy_model_eV_atom"] for f in chosen],
            "o",
            color=f"C{i}",
            label=family,
            markersize=4,
        )
        ax_f.plot(
            np.concatenate([f["force_ref"] for f in chosen]),
            np.concatenate([f["force_model"] for f in chosen]),
            ".",
            color=f"C{i}",
            label=family,
            markersize=2,
        )
    for ax, what in ((ax_e, "energy (eV/atom)"), (ax_f, "force component (eV/Å)")):
        low, high = ax.get_xlim()
        ax.plot([low, high], [low, high], "k-", linewidth=0.8)
        ax.set(xlabel=f"reference {what}", ylabel=f"model {what}")
        ax.legend(fontsize=8)
    return [_save(fig_e, out, "parity_energy.png"), _save(fig_f, out, "parity_force.png")]


def eos_plot(validation: dict, out: Path) -> str | None:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 3.6))
    for values, name, style in (
        (validation["model"], "model", "o-"),
        (validation.get("reference_values"), "reference", "s--"),
    ):
        if values and values.get("eos"):  # None where the fit failed (a failed row of the table says why)
            ax.plot(values["eos"]["volume_A3_atom"], values["eos"]["energy_eV_atom"], style, label=name, markersize=4)
    ax.set(xlabel="volume (Å³/atom)", ylabel="energy (eV/atom)")
    ax.legend(fontsize=8)
    return _save(fig, out, "eos.png")


def phonon_plot(validation: dict, out: Path) -> str | None:
    sides = [
        (v, name, style)
        for v, name, style in (
            (validation["model"], "model", "-"),
            (validation.get("reference_values"), "reference", "--"),
        )
        if v and v.get("phonons")
    ]  # None where they could not be computed (a failed row says why)
    if not sides:
        return None
    plt = _pyplot()
    fig, (bands, dos) = plt.subplots(1, 2, figsize=(9, 3.8), gridspec_kw={"width_ratios": [3, 1]}, sharey=True)
    for values, name, style in sides:
        ph = values["phonons"]
        for k, (d, f) in enumerate(zip(ph["distances"], ph["frequencies_THz"])):
            lines = bands.plot(d, f, style, color="C0" if name == "model" else "C1", linewidth=1)
            if k == 0:
                lines[0].set_label(name)
        dos.plot(ph["dos"], ph["dos_frequency_THz"], style, color="C0" if name == "model" else "C1", linewidth=1)
    ph = sides[0][0]["phonons"]
    ticks = [d[0] for d in ph["distances"]] + [ph["distances"][-1][-1]]
    bands.set_xticks(ticks, [("Γ" if x == "G" else x) for x in ph["labels"]])
    for t in ticks:
        bands.axvline(t, color="grey", linewidth=0.5)
    bands.set(ylabel="frequency (THz)", xlim=(ticks[0], ticks[-1]))
    bands.legend(fontsize=8)
    dos.set(xlabel="DOS")
    return _save(fig, out, "phonons.png")


def write_report(run_dir: Path) -> Path:
    run_dir, dirs = Path(run_dir), RunDir(run_dir)
    dirs.require_run()
    out = run_dir / REPORT_DIR
    out.mkdir(exist_ok=True)
    records = dirs.history()
    validation = json.loads(dirs.export_validation.read_text()) if dirs.export_validation.exists() else None
    frames = []
    if dirs.exported_model.exists() and dirs.test_data.is_dir():
        from ..validate import test_frames  # DeePMD-kit takes seconds to import: only a report with a model pays

        element = recorded_config(run_dir).element
        frames = test_frames(dirs.exported_model, dirs.test_data, element)
    figures = {
        "rounds": round_progress(records, out),
        "learning": learning_curves(records, run_dir, out),
        "deviation": deviation_histograms(records, out),
        "parity": parity(frames, out),
        "eos": eos_plot(validation, out) if validation else None,
        "phonons": phonon_plot(validation, out) if validation else None,
    }
    origins = training_data(dirs.data)
    html = render(
        "report.html.j2",
        run=str(run_dir.resolve()),
        status=status_table(run_dir),
        figures=figures,
        validation=validation,
        origins=origins,
        fmt=cell,
    )
    (out / "index.html").write_text(html)
    return out / "index.html"
