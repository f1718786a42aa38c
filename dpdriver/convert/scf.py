"""Per-ionic-step electronic convergence, read from what the VASP files themselves say.

dpdata only compares the iteration count with NELM, which drops steps that converged on exactly
the last allowed iteration. Here a step that stopped before NELM converged (VASP said so); a step
that used all NELM iterations converged only if its last energy changes are below EDIFF.
"""

from __future__ import annotations

import mmap
import os
import re
from dataclasses import dataclass
from typing import Optional


@dataclass
class IonicStep:
    index: int  # 0-based, in file order, DFT steps only
    energy_eV: Optional[float]
    iterations: int
    last_energy_change_eV: Optional[float]
    converged: bool
    span: Optional[tuple[int, int]] = None  # byte range of a vasprun.xml <calculation>, for chunked reading


def _converged(iterations: int, nelm: int, change: Optional[float], ediff: float) -> bool:
    if iterations < nelm:
        return True
    return change is not None and abs(change) < ediff


_FLOAT = rb"[-+]?(?:\d+\.?\d*|\.\d+)(?:[EeDd][-+]?\d+)?"
_OUTCAR_EVENTS = re.compile(
    rb"NELM\s*=\s*(?P<nelm>\d+)"
    rb"|EDIFF\s*=\s*(?P<ediff>" + _FLOAT + rb")"
    rb"|Iteration\s+\d+\s*\(\s*(?P<iteration>\d+)\)"
    rb"|total energy-change \(2\. order\)\s*:\s*(?P<change>" + _FLOAT + rb")\s*\(\s*(?P<band_change>" + _FLOAT + rb")?"
    rb"|free  energy ML TOTEN(?P<ml>)"
    rb"|free  energy   TOTEN\s*=\s*(?P<energy>" + _FLOAT + rb")"
)


def _float(raw: bytes) -> float:
    return float(raw.replace(b"D", b"E").replace(b"d", b"e"))


def scan_outcar(path) -> tuple[list[IonicStep], int, dict]:
    """Ionic steps of an OUTCAR (ML-predicted steps excluded), the count of ML steps, and settings.

    One regular-expression pass over the memory-mapped file: fast, and flat in memory.
    """
    nelm, ediff = None, None
    steps: list[IonicStep] = []
    iterations, change, ml_steps = 0, None, 0
    with open(path, "rb") as f:
        if os.fstat(f.fileno()).st_size == 0:
            return steps, 0, {"NELM": 60, "EDIFF": 1e-4}
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as text:
            for m in _OUTCAR_EVENTS.finditer(text):
                kind = m.lastgroup
                if kind == "nelm":
                    nelm = nelm or int(m.group("nelm"))
                elif kind == "ediff":
                    ediff = ediff if ediff is not None else _float(m.group("ediff"))
                elif kind == "iteration":
                    iterations = max(iterations, int(m.group("iteration")))
                elif kind in ("change", "band_change"):
                    values = [_float(v) for v in (m.group("change"), m.group("band_change")) if v]
                    change = max(abs(v) for v in values)
                elif kind == "ml":
                    ml_steps += 1
                elif kind == "energy":
                    converged = _converged(iterations, nelm or 60, change, 1e-4 if ediff is None else ediff)
                    steps.append(IonicStep(len(steps), _float(m.group("energy")), iterations, change, converged))
                    iterations, change = 0, None
    return steps, ml_steps, {"NELM": nelm or 60, "EDIFF": 1e-4 if ediff is None else ediff}


_VASPRUN_EVENTS = re.compile(
    rb"<(?P<open>parameters|calculation|scstep)>"
    rb"|</(?P<close>parameters|calculation|scstep)>"
    rb"|name=\"(?P<setting>NELM|EDIFF)\">\s*(?P<setting_value>" + _FLOAT + rb")"
    rb"|name=\"e_fr_energy\">\s*(?P<energy>" + _FLOAT + rb")"
)


def scan_vasprun(path) -> tuple[list[IonicStep], dict, bool]:
    """Ionic steps of a vasprun.xml up to where it breaks off; True when the file was complete.

    A regular-expression pass over the memory-mapped file, not an XML parse: it reads a file cut
    off mid-element as far as it goes, fast and flat in memory. Only finished <calculation>s count.
    """
    found: dict[str, float] = {}  # the first NELM/EDIFF of <parameters> (later ones belong to GW settings)
    steps: list[IonicStep] = []
    in_parameters = in_scstep = False
    scstep_energies: list[float] = []
    final, opened_at = None, 0
    with open(path, "rb") as f:
        if os.fstat(f.fileno()).st_size == 0:
            return steps, {"NELM": 60, "EDIFF": 1e-4}, False
        with mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as text:
            complete = text.rfind(b"</modeling>", max(0, len(text) - 4096)) >= 0
            for m in _VASPRUN_EVENTS.finditer(text):
                kind = m.lastgroup
                if kind == "open":
                    tag = m.group("open")
                    in_parameters = in_parameters or tag == b"parameters"
                    if tag == b"calculation":
                        scstep_energies, final, in_scstep, opened_at = [], None, False, m.start()
                    elif tag == b"scstep":
                        in_scstep = True
                elif kind == "close":
                    tag = m.group("close")
                    if tag == b"parameters":
                        in_parameters = False
                    elif tag == b"scstep":
                        in_scstep = False
                    else:
                        nelm, ediff = int(found.get("NELM", 60)), found.get("EDIFF", 1e-4)
                        n = len(scstep_energies)
                        change = abs(scstep_energies[-1] - scstep_energies[-2]) if n >= 2 else None
                        steps.append(
                            IonicStep(
                                len(steps), final, n, change, _converged(n, nelm, change, ediff), (opened_at, m.end())
                            )
                        )
                elif kind == "setting_value" and in_parameters:
                    found.setdefault(m.group("setting").decode(), _float(m.group("setting_value")))
                elif kind == "energy":
                    if in_scstep:
                        scstep_energies.append(_float(m.group("energy")))
                    else:
                        final = _float(m.group("energy"))
    return steps, {"NELM": int(found.get("NELM", 60)), "EDIFF": found.get("EDIFF", 1e-4)}, complete
