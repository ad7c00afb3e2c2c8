"""The checkpoint file: its name and format, reading it safely (weights only) into one checked record
(`Checkpoint`) with a clear error for a missing, foreign or damaged file, the trained generator it holds, and the
data it trained on."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from ..config import Config
from ..data.loading import ImageSet
from ..models import recompute_batchnorm
from ..networks import build_generator
from ..support.errors import GanLibError, printable
from ..support.runtime import PRECISIONS, resolve_device
from ..train import HISTORY_FIELDS, STATE_FORMAT

CHECKPOINT_FILE = "checkpoint.pt"  # the latest checkpoint of a run, in its run folder


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint, read and checked once: what generate, evaluate and --resume read (its config, step, weights,
    history and the data it trained on), and `state`, the file's whole table, which Trainer.load_state_dict restores.
    """
    config: Config
    step: int
    generator: dict[str, torch.Tensor]
    discriminator: dict[str, torch.Tensor]
    ema: dict[str, torch.Tensor] | None
    history: list[dict[str, float]]
    data: dict  # the data's identity (name, source, images, files, holdout, ...); empty if not recorded
    state: dict

    @classmethod
    def from_state(cls, state: object, where: str = "this checkpoint") -> Checkpoint:
        """The record of a checkpoint's table (a Trainer's state_dict, or a file's), refused in one line if it is not
        one this gan_lib wrote whole."""
        version = state.get("format") if isinstance(state, dict) else None
        if isinstance(version, int) and not isinstance(version, bool) and version > STATE_FORMAT:
            raise GanLibError(f"{where} was written by a newer gan_lib (checkpoint format {version}; this one reads "
                              f"format {STATE_FORMAT}): update gan_lib (git pull, or pip install -U) to read it")
        if version != STATE_FORMAT:
            raise GanLibError(f"{where} is not a gan_lib checkpoint (format {STATE_FORMAT})")
        if problem := _malformed(state):
            raise GanLibError(f"{where} is a damaged gan_lib checkpoint ({problem}): the file was damaged or edited; "
                              "train again, or use another checkpoint")
        return cls(Config.from_dict(state["config"]), state["step"], state["generator"], state["discriminator"],
                   state.get("ema") or None, list(state.get("history", [])), dict(state.get("data") or {}), state)

    @property
    def holdout(self) -> int:
        """One image in `holdout` was kept out of training (0: none)."""
        return self.data.get("holdout") or 0

    @property
    def precision(self) -> str | None:
        """The precision the run trained in (fp32, bf16 or fp16), None for checkpoints older than that record."""
        return self.state.get("precision")

    def resumed_precision(self, device_kind: str) -> tuple[str | None, str]:
        """The precision a resume on a device of this kind keeps, and why (None: none recorded, decide afresh). An
        older checkpoint without the record trained on the CPU in fp32, whatever the CPU (its commit knew no other)."""
        if self.precision is not None:
            return self.precision, "kept from the checkpoint"
        if device_kind == "cpu" and self.config.amp == "auto":
            return "fp32", "as this older checkpoint trained on the CPU"
        return None, ""

    @property
    def sampling_weights(self) -> dict[str, torch.Tensor]:
        """The trained generator's weights: the EMA average's when the run kept one (AveragedModel keeps them under
        "module.", beside its step count), else G's."""
        if self.ema is None:
            return self.generator
        return {k.removeprefix("module."): v for k, v in self.ema.items() if k.startswith("module.")}


def read_checkpoint(path: str | Path) -> Checkpoint:
    """Load a checkpoint on the CPU with a clear error for a missing, foreign or damaged file."""
    path = Path(path)
    if not path.is_file():
        raise GanLibError(f"no checkpoint at {path}: train first (python -m gan_lib train --out RUN_DIR) "
                          f"and pass RUN_DIR/{CHECKPOINT_FILE}")
    try:  # weights only: a file that would run code when unpickled is refused like any other foreign file
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise GanLibError(f"{printable(str(path))} is not a gan_lib checkpoint (it cannot be read as one: "
                          f"{type(exc).__name__}); pass the {CHECKPOINT_FILE} of a run folder") from exc
    return Checkpoint.from_state(state, printable(str(path)))


def _weights(value: object) -> bool:
    """A state dict: names to tensors, every floating one finite (gan_lib never saves a diverged run)."""
    return isinstance(value, dict) and all(
        isinstance(k, str) and isinstance(v, torch.Tensor) and (not v.is_floating_point() or bool(v.isfinite().all()))
        for k, v in value.items())


def _malformed(state: dict) -> str:
    """What is missing or of the wrong kind in a checkpoint's record, or "" when it is whole. Checked on every read,
    so that generate, evaluate and --resume meet only a checkpoint they can use."""
    missing = [key for key in ("config", "generator", "discriminator", "step") if key not in state]
    if missing:
        return f"missing {', '.join(missing)}"
    if not isinstance(state["config"], dict):
        return "its config is not a table of settings"
    try:
        Config.from_dict(state["config"])
    except GanLibError as exc:
        return f"its config: {exc}"
    except Exception as exc:  # a setting of the wrong type
        return f"its config holds a setting of the wrong type ({type(exc).__name__})"
    step = state["step"]
    if not isinstance(step, int) or isinstance(step, bool) or step < 0:
        return f"its step is {step!r}, not a count of steps"
    for key in ("generator", "discriminator", "ema"):
        if key in state and state[key] is not None and not _weights(state[key]):
            return f"its {key} weights are not tensors, or not all finite"
    history = state.get("history", [])
    if not isinstance(history, list) or not all(
            isinstance(row, dict) and set(row) == set(HISTORY_FIELDS)
            and all(isinstance(v, (int, float)) for v in row.values()) for row in history):
        return "its history is not a list of rows of " + ", ".join(HISTORY_FIELDS)
    if "fixed_noise" in state:  # the Trainer's noise(64, cfg, "fixed"), whatever G's architecture
        fixed, latent_dim = state["fixed_noise"], Config.from_dict(state["config"]).latent_dim
        if not isinstance(fixed, torch.Tensor):
            return "its fixed noise is not a tensor"
        if not (fixed.layout == torch.strided and fixed.shape == (64, latent_dim) and fixed.is_floating_point()
                and fixed.isfinite().all()):
            return (f"its fixed noise is not 64 finite latent vectors of size {latent_dim}: a {fixed.dtype} tensor "
                    f"of shape {tuple(fixed.shape)}")
    scaler = state.get("scaler") or {}
    if not isinstance(scaler, dict) or not all(isinstance(v, (int, float)) for v in scaler.values()):
        return "its loss scaler's state is not a table of numbers"
    if state.get("precision", "fp32") not in tuple(PRECISIONS):
        return f"its precision is {state['precision']!r}, not one of {', '.join(PRECISIONS)}"
    data = state.get("data")
    if data is not None and not (isinstance(data, dict) and all(
            isinstance(data.get(k), (str, type(None))) for k in ("name", "source", "part"))
            and all(isinstance(data.get(k), (int, type(None))) for k in ("images", "files", "holdout"))
            and isinstance(data.get("drop_duplicates", False), bool)):
        return "its record of the data it trained on is malformed"
    return ""


def run_state(run_dir: str | Path, resume: bool | None) -> Checkpoint | None:
    """The checkpoint of the run in run_dir to go on with, or None to start a new run. resume=True needs one,
    resume=False refuses to start over one, resume=None takes what is there. Cheap: call it before loading data."""
    checkpoint = Path(run_dir) / CHECKPOINT_FILE
    if resume is None:
        resume = checkpoint.exists()
    if resume:
        return read_checkpoint(checkpoint)
    if checkpoint.exists():
        raise GanLibError(f"{checkpoint} already exists: pass --resume to continue it, or choose a new --out folder")
    return None


def load_generator(checkpoint: str | Path | Checkpoint, device: str = "auto") -> tuple[torch.nn.Module, Config]:
    """The trained generator of a checkpoint (a path, or one already read), in eval mode, and its config: its EMA
    weights when it has them, with BatchNorm statistics recomputed from them as the Trainer samples them."""
    record = checkpoint if isinstance(checkpoint, Checkpoint) else read_checkpoint(checkpoint)
    cfg = record.config
    G = build_generator(cfg)
    try:
        G.load_state_dict(record.sampling_weights)
    except (RuntimeError, AttributeError, TypeError) as exc:
        where = "this checkpoint" if isinstance(checkpoint, Checkpoint) else printable(str(checkpoint))
        raise GanLibError(f"{where} holds a generator that does not fit its own config (missing weights or other "
                          "shapes): the file is damaged or was edited") from exc
    G = G.to(resolve_device(device))
    return (recompute_batchnorm(G, cfg) if record.ema is not None else G).eval(), cfg


def data_change(record: Checkpoint, data: ImageSet) -> tuple[str, str] | None:
    """(what a checkpoint trained on, what `data` is), e.g. ('x (64 images)', 'y (96 images)'), when they differ."""
    before, now = record.data, data.identity
    if before and (before.get("source"), before.get("images")) != (now["source"], now["images"]):
        return f"{before.get('source')} ({before.get('images')} images)", f"{now['source']} ({now['images']} images)"
    return None


def unusable_part(exc: Exception) -> str:
    """The part of a checkpoint that a Trainer's load_state_dict could not use, in words."""
    message = str(exc)
    if isinstance(exc, KeyError):
        return f"entry {exc.args[0]!r}"
    if "state_dict for " in message:  # torch's "Error(s) in loading state_dict for Generator: ..."
        return f"{message.split('state_dict for ')[1].split(':')[0]} weights"
    return "optimiser state" if "optim" in message or "param" in message else "content"
