"""The data-efficiency study at toy sizes (--quick): every strategy's data is made, a model trained under the one
rule and evaluated on every held-out family and the property set; the outputs are written; a second run reuses all."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

STUDY = Path(__file__).resolve().parents[1] / "benchmarks" / "data_efficiency" / "run.py"
STRATEGIES = {"1", "2", "3", "4", "5", "6", "7f", "7c", "8", "9"}


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
    assert {p["strategy"] for p in points} == STRATEGIES
    families = {"md_450K", "liquid", "vacancy", "surface", "strained", "all"}
    for p in points:
        assert set(p["test"]) == families, p["strategy"]
        assert all(e["force_rmse_eV_A"] > 0 and e["frames"] > 0 for e in p["test"].values())
        assert "a0" in p["properties"] or "error" in p["properties"]
        assert p["training"]["cpu_s"] > 0 and p["training"]["steps"] >= 40
    # budgets are labels in the training set: 8 frames for 1-7c, the whole 32-frame pool for 9 (and its longer check)
    assert all(p["labels"] == 8 for p in points if p["strategy"] not in ("8", "9"))
    assert sorted((p["labels"], p["steps_factor"]) for p in points if p["strategy"] == "9") == [(32, 1.0), (32, 1.5)]
    assert results["convergence_check"]["steps"] == [40, 60]
    # the loop: 4 initial frames (the quick loop's volume scan), then a round capped to land on the budget
    loop = sorted((p for p in points if p["strategy"] == "8"), key=lambda p: p["labels"])
    assert [p["round"] for p in loop] == [None, 0] and loop[0]["labels"] == 4 < loop[1]["labels"] <= 8
    assert loop[1]["selection"]["selected"] == loop[1]["labels"] - 4
    table = (out / "table.md").read_text()
    assert all(f"({s})" in table for s in STRATEGIES) and "nan" not in table.lower()
    assert "labels to (9)'s forces" in table
    summary = (out / "summary.md").read_text()
    assert "(9) all 32 pool frames" in summary and "Convergence: (9) trained 1.5x longer (40 -> 60 steps)" in summary
    assert "C44" in (out / "properties.md").read_text()
    for png in ("force_rmse.png", "energy_rmse.png", "property_errors.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((out / "settings.json").read_text())["budgets"] == [8]

    models = sorted((out / "work").rglob("graph.pb"))
    stamps = [m.stat().st_mtime_ns for m in models]
    again = run_study(out)
    assert again.returncode == 0, again.stderr[-2000:]
    assert [m.stat().st_mtime_ns for m in sorted((out / "work").rglob("graph.pb"))] == stamps  # nothing retrained
    assert json.loads((out / "results.json").read_text())["points"] == points

    # a study continued elsewhere (its work folder's models gone): the committed point records are reused
    assert len(list((out / "points").glob("*.json"))) == len(points)
    shutil.rmtree(out / "work" / "models")
    elsewhere = run_study(out)
    assert elsewhere.returncode == 0, elsewhere.stderr[-2000:]
    assert not list((out / "work" / "models").rglob("graph.pb"))  # nothing trained again (7c's ranking is kept too)
    assert json.loads((out / "results.json").read_text())["points"] == points

    # a report from the records alone (the work folder gone, the study cut short before (9)): partial, and says so
    shutil.rmtree(out / "work")
    for record in (out / "points").glob("9-*.json"):
        record.unlink()
    partial = run_study(out, "--report")
    assert partial.returncode == 0, partial.stderr[-2000:]
    reported = json.loads((out / "results.json").read_text())
    assert reported["partial"] is True
    assert sorted((p["strategy"], p["labels"], p["test"]["all"]["force_rmse_eV_A"]) for p in reported["points"]) == (
        sorted(
            (p["strategy"], p["labels"], p["test"]["all"]["force_rmse_eV_A"]) for p in points if p["strategy"] != "9"
        )
    )
    assert not list((out / "work").rglob("graph.pb"))  # nothing trained
    summary = (out / "summary.md").read_text()
    assert summary.startswith(f"**Partial results: the {len(points) - 2} points recorded so far")
    assert "(9) was not run" in summary and "(7f)" in (out / "table.md").read_text()


def test_a_report_without_recorded_points_is_one_line(tmp_path):
    empty = run_study(tmp_path / "none", "--report")
    assert empty.returncode == 1 and not empty.stdout
    assert empty.stderr.strip().splitlines() == [
        f"no recorded points in {tmp_path / 'none' / 'points'}: run the study first"
    ]
