"""dpdriver as a user installs it: a built wheel, not the editable checkout, run from elsewhere."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from conftest import run_cli
from test_label import potcar_library

REPO = Path(__file__).resolve().parents[1]
VASP_INIT = """\
element: Cu
labeler: {{kind: vasp, command: 'cp INCAR {seen}; false', potcar_dir: {potcars}}}
initial_data:
  generators:
    - {{kind: volume_scan, volume_change_range: [-0.03, 0.03], count: 2}}
"""


def test_a_built_wheel_carries_its_templates(tmp_path):
    """The VASP inputs are rendered from templates/; a wheel that lacked them failed with TemplateNotFound."""
    source = tmp_path / "source"  # the build writes build/ and *.egg-info beside the sources: not in the checkout
    for name in ("dpdriver", "templates"):
        shutil.copytree(REPO / name, source / name, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", tmp_path / "wheel", source],
        check=True,
        capture_output=True,
    )
    site = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--target",
            site,
            *(tmp_path / "wheel").glob("*.whl"),
        ],
        check=True,
        capture_output=True,
    )
    installed = {"PYTHONPATH": str(site)}  # ahead of the editable checkout on sys.path
    where = subprocess.run(
        [sys.executable, "-c", "import dpdriver.cli; print(dpdriver.cli.__file__)"],
        cwd=tmp_path,
        env={**os.environ, **installed},
        capture_output=True,
        text=True,
    )
    assert where.stdout.startswith(str(site)), where.stdout + where.stderr

    seen = tmp_path / "INCAR.seen"
    config = tmp_path / "vasp.yaml"
    potcars = potcar_library(tmp_path / "potcars", {"Cu/POTCAR": ("Cu", 295.4)})
    config.write_text(VASP_INIT.format(seen=seen, potcars=potcars))
    result = run_cli("init", config, "-o", tmp_path / "out", cwd=tmp_path, env=installed)
    assert result.returncode != 0 and "TemplateNotFound" not in result.stderr  # the fake VASP labels nothing
    assert "ENCUT" in seen.read_text()
