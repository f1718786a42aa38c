"""Live progress of a local workflow: a bar while a stage runs, one line per stage when it ends.

It reads what the steps leave on disk (dflow's `phase` files, the stages' `progress` files), so
the stage code knows nothing about terminals.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

FINAL_PHASES = {"Succeeded", "Failed", "Skipped"}


@dataclass
class StepGroup:
    """The steps of one stage of a workflow, as the progress line shows them."""

    name: str
    key_prefix: str  # step folders of this stage are named <key_prefix> or <key_prefix>-<i>
    steps: int | Callable[[], int]  # a callable when the count is known only once an earlier stage ran
    describe: Callable[[list[Path]], str]  # summary from the finished step folders
    unit: str = "steps"


def read_output_parameter(step_dir: Path, name: str):
    text = (step_dir / "outputs" / "parameters" / name).read_text()
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def bar(done: int, total: int, width: int = 30) -> str:
    filled = int(width * done / total) if total else width
    return "[" + "#" * filled + "-" * (width - filled) + "]"


class StageMonitor:
    def __init__(self, wf_dir: Path, prefix: str, stages: list[StepGroup], poll_s: float = 0.5):
        self.wf_dir, self.prefix, self.stages, self.poll_s = Path(wf_dir), prefix, stages, poll_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.lines: list[str] = []

    def _step_dirs(self, stage: StepGroup) -> list[Path]:
        return sorted(
            p
            for p in self.wf_dir.glob(stage.key_prefix + "*")
            if p.is_dir() and (p.name == stage.key_prefix or p.name[len(stage.key_prefix) :].startswith("-"))
        )

    def _phase(self, step_dir: Path) -> str:
        """The step's phase; a failure left by an earlier attempt does not count (the step will rerun)."""
        path = step_dir / "phase"
        if not path.exists():
            return ""
        phase = path.read_text().strip()
        return "" if phase == "Failed" and path.stat().st_mtime < self.started_at else phase

    def _finished(self, stage: StepGroup) -> bool:
        dirs = self._step_dirs(stage)
        steps = stage.steps() if callable(stage.steps) else stage.steps
        return len(dirs) >= steps and all(self._phase(d) in FINAL_PHASES for d in dirs)

    def _progress(self, stage: StepGroup) -> tuple[int, int]:
        done = total = 0
        for path in self.wf_dir.glob(stage.key_prefix + "*/workdir/**/progress"):
            try:
                d, t = (int(x) for x in path.read_text().split())
            except (OSError, ValueError):
                continue
            done, total = done + d, total + t
        return done, total

    def _emit(self, stage: StepGroup, started: float) -> None:
        dirs = self._step_dirs(stage)
        failed = [d.name for d in dirs if self._phase(d) == "Failed"]
        try:
            detail = f"FAILED: {', '.join(failed)}" if failed else stage.describe(dirs)
        except (OSError, ValueError, KeyError) as exc:
            detail = f"(summary unavailable: {exc})"
        line = f"{self.prefix} {stage.name:<8} {detail}  [{time.monotonic() - started:.1f} s]"
        self.lines.append(line)
        self.terminal.write(("\r\033[K" if self.terminal.isatty() else "") + line + "\n")

    def _loop(self) -> None:
        index, started = 0, time.monotonic()
        while index < len(self.stages):
            stage = self.stages[index]
            if self._finished(stage):
                self._emit(stage, started)
                index, started = index + 1, time.monotonic()
                continue
            if self._stop.is_set():
                break
            done, total = self._progress(stage)
            if total and self.terminal.isatty():
                self.terminal.write(
                    f"\r\033[K{self.prefix} {stage.name:<8} {bar(done, total)} {done}/{total} {stage.unit}  "
                    f"{time.monotonic() - started:.0f} s"
                )
            time.sleep(self.poll_s)

    def start(self, terminal) -> None:
        self.terminal, self.started_at = terminal, time.time()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join()
