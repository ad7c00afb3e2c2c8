"""A run folder, opened the one way the CLI and the notebooks share: checked before any work (not a file, writable,
not inside the data it trains on), refused while another process trains into it, the rule for what a resumed run
may change, and the Trainer of the run, new or resumed (open_run, start_or_resume)."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

from .checkpoint import CHECKPOINT_FILE, Checkpoint, data_change, run_state
from .config import Config, check_loss_settings
from .data import ImageSet
from .errors import GanLibError, printable
from .files import check_free, check_writable, remove_dead_temporaries
from .recipes import RECIPES, for_device
from .runtime import AMP_PRECISION, is_main, resolve_device
from .train import Trainer

# What --resume (or a notebook resuming its run) may change: the learning rates (the advice after a divergence), how
# often the run logs, samples and saves, and the precision (a machine slow in the run's own). Everything else would
# make the resumed run another run.
RESUMABLE = ("lr_g", "lr_d", "log_every", "sample_every", "checkpoint_every", "amp")


def check_run_folder(run_dir: Path, data_source: str, fix: str) -> None:
    """Refuse, before any work, a run folder that is a file, cannot be written, is in use by another process, or lies
    inside the data folder (the run's sample grids would become training images). `fix` says how to choose another."""
    try:
        if run_dir.exists() and not run_dir.is_dir():
            raise GanLibError(f"the run folder {run_dir} is a file: move it, or {fix}")
        data_folder = Path(data_source).expanduser()
        inside = data_source and data_folder.is_dir() and run_dir.resolve().is_relative_to(data_folder.resolve())
        made = not run_dir.exists()
    except OSError as exc:  # a name too long, a folder we may not look into
        raise GanLibError(f"cannot write the run folder {run_dir} ({exc.strerror or exc}): {fix}") from exc
    if inside:
        raise GanLibError(f"the run folder {run_dir} is inside the data folder {data_source}: the run's sample grids "
                          f"would become training images; {fix} outside it")
    check_writable(run_dir, "the run folder", fix)
    check_free(run_dir)
    remove_dead_temporaries(run_dir)  # what killed writers left (only theirs: a live process's are kept)
    if made:
        run_dir.rmdir()  # made only to test it: a refused command leaves no empty folder behind


def resumed_config(saved: Config, changes: dict, fix: str, recorded: dict | None = None) -> Config:
    """The saved config with `changes` (settings that differ from it) applied, if resuming allows them all; else one
    line that names the others.
    `recorded` holds the run's values of settings outside its config (the CLI's holdout, say)."""
    before = {**saved.to_dict(), **(recorded or {})}
    refused = {name: value for name, value in changes.items() if name not in RESUMABLE}
    if refused:
        shown = ", ".join(f"{name} {before.get(name)!r} -> {value!r}"
                          for name, value in refused.items())
        raise GanLibError(f"a resumed run keeps its settings, but these differ from its checkpoint: {shown} (only "
                          f"{', '.join(RESUMABLE)} may change); {fix}")
    return replace(saved, **changes)  # only RESUMABLE settings are left: every one a Config field


def _precision_kept(changes: dict, state: Checkpoint, device_kind: str) -> dict:
    """`changes` without amp where the amp asked for is the precision the run trained in ('auto' on resume: the
    run's own, whatever this machine would choose): only another precision, asked for by name, is a change."""
    kept, _ = state.resumed_precision(device_kind)
    if changes.get("amp") == "auto" or kept and AMP_PRECISION.get(changes.get("amp")) == kept:
        return {name: value for name, value in changes.items() if name != "amp"}
    return changes


def train_config(state: Checkpoint | None, recipe: str, options: dict, device_kind: str, holdout: int | None = None,
                 condition: str | None = None) -> tuple[Config, int]:
    """The config `train` runs with and the holdout (one image in N kept out; 0: none). A new run: the recipe with
    the given `options` over it, on this device's defaults (a setting its loss does not use refused). A resumed run:
    its checkpoint's, with what `options`, `holdout` and `condition` (None: not given) change, if resuming allows
    it (see RESUMABLE)."""
    given = {**RECIPES[recipe], **options}
    if state is None:
        check_loss_settings(given, named=given)  # even at their defaults: named, they were meant to matter
        return for_device(device_kind).config(**given), holdout or 0
    saved = state.config
    changed = _precision_kept(saved.differing(given), state, device_kind)
    if holdout is not None and holdout != state.holdout:
        changed["holdout"] = holdout
    if condition is not None and condition != saved.condition:
        changed["conditional"] = condition
    cfg = resumed_config(saved, changed, "drop them or train into a new --out folder",
                         recorded={"holdout": state.holdout, "conditional": saved.condition})
    return cfg, state.holdout


def open_run(state: Checkpoint | None, cfg: Config | None, data: ImageSet, run_dir: str | Path, device: str = "auto",
             on_data_change: str = "refuse") -> Trainer:
    """The trainer of a run: a new one for cfg when state is None, else the run that the checkpoint `state` (see
    checkpoint.run_state) recorded, whose config must equal cfg unless cfg is None. If the checkpoint trained on
    other data, on_data_change='refuse' stops with an error and 'warn' goes on with `data` after a warning."""
    if state is None:
        return Trainer(cfg, data, run_dir, device)
    checkpoint = Path(run_dir) / CHECKPOINT_FILE
    saved = state.config
    if cfg is not None:
        changed = _precision_kept(saved.differing(cfg.to_dict()), state, resolve_device(device).type)
        cfg = resumed_config(saved, changed, f"delete {run_dir} or choose another run folder (GAN_LIB_RUN_DIR) to "
                             "start again")
    if change := data_change(state, data):
        if on_data_change == "refuse":
            raise GanLibError(f"{checkpoint} was trained on {change[0]}, not on {change[1]}; choose another run "
                              "folder (GAN_LIB_RUN_DIR)")
        if is_main():
            print(printable(f"warning: this run trained on {change[0]} and goes on with {change[1]}"), file=sys.stderr)
    return Trainer.resume(state, data, run_dir, device, cfg)


def start_or_resume(cfg: Config, data: ImageSet, run_dir: str | Path, device: str = "auto") -> Trainer:
    """Resume the run in run_dir if it has a checkpoint (after a disconnect, say), else start a new one; a run
    trained with other settings or on other data is refused. A run folder that cannot be written (or a file in its
    place) is refused before any work."""
    run_dir = Path(run_dir).expanduser()
    check_run_folder(run_dir, str(data.identity["source"]), "choose another folder (GAN_LIB_RUN_DIR in the notebooks)")
    return open_run(run_state(run_dir, None), cfg, data, run_dir, device, on_data_change="refuse")
