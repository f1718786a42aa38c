"""The init stage: generate the planned structures, label them, and report per generator."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from ..label import label_to_data, make_labeler
from . import generate, ideal_crystal, plan_table
from .plan import check_labeler_can_generate

REPORT_FILE = "init_report.json"


def dry_run(config) -> str:
    """The plan table, computing nothing with the labeler."""
    labeler = make_labeler(config.labeler)
    check_labeler_can_generate(config, labeler)
    _, summaries = generate(config, labeler=None)
    return plan_table(summaries, len(ideal_crystal(config)), labeler.name)


def generate_initial_structures(config):
    """The kept structures (the labeler runs where a generator needs it) and a summary per generator."""
    labeler = make_labeler(config.labeler)
    labeler.check(config.element)
    structures, summaries = generate(config, labeler)
    return labeler, structures, [asdict(s) | {"labels": s.labels} for s in summaries]


def build_initial_data(config, out_dir: Path, work_dir: Path, quarantine_dir: Path) -> dict:
    """Label every kept structure into out_dir (deepmd/npy + provenance.jsonl + init_report.json); each failed
    task into quarantine_dir."""
    labeler, structures, generators = generate_initial_structures(config)
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    report = label_to_data(labeler, structures, out_dir, [config.element], work_dir, quarantine_dir=quarantine_dir)
    report["generators"] = generators
    (Path(out_dir) / REPORT_FILE).write_text(json.dumps(report, indent=2))
    return report


def result_table(report: dict) -> str:
    """Labeled and failed structures per generator, after a build."""
    failed: dict[str, int] = {}
    for failure in report["failed"]:
        name = failure["structure"].get("generator", "?")
        failed[name] = failed.get(name, 0) + 1
    lines = [f"{'generator':<20} {'labels':>7} {'failed':>7}"]
    for gen in report["generators"]:
        if gen["labels"]:
            lines.append(
                f"{gen['name']:<20} {gen['labels'] - failed.get(gen['name'], 0):>7} {failed.get(gen['name'], 0):>7}"
            )
    lines.append(f"{report['labeled']} of {report['requested']} structures labeled with {report['labeler']}")
    lines += [
        f"  failed #{f['index']} ({f['structure'].get('generator', '?')}): {f['reason']}" for f in report["failed"][:10]
    ]
    return "\n".join(lines)
