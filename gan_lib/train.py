"""The Trainer: the DCGAN training step and the loop around it, with G's exponential moving average (EMA) and the
run's history. It writes no file: runs.run_folder.TrainingRun is a Trainer that keeps a run folder."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import PurePath

import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from tqdm.auto import tqdm

from . import losses
from .augment import diff_augment, parse_policy
from .config import Config
from .data import DeviceBatches, ImageSet
from .models import generate, noise, recompute_batchnorm
from .networks import build_models
from .support.errors import GanLibError, printable
from .support.placement import Placement
from .support.runtime import HeldInterrupts, is_main, mean_over_ranks, precision_name, seeded, world_size

STATE_FORMAT = 1  # the layout of a Trainer's state_dict, and so of a checkpoint file
HISTORY_FIELDS = ("step", "loss_d", "loss_g", "d_real", "d_fake")  # a row of a run's history, and of history.csv


class TrainingDiverged(GanLibError):
    """A loss became NaN or infinite; the last good checkpoint is left as it was."""


class Trainer:
    """Holds G, D, their optimisers and the run's history; `fit` trains for a number of steps.

    Under torchrun, G and D are wrapped in DistributedDataParallel and each process trains on its share of the
    global batch; rank 0 alone keeps the EMA.
    """

    def __init__(self, cfg: Config, data: ImageSet, device: str = "auto",
                 kept_precision: tuple[str | None, str] = (None, "")):
        if data.images.shape[-1] != cfg.image_size:
            raise GanLibError(f"the data is {data.images.shape[-1]} px but the config asks for {cfg.image_size} px")
        if cfg.conditional and data.labels is None:
            raise GanLibError(f"the config is conditional on {cfg.condition}, but the data has no labels: load it "
                              f"with load_images(..., condition={cfg.condition!r})")
        if cfg.conditional and data.classes != cfg.classes:
            raise GanLibError(printable(f"the config's classes are {', '.join(cfg.classes)}, but the data's are "
                                        f"{', '.join(data.classes)}: train on data with the same classes"))
        if isinstance(device, PurePath):
            raise GanLibError(f"a Trainer writes no files, and {printable(str(device))} is not a device: to train "
                              "into a run folder use TrainingRun(cfg, data, out_dir) from gan_lib.runs.run_folder, "
                              "or start_or_resume")
        if cfg.arch == "style" and world_size() > 1:
            raise GanLibError("the style-based generator trains in one process for now (its noise and mixing draws "
                              "are not split over processes): run it without torchrun, or train --arch dcgan")
        self.cfg = cfg
        self.placement = place = Placement(cfg, device, kept_precision)  # device, precision, DDP, compile
        self.device, self.autocast, self.scaler = place.device, place.autocast, place.scaler
        self.G, self.D = place.networks(*build_models(cfg, self.device))
        self.opt_g, self.opt_d = place.adam(self.G, cfg.lr_g), place.adam(self.D, cfg.lr_d)
        self.ema = (AveragedModel(self.G, multi_avg_fn=get_ema_multi_avg_fn(cfg.ema_decay), use_buffers=True)
                    if cfg.ema_decay and is_main() else None)
        self.g_forward, self.d_forward = place.forward(self.G), place.forward(self.D)
        self.loss = losses.for_config(cfg)
        self.augment = parse_policy(cfg.augment)
        self.batches = DeviceBatches(data.images, cfg.batch_size, cfg.seed, self.device,
                                     memory_format=place.memory_format,
                                     labels=data.labels if cfg.conditional else None)
        self.data_identity = data.identity
        # reseeded from (seed, step) at every step, and drawn on the device: no copy from the host in the step
        self.latent_rng, self.augment_rng = torch.Generator(self.device), torch.Generator(self.device)
        self.style_rng = torch.Generator(self.device)  # a style G's noise inputs and mixing, reseeded like z
        self.fixed_noise = noise(64, cfg, "fixed", device=self.device)
        self.step = 0
        self.history: list[dict[str, float]] = []
        self._sampler: tuple[int, torch.nn.Module] | None = None  # (step, the EMA G with its own BatchNorm statistics)

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
        """Train until `steps` steps in total (a resumed run continues to the same total). Ctrl-C or SIGTERM ends the
        step under way, then `at_checkpoint` (a TrainingRun saves there) before the interrupt goes on."""
        cfg, pending = self.cfg, []
        bar = tqdm(total=steps, initial=self.step, disable=not (progress and is_main()), desc="training", unit="step")
        with HeldInterrupts() as interrupts:
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
                if sample:
                    self.at_sample()
                if save:
                    self.at_checkpoint()
        bar.close()
        if interrupts.arrived:
            interrupts.deliver()
        return self.history

    def at_sample(self) -> None:
        """Called every cfg.sample_every steps and at the end: a Trainer keeps nothing (a TrainingRun saves a grid)."""

    def at_checkpoint(self) -> None:
        """Called every cfg.checkpoint_every steps, at the end and on an interrupt: a TrainingRun saves there."""

    def _record(self, pending: list[torch.Tensor]) -> None:
        stats = mean_over_ranks(torch.stack(pending)).cpu().tolist()  # the global batch's means
        first = self.step - len(stats) + 1
        for offset, row in enumerate(stats):
            if not all(math.isfinite(v) for v in row):
                raise self.diverged(f"the loss became NaN or infinite at step {first + offset}")
            self.history.append(dict(zip(HISTORY_FIELDS, [first + offset, *row])))

    def diverged(self, what: str, where: str = "", resumable: bool = False) -> TrainingDiverged:
        """The error of a run whose loss or weights became NaN or infinite, and what to try for its loss. A
        TrainingRun says `where` its last good checkpoint is, and whether it can be resumed (with halved rates)."""
        lower = f"--lr-g {self.cfg.lr_g / 2:g} --lr-d {self.cfg.lr_d / 2:g}"
        advice = (f"resume it with learning rates halved (train --resume {lower}; in a notebook, the same run with "
                  "lr_g and lr_d halved in its config)" if resumable else
                  f"train again with learning rates halved ({lower})")
        where = f" ({where})" if where else ""
        return TrainingDiverged(f"{what}{where}; {advice}, or start a new run with {self.loss.remedy}")

    def check_finite(self) -> None:
        """Refuse weights that became NaN or infinite (a checkpoint of them must never replace a good one)."""
        weights = [*self.G.parameters(), *self.D.parameters()]
        if not torch.stack([w.isfinite().all() for w in weights]).all():
            raise self.diverged(f"the weights became NaN or infinite by step {self.step}")

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

    def state_dict(self) -> dict:
        return {
            "format": STATE_FORMAT, "config": self.cfg.to_dict(), "step": self.step,
            "generator": self.G.state_dict(), "discriminator": self.D.state_dict(),
            "opt_g": self.opt_g.state_dict(), "opt_d": self.opt_d.state_dict(),
            "history": self.history, "fixed_noise": self.fixed_noise.cpu(),
            "torch_rng": torch.get_rng_state(), "scaler": self.scaler.state_dict(),
            "ema": self.ema.state_dict() if self.ema is not None else None, "data": self.data_identity,
            "precision": precision_name(self.placement.amp_dtype),
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


def load_optimiser(optimizer: torch.optim.Optimizer, saved: dict, lr: float) -> None:
    """Restore an optimiser's state at the learning rate `lr`; a ValueError naming its state where the moments saved
    do not fit the parameters (a damaged checkpoint would otherwise fail in the middle of training)."""
    optimizer.load_state_dict(saved)
    for group in optimizer.param_groups:
        group["lr"] = lr
        for param in group["params"]:
            moments = optimizer.state.get(param, {})
            if moments and not all(isinstance(moments.get(k), torch.Tensor) and moments[k].shape == param.shape
                                   for k in ("exp_avg", "exp_avg_sq")):
                raise ValueError("optimiser state: its moments do not fit the parameters")


def dcgan_step(G, D, opt_g, opt_d, real: torch.Tensor, z: torch.Tensor, label_smoothing: float = 0.0
               ) -> tuple[torch.Tensor, torch.Tensor]:
    """One step of the DCGAN paper's algorithm, written plainly: what Trainer.train_step computes for the BCE loss in
    one process, without the placement (autocast, loss scaling, DDP) and the other losses' penalties. The test
    test_the_step_is_the_dcgan_algorithm_written_plainly (tests/test_train.py) proves the two equal, weight for
    weight. Returns (loss_d, loss_g)."""
    # (1) D first, on real images and on G's images detached, so that D's backward stops at D
    fake = G(z)
    loss_d = losses.discriminator_bce(D(real), D(fake.detach()), real_label=1 - label_smoothing)
    opt_d.zero_grad()
    loss_d.backward()
    opt_d.step()
    # (2) then G, through the D just updated, on the same images (running G again would move its BatchNorm
    # statistics twice). Each update clears its gradients just before its backward: D's weights also receive
    # gradients from G's loss, and those must not reach D's next step.
    loss_g = losses.generator_non_saturating(D(fake))
    opt_g.zero_grad()
    loss_g.backward()
    opt_g.step()
    return loss_d, loss_g
