"""dpdriver as a user installs it: a built wheel, not the editable checkout, run from elsewhere."""

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from conftest import run_cli
from test_label import potcar_library

from dpdriver.data import count_frames

REPO = Path(__file__).resolve().parents[1]
VASP_INIT = """\
element: Cu
labeler: {{kind: vasp, command: 'cp INCAR {seen}; false', potcar_dir: {potcars}}}
initial_data:
  generators:
    - {{kind: volume_scan, volume_change_range: [-0.03, 0.03], count: 2}}
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """dpdriver's wheel, built from a copy of the sources (the build writes build/ and *.egg-info beside them)."""
    tmp_path = tmp_path_factory.mktemp("wheel")
    source = tmp_path / "source"
    for name in ("dpdriver", "templates"):
        shutil.copytree(REPO / name, source / name, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", tmp_path / "wheel", source],
        check=True,
        capture_output=True,
    )
    (built,) = (tmp_path / "wheel").glob("*.whl")
    return built


def test_the_wheel_in_a_fresh_venv_runs_the_cu_example_first_stage(wheel, tmp_path):
    """A new venv with only the wheel installed (its dependencies seen from this environment's site-packages,
    as if already installed): the `dpdriver` command labels the Cu example's initial data."""
    fresh = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", fresh], check=True)
    (site,) = (fresh / "lib").glob("python3*/site-packages")
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", fresh / "bin" / "python", "install", "-q", "--no-deps", wheel],
        check=True,
        capture_output=True,
    )
    config = tmp_path / "cu-emt.yaml"
    shutil.copy(REPO / "examples" / "cu-emt" / "config.yaml", config)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    result = subprocess.run(
        [fresh / "bin" / "dpdriver", "init", config, "-o", tmp_path / "init"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    where = subprocess.run(
        [fresh / "bin" / "python", "-c", "import dpdriver.cli; print(dpdriver.cli.__file__)"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
    )
    assert where.stdout.startswith(str(site)), where.stdout + where.stderr
    assert count_frames(tmp_path / "init" / "data") == 42  # 5 volumes x 6 + vacancy x 3 + 3 slabs x 3


def test_a_built_wheel_carries_its_templates(wheel, tmp_path):
    """The VASP inputs are rendered from templates/; a wheel that lacked them failed with TemplateNotFound."""
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", site, wheel],
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
