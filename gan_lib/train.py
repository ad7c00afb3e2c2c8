"""The DCGAN training step and loop: losses, optimisers, history, sample grids, atomic checkpoints and resume."""

from __future__ import annotations

import csv
import math
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm.auto import tqdm

from .augment import diff_augment, parse_policy
from .config import Config, seeded
from .data import BatchSampler, ImageSet
from .distributed import is_main, mean_over_ranks, sync_batchnorm, world_size
from .errors import GanLibError
from .files import atomic_path, save_atomically
from .models import Generator, build_models

HISTORY_FIELDS = ("step", "loss_d", "loss_g", "d_real", "d_fake")
CHECKPOINT_FORMAT = 1


class TrainingDiverged(GanLibError):
    """A loss became NaN or infinite; the last good checkpoint is left as it was."""


def resolve_device(name: str = "auto") -> torch.device:
    """'auto' picks CUDA, then Apple's MPS, then the CPU; asking for a device this machine lacks is a clear error."""
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    kind, _, index = name.partition(":")
    if kind not in ("cpu", "cuda", "mps") or index and not (kind == "cuda" and index.isdigit()):
        raise GanLibError(f"unknown device {name!r}: use auto, cpu, cuda (or cuda:N) or mps")
    if kind == "cuda" and not torch.cuda.is_available():
        raise GanLibError(f"--device {name} was asked for but PyTorch sees no CUDA GPU: use --device auto or cpu")
    if kind == "cuda" and index and int(index) >= torch.cuda.device_count():
        raise GanLibError(f"--device {name}: this machine has {torch.cuda.device_count()} CUDA GPU(s)")
    if kind == "mps" and not torch.backends.mps.is_available():
        raise GanLibError("--device mps was asked for but this machine or PyTorch has no Apple GPU: use --device "
                          "auto or cpu")
    return torch.device(name)


def noise(n: int, cfg: Config, *key: object, device: torch.device | str = "cpu") -> torch.Tensor:
    """Latent vectors (n, latent_dim), a pure function of (cfg.seed, key): the same on every device."""
    return torch.randn(n, cfg.latent_dim, generator=seeded(torch.Generator(), cfg.seed, *key)).to(device)


def amp_dtype(amp: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype, None for full precision. 'auto' means bf16 on GPUs of compute capability 8.0 and up
    (Ampere, Hopper), fp16 with loss scaling below (Colab's T4 is 7.5: torch.cuda.is_bf16_supported() says True
    there, but only through slow emulation), and full precision on the CPU (bit-exact resume); 'bf16' and 'fp16'
    are honoured on any device."""
    if amp == "auto":
        if device.type != "cuda":
            return None
        return torch.bfloat16 if torch.cuda.get_device_capability(device) >= (8, 0) else torch.float16
    return {"off": None, "bf16": torch.bfloat16, "fp16": torch.float16}[amp]


def _switch(value: str, default: bool) -> bool:
    return default if value == "auto" else value == "on"


class Trainer:
    """Holds G, D, their optimisers and the run's history; `fit` trains and writes into out_dir.

    Under torchrun, G and D are wrapped in DistributedDataParallel and each process trains on its share of the
    global batch; rank 0 alone keeps the EMA and writes samples, checkpoints and reports.
    """

    def __init__(self, cfg: Config, data: ImageSet, out_dir: str | Path | None = None, device: str = "auto"):
        if data.images.shape[-1] != cfg.image_size:
            raise GanLibError(f"the data is {data.images.shape[-1]} px but the config asks for {cfg.image_size} px")
        self.cfg = cfg
        self.device = resolve_device(device)
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.writes = self.out_dir is not None and is_main()
        self.G, self.D = build_models(cfg, self.device)
        if cfg.sync_batchnorm and world_size() > 1:
            self.G, self.D = sync_batchnorm(self.G, self.device), sync_batchnorm(self.D, self.device)
        cuda = self.device.type == "cuda"
        self.amp_dtype = amp_dtype(cfg.amp, self.device)
        # fp16 needs loss scaling; one scaler serves both optimisers
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp_dtype == torch.float16)
        self.memory_format = torch.channels_last if _switch(cfg.channels_last, cuda) else torch.contiguous_format
        self.G.to(memory_format=self.memory_format)
        self.D.to(memory_format=self.memory_format)
        if cuda:
            torch.backends.cudnn.benchmark = True
        betas, fused = (cfg.beta1, cfg.beta2), _switch(cfg.fused_adam, cuda) or None
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=cfg.lr_g, betas=betas, fused=fused)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=cfg.lr_d, betas=betas, fused=fused)
        self.ema = (AveragedModel(self.G, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema_decay), use_buffers=True)
                    if cfg.ema_decay and is_main() else None)
        g_forward, d_forward = self.G, self.D
        if world_size() > 1:
            ids = [self.device.index] if cuda else None
            g_forward, d_forward = (DistributedDataParallel(m, device_ids=ids) for m in (self.G, self.D))
        self.g_forward = torch.compile(g_forward) if cfg.compile else g_forward
        self.d_forward = torch.compile(d_forward) if cfg.compile else d_forward
        self.augment = parse_policy(cfg.augment)
        self.sampler = BatchSampler(data.images, cfg.batch_size, cfg.seed, self.device)
        self.data_identity = data.identity
        self.rng = torch.Generator(self.device)  # reseeded for every draw of the training step
        self.fixed_noise = noise(64, cfg, "fixed", device=self.device)
        self.step = 0
        self.history: list[dict[str, float]] = []

    @property
    def epoch(self) -> float:
        return self.step / self.sampler.steps_per_epoch

    def _d(self, images: torch.Tensor, g: torch.Generator | None) -> torch.Tensor:
        """D's logits, after the differentiable augmentation if the config asks for it."""
        if self.augment:
            images = diff_augment(images, self.augment, g)
        return self.d_forward(images)

    def train_step(self, real: torch.Tensor) -> torch.Tensor:
        """One D update and one G update (non-saturating loss); returns [loss_d, loss_g, D(x), D(G(z))]."""
        real = real.contiguous(memory_format=self.memory_format)
        cfg, rng = self.cfg, self.rng  # drawn on the device: no copy from the host in the step
        z = torch.randn(cfg.batch_size, cfg.latent_dim, generator=seeded(rng, cfg.seed, "z", self.step),
                        device=self.device)[self.sampler.share]
        g = seeded(rng, cfg.seed, "augment", self.step) if self.augment else None
        autocast = torch.autocast(self.device.type, dtype=self.amp_dtype, enabled=self.amp_dtype is not None)

        with autocast:
            fake = self.g_forward(z)
            logits_real, logits_fake = self._d(real, g), self._d(fake.detach(), g)
            real_target = torch.full_like(logits_real, 1.0 - cfg.label_smoothing)
            loss_d = (F.binary_cross_entropy_with_logits(logits_real, real_target)
                      + F.binary_cross_entropy_with_logits(logits_fake, torch.full_like(logits_fake, cfg.fake_label)))
        self.opt_d.zero_grad(set_to_none=True)
        self.scaler.scale(loss_d).backward()
        self.scaler.step(self.opt_d)

        with autocast:
            logits_gen = self._d(fake, g)
            loss_g = F.binary_cross_entropy_with_logits(logits_gen, torch.ones_like(logits_gen))
        self.opt_g.zero_grad(set_to_none=True)
        self.scaler.scale(loss_g).backward()
        self.scaler.step(self.opt_g)
        self.scaler.update()  # once per step for both optimisers, as the AMP docs prescribe
        if self.ema is not None:
            self.ema.update_parameters(self.G)
        stats = [loss_d, loss_g, logits_real.sigmoid().mean(), logits_fake.sigmoid().mean()]
        return torch.stack([v.detach().float() for v in stats])

    def fit(self, steps: int, progress: bool = True,
            on_log: Callable[[Trainer], None] | None = None) -> list[dict[str, float]]:
        """Train until `steps` steps in total (a resumed run continues to the same total)."""
        cfg, pending = self.cfg, []
        bar = tqdm(total=steps, initial=self.step, disable=not (progress and is_main()), desc="training", unit="step")
        while self.step < steps:
            pending.append(self.train_step(self.sampler.batch(self.step)))
            self.step += 1
            last = self.step == steps
            sample = self.step % cfg.sample_every == 0 or last
            save = self.step % cfg.checkpoint_every == 0 or last
            if self.step % cfg.log_every == 0 or sample or save:
                self._record(pending)  # the only host sync: losses are read back every log_every steps
                bar.update(len(pending))
                bar.set_postfix(loss_d=f"{self.history[-1]['loss_d']:.3f}", loss_g=f"{self.history[-1]['loss_g']:.3f}")
                pending = []
                if on_log:
                    on_log(self)
            if self.writes and sample:
                self.save_samples()
            if self.writes and save:
                self.save_checkpoint()
        bar.close()
        if self.writes:
            self.write_reports()
        return self.history

    def _record(self, pending: list[torch.Tensor]) -> None:
        stats = mean_over_ranks(torch.stack(pending)).cpu().tolist()  # the global batch's means
        first = self.step - len(stats) + 1
        for offset, row in enumerate(stats):
            if not all(math.isfinite(v) for v in row):
                raise TrainingDiverged(f"the loss became NaN or infinite at step {first + offset}{self._kept()}; "
                                       "try a lower learning rate or label smoothing")
            self.history.append(dict(zip(HISTORY_FIELDS, [first + offset, *row])))

    def _kept(self) -> str:
        """Where the last good checkpoint is, for a message about a run that cannot go on."""
        if self.out_dir is None:
            return ""
        path = self.out_dir / "checkpoint.pt"
        return f" (the last good checkpoint, {path}, is kept)" if path.exists() else " (no checkpoint was written yet)"

    @property
    def sampling_generator(self) -> Generator:
        """The generator for samples and evaluation: the EMA average when enabled, else G itself."""
        return self.ema.module if self.ema is not None else self.G

    @torch.no_grad()
    def generate(self, z: torch.Tensor | None = None) -> torch.Tensor:
        """Images for z (default: the fixed noise), in eval mode, as float [-1, 1] on the CPU."""
        G = self.sampling_generator
        G.eval()
        try:
            return G(self.fixed_noise if z is None else z.to(self.device)).float().cpu()
        finally:
            G.train()

    def save_samples(self) -> Path:
        from .viz import save_grid

        return save_grid(self.generate(), self.out_dir / "samples" / f"step_{self.step:07d}.png")

    def state_dict(self) -> dict:
        return {
            "format": CHECKPOINT_FORMAT, "config": self.cfg.to_dict(), "step": self.step,
            "generator": self.G.state_dict(), "discriminator": self.D.state_dict(),
            "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
            "history": self.history, "fixed_noise": self.fixed_noise.cpu(),
            "torch_rng": torch.get_rng_state(), "scaler": self.scaler.state_dict(),
            "ema": self.ema.state_dict() if self.ema is not None else None, "data": self.data_identity,
        }

    def load_state_dict(self, state: dict) -> None:
        self.G.load_state_dict(state["generator"])
        self.D.load_state_dict(state["discriminator"])
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.step, self.history = state["step"], list(state["history"])
        self.fixed_noise = state["fixed_noise"].to(self.device)
        torch.set_rng_state(state["torch_rng"])
        if state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        if self.ema is not None and state.get("ema"):  # else the average starts again from G
            self.ema.load_state_dict(state["ema"])

    def save_checkpoint(self, path: str | Path | None = None) -> Path:
        """Write atomically: a run killed while saving leaves the previous checkpoint intact."""
        path = Path(path) if path is not None else self.out_dir / "checkpoint.pt"
        weights = [*self.G.parameters(), *self.D.parameters()]
        if not torch.stack([w.isfinite().all() for w in weights]).all():  # never replace a good checkpoint by this
            raise TrainingDiverged(f"the weights became NaN or infinite by step {self.step}{self._kept()}; "
                                   "try a lower learning rate or label smoothing")
        save_atomically(self.state_dict(), path)
        self.write_history()
        return path

    @classmethod
    def resume(cls, checkpoint: str | Path, data: ImageSet, out_dir: str | Path | None = None,
               device: str = "auto") -> Trainer:
        """A trainer in exactly the state the checkpoint recorded (its config wins over any other)."""
        state = read_checkpoint(checkpoint)
        trainer = cls(Config.from_dict(state["config"]), data, out_dir, device)
        trainer.load_state_dict(state)
        return trainer

    def write_history(self) -> Path:
        path = self.out_dir / "history.csv"
        with atomic_path(path) as tmp, open(tmp, "w", newline="") as f:
            writer = csv.DictWriter(f, HISTORY_FIELDS)
            writer.writeheader()
            writer.writerows(self.history)
        return path

    def write_reports(self) -> None:
        """losses.png and progress.gif from the history and the sample grids written so far."""
        from .viz import make_gif, plot_history

        plot_history(self.history, self.out_dir / "losses.png")
        make_gif(sorted((self.out_dir / "samples").glob("step_*.png")), self.out_dir / "progress.gif")


def read_checkpoint(path: str | Path) -> dict:
    """Load a checkpoint on the CPU with a clear error for a missing or foreign file."""
    path = Path(path)
    if not path.is_file():
        raise GanLibError(f"no checkpoint at {path}: train first (python -m gan_lib train --out RUN_DIR) "
                          "and pass RUN_DIR/checkpoint.pt")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise GanLibError(f"{path} is not a readable gan_lib checkpoint ({type(exc).__name__}: {exc})") from exc
    if not isinstance(state, dict) or state.get("format") != CHECKPOINT_FORMAT:
        raise GanLibError(f"{path} is not a gan_lib checkpoint (format {CHECKPOINT_FORMAT})")
    return state


def load_generator(checkpoint: str | Path | dict, device: str = "auto") -> tuple[Generator, Config]:
    """The trained generator of a checkpoint (a path, or one already read), its EMA weights when it has them, in
    eval mode, and its config."""
    state = checkpoint if isinstance(checkpoint, dict) else read_checkpoint(checkpoint)
    cfg = Config.from_dict(state["config"])
    G = Generator(cfg)
    if state.get("ema"):
        G.load_state_dict({k.removeprefix("module."): v for k, v in state["ema"].items() if k.startswith("module.")})
    else:
        G.load_state_dict(state["generator"])
    return G.to(resolve_device(device)).eval(), cfg


def data_change(state: dict, data: ImageSet) -> tuple[str, str] | None:
    """(what a checkpoint trained on, what `data` is), e.g. ('x (64 images)', 'y (96 images)'), when they differ."""
    before, now = state.get("data") or {}, data.identity
    if before and (before.get("source"), before.get("images")) != (now["source"], now["images"]):
        return f"{before.get('source')} ({before.get('images')} images)", f"{now['source']} ({now['images']} images)"
    return None


def start_or_resume(cfg: Config, data: ImageSet, run_dir: str | Path, device: str = "auto") -> Trainer:
    """Resume the run in run_dir if it has a checkpoint (after a disconnect, say), else start a new one."""
    checkpoint = Path(run_dir) / "checkpoint.pt"
    if not checkpoint.exists():
        return Trainer(cfg, data, run_dir, device)
    state = read_checkpoint(checkpoint)
    if Config.from_dict(state["config"]) != cfg:
        raise GanLibError(f"{checkpoint} was trained with other settings; delete {run_dir} or choose another run "
                          "folder (GAN_LIB_RUN_DIR) to start again")
    if change := data_change(state, data):
        raise GanLibError(f"{checkpoint} was trained on {change[0]}, not on {change[1]}; choose another run folder "
                          "(GAN_LIB_RUN_DIR)")
    return Trainer.resume(checkpoint, data, run_dir, device)
