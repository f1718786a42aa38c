"""results.json, table.md (learning curves and labels-to-target), properties.md, summary.md (the three questions)
and the plots, all from the points of one referee's study."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import numpy as np
from settings import STRATEGIES

TARGET_FACTOR = 1.1  # "reaches (9)": force RMSE within 10 % of the whole pool's, on every family
PLOTTED_PROPERTIES = ("a0", "B", "C11", "C44", "Evac", "gamma111", "phonons")
ALL = "all"


def _mean_spread(values: list) -> tuple[float | None, float | None]:
    finite = [v for v in values if v is not None and np.isfinite(v)]
    if not finite:
        return None, None
    return float(np.mean(finite)), float(np.max(finite) - np.min(finite)) if len(finite) > 1 else 0.0


def _fmt(value, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def studied(points: list[dict]) -> list[dict]:
    """The points of the strategies' curves: (9)'s longer-trained check and 7c's committee apart."""
    return [p for p in points if p["strategy"] in STRATEGIES and p.get("steps_factor", 1.0) == 1.0]


def groups(points: list[dict]) -> dict[tuple[str, int], list[dict]]:
    """Points by (strategy, budget); the loop's by round (its label counts differ a little between seeds)."""
    out = defaultdict(list)
    for p in studied(points):
        out[(p["strategy"], p["round"] if p["strategy"] == "8" else p["budget"])].append(p)
    return dict(
        sorted(out.items(), key=lambda kv: (list(STRATEGIES).index(kv[0][0]), np.mean([p["labels"] for p in kv[1]])))
    )


def force(family: str):
    return lambda p: p["test"].get(family, {}).get("force_rmse_eV_A")


def energy(family: str):
    return lambda p: p["test"].get(family, {}).get("energy_rmse_meV_atom")


def prop(key: str):
    return lambda p: (p["properties"].get(key) or {}).get("error")


def curves(points: list[dict], value) -> dict[str, list[tuple[float, float, float]]]:
    """Per strategy: (mean labels, mean, spread over seeds) of value(point), by budget (8: by round)."""
    out = defaultdict(list)
    for (strategy, _), group in groups(points).items():
        mean, spread = _mean_spread([value(p) for p in group])
        if mean is not None:
            out[strategy].append((float(np.mean([p["labels"] for p in group])), mean, spread))
    return dict(out)


def families_of(points: list[dict]) -> list[str]:
    return sorted({f for p in points for f in p["test"] if f != ALL})


def whole_pool(points: list[dict]) -> dict | None:
    return next((p for p in studied(points) if p["strategy"] == "9"), None)


def _properties_pass(group: list[dict]) -> bool:
    """Every property computed and within its tolerance, for every seed."""
    return all(
        p["properties"] and "error" not in p["properties"] and all(r["pass"] for r in p["properties"].values())
        for p in group
    )


def labels_to_target(points: list[dict]) -> dict[str, dict]:
    """Per strategy: the fewest labels (mean over seeds) whose force RMSE is within 10 % of (9)'s on every family,
    and the fewest whose properties all pass (every seed), None where no budget does."""
    best = whole_pool(points)
    families = families_of(points)
    out: dict[str, dict] = {}
    for (strategy, _), group in groups(points).items():
        row = out.setdefault(strategy, {"forces": None, "properties": None})
        labels = float(np.mean([p["labels"] for p in group]))
        if best and row["forces"] is None:
            if all(
                (_mean_spread([force(f)(p) for p in group])[0] or np.inf) <= TARGET_FACTOR * force(f)(best)
                for f in families
            ):
                row["forces"] = labels
        if row["properties"] is None and _properties_pass(group):
            row["properties"] = labels
    return out


def convergence_check(points: list[dict]) -> dict | None:
    """(9) trained longer under the same rule: the relative change of its force and energy errors over all families."""
    base = whole_pool(points)
    longer = next((p for p in points if p["strategy"] == "9" and p.get("steps_factor", 1.0) != 1.0), None)
    if not base or not longer:
        return None
    change = {
        key: (value(longer) - value(base)) / value(base)
        for key, value in (("force", force(ALL)), ("energy", energy(ALL)))
        if value(base)
    }
    return {
        "steps_factor": longer["steps_factor"],
        "relative_change": change,
        "steps": [base["training"]["steps"], longer["training"]["steps"]],
    }


def table(points: list[dict]) -> str:
    families = families_of(points)
    head = [
        "strategy",
        "labels",
        "seeds",
        "F all (eV/A)",
        "E all (meV/atom)",
        "properties passed",
        "train CPU (s)",
        *[f"F {f}" for f in families],
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for (strategy, _), group in groups(points).items():
        f_all, spread = _mean_spread([force(ALL)(p) for p in group])
        passed = _mean_spread(
            [sum(1 for r in p["properties"].values() if isinstance(r, dict) and r["pass"]) for p in group]
        )[0]
        cpu = _mean_spread([p["training"]["cpu_s"] for p in group])[0]
        cells = [
            f"({strategy}) {STRATEGIES[strategy]}",
            f"{np.mean([p['labels'] for p in group]):.0f}",
            str(len(group)),
            f"{_fmt(f_all)} ± {_fmt((spread or 0) / 2)}",
            _fmt(_mean_spread([energy(ALL)(p) for p in group])[0], 1),
            _fmt(passed, 1) if any(p["properties"] for p in group) else "-",
            _fmt(cpu, 0),
            *[_fmt(_mean_spread([force(f)(p) for p in group])[0]) for f in families],
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def target_table(points: list[dict]) -> str:
    reached = labels_to_target(points)
    lines = [
        "| strategy | labels to (9)'s forces (every family within 10 %) | labels to every property within tolerance |",
        "|---|---|---|",
    ]
    for strategy, row in reached.items():
        lines.append(
            f"| ({strategy}) {STRATEGIES[strategy]} | {_fmt(row['forces'], 0) if row['forces'] else 'not reached'} | "
            f"{_fmt(row['properties'], 0) if row['properties'] else 'not reached'} |"
        )
    return "\n".join(lines) + "\n"


def property_table(points: list[dict]) -> str:
    keys = sorted({k for p in points for k, r in p["properties"].items() if isinstance(r, dict)})
    if not keys:
        return "No property set was computed.\n"
    lines = ["| strategy | labels | " + " | ".join(keys) + " |", "|" + "---|" * (len(keys) + 2)]
    for (strategy, _), group in groups(points).items():
        cells = []
        for k in keys:
            mean = _mean_spread([prop(k)(p) for p in group])[0]
            passed = all((p["properties"].get(k) or {}).get("pass") for p in group)
            cells.append(("n/a" if mean is None else f"{mean:+.3f}") + ("" if passed else " ✗"))
        lines.append(f"| ({strategy}) | {np.mean([p['labels'] for p in group]):.0f} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + (
        "\n\nErrors are relative (a0, B, Cij, surfaces), in eV (Evac, Ecoh) or THz (phonons); "
        "n/a: the model gave none (no minimum, a failed relaxation); ✗: outside the tolerance for a seed.\n"
    )


def _plot_panels(path: Path, panels: list[tuple[str, dict]], ylabel: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cols = min(4, len(panels))
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.2 * rows), squeeze=False)
    for ax, (title, by_strategy) in zip(axes.flat, panels):
        for strategy, curve in by_strategy.items():
            x, y, spread = (np.array(v) for v in zip(*curve))
            if strategy == "9":
                ax.axhline(y[0], color="k", ls="--", lw=1, label=f"(9) {x[0]:.0f} frames")
                continue
            ax.errorbar(x, np.abs(y), yerr=spread / 2, marker="o", ms=3, capsize=2, label=f"({strategy})")
        ax.set_xscale("log")
        ax.set_yscale("log")
        budgets = sorted({round(x) for s, curve in by_strategy.items() if s not in ("8", "9") for x, _, _ in curve})
        ax.set_xticks(budgets, [str(b) for b in budgets])
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_title(title, fontsize=9)
        ax.set_xlabel("labels")
        ax.set_ylabel(ylabel, fontsize=8)
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    handles = {label: h for ax in axes.flat for h, label in zip(*ax.get_legend_handles_labels())}
    fig.legend(handles.values(), handles.keys(), fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def write_results(
    points: list[dict], settings, reference: dict | None, out: Path, elapsed_s: float, partial: bool = False
) -> list[Path]:
    """Every output from the points; partial: the study is not finished, and every text file says so first."""
    families = [ALL, *families_of(points)]
    head = f"**Partial results: the {len(points)} points recorded so far; the study continues.**\n\n" if partial else ""

    def relative(point: dict) -> dict:  # results that read the same wherever the study ran
        return {k: (str(Path(v).relative_to(out)) if k in ("model", "data") else v) for k, v in point.items()}

    from summary import summary_lines  # here, not at the top: summary is built on this module

    results = {
        "settings": settings.as_dict(),
        "strategies": STRATEGIES,
        "partial": partial,
        "elapsed_s_this_invocation": round(elapsed_s, 1),
        "training_cpu_s_total": round(sum(p["training"]["cpu_s"] for p in points), 1),
        "reference_properties": {k: v for k, v in (reference or {}).items() if k not in ("eos", "phonons")},
        "convergence_check": convergence_check(points),
        "labels_to_target": labels_to_target(points),
        "points": [relative(p) for p in points],
    }
    written = [out / name for name in ("results.json", "table.md", "properties.md", "summary.md")]
    written[0].write_text(json.dumps(results, indent=1))
    written[1].write_text(head + table(points) + "\n" + target_table(points))
    written[2].write_text(head + property_table(points))
    written[3].write_text(head + "\n".join(f"- {line}" for line in summary_lines(points, results)) + "\n")
    written.append(
        _plot_panels(out / "force_rmse.png", [(f, curves(points, force(f))) for f in families], "force RMSE (eV/A)")
    )
    written.append(
        _plot_panels(
            out / "energy_rmse.png", [(f, curves(points, energy(f))) for f in families], "energy RMSE (meV/atom)"
        )
    )
    if reference:
        written.append(
            _plot_panels(
                out / "property_errors.png",
                [(k, curves(points, prop(k))) for k in PLOTTED_PROPERTIES],
                "|error| (relative; Evac eV; phonons THz)",
            )
        )
    return written
