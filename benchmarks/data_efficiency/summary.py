"""summary.md: the users' three questions and the loop's target, answered with the study's own numbers."""

from __future__ import annotations

import numpy as np
from report import ALL, _fmt, _mean_spread, curves, force, groups, labels_to_target, whole_pool
from settings import STRATEGIES

DATA_LIMITED = 0.05  # (9) is data-limited when training it longer changes its errors by less than this


def _at(points: list[dict], strategy: str, budget: int) -> dict | None:
    group = groups(points).get((strategy, budget))
    if not group:
        return None
    mean = lambda value: _mean_spread([value(p) for p in group])[0]  # noqa: E731
    passed = mean(lambda p: sum(1 for r in p["properties"].values() if isinstance(r, dict) and r["pass"]))
    return {"force": mean(force(ALL)), "passed": passed, "of": len(next(iter(group))["properties"]) or None}


def _compare(points: list[dict], strategies: tuple[str, ...], budget: int) -> str:
    parts = []
    for s in strategies:
        at = _at(points, s, budget)
        if at:
            props = f", {at['passed']:.1f} of {at['of']} properties" if at["of"] else ""
            parts.append(f"({s}) {_fmt(at['force'])} eV/A{props}")
    return f"at {budget} labels: " + "; ".join(parts) if parts else ""


def _reach(reached: dict, s: str) -> str:
    row = reached.get(s) or {}
    return f"({s}) {_fmt(row['forces'], 0)} labels" if row.get("forces") else f"({s}) not within its budgets"


def labels_for(curve: list[tuple[float, float, float]], rmse: float) -> float | None:
    """Labels at which a learning curve (labels, mean RMSE, spread) first comes down to rmse, interpolated
    log-log between its points; None where it never does."""
    for (x0, y0, _), (x1, y1, _) in zip(curve, curve[1:]):
        if y1 <= rmse < y0:
            return float(np.exp(np.interp(np.log(rmse), [np.log(y1), np.log(y0)], [np.log(x1), np.log(x0)])))
    return curve[0][0] if curve and curve[0][1] <= rmse else None


def loop_against_md(points: list[dict]) -> str:
    """The loop's last point against (6): the labels (6) needs for the same force RMSE over all families."""
    by_strategy = curves(points, force(ALL))
    if "8" not in by_strategy or "6" not in by_strategy:
        return ""
    labels, rmse, _ = min(by_strategy["8"], key=lambda point: point[1])
    md = labels_for(by_strategy["6"], rmse)
    ratio = f"{md / labels:.1f}x the labels" if md else "more than its largest budget"
    return (
        f"The loop's best, {rmse:.3f} eV/A at {labels:.0f} labels: (6) needs "
        f"{_fmt(md, 0) if md else 'more'} labels for the same force RMSE ({ratio})."
    )


def summary_lines(points: list[dict], results: dict) -> list[str]:
    best = whole_pool(points)
    if not best:
        return ["(9) was not run: nothing to compare with."]
    reached = labels_to_target(points)
    budgets = sorted({b for (s, b) in groups(points) if s != "8" and s != "9"})
    decisive = [b for b in (200, 400) if b in budgets] or budgets[-1:]
    lines = [f"(9) all {best['labels']} pool frames: test force RMSE {_fmt(force(ALL)(best))} eV/A over all families."]
    check = results.get("convergence_check")
    if check:
        change = check["relative_change"]
        verdict = (
            "data-limited"
            if max(abs(v) for v in change.values()) < DATA_LIMITED
            else "NOT data-limited: the rule trains too little"
        )
        lines.append(
            f"Convergence: (9) trained {check['steps_factor']:g}x longer "
            f"({check['steps'][0]} -> {check['steps'][1]} steps) "
            f"changes its force error by {100 * change.get('force', np.nan):+.1f} % and its energy error by "
            f"{100 * change.get('energy', np.nan):+.1f} %: {verdict}."
        )
    for b in decisive:
        lines.append(f"Random structures against the recipe, {_compare(points, ('4', '3', '1', '2'), b)}.")
        lines.append(f"Correlated MD against uncorrelated displacements, {_compare(points, ('5', '6', '3'), b)}.")
    lines.append(
        "Labels to within 10 % of (9)'s force RMSE on every family: "
        + ", ".join(_reach(reached, s) for s in STRATEGIES if s in reached and s != "9")
        + "."
    )
    loop, md = reached.get("8", {}).get("forces"), reached.get("6", {}).get("forces")
    target = loop is not None and loop <= 300 and (md is None or md >= 3 * loop)
    lines.append(
        f"The loop (8) against the target (at most 300 labels, 3x fewer than (6)): "
        f"{'met' if target else 'not met'} ({_fmt(loop, 0) if loop else 'not reached'} against (6)'s "
        f"{_fmt(md, 0) if md else 'not reached'})."
    )
    comparison = loop_against_md(points)
    return lines + ([comparison] if comparison else [])
