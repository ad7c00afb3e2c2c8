"""A run folder: the TrainingRun that trains into it (a Trainer that writes its checkpoints, sample grids and
reports there, atomically and under the folder's lock), and the one way the CLI and the notebooks open it: checked
before any work (not a file, writable, not inside the data it trains on), refused while another process trains into
it, with the rule for what a resumed run may change (open_run, start_or_resume)."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

from ..config import Config, check_loss_settings
from ..data import ImageSet
from ..measure.viz import save_grid
from ..support.errors import GanLibError, printable
from ..support.files import check_free, check_writable, file_stamp, remove_dead_temporaries, run_lock, save_atomically
from ..support.runtime import AMP_PRECISION, is_main, resolve_device
from ..train import Trainer
from .checkpoint import CHECKPOINT_FILE, Checkpoint, data_change, read_checkpoint, run_state, unusable_part
from .recipes import RECIPES, for_device
from .reports import write_history, write_reports

# What --resume (or a notebook resuming its run) may change: the learning rates (the advice after a divergence), how
# often the run logs, samples and saves, and the precision (a machine slow in the run's own). Everything else would
# make the resumed run another run.
RESUMABLE = ("lr_g", "lr_d", "log_every", "sample_every", "checkpoint_every", "amp")


class TrainingRun(Trainer):
    """A Trainer that keeps a run folder (None: none, as a Trainer): under the folder's lock it saves the checkpoint,
    history.csv and a sample grid as `fit` reaches them, and losses.png and progress.gif when the run ends. Under
    torchrun, rank 0 alone writes."""

    def __init__(self, cfg: Config, data: ImageSet, out_dir: str | Path | None = None, device: str = "auto",
                 kept_precision: tuple[str | None, str] = (None, "")):
        super().__init__(cfg, data, device, kept_precision)
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.writes = self.out_dir is not None and is_main()
        self._checkpoint_stamp = None  # the run folder's checkpoint as this run last read or wrote it (None: none)

    def fit(self, steps: int, progress: bool = True, on_log=None) -> list[dict[str, float]]:
        if not self.writes:
            return super().fit(steps, progress, on_log)
        with run_lock(self.out_dir):
            self._check_checkpoint_unchanged()
            super().fit(steps, progress, on_log)
            write_reports(self.history, self.out_dir, self.loss.scores)
        return self.history

    def at_sample(self) -> None:
        if self.writes:
            self.save_samples()

    def at_checkpoint(self) -> None:
        if self.writes:
            self.save_checkpoint()

    def diverged(self, what: str, where: str = "", resumable: bool = False):
        if self.out_dir is None or where:
            return super().diverged(what, where, resumable)
        path = self.out_dir / CHECKPOINT_FILE
        if path.exists():
            return super().diverged(what, f"the last good checkpoint, {path}, is kept", resumable=True)
        return super().diverged(what, "no checkpoint was written yet")

    def save_samples(self) -> Path:
        with run_lock(self.out_dir):  # held: the run folder's checks on links apply to a notebook's call too
            return save_grid(self.generate(), self.out_dir / "samples" / f"step_{self.step:07d}.png")

    def save_checkpoint(self, path: str | Path | None = None) -> Path:
        """Write atomically: a run killed while saving leaves the previous checkpoint intact."""
        if path is None and self.out_dir is None:
            raise GanLibError("this run has no run folder: pass save_checkpoint a path, or create it with out_dir")
        self.check_finite()  # never replace a good checkpoint by NaN weights
        if path is not None:
            return save_atomically(self.state_dict(), Path(path))
        with run_lock(self.out_dir):
            self._check_checkpoint_unchanged()
            path = save_atomically(self.state_dict(), self.out_dir / CHECKPOINT_FILE)
            self._checkpoint_stamp = file_stamp(path)
            write_history(self.history, self.out_dir)
        return path

    def _check_checkpoint_unchanged(self) -> None:
        """Refuse to write into the run folder if its checkpoint is not the one this run started from (or wrote
        last): another process trained the run further, or it holds another run. Nothing is written then."""
        if not self.writes or file_stamp(self.out_dir / CHECKPOINT_FILE) == self._checkpoint_stamp:
            return
        raise GanLibError(f"{self.out_dir / CHECKPOINT_FILE} is not the checkpoint this trainer started from: another "
                          "run wrote it or trained it further since; open the run again (start_or_resume, or "
                          "train --resume) to go on from it, or train into another folder; nothing was written")

    @classmethod
    def resume(cls, checkpoint: str | Path | Checkpoint, data: ImageSet, out_dir: str | Path | None = None,
               device: str = "auto", cfg: Config | None = None) -> TrainingRun:
        """A run in exactly the state the checkpoint (a path, or one already read from out_dir) recorded. Its config
        wins, unless `cfg` gives the one to go on with (resumed_config says which changes may)."""
        read = isinstance(checkpoint, Checkpoint)
        own = out_dir is not None and (read or Path(checkpoint).expanduser().resolve()
                                       == (Path(out_dir).expanduser() / CHECKPOINT_FILE).resolve())
        stamp = file_stamp(Path(out_dir).expanduser() / CHECKPOINT_FILE) if own else None
        record = checkpoint if read else read_checkpoint(checkpoint)
        cfg = cfg or record.config
        kept = record.resumed_precision(resolve_device(device).type) if cfg.amp == record.config.amp else (None, "")
        run = cls(cfg, data, out_dir, device, kept)
        try:
            run.load_state_dict(record.state)
        except (KeyError, ValueError, RuntimeError, TypeError, IndexError, AttributeError) as exc:
            where = "this checkpoint" if read else printable(str(checkpoint))
            raise GanLibError(f"{where} cannot be resumed: its {unusable_part(exc)} is missing or does not fit this "
                              "run (the file is damaged, was edited or holds only weights); generate and evaluate "
                              "can still read its generator") from exc
        run._checkpoint_stamp = stamp
        if changed := record.config.differing(run.cfg.to_dict()):
            if is_main():  # the resumed run now differs from one uninterrupted run: say so
                before = record.config.to_dict()
                print(printable("resuming with " + ", ".join(f"{name} {before.get(name)!r} -> {value!r}"
                                                             for name, value in changed.items())), file=sys.stderr)
        return run


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
             on_data_change: str = "refuse") -> TrainingRun:
    """The TrainingRun of a run folder: a new one for cfg when state is None, else the run that the checkpoint
    `state` (see checkpoint.run_state) recorded, whose config must equal cfg unless cfg is None. If the checkpoint
    trained on other data, on_data_change='refuse' stops with an error and 'warn' goes on with `data` after a
    warning."""
    if state is None:
        return TrainingRun(cfg, data, run_dir, device)
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
    return TrainingRun.resume(state, data, run_dir, device, cfg)


def start_or_resume(cfg: Config, data: ImageSet, run_dir: str | Path, device: str = "auto") -> TrainingRun:
    """Resume the run in run_dir if it has a checkpoint (after a disconnect, say), else start a new one; a run
    trained with other settings or on other data is refused. A run folder that cannot be written (or a file in its
    place) is refused before any work."""
    run_dir = Path(run_dir).expanduser()
    check_run_folder(run_dir, str(data.identity["source"]), "choose another folder (GAN_LIB_RUN_DIR in the notebooks)")
    return open_run(run_state(run_dir, None), cfg, data, run_dir, device, on_data_change="refuse")
