"""Finding VASP outputs in a tree and grouping the files that belong to one run."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

COMPRESSED = (".gz", ".xz", ".bz2")


def strip_compression(name: str) -> str:
    for suffix in COMPRESSED:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def kind_of(path: Path) -> str | None:
    """'outcar', 'xml' or None, from the usual names and their variants (OUTCAR.relax1, vasprun.xml.ionic, *.gz)."""
    name = strip_compression(path.name)
    if re.fullmatch(r"OUTCAR([._-].*)?", name):
        return "outcar"
    if re.fullmatch(r"vasprun([._-].*)?", name) and ".xml" in name:
        return "xml"
    return None


def variant_of(path: Path) -> str:
    """What distinguishes a run's files in a folder: OUTCAR.relax1 and vasprun.xml.relax1 share '.relax1'."""
    name = strip_compression(path.name)
    return re.sub(r"^(OUTCAR|vasprun(\.xml)?)", "", name).replace(".xml", "")


@dataclass
class Run:
    """One VASP run: the file frames are read from, and the files not read because they repeat it."""

    run_id: str
    source: Path
    kind: str
    also_written: list[Path] = field(default_factory=list)


def find_runs(roots: list[Path]) -> list[Run]:
    """Every run below the roots; OUTCAR is preferred when a run also left a vasprun.xml."""
    files = []
    for root in roots:
        root = Path(root)
        candidates = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        files.extend(p for p in candidates if kind_of(p))
    runs: dict[tuple[Path, str], list[Path]] = {}
    for path in files:
        runs.setdefault((path.parent.resolve(), variant_of(path)), []).append(path)
    result = []
    for (_folder, variant), paths in sorted(runs.items(), key=lambda item: (str(item[0][0]), item[0][1])):
        paths.sort(key=lambda p: (kind_of(p) != "outcar", p.name.endswith(COMPRESSED), p.name))
        source = paths[0]
        result.append(Run(f"{source.parent}/{variant or '.'}", source, kind_of(source), paths[1:]))
    return result
