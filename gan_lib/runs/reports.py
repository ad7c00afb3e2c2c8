"""What a run folder shows of its run besides the checkpoint: history.csv (written with every checkpoint and when
the run ends), losses.png and progress.gif (written from the history and the sample grids when the run ends)."""

from __future__ import annotations

import csv
from pathlib import Path

from ..losses import Scores
from ..measure.viz import make_gif, plot_history
from ..support.files import atomic_path
from ..train import HISTORY_FIELDS
from .checkpoint import CHECKPOINT_FILE

REPORTS = ("history.csv", "losses.png", "progress.gif")  # written from the history and the sample grids


def write_history(history: list[dict[str, float]], run_dir: Path) -> Path:
    path = run_dir / "history.csv"
    with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
        writer = csv.DictWriter(f, HISTORY_FIELDS)
        writer.writeheader()
        writer.writerows(history)
    return path


def write_reports(history: list[dict[str, float]], run_dir: Path, scores: Scores) -> None:
    """history.csv, losses.png and progress.gif (REPORTS) from the history and the sample grids written so far."""
    write_history(history, run_dir)
    plot_history(history, run_dir / "losses.png", scores)
    make_gif(sorted((run_dir / "samples").glob("step_*.png")), run_dir / "progress.gif")


def missing_reports(run_dir: Path) -> list[str]:
    """The reports a finished run lacks (a kill or a refusal while they were written, say): REPORTS not in the run
    folder, or older than its checkpoint."""
    saved = (run_dir / CHECKPOINT_FILE).stat().st_mtime_ns if (run_dir / CHECKPOINT_FILE).exists() else 0
    return [name for name in REPORTS if not (run_dir / name).exists() or (run_dir / name).stat().st_mtime_ns < saved]
