"""Referee-labeled MD frames as DeePMD data, for the training scan's W variants (the frames the loop's trust window
leaves unlabeled, or a larger cell).

    python benchmarks/accuracy/referee_md.py OUT_DIR --temperatures 1200 1500 --frames 15 --repeats 2 --seed 555
    python benchmarks/accuracy/referee_md.py OUT_DIR --temperatures 300 600 900 1200 1500 1800 --frames 20 \\
        --repeats 3 --seed 321

Then a data folder with links to a run's data/* and OUT_DIR/data is the scan's DATA_DIR (train_scan.md names the
sets: 30 frames in 16-atom cells; 120 frames in 54-atom cells; for the w-large-md* variants, md1/ md2/ md3/ of 120,
120 and 240 frames in 54-atom cells at 300-1800 K, made with --frames 20, 20, 40 and --seed 901, 902, 903).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import dpdata

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_scan import REFEREES  # noqa: E402
from unseen import unseen_sets  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--referee", choices=list(REFEREES), default="w-snap")
    parser.add_argument("--temperatures", type=float, nargs="+", required=True)
    parser.add_argument("--frames", type=int, default=15, help="per temperature, 50 MD steps apart")
    parser.add_argument("--repeats", type=int, default=2, help="conventional cells per side")
    parser.add_argument("--seed", type=int, default=555)
    args = parser.parse_args()
    referee, out = REFEREES[args.referee], Path(args.out)
    atoms_per_cell = {"fcc": 4, "bcc": 2}[referee.lattice] * args.repeats**3
    sets = unseen_sets(
        referee.element,
        referee.a_A,
        referee.calculator,
        out / "frames",
        frames=args.frames,
        seed=args.seed,
        lattice=referee.lattice,
        repeats=args.repeats,
        sets={f"md_{t:g}K_{atoms_per_cell}": (t, False) for t in args.temperatures},
    )
    systems = dpdata.MultiSystems(type_map=[referee.element])
    for frames in sets.values():
        for atoms in frames:
            systems.append(dpdata.LabeledSystem(atoms, fmt="ase/structure"))
    systems.to("deepmd/npy", str(out / "data"))
    print(f"{systems.get_nframes()} frames in {out / 'data'}")


if __name__ == "__main__":
    main()
