"""Per-ionic-step electronic convergence, read from what the VASP files themselves say.

dpdata only compares the iteration count with NELM, which drops steps that converged on exactly
the last allowed iteration. Here a step that stopped before NELM converged (VASP said so); a step
that used all NELM iterations converged only if its last energy changes are below EDIFF.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import IO, Optional


@dataclass
class IonicStep:
    index: int  # 0-based, in file order, DFT steps only
    energy_eV: Optional[float]
    iterations: int
    last_energy_change_eV: Optional[float]
    converged: bool


def _converged(iterations: int, nelm: int, change: Optional[float], ediff: float) -> bool:
    if iterations < nelm:
        return True
    return change is not None and abs(change) < ediff


_FLOAT = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[EeDd][-+]?\d+)?"


def scan_outcar(lines: IO[str]) -> tuple[list[IonicStep], int, dict]:
    """Ionic steps of an OUTCAR (ML-predicted steps excluded), the count of ML steps, and settings."""
    nelm, ediff = 60, 1e-4
    steps: list[IonicStep] = []
    iterations, change, ml_steps = 0, None, 0
    for line in lines:
        if "NELM   =" in line or line.lstrip().startswith("NELM"):
            m = re.search(r"NELM\s*=\s*(\d+)", line)
            if m:
                nelm = int(m.group(1))
        elif "EDIFF  =" in line:
            m = re.search(r"EDIFF\s*=\s*(" + _FLOAT + ")", line)
            if m:
                ediff = float(m.group(1).replace("D", "E").replace("d", "e"))
        elif "Iteration" in line and "(" in line:
            m = re.search(r"Iteration\s+\d+\s*\(\s*(\d+)\)", line)
            if m:
                iterations = max(iterations, int(m.group(1)))
        elif "total energy-change (2. order)" in line:
            values = re.findall(_FLOAT, line.split(":", 1)[1])
            if values:
                change = max(abs(float(v)) for v in values[:2])
        elif "free  energy ML TOTEN" in line:
            ml_steps += 1
        elif "free  energy   TOTEN" in line:
            m = re.search(r"TOTEN\s*=\s*(" + _FLOAT + ")", line)
            energy = float(m.group(1)) if m else None
            steps.append(IonicStep(len(steps), energy, iterations, change, _converged(iterations, nelm, change, ediff)))
            iterations, change = 0, None
    return steps, ml_steps, {"NELM": nelm, "EDIFF": ediff}


def scan_vasprun(stream) -> tuple[list[IonicStep], dict, bool]:
    """Ionic steps of a vasprun.xml up to where it breaks off; True when the file was complete."""
    found: dict[str, float] = {}  # the first NELM/EDIFF of <parameters> (later ones belong to GW settings)
    steps: list[IonicStep] = []
    complete = True
    in_parameters = False
    try:
        for event, element in ET.iterparse(stream, events=("start", "end")):
            if event == "start":
                in_parameters = in_parameters or element.tag == "parameters"
                continue
            if element.tag == "parameters":
                in_parameters = False
            elif element.tag == "i" and in_parameters and element.get("name") in ("NELM", "EDIFF"):
                found.setdefault(element.get("name"), float((element.text or "nan").strip()))
            elif element.tag == "calculation":
                energies = []
                for scstep in element.findall("scstep"):
                    e = scstep.find("energy/i[@name='e_fr_energy']")
                    if e is not None and e.text:
                        energies.append(float(e.text))
                change = abs(energies[-1] - energies[-2]) if len(energies) >= 2 else None
                final = element.find("energy/i[@name='e_fr_energy']")
                energy = float(final.text) if final is not None and final.text else None
                n = len(element.findall("scstep"))
                nelm, ediff = int(found.get("NELM", 60)), found.get("EDIFF", 1e-4)
                steps.append(IonicStep(len(steps), energy, n, change, _converged(n, nelm, change, ediff)))
                element.clear()
    except ET.ParseError:
        complete = False
    return steps, {"NELM": int(found.get("NELM", 60)), "EDIFF": found.get("EDIFF", 1e-4)}, complete
