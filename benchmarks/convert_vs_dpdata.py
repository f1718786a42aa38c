"""dpdriver convert vs a bare loop of dpdata calls over the same VASP files, in one run.

Usage: python benchmarks/convert_vs_dpdata.py [FIXTURES_DIR] [--repeat N]
Prints frames/s of both, the ratio (target: single-worker convert <= 1.2x the bare loop's time),
the speedup of --workers 2, and the peak memory (RSS) of each, each measured in a fresh process;
then peak memory on one vasprun.xml of 100 and of 3,000 frames.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "fixtures" / "vasp"

BARE = """
import resource, sys, time, warnings
from pathlib import Path
import dpdata
from dpdriver.convert.discover import find_runs
from dpdriver.convert.read import plain_file
runs = find_runs([Path(sys.argv[1])])
t = time.perf_counter(); frames = 0
for run in runs:
    with plain_file(run.source) as path:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fmt = "vasp/outcar" if run.kind == "outcar" else "vasp/xml"
                frames += len(dpdata.LabeledSystem(str(path), fmt=fmt))
        except Exception:
            pass
print(time.perf_counter() - t, frames, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""

CONVERT = """
import resource, sys, time
from pathlib import Path
from dpdriver.convert.pipeline import convert
t = time.perf_counter()
summary = convert([Path(sys.argv[1])], Path(sys.argv[2]), workers=int(sys.argv[3]))
peak_kB = max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN))
print(time.perf_counter() - t, summary["frames_written"], peak_kB)
"""


def measure(script: str, *args: str) -> tuple[float, int, int]:
    out = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, check=True).stdout
    seconds, frames, rss_kb = out.split()[-3:]
    return float(seconds), int(frames), int(rss_kb)


def long_vasprun(fixtures: Path, frames: int, folder: Path) -> Path:
    """A vasprun.xml of `frames` ionic steps: a real MD file's last <calculation> repeated.

    The frames are identical, so convert keeps one (the rest are duplicates): this measures reading.
    """
    text = (fixtures / "dpdata/tests/poscars/vasprun.h2o.md.xml").read_text()
    start, end = text.rfind("<calculation>"), text.rfind("</calculation>") + len("</calculation>")
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "vasprun.xml"
    with open(path, "w") as f:
        f.write(text[:start])
        for _ in range(frames):
            f.write(text[start:end] + "\n")
        f.write(text[end:])
    return path


def memory_by_frames(fixtures: Path) -> dict:
    """Peak RSS of convert and of the bare dpdata loop on one file of 100 and of 3,000 frames."""
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        for frames in (100, 3000):
            folder = long_vasprun(fixtures, frames, Path(tmp) / f"md{frames}").parent
            bare = measure(BARE, str(folder))
            conv = measure(CONVERT, str(folder), f"{tmp}/out{frames}", "1")
            rows[frames] = {
                "file_MB": folder.joinpath("vasprun.xml").stat().st_size / 2**20,
                "bare_peak_rss_MB": bare[2] / 1024,
                "convert_peak_rss_MB": conv[2] / 1024,
                "convert_seconds": conv[0],
                "bare_seconds": bare[0],
                "frames_written": conv[1],
            }
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("fixtures", nargs="?", default=str(DEFAULT))
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    best = {}
    for _ in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            results = {
                "bare_dpdata": measure(BARE, args.fixtures),
                "convert_1_worker": measure(CONVERT, args.fixtures, f"{tmp}/w1", "1"),
                "convert_2_workers": measure(CONVERT, args.fixtures, f"{tmp}/w2", "2"),
            }
        for name, result in results.items():
            best[name] = min(best.get(name, result), result)
    report = {
        name: {"seconds": s, "frames": f, "frames_per_s": f / s, "peak_rss_MB": rss / 1024}
        for name, (s, f, rss) in best.items()
    }
    report["time_ratio_convert_1_worker_over_bare"] = best["convert_1_worker"][0] / best["bare_dpdata"][0]
    report["speedup_2_workers"] = best["convert_1_worker"][0] / best["convert_2_workers"][0]
    report["memory_by_frames_in_one_file"] = memory_by_frames(Path(args.fixtures))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
