import pytest

pytestmark = pytest.mark.slow


def test_doctor_passes_on_this_install(cli):
    result = cli("doctor")
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("ok    ") == 5 and "FAIL" not in result.stdout
    assert "ran 10 MD steps" in result.stdout and "W-snap-2017" in result.stdout
