"""The convert pipeline over files: discover -> read with gates (in parallel) -> dataset gates -> write."""

from __future__ import annotations

import json
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from pathlib import Path

from ..errors import UserError
from .discover import Run, find_runs
from .read import FileReport, read_run, recover_from_other_file, unreadable
from .write import drop_duplicates, drop_energy_outliers, split_by_run, write_index, write_output

REPORT_FILE, INDEX_FILE = "convert_report.json", "index.csv"


def _read(args):
    """One run's report row and frames; a file that cannot be read is a row with its reason, never the end."""
    run, type_map, max_force, include_ml, keep_species_mismatch = args

    def read(one: Run):
        return read_run(one, type_map, max_force, include_ml, keep_species_mismatch)

    try:
        report, frames = read(run)
    except Exception as exc:  # noqa: BLE001 - a cut .gz (EOFError), no permission (PermissionError), ...
        if isinstance(exc, ValueError) and "not in --type-map" in str(exc):
            raise UserError(f"{exc}; add it to --type-map or leave that file out") from None
        report, frames = unreadable(run, exc), []
    return report, recover_from_other_file(run, report, frames, read)


def convert(
    roots: list[Path],
    out_dir: Path,
    type_map: list[str] | None = None,
    fmt: str = "deepmd/npy",
    valid_fraction: float = 0.1,
    seed: int = 0,
    workers: int = 1,
    include_ml: bool = False,
    max_force_eV_A: float = 50.0,
    max_energy_deviation_eV_atom: float = 5.0,
    keep_species_mismatch: bool = False,
) -> dict:
    """Every run below roots into out_dir, with the per-file report; when no frame is usable only the report is
    written (frames_written 0)."""
    missing = [str(r) for r in roots if not Path(r).exists()]
    if missing:
        raise UserError(f"{', '.join(missing)} not found; pass folders or files holding VASP outputs")
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise UserError(f"output folder '{out_dir}' is not empty; choose a new -o folder (nothing was written)")
    runs = find_runs([Path(r) for r in roots])
    if not runs:
        raise UserError("no OUTCAR or vasprun.xml found below " + ", ".join(map(str, roots)))
    jobs = [(run, type_map, max_force_eV_A, include_ml, keep_species_mismatch) for run in runs]
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            results = list(pool.map(_read, jobs, chunksize=4))
    else:
        results = [_read(job) for job in jobs]
    reports: dict[str, FileReport] = {r.file: r for r, _ in results}
    report_of = {**{r.recovered_from: r for r in reports.values() if r.recovered_from}, **reports}  # by frame source
    frames = [f for _, fs in results for f in fs]
    frames, duplicates = drop_duplicates(frames)
    frames, outliers = drop_energy_outliers(frames, max_energy_deviation_eV_atom)
    for frame in duplicates:
        report_of[frame.source].reject("duplicate", frame.ionic_step)
    for frame, deviation in outliers:
        report_of[frame.source].reject("energy_outlier", frame.ionic_step, f"{deviation:+.3f} eV/atom from the median")
    for frame in duplicates + [f for f, _ in outliers]:
        report_of[frame.source].kept -= 1
    type_map = type_map or sorted(
        {n for f in frames for n, c in zip(f.system["atom_names"], f.system["atom_numbs"]) if c}
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    if frames:
        rows = write_output(frames, split_by_run(frames, valid_fraction, seed), out_dir, fmt, type_map)
        write_index(rows, out_dir / INDEX_FILE)
    totals = Counter()
    for report in reports.values():
        totals["found"] += report.found
        totals["kept"] += report.kept
        totals.update({f"rejected:{k}": v for k, v in report.rejected.items()})
        totals["ml_frames_excluded" if not include_ml else "ml_frames_included"] += report.ml_frames
    summary = {
        "type_map": type_map,
        "format": fmt,
        "runs": len(runs),
        "frames_written": len(rows),
        "train_frames": sum(r["split"] == "train" for r in rows),
        "valid_frames": sum(r["split"] == "valid" for r in rows),
        "totals": dict(totals),
        "files": [{**asdict(r), "rejected": dict(r.rejected)} for r in reports.values()],
    }
    (out_dir / REPORT_FILE).write_text(json.dumps(summary, indent=2))
    return summary


def report_table(summary: dict) -> str:
    lines = [f"{'file':<60} {'VASP':<8} {'elements':<14} {'found':>5} {'kept':>5}  rejected / notes"]
    for f in summary["files"]:
        notes = [f"{k} {v}" for k, v in f["rejected"].items()]
        if f["ml_frames"]:
            notes.append(
                f"ML frames {f['ml_frames']} "
                f"({'included' if summary['totals'].get('ml_frames_included') else 'excluded'})"
            )
        if not f["complete"]:
            notes.append("truncated")
        if not f["has_virial"]:
            notes.append("no virial")
        if f["error"]:
            notes.append(f["error"][:60])
        if f["recovered"]:
            notes.append(f"{f['recovered']} frame(s) read from {Path(f['recovered_from']).name}")
        notes.extend(f["warnings"][:1])
        if f["also_written"]:
            notes.append(f"+{len(f['also_written'])} file(s) of the same run not read again")
        name = f["file"] if len(f["file"]) <= 60 else "..." + f["file"][-57:]
        lines.append(
            f"{name:<60} {f['vasp_version']:<8} {f['elements'][:14]:<14} {f['found']:>5} {f['kept']:>5}  "
            f"{'; '.join(notes)}"
        )
    lines.append(
        f"{summary['frames_written']} frames written ({summary['train_frames']} train, "
        f"{summary['valid_frames']} validation) "
        f"from {summary['runs']} runs; type map {','.join(summary['type_map'])}"
    )
    return "\n".join(lines)
