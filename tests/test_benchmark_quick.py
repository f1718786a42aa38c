"""The data-efficiency study at toy sizes (--quick): every strategy's data is labeled, a model trained and
evaluated on every held-out family and the property set; the outputs are written; a second run reuses all."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

STUDY = Path(__file__).resolve().parents[1] / "benchmarks" / "data_efficiency" / "run.py"


def run_study(out: Path, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(STUDY), "--quick", "--out", str(out), *extra], capture_output=True, text=True, timeout=1200
    )


@pytest.mark.slow
def test_quick_study_runs_every_strategy_end_to_end(tmp_path):
    out = tmp_path / "quick"
    first = run_study(out)
    assert first.returncode == 0, first.stdout[-2000:] + first.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    points = results["points"]
    assert {p["strategy"] for p in points} == set("abcdefg")
    families = {"md_300K", "liquid", "vacancy", "surface", "strained", "all"}
    for p in points:
        assert set(p["test"]) == families, p["strategy"]
        assert all(e["force_rmse_eV_A"] > 0 and e["frames"] > 0 for e in p["test"].values())
        assert "a0" in p["properties"] or "error" in p["properties"]
    # budgets are labels actually in the training set: 8 frames for a-e, the whole 40-frame pool for g
    assert all(p["labels"] == 8 for p in points if p["strategy"] in "abcde")
    assert [p["labels"] for p in points if p["strategy"] == "g"] == [40]
    # active learning: 4 initial frames, then a round capped to land on the budget (fewer if nothing is selected)
    active = [p for p in points if p["strategy"] == "f"]
    assert [p["round"] for p in active] == [0, 1] and active[0]["labels"] == 4 < active[1]["labels"] <= 8
    assert active[0]["selection"]["selected"] == active[1]["labels"] - 4
    table = (out / "table.md").read_text()
    assert all(f"({s})" in table for s in "abcdefg") and "nan" not in table.lower()
    assert "(g) whole MD pool" in (out / "summary.md").read_text()
    for png in ("force_rmse.png", "energy_rmse.png", "property_errors.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((out / "settings.json").read_text())["budgets"] == [8]

    models = sorted((out / "work").rglob("graph.pb"))
    stamps = [m.stat().st_mtime_ns for m in models]
    again = run_study(out)
    assert again.returncode == 0, again.stderr[-2000:]
    assert [m.stat().st_mtime_ns for m in sorted((out / "work").rglob("graph.pb"))] == stamps  # nothing retrained
    assert json.loads((out / "results.json").read_text())["points"] == points
