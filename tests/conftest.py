import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DPDRIVER = [sys.executable, "-m", "dpdriver.cli"]


def run_cli(*args, cwd=None, env=None, timeout=1800):
    """Run the real `dpdriver` command as a user would."""
    return subprocess.run(DPDRIVER + [str(a) for a in args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


@pytest.fixture
def cli():
    return run_cli
