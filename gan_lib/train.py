"""The Trainer: the DCGAN training step and the loop around it (EMA, history, sample grids, atomic checkpoints);
run_folder opens a run with it, new or resumed."""

from __future__ import annotations

import contextlib
import math
import sys
from collections.abc import Callable
from pathlib import Path

import torch
from torch.nn.parallel import DistributedDataParallel
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm.auto import tqdm

from . import losses
from .augment import diff_augment, parse_policy
from .checkpoint import (
    CHECKPOINT_FILE,
    CHECKPOINT_FORMAT,
    HISTORY_FIELDS,
    Checkpoint,
    divergence_note,
    load_optimiser,
    read_checkpoint,
    unusable_part,
)
from .config import Config, seeded
from .data import DeviceBatches, ImageSet
from .errors import GanLibError, printable
from .files import file_stamp, run_lock, save_atomically
from .models import generate, noise, recompute_batchnorm
from .networks import build_models
from .reports import write_history, write_reports
from .runtime import (
    PRECISIONS,
    HeldInterrupts,
    amp_dtype,
    autocast,
    check_compiler,
    is_main,
    mean_over_ranks,
    precision_name,
    precision_note,
    resolve_device,
    switched_on,
    sync_batchnorm,
    world_size,
)
from .viz import save_grid


class TrainingDiverged(GanLibError):
    """A loss became NaN or infinite; the last good checkpoint is left as it was."""


class Trainer:
    """Holds G, D, their optimisers and the run's history; `fit` trains and writes into out_dir.

    Under torchrun, G and D are wrapped in DistributedDataParallel and each process trains on its share of the
    global batch; rank 0 alone keeps the EMA and writes samples, checkpoints and reports.
    """

    def __init__(self, cfg: Config, data: ImageSet, out_dir: str | Path | None = None, device: str = "auto",
                 kept_precision: tuple[str | None, str] = (None, "")):
        if data.images.shape[-1] != cfg.image_size:
            raise GanLibError(f"the data is {data.images.shape[-1]} px but the config asks for {cfg.image_size} px")
        if cfg.conditional and data.labels is None:
            raise GanLibError(f"the config is conditional on {cfg.condition}, but the data has no labels: load it "
                              f"with load_images(..., condition={cfg.condition!r})")
        if cfg.conditional and data.classes != cfg.classes:
            raise GanLibError(printable(f"the config's classes are {', '.join(cfg.classes)}, but the data's are "
                                        f"{', '.join(data.classes)}: train on data with the same classes"))
        self.cfg = cfg
        self.device = resolve_device(device)
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.writes = self.out_dir is not None and is_main()
        if cfg.arch == "style" and world_size() > 1:
            raise GanLibError("the style-based generator trains in one process for now (its noise and mixing draws "
                              "are not split over processes): run it without torchrun, or train --arch dcgan")
        self.G, self.D = build_models(cfg, self.device)
        if cfg.sync_batchnorm and world_size() > 1:
            self.G, self.D = sync_batchnorm(self.G, self.device), sync_batchnorm(self.D, self.device)
        self.loss = losses.for_config(cfg)
        cuda = self.device.type == "cuda"
        kept, why = kept_precision  # a resumed run's own precision (checkpoint.resumed_precision), else cfg.amp's
        self.amp_dtype = PRECISIONS[kept] if kept else amp_dtype(cfg.amp, self.device)
        self.precision = precision_note(cfg.amp, self.amp_dtype, self.device, why)  # "cpu: bf16 autocast (native)"
        self.autocast = autocast(self.device, self.amp_dtype)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp_dtype == torch.float16)  # fp16 only
        # channels_last: 1.1-1.3x on the CPU too (benchmarks/throughput.py --widths)
        channels_last = switched_on(cfg.channels_last, self.device.type in ("cuda", "cpu"))
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.G.to(memory_format=self.memory_format)
        self.D.to(memory_format=self.memory_format)
        if cuda:
            torch.backends.cudnn.benchmark = True
        betas, fused = (cfg.beta1, cfg.beta2), switched_on(cfg.fused_adam, cuda) or None
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=cfg.lr_g, betas=betas, fused=fused)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=cfg.lr_d, betas=betas, fused=fused)
        self.ema = (AveragedModel(self.G, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema_decay), use_buffers=True)
                    if cfg.ema_decay and is_main() else None)
        g_forward, d_forward = self.G, self.D
        if world_size() > 1:
            ids = [self.device.index] if cuda else None
            g_forward, d_forward = (DistributedDataParallel(m, device_ids=ids) for m in (self.G, self.D))
        if cfg.compile:
            check_compiler()
        self.g_forward = torch.compile(g_forward) if cfg.compile else g_forward
        self.d_forward = torch.compile(d_forward) if cfg.compile else d_forward
        self.augment = parse_policy(cfg.augment)
        self.batches = DeviceBatches(data.images, cfg.batch_size, cfg.seed, self.device,
                                     memory_format=self.memory_format, labels=data.labels if cfg.conditional else None)
        self.data_identity = data.identity
        # reseeded from (seed, step) at every step, and drawn on the device: no copy from the host in the step
        self.latent_rng, self.augment_rng = torch.Generator(self.device), torch.Generator(self.device)
        self.style_rng = torch.Generator(self.device)  # a style G's noise inputs and mixing, reseeded like z
        self.fixed_noise = noise(64, cfg, "fixed", device=self.device)
        self.step = 0
        self.history: list[dict[str, float]] = []
        self._sampler: tuple[int, torch.nn.Module] | None = None  # (step, the EMA G with its own BatchNorm statistics)
        self._checkpoint_stamp = None  # the run folder's checkpoint as this trainer last read or wrote it (None: none)

    def train_step(self, real: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """One iteration of the DCGAN paper's algorithm on a batch of real images x and a batch of noise z (and,
        for a conditional DCGAN, the real images' labels, which G's images are asked for too).
        Returns [loss_d, loss_g, d_real, d_fake], still on the device: d_real and d_fake are the loss's diagnostics,
        D(x) and D(G(z)) for BCE, D's mean scores for hinge and WGAN-GP (losses.AdversarialLoss.scores)."""
        D = self.discriminator_for_step(self.step, labels)

        # (1) Update D: raise D(x) on the real images, lower D(G(z)) on the generated ones (d_steps times, each
        # with new noise: WGAN-GP's critic is trained further ahead of G than DCGAN's D)
        for repeat in range(self.cfg.d_steps):
            z = self.latents(self.step, repeat)
            with self.autocast:
                fake = self.g_forward(z, labels)
                logits_real = D(real)
                logits_fake = D(fake.detach())  # detached: this update leaves G as it is
                loss_d = self.loss.discriminator(logits_real, logits_fake)
                loss_d = loss_d + self.loss.penalty(D, real, fake.detach(), self.draw_key(repeat))  # WGAN-GP's, R1's
            self.update(self.opt_d, loss_d)

        # (2) Update G: raise D(G(z)), as judged by the D just updated
        with self.autocast:
            loss_g = self.loss.generator(D(fake))
        self.update(self.opt_g, loss_g)

        self.end_step()
        stats = [loss_d, loss_g, *self.loss.diagnostics(logits_real, logits_fake)]
        return torch.stack([v.detach().float() for v in stats])

    def draw_key(self, repeat: int = 0, step: int | None = None) -> tuple[int, ...]:
        """What keys a step's random draws: (step,), or (step, repeat) for D's later repeats."""
        step = self.step if step is None else step
        return (step, repeat) if repeat else (step,)

    def latents(self, step: int, repeat: int = 0) -> torch.Tensor:
        """This process's share of the step's noise z (its repeat-th, with several D steps), a pure function of
        (seed, step, repeat); a style-based G's own draws for that pass are seeded from the same key."""
        rng = seeded(self.latent_rng, self.cfg.seed, "z", *self.draw_key(repeat, step))
        z = torch.randn(self.cfg.batch_size, self.cfg.latent_dim, generator=rng, device=self.device)
        if self.cfg.arch == "style":  # its noise inputs and mixing with z: a pure function of (seed, step, repeat)
            self.G.draws = seeded(self.style_rng, self.cfg.seed, "style", *self.draw_key(repeat, step))
        return z[self.batches.share]

    def discriminator_for_step(self, step: int, labels: torch.Tensor | None = None
                               ) -> Callable[[torch.Tensor], torch.Tensor]:
        """D as the step uses it, images -> logits: told the batch's labels (a conditional D), behind the config's
        differentiable augmentation (DiffAugment), if any, whose random draws follow from (seed, step)."""
        if not self.augment:
            return lambda images: self.d_forward(images, labels)
        rng = seeded(self.augment_rng, self.cfg.seed, "augment", step)
        return lambda images: self.d_forward(diff_augment(images, self.augment, rng), labels)

    def update(self, optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> None:
        """Backpropagate the loss into fresh gradients and take one optimiser step (loss-scaled under fp16)."""
        optimizer.zero_grad(set_to_none=True)
        self.scaler.scale(loss).backward()
        self.scaler.step(optimizer)

    def end_step(self) -> None:
        """After both updates: the loss scale is updated once per step, as the AMP docs prescribe, and the EMA of
        G's weights takes the new weights in."""
        self.scaler.update()
        if self.ema is not None:
            self.ema.update_parameters(self.G)

    def fit(self, steps: int, progress: bool = True,
            on_log: Callable[[Trainer], None] | None = None) -> list[dict[str, float]]:
        """Train until `steps` steps in total (a resumed run continues to the same total)."""
        with run_lock(self.out_dir) if self.writes else contextlib.nullcontext():
            self._check_checkpoint_unchanged()
            self._fit(steps, progress, on_log)
        return self.history

    def _fit(self, steps: int, progress: bool, on_log: Callable[[Trainer], None] | None) -> None:
        cfg, pending = self.cfg, []
        bar = tqdm(total=steps, initial=self.step, disable=not (progress and is_main()), desc="training", unit="step")
        with HeldInterrupts() as interrupts:  # an interrupt ends the step it arrives in, then the loop
            while self.step < steps and not interrupts.arrived:
                pending.append(self.train_step(self.batches.batch(self.step), self.batches.labels(self.step)))
                self.step += 1
                last = self.step == steps
                sample = self.step % cfg.sample_every == 0 or last
                save = self.step % cfg.checkpoint_every == 0 or last or interrupts.arrived  # --resume goes on here
                if self.step % cfg.log_every == 0 or sample or save:
                    self._record(pending)  # the only host sync: losses are read back every log_every steps
                    bar.update(len(pending))
                    bar.set_postfix({k: f"{self.history[-1][k]:.3f}" for k in ("loss_d", "loss_g")})
                    pending = []
                    if on_log:
                        on_log(self)
                if self.writes and sample:
                    self.save_samples()
                if self.writes and save:
                    self.save_checkpoint()
        bar.close()
        if interrupts.arrived:
            interrupts.deliver()
        if self.writes:
            write_reports(self.history, self.out_dir, self.loss.scores)

    def _record(self, pending: list[torch.Tensor]) -> None:
        stats = mean_over_ranks(torch.stack(pending)).cpu().tolist()  # the global batch's means
        first = self.step - len(stats) + 1
        for offset, row in enumerate(stats):
            if not all(math.isfinite(v) for v in row):
                raise self._diverged(f"the loss became NaN or infinite at step {first + offset}")
            self.history.append(dict(zip(HISTORY_FIELDS, [first + offset, *row])))

    def _diverged(self, what: str) -> TrainingDiverged:
        """The error of a run whose loss or weights became NaN or infinite: where it stands, and what to try."""
        return TrainingDiverged(f"{what}{divergence_note(self.cfg, self.loss.remedy, self.out_dir)}")

    def _check_checkpoint_unchanged(self) -> None:
        """Refuse to write into the run folder if its checkpoint is not the one this trainer started from (or wrote
        last): another process trained the run further, or it holds another run. Nothing is written then."""
        if not self.writes or file_stamp(self.out_dir / CHECKPOINT_FILE) == self._checkpoint_stamp:
            return
        raise GanLibError(f"{self.out_dir / CHECKPOINT_FILE} is not the checkpoint this trainer started from: another "
                          "run wrote it or trained it further since; open the run again (start_or_resume, or "
                          "train --resume) to go on from it, or train into another folder; nothing was written")

    @property
    def sampling_generator(self) -> torch.nn.Module:
        """The generator for samples and evaluation: the EMA average when enabled (a copy with BatchNorm statistics
        of its own, recomputed once per step when asked for; training never sees it), else G itself."""
        if self.ema is None:
            return self.G
        if self._sampler is None or self._sampler[0] != self.step:
            self._sampler = (self.step, recompute_batchnorm(self.ema.module, self.cfg))
        return self._sampler[1]

    def generate(self, z: torch.Tensor | None = None) -> torch.Tensor:
        """Images for z (default: the fixed noise), in eval mode, as float [-1, 1] on the CPU."""
        return generate(self.sampling_generator, self.fixed_noise if z is None else z)

    def save_samples(self) -> Path:
        with run_lock(self.out_dir):  # held: the run folder's checks on links apply to a notebook's call too
            return save_grid(self.generate(), self.out_dir / "samples" / f"step_{self.step:07d}.png")

    def state_dict(self) -> dict:
        return {
            "format": CHECKPOINT_FORMAT, "config": self.cfg.to_dict(), "step": self.step,
            "generator": self.G.state_dict(), "discriminator": self.D.state_dict(),
            "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
            "history": self.history, "fixed_noise": self.fixed_noise.cpu(),
            "torch_rng": torch.get_rng_state(), "scaler": self.scaler.state_dict(),
            "ema": self.ema.state_dict() if self.ema is not None else None, "data": self.data_identity,
            "precision": precision_name(self.amp_dtype),
        }

    def load_state_dict(self, state: dict) -> None:
        self.G.load_state_dict(state["generator"])
        self.D.load_state_dict(state["discriminator"])
        for optimizer, key, lr in ((self.opt_g, "opt_g", self.cfg.lr_g), (self.opt_d, "opt_d", self.cfg.lr_d)):
            load_optimiser(optimizer, state[key], lr)  # lr may change on resuming (see run_folder.RESUMABLE)
        self.step, self.history = state["step"], list(state["history"])
        self.fixed_noise = state["fixed_noise"].to(self.device, self.fixed_noise.dtype)
        torch.set_rng_state(state["torch_rng"])
        if state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        if self.ema is not None and state.get("ema"):  # else the average starts again from G
            self.ema.load_state_dict(state["ema"])
        self._sampler = None

    def save_checkpoint(self, path: str | Path | None = None) -> Path:
        """Write atomically: a run killed while saving leaves the previous checkpoint intact."""
        if path is None and self.out_dir is None:
            raise GanLibError("this Trainer has no run folder: pass save_checkpoint a path, or create the Trainer "
                              "with out_dir")
        weights = [*self.G.parameters(), *self.D.parameters()]
        if not torch.stack([w.isfinite().all() for w in weights]).all():  # never replace a good checkpoint by this
            raise self._diverged(f"the weights became NaN or infinite by step {self.step}")
        if path is not None:
            return save_atomically(self.state_dict(), Path(path))
        with run_lock(self.out_dir):
            self._check_checkpoint_unchanged()
            path = save_atomically(self.state_dict(), self.out_dir / CHECKPOINT_FILE)
            self._checkpoint_stamp = file_stamp(path)
            write_history(self.history, self.out_dir)
        return path

    @classmethod
    def resume(cls, checkpoint: str | Path | Checkpoint, data: ImageSet, out_dir: str | Path | None = None,
               device: str = "auto", cfg: Config | None = None) -> Trainer:
        """A trainer in exactly the state the checkpoint (a path, or one already read from out_dir) recorded. Its
        config wins, unless `cfg` gives the one to go on with (run_folder.resumed_config says which changes may)."""
        read = isinstance(checkpoint, Checkpoint)
        own = out_dir is not None and (read or Path(checkpoint).expanduser().resolve()
                                       == (Path(out_dir).expanduser() / CHECKPOINT_FILE).resolve())
        stamp = file_stamp(Path(out_dir).expanduser() / CHECKPOINT_FILE) if own else None
        record = checkpoint if read else read_checkpoint(checkpoint)
        cfg = cfg or record.config
        kept = record.resumed_precision(resolve_device(device).type) if cfg.amp == record.config.amp else (None, "")
        trainer = cls(cfg, data, out_dir, device, kept)
        try:
            trainer.load_state_dict(record.state)
        except (KeyError, ValueError, RuntimeError, TypeError, IndexError, AttributeError) as exc:
            where = "this checkpoint" if read else printable(str(checkpoint))
            raise GanLibError(f"{where} cannot be resumed: its {unusable_part(exc)} is missing or does not fit this "
                              "run (the file is damaged, was edited or holds only weights); generate and evaluate "
                              "can still read its generator") from exc
        trainer._checkpoint_stamp = stamp
        if changed := record.config.differing(trainer.cfg.to_dict()):
            if is_main():  # the resumed run now differs from one uninterrupted run: say so
                before = record.config.to_dict()
                print(printable("resuming with " + ", ".join(f"{name} {before.get(name)!r} -> {value!r}"
                                                             for name, value in changed.items())), file=sys.stderr)
        return trainer

