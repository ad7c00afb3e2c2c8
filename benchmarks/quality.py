"""Equal training budgets, recipe against recipe: SWD against held-out real images, beside the real-vs-real floor.

    python benchmarks/quality.py [--steps 2000] [--image-size 32] [--width 32] [--recipes dcgan,default,...]
    python benchmarks/quality.py --data ../shared/data/animefacedataset --image-size 32 --width 64 --steps 3000 \\
        --curve-every 500 --out runs/quality-real32
    OMP_NUM_THREADS=1 python benchmarks/quality.py --data ../shared/data/animefacedataset --image-size 64 \\
        --minutes 30 --curve-every 5 --recipes w32,w48,w64

The data is split as `train --holdout` splits it (one image in eight held out, by a stable hash of its path). Each
recipe trains on the training part from the same seed for the same number of steps and batch size; then as many
samples as there are held-out images (at most --n; EMA weights where the recipe has them) are compared with the
held-out images by SWD (x 1e3, lower is better). The floor is the SWD between the same held-out images and as many
training images: what a generator that draws the training set itself would score. On the synthetic faces the
attribute classifier also reads the samples (values covered, KL to the true mix; lower is better). --curve-every
adds SWD against training steps (a learning curve), each point printed as it is measured. --minutes gives each
recipe a budget of training time instead of steps (then --curve-every is in minutes): the CPU time of this process,
which is the wall time of a one-thread run (OMP_NUM_THREADS=1); other work on the machine still slows it (here up to
3x fewer steps per CPU second), so run it alone or compare by steps. --out keeps each recipe's run folder (samples,
GIF, checkpoint); an earlier run there is kept unless --overwrite says to replace it.
Prints Markdown tables.
"""

from __future__ import annotations

import argparse
import copy
import math
import shutil
import sys
import time
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import torch

from gan_lib.config import Config
from gan_lib.data import HOLDOUT_EVERY, load_images, reference_samples
from gan_lib.measure.attributes import attribute_classifier
from gan_lib.measure.metrics import mode_coverage, sliced_wasserstein
from gan_lib.measure.viz import plot_learning_curves
from gan_lib.models import noise, recompute_batchnorm
from gan_lib.runs.checkpoint import CHECKPOINT_FILE
from gan_lib.runs.cli import OneLineParser, at_least, run_script
from gan_lib.runs.recipes import RECIPES
from gan_lib.runs.run_folder import TrainingRun, check_run_folder
from gan_lib.support.errors import GanLibError
from gan_lib.train import Trainer


def timed_fit(trainer: Trainer, steps: int) -> float:
    """Train to `steps` steps in total; the wall time it took."""
    start = time.perf_counter()
    trainer.fit(steps, progress=False)
    return time.perf_counter() - start


def train_until(trainer: Trainer, cpu_seconds: float, spent: float, chunk: int = 10) -> float:
    """Train `chunk` steps at a time until `spent` plus this process's CPU time reaches cpu_seconds; the CPU time
    it took."""
    start = time.process_time()
    while spent + time.process_time() - start < cpu_seconds:
        trainer.fit(trainer.step + chunk, progress=False)
    return time.process_time() - start


def swd_of(trainer: Trainer, held_out: torch.Tensor) -> dict:
    """SWD between the held-out images and as many samples of the trainer's sampling generator."""
    cfg = trainer.cfg
    samples = torch.cat([trainer.generate(noise(min(500, len(held_out) - i), cfg, "quality", i))
                         for i in range(0, len(held_out), 500)])
    return {**sliced_wasserstein(held_out, samples), "samples": samples}


@torch.no_grad()
def diagnose(trainer: Trainer, held_out: torch.Tensor) -> dict[str, float]:
    """SWD of four ways to sample: raw G and the EMA G with the BatchNorm statistics averaged from raw G's, in eval
    mode; the EMA G with batch statistics (train mode, batches of the training batch size); and the EMA G with its
    statistics recomputed from its own activations on 50 batches (gan_lib samples it so, with 16). A recipe without
    an EMA has raw G in eval and in train mode."""
    cfg, n, device = trainer.cfg, len(held_out), trainer.device
    z = noise(n, cfg, "quality", 0, device=device)
    batches = z.split(cfg.batch_size)

    def score(G: torch.nn.Module, train_mode: bool = False) -> float:
        G = copy.deepcopy(G).train(train_mode)
        return sliced_wasserstein(held_out, torch.cat([G(b).float().cpu() for b in batches]))["mean"]

    if trainer.ema is None:
        return {"raw G": score(trainer.G), "raw G, batch stats": score(trainer.G, train_mode=True)}
    ema = trainer.ema.module  # the average itself: sampling_generator already has its statistics recomputed
    return {"raw G": score(trainer.G), "EMA G": score(ema), "EMA G, batch stats": score(ema, train_mode=True),
            "EMA G, recomputed BN": score(recompute_batchnorm(ema, cfg, 50))}


def main() -> None:
    parser = OneLineParser(prog="benchmarks/quality.py", description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="synthetic")
    parser.add_argument("--steps", type=at_least(1), default=2000)
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--width", type=at_least(1), default=32)
    parser.add_argument("--recipes", default="dcgan,default", help=f"a comma list of: {', '.join(RECIPES)}")
    parser.add_argument("--n", type=at_least(2), default=2000, help="at most this many held-out images compared by SWD")
    parser.add_argument("--minutes", type=at_least(0.01, float),
                        help="a budget of training time (CPU minutes) instead of --steps")
    parser.add_argument("--curve-every", type=at_least(0, float), default=0,
                        help="also measure SWD every this many steps (with --minutes: minutes)")
    parser.add_argument("--out", type=Path, help="keep each recipe's run folder under this folder")
    parser.add_argument("--overwrite", action="store_true", help="replace the runs an earlier --out left there")
    parser.add_argument("--plot", type=Path, help="with --curve-every: save the learning curves as this PNG")
    parser.add_argument("--diagnose", action="store_true",
                        help="at each curve point also score raw G and the EMA G's BatchNorm variants")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    recipes = [name.strip() for name in args.recipes.split(",")]
    if unknown := [name for name in recipes if name not in RECIPES]:
        parser.error(f"unknown recipe {', '.join(map(repr, unknown))}: choose from {', '.join(RECIPES)}")
    if args.plot and not args.curve_every:
        parser.error("--plot draws the learning curves of --curve-every: give --curve-every too")
    for name in recipes:  # before any work: a recipe that would not train, or a run it would replace
        replace(Config(image_size=args.image_size, g_width=args.width, d_width=args.width), **RECIPES[name])
        if args.out:
            earlier = args.out / name / CHECKPOINT_FILE
            if earlier.exists() and not args.overwrite:
                raise GanLibError(f"{earlier} holds an earlier run: pass --overwrite to replace it, or choose "
                                  "another --out")
            check_run_folder(args.out / name, args.data, "choose another --out")

    data = load_images(args.data, args.image_size)
    train_part, _ = data.split(HOLDOUT_EVERY)
    held_out, other = reference_samples(data, HOLDOUT_EVERY, args.n)
    floor = sliced_wasserstein(held_out, other)
    classifier = attribute_classifier() if args.data == "synthetic" else None
    budget = f"{args.minutes:g} CPU minutes" if args.minutes else f"{args.steps} steps"
    print(f"{len(train_part)} training images, {len(held_out)} held-out images compared, {args.image_size} px, "
          f"widths {args.width} and batch 64 unless the recipe says otherwise, {budget} each\n")
    levels = ", ".join(f"{v:.1f}" for v in floor["levels"])
    print("| recipe | SWD x1e3 (levels, finest first) | hair colours | eye colours | hair styles | mouths | KL sum | "
          "train s | steps |")
    print("|---|---|---|---|---|---|---|---|---|")
    print(f"| real-vs-real floor | {floor['mean']:.2f} ({levels}) | | | | | | | |", flush=True)
    curves, steps_at = {}, defaultdict(list)
    for name in recipes:
        cfg = replace(Config(image_size=args.image_size, g_width=args.width, d_width=args.width), **RECIPES[name])
        if args.out is None:
            cfg = replace(cfg, sample_every=10**9, checkpoint_every=10**9)
        elif args.overwrite:
            shutil.rmtree(args.out / name, ignore_errors=True)  # asked for: the earlier run goes
        trainer = TrainingRun(cfg, train_part, args.out / name if args.out else None, device=args.device)
        seconds, curve = 0.0, []
        budget = args.minutes * 60 if args.minutes else args.steps
        every = args.curve_every * (60 if args.minutes else 1) or budget
        for target in [min(every * k, budget) for k in range(1, math.ceil(budget / every) + 1)]:
            seconds += train_until(trainer, target, seconds) if args.minutes else timed_fit(trainer, int(target))
            swd = swd_of(trainer, held_out)
            curve.append((target / 60 if args.minutes else trainer.step, swd["mean"]))
            steps_at[name].append(trainer.step)
            print(f"  {name} step {trainer.step}, {seconds:.0f} s: SWD {swd['mean']:.2f}", flush=True)
            if args.diagnose:
                variants = ", ".join(f"{k} {v:.2f}" for k, v in diagnose(trainer, held_out).items())
                print(f"  {name} step {trainer.step}, {seconds:.0f} s: {variants}", flush=True)
        curves[name] = curve
        levels = ", ".join(f"{v:.1f}" for v in swd["levels"])
        row = f"| {name} | **{swd['mean']:.2f}** ({levels}) |"
        if classifier is not None:
            modes = mode_coverage(swd["samples"], classifier)
            row += "".join(f" {m['covered']}/{m['values']} |" for m in modes.values())
            row += f" {sum(m['kl'] for m in modes.values()):.3f} |"
        else:
            row += " - | - | - | - | - |"
        print(row + f" {seconds:.0f} | {trainer.step} |", flush=True)
    if args.curve_every:
        steps = [step for step, _ in next(iter(curves.values()))]
        unit = "CPU minutes" if args.minutes else "steps"
        print(f"\nSWD x1e3 against training {unit} (floor {floor['mean']:.2f})\n")
        print("| recipe | " + " | ".join(f"{s:g}" for s in steps) + " |")
        print("|---|" + "---|" * len(steps))
        for name, curve in curves.items():  # with --minutes, each value with the steps it had reached
            values = [f"{v:.2f}" + (f" ({n})" if args.minutes else "") for (_, v), n in zip(curve, steps_at[name])]
            print(f"| {name} | " + " | ".join(values) + " |")
        if args.plot:
            title = f"{args.image_size} px, {len(held_out)} held-out faces"
            plot_learning_curves(curves, floor["mean"], args.plot, title=title, xlabel=f"training {unit}")


if __name__ == "__main__":
    sys.exit(run_script(main))
