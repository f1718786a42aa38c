import pytest

from dpdriver import doctor
from dpdriver.errors import UserError

pytestmark = pytest.mark.slow


def test_doctor_passes_on_this_install(cli):
    result = cli("doctor")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("ok    ") == 5 and "FAIL" not in result.stdout
    assert "ran 10 MD steps" in result.stdout and "W-snap-2017" in result.stdout


def test_a_probe_of_lmp_that_never_ends_is_one_line_after_a_retry(tmp_path, monkeypatch):
    """A hung `lmp` (seen once in a loaded CI run) is reported with what to do, not as an internal error."""

    hung = tmp_path / "lmp"
    hung.write_text(f"#!/bin/sh\necho started >> {tmp_path / 'calls'}\nexec sleep 30\n")
    hung.chmod(0o755)
    monkeypatch.setenv("DPDRIVER_LMP", str(hung))
    monkeypatch.setattr(doctor, "PROBE_TIMEOUT_S", 1)
    with pytest.raises(UserError, match="`lmp -in in.probe` did not end within 1 s, 2 times"):
        doctor.check_pair_style(tmp_path)
    assert (tmp_path / "calls").read_text().count("started") == 2
