"""Files that are there complete or not at all: made beside their place under a `.partial` name, then renamed
into it, so that a kill at any moment leaves either the old file or the new one, never half of one."""

from __future__ import annotations

import os
import shutil
from pathlib import Path


def partial_path(path: Path) -> Path:
    """Where `path` is made before it is renamed into place; a leftover one is from a killed writer."""
    path = Path(path)
    return path.with_name(path.name + ".partial")


def discard(path: Path) -> None:
    path = Path(path)
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def write_atomically(path: Path, text: str) -> Path:
    tmp = partial_path(path)
    tmp.write_text(text)
    tmp.replace(path)
    return Path(path)


def install(source: Path, target: Path) -> Path:
    """Copy a file or folder (a step's output) to target atomically."""
    source, target = Path(source), Path(target)
    tmp = partial_path(target)
    discard(tmp)
    target.parent.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, tmp, symlinks=False)
    else:
        shutil.copyfile(source, tmp)
    tmp.replace(target)
    return target


def user_cache_dir() -> Path:
    """$XDG_CACHE_HOME/dpdriver (~/.cache/dpdriver): what is kept between runs, never in a run's folder."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dpdriver"
