"""Reading one VASP run with dpdata, then the gates dpdata does not give, frame by frame."""

from __future__ import annotations

import bz2
import gzip
import lzma
import mmap
import re
import shutil
import tempfile
import warnings
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import dpdata
import numpy as np

from ..data import non_finite_labels
from ..errors import one_line
from .discover import Run, kind_of
from .scf import IonicStep, scan_outcar, scan_vasprun

OPENERS = {".gz": gzip.open, ".xz": lzma.open, ".bz2": bz2.open}


@dataclass
class Frame:
    system: dpdata.LabeledSystem  # one frame
    source: str
    ionic_step: int
    run_id: str
    ml_predicted: bool = False


@dataclass
class FileReport:
    file: str
    kind: str
    vasp_version: str = "?"
    elements: str = ""
    found: int = 0
    kept: int = 0
    rejected: Counter = field(default_factory=Counter)
    ml_frames: int = 0
    complete: bool = True
    has_virial: bool = True
    error: str | None = None
    also_written: list[str] = field(default_factory=list)
    rejections: list[dict] = field(default_factory=list)  # per rejected frame: ionic step, reason, value
    warnings: list[str] = field(default_factory=list)  # what dpdata warned, e.g. POSCAR/POTCAR species order
    recovered_from: str | None = None  # the run's other file, which gave the frames this one could not
    recovered: int = 0

    def reject(self, reason: str, ionic_step: int, value=None) -> None:
        self.rejected[reason] += 1
        self.rejections.append({"ionic_step": ionic_step, "reason": reason, "value": value})


@contextmanager
def plain_file(path: Path):
    """The path itself, or a decompressed temporary copy (dpdata reads paths, not streams)."""
    opener = OPENERS.get(path.suffix)
    if opener is None:
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="dpdriver-convert-") as tmp:
        target = Path(tmp) / path.stem
        with opener(path, "rb") as src, open(target, "wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
        yield target


def tail_text(path: Path, size: int = 20000) -> str:
    with open(path, "rb") as f:
        f.seek(max(0, path.stat().st_size - size))
        return f.read().decode(errors="replace")


def vasp_version(path: Path, kind: str) -> str:
    with open(path, errors="replace") as f:
        head = f.read(20000)
    pattern = r"vasp\.(\d+\.\d+(?:\.\d+)?)" if kind == "outcar" else r'name="version"[^>]*>\s*([\d.]+)'
    m = re.search(pattern, head)
    return m.group(1) if m else "?"


def _match_steps(energies: np.ndarray, steps: list[IonicStep], by_energy: bool) -> list[IonicStep | None]:
    """The ionic step of each dpdata frame: by energy in file order (OUTCAR), or by order (vasprun.xml)."""
    if not by_energy:
        return [steps[i] if i < len(steps) else None for i in range(len(energies))]
    matched, start = [], 0
    for energy in energies:
        hit = next(
            (
                j
                for j in range(start, len(steps))
                if steps[j].energy_eV is not None and abs(steps[j].energy_eV - energy) < 1e-4
            ),
            None,
        )
        matched.append(steps[hit] if hit is not None else None)
        start = hit + 1 if hit is not None else start
    return matched


CHUNK_BYTES = 32 * 2**20  # vasprun.xml files above this are parsed a chunk of calculations at a time
CHUNK_STEPS = 200


def _dpdata_read(path: Path, fmt: str, **options) -> dpdata.LabeledSystem:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        system = dpdata.LabeledSystem(str(path), fmt=fmt, **options)
    system.caught_warnings = caught
    return system


def read_vasprun_in_chunks(path: Path, steps: list[IonicStep]) -> dpdata.LabeledSystem:
    """dpdata builds the whole XML tree; for a long run, feed it the calculations a chunk at a time."""

    with (
        open(path, "rb") as f,
        mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as text,
        tempfile.TemporaryDirectory(prefix="dpdriver-chunks-") as tmp,
    ):
        header = text[: steps[0].span[0]]
        system, caught = None, []
        for first in range(0, len(steps), CHUNK_STEPS):
            chunk = Path(tmp) / "vasprun.xml"
            with open(chunk, "wb") as out:
                out.write(header)
                for step in steps[first : first + CHUNK_STEPS]:
                    out.write(text[step.span[0] : step.span[1]] + b"\n")
                out.write(b"</modeling>\n")
            part = _dpdata_read(chunk, "vasp/xml", convergence_check=False)
            caught += part.caught_warnings
            if system is None:
                system = part
            else:
                system.append(part)
    system.caught_warnings = caught
    return system


def _report_of(run: Run) -> FileReport:
    return FileReport(str(run.source), run.kind, also_written=[str(p) for p in run.also_written])


SPECIES_MISMATCH = "does not match the explicit composition in the POSCAR title"  # dpdata's warning


def read_run(
    run: Run, type_map: list[str] | None, max_force_eV_A: float, include_ml: bool, keep_species_mismatch: bool = False
) -> tuple[FileReport, list[Frame]]:
    report = _report_of(run)
    frames: list[Frame] = []
    with plain_file(run.source) as path:
        report.vasp_version = vasp_version(path, run.kind)
        if run.kind == "outcar":
            steps, report.ml_frames, _ = scan_outcar(path)
            report.complete = "General timing and accounting" in tail_text(path)
        else:
            steps, _, report.complete = scan_vasprun(path)
        fmt = "vasp/outcar" if run.kind == "outcar" else "vasp/xml"
        try:
            if run.kind == "xml" and steps and path.stat().st_size > CHUNK_BYTES:
                system = read_vasprun_in_chunks(path, steps)
            else:
                system = _dpdata_read(path, fmt, convergence_check=False)
            report.warnings = sorted(
                {
                    str(w.message).splitlines()[0][:200]
                    for w in system.caught_warnings
                    if "unconverged" not in str(w.message) and "convergence" not in str(w.message)
                }
            )
        except Exception as exc:  # dpdata raises many types on damaged files; the report keeps the reason
            report.error = one_line(exc, 200)
            report.found = len(steps)
            if steps:
                report.rejected["unreadable"] = len(steps)
            return report, frames
        ml_system = None
        if include_ml and report.ml_frames:
            ml_system = _dpdata_read(path, fmt, ml=True)
    report.elements = ",".join(f"{n}{c}" for n, c in zip(system["atom_names"], system["atom_numbs"]) if c)
    report.has_virial = "virials" in system.data
    unknown = [n for n, c in zip(system["atom_names"], system["atom_numbs"]) if c and type_map and n not in type_map]
    if unknown:
        raise ValueError(f"{run.source}: element(s) {', '.join(unknown)} not in --type-map {','.join(type_map)}")
    report.found = max(len(steps), len(system))
    matched = _match_steps(system["energies"], steps, by_energy=run.kind == "outcar")
    unmatched_steps = report.found - len(system)
    if unmatched_steps > 0:
        report.rejected["incomplete_step" if not report.complete else "unparsed_step"] += unmatched_steps
    # VASP pairs POSCAR's counts with POTCAR's species order: when they contradict the POSCAR title, the run may
    # have used the wrong potentials, and no label of it is trusted unless the user says the POTCAR order was meant
    species_mismatch = any(SPECIES_MISMATCH in w for w in report.warnings) and not keep_species_mismatch
    for i, step in enumerate(matched):
        ionic_step = step.index if step else i
        frame = system[i]
        non_finite = non_finite_labels(frame)
        if species_mismatch:
            report.reject(
                "species_order",
                ionic_step,
                "POTCAR species paired with the POSCAR counts contradict the "
                "POSCAR title; --keep-species-mismatch keeps them",
            )
        elif step is not None and not step.converged:
            report.reject("scf_unconverged", ionic_step, step.last_energy_change_eV)
        elif non_finite:
            report.reject("non_finite", ionic_step, "NaN or infinity in " + ", ".join(non_finite))
        elif (max_force := float(np.max(np.linalg.norm(frame["forces"][0], axis=1)))) > max_force_eV_A:
            report.reject("force_above_threshold", ionic_step, max_force)
        else:
            frames.append(Frame(frame, str(run.source), ionic_step, run.run_id))
    if ml_system is not None:
        frames.extend(
            Frame(ml_system[i], str(run.source), -1 - i, run.run_id, ml_predicted=True) for i in range(len(ml_system))
        )
    report.kept = len(frames)
    return report, frames


LOST = ("unparsed_step", "incomplete_step", "unreadable")  # frames a file had but could not give


def unreadable(run: Run, exc: Exception) -> FileReport:
    """A file that cannot even be opened or decompressed (EOFError of a cut .gz, PermissionError): one report row."""
    report = _report_of(run)
    report.error = one_line(exc, 200)
    return report


def recover_from_other_file(run: Run, report: FileReport, frames: list[Frame], read) -> list[Frame]:
    """The frames this run's file lost (NWRITE=0 OUTCARs, 'cannot find forces'), from the run's other file
    (vasprun.xml beside an OUTCAR, or the reverse) where it has them; each recovered frame names its file."""
    lost = sum(report.rejected[reason] for reason in LOST)
    other = next((p for p in run.also_written if kind_of(p) != run.kind), None)
    if not (lost or report.error) or other is None:
        return frames
    try:
        other_report, other_frames = read(Run(run.run_id, other, kind_of(other)))
    except Exception:  # noqa: BLE001 - the other file is no better: nothing to recover
        return frames
    known = {f.ionic_step for f in frames} | {r["ionic_step"] for r in report.rejections}
    recovered = [f for f in other_frames if f.ionic_step not in known and not f.ml_predicted]
    rejections = [r for r in other_report.rejections if r["ionic_step"] not in known]
    for _ in range(len(recovered) + len(rejections)):  # each now accounted for: no longer lost
        reason = next((r for r in LOST if report.rejected[r]), None)
        if reason is None:
            break
        report.rejected[reason] -= 1
        if not report.rejected[reason]:
            del report.rejected[reason]
    for r in rejections:
        report.reject(r["reason"], r["ionic_step"], r["value"])
    report.found = max(report.found, other_report.found)
    if recovered:
        report.recovered_from, report.recovered = str(other), len(recovered)
        report.kept += len(recovered)
    return frames + recovered
