"""`dp train` and then `dp freeze` in one Python process: DeePMD-kit's TensorFlow starts once per model, not twice
(about 6 s of each member's round on 2 cores). Run as `python -m dpdriver.train.session session.json`, in the
training folder; the file names both argument lists and, where the checkpoint of lowest validation error is to be
frozen, how often checkpoints were saved."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .lcurve import best_step

SESSION_FILE = "session.json"
BEST_STEP_FILE = "best_step"


def main(spec_path: str) -> None:
    from deepmd.main import main as dp  # TensorFlow: imported in the training process, after its thread settings
    from deepmd.tf.env import tf

    spec = json.loads(Path(spec_path).read_text())
    if spec["train"]:  # empty: a training killed after its last checkpoint only needs freezing
        dp(spec["train"])
        tf.reset_default_graph()  # the freeze reads the checkpoint's graph into a fresh default graph
    freeze = list(spec["freeze"])
    if spec.get("best_of"):
        best = best_step(Path("lcurve.out"), saved_every=spec["best_of"]["saved_every"], last=spec["best_of"]["last"])
        Path(BEST_STEP_FILE).write_text(f"{best}\n")
        freeze += ["-c", str(Path(f"{spec['checkpoint']}-{best}").resolve())]
    dp(freeze)


if __name__ == "__main__":
    main(sys.argv[1])
