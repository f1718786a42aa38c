"""results.json, table.md, summary.md and the plots: errors per test family and property errors vs labels."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np
from settings import STRATEGIES

REACH_FACTOR = 1.1  # "reaches (g)": overall test force RMSE within 10 % of the whole pool's
FAIL_FACTOR = 2.0  # "fails on a family": force RMSE there more than twice the whole pool's, at the largest budget
PLOTTED_PROPERTIES = ("a0", "B", "C44", "Evac", "gamma111", "phonons")


def _mean_spread(values: list) -> tuple[float | None, float | None]:
    finite = [v for v in values if v is not None and np.isfinite(v)]
    if not finite:
        return None, None
    return float(np.mean(finite)), float(np.max(finite) - np.min(finite)) if len(finite) > 1 else 0.0


def curves(points: list[dict], value) -> dict[str, list[tuple[float, float, float]]]:
    """Per strategy: (labels, mean, spread over seeds) of value(point), by budget (f: by round)."""
    groups = defaultdict(list)
    for p in points:
        groups[(p["strategy"], p.get("round", p["budget"]))].append(p)
    out = defaultdict(list)
    for (strategy, _), group in sorted(
        groups.items(), key=lambda kv: (kv[0][0], np.mean([p["labels"] for p in kv[1]]))
    ):
        mean, spread = _mean_spread([value(p) for p in group])
        if mean is not None:
            out[strategy].append((float(np.mean([p["labels"] for p in group])), mean, spread))
    return dict(out)


def _force(family: str):
    return lambda p: p["test"].get(family, {}).get("force_rmse_eV_A")


def _energy(family: str):
    return lambda p: p["test"].get(family, {}).get("energy_rmse_meV_atom")


def _property(key: str):
    return lambda p: (p["properties"].get(key) or {}).get("error")


def _properties_passed(p: dict):
    rows = [r for r in p["properties"].values() if isinstance(r, dict)]
    return sum(1 for r in rows if r["pass"]) if rows else 0


def families_of(points: list[dict]) -> list[str]:
    return sorted({f for p in points for f in p["test"] if f != "all"})


def summary_lines(points: list[dict]) -> list[str]:
    """How many labels each strategy needs to reach (g), and the families it fails on at its largest budget."""
    if not any(p["strategy"] == "g" for p in points):
        return ["(g) was not run: nothing to compare with."]
    reference = {
        f: _mean_spread([_force(f)(p) for p in points if p["strategy"] == "g"])[0]
        for f in ["all", *families_of(points)]
    }
    lines = [f"(g) whole MD pool: test force RMSE {reference['all']:.3f} eV/A over all families."]
    for strategy, curve in curves([p for p in points if p["strategy"] != "g"], _force("all")).items():
        reached = next((labels for labels, mean, _ in curve if mean <= REACH_FACTOR * reference["all"]), None)
        largest = max(p["labels"] for p in points if p["strategy"] == strategy)
        at_largest = [p for p in points if p["strategy"] == strategy and p["labels"] == largest]
        failed = [
            f
            for f in families_of(points)
            if reference[f]
            and (_mean_spread([_force(f)(p) for p in at_largest])[0] or np.inf) > FAIL_FACTOR * reference[f]
        ]
        reach = f"reaches it at {reached:.0f} labels" if reached else f"does not reach it by {largest:.0f} labels"
        lines.append(
            f"({strategy}) {STRATEGIES[strategy]}: {reach}; at {largest:.0f} labels worse than 2x (g) on: "
            f"{', '.join(failed) or 'none'}."
        )
    return lines


def _fmt(value, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def table(points: list[dict]) -> str:
    families = families_of(points)
    head = [
        "strategy",
        "labels",
        "seeds",
        "F RMSE all (eV/A)",
        "E RMSE all (meV/atom)",
        "properties passed",
        *[f"F {f}" for f in families],
    ]
    rows = []
    force_curves = {f: curves(points, _force(f)) for f in ["all", *families]}
    energy_curve = curves(points, _energy("all"))
    passed_curve = curves(points, _properties_passed)
    for strategy in STRATEGIES:
        for i, (labels, mean, spread) in enumerate(force_curves["all"].get(strategy, [])):
            seeds = sum(1 for p in points if p["strategy"] == strategy and abs(p["labels"] - labels) < 1e-9) or "-"
            energy = energy_curve.get(strategy, [])[i][1] if i < len(energy_curve.get(strategy, [])) else None
            passed = passed_curve.get(strategy, [])[i][1] if i < len(passed_curve.get(strategy, [])) else None
            per_family = [
                _fmt(force_curves[f][strategy][i][1]) if i < len(force_curves[f].get(strategy, [])) else "-"
                for f in families
            ]
            rows.append(
                [
                    f"({strategy}) {STRATEGIES[strategy]}",
                    f"{labels:.0f}",
                    str(seeds),
                    f"{mean:.3f} ± {spread / 2:.3f}",
                    _fmt(energy, 1),
                    _fmt(passed, 1),
                    *per_family,
                ]
            )
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows]) + "\n"


def _plot_panels(path: Path, panels: list[tuple[str, dict]], ylabel: str, reference_lines: dict | None = None) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = min(4, len(panels))
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.2 * rows), squeeze=False)
    for ax, (title, by_strategy) in zip(axes.flat, panels):
        for strategy, curve in by_strategy.items():
            x, y, spread = (np.array(v) for v in zip(*curve))
            if strategy == "g":
                ax.axhline(y[0], color="k", ls="--", lw=1, label=f"(g) {x[0]:.0f} frames")
                continue
            ax.errorbar(x, y, yerr=spread / 2, marker="o", ms=3, capsize=2, label=f"({strategy})")
        ax.set_xscale("log")
        ax.set_yscale("log")
        budgets = sorted({round(x) for strategy, curve in by_strategy.items() if strategy != "g" for x, _, _ in curve})
        ax.set_xticks(budgets, [str(b) for b in budgets], minor=False)
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("labels")
        ax.set_ylabel(ylabel, fontsize=8)
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def write_results(points: list[dict], settings, reference: dict, out: Path, elapsed_s: float) -> list[Path]:
    families = ["all", *families_of(points)]

    def relative(point: dict) -> dict:  # results that read the same wherever the study ran
        return {k: (str(Path(v).relative_to(out)) if k in ("model", "data") else v) for k, v in point.items()}

    results = {
        "settings": settings.as_dict(),
        "strategies": STRATEGIES,
        "elapsed_s": round(elapsed_s, 1),
        "reference_properties": {k: v for k, v in reference.items() if k not in ("eos", "phonons")},
        "points": [relative(p) for p in points],
    }
    written = [out / "results.json", out / "table.md", out / "summary.md"]
    written[0].write_text(json.dumps(results, indent=1))
    written[1].write_text(table(points))
    written[2].write_text("\n".join(f"- {line}" for line in summary_lines(points)) + "\n")
    written.append(
        _plot_panels(out / "force_rmse.png", [(f, curves(points, _force(f))) for f in families], "force RMSE (eV/A)")
    )
    written.append(
        _plot_panels(
            out / "energy_rmse.png", [(f, curves(points, _energy(f))) for f in families], "energy RMSE (meV/atom)"
        )
    )
    written.append(
        _plot_panels(
            out / "property_errors.png",
            [(k, curves(points, _property(k))) for k in PLOTTED_PROPERTIES],
            "error (relative; Evac eV; phonons THz)",
        )
    )
    return written
