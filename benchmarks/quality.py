"""Equal training budgets, the seeds' DCGAN recipe against others: SWD and mode coverage on the synthetic faces.

    python benchmarks/quality.py [--steps 2000] [--image-size 32] [--width 32] [--recipes seeds,default,...]
    python benchmarks/quality.py --data FOLDER --image-size 64 --width 64 --steps 3000   # real faces, on a GPU

Each recipe trains from the same seed for the same number of steps and batch size; then 2,000 samples (EMA weights
where the recipe has them) are compared with 2,000 held-out real images by SWD (x 1e3, lower is better) and, on the
synthetic faces, read by the attribute classifier (values covered, KL to the true distribution; lower is better).
Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import replace

import torch

from gan_lib.config import SEEDS_RECIPE, Config
from gan_lib.data import load_images, synthetic_set
from gan_lib.metrics import attribute_classifier, mode_coverage, sliced_wasserstein
from gan_lib.train import Trainer, noise

RECIPES = {
    "seeds": SEEDS_RECIPE,
    "default": {},
    "seeds+ema": {**SEEDS_RECIPE, "ema_decay": 0.99},
    "seeds+ema999": {**SEEDS_RECIPE, "ema_decay": 0.999},
    "seeds+smoothing": {**SEEDS_RECIPE, "label_smoothing": 0.1},
    "seeds+diffaugment": {**SEEDS_RECIPE, "augment": "color,translation,cutout"},
    "seeds+translation": {**SEEDS_RECIPE, "augment": "color,translation"},
    "seeds+ttur": {**SEEDS_RECIPE, "lr_d": 4e-4, "lr_g": 1e-4},
    "seeds+sn": {**SEEDS_RECIPE, "spectral_norm": True},
    "seeds+ema+smoothing": {**SEEDS_RECIPE, "ema_decay": 0.99, "label_smoothing": 0.1},
    "seeds+ema+diffaugment": {**SEEDS_RECIPE, "ema_decay": 0.99, "augment": "color,translation,cutout"},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default="synthetic")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--recipes", default="seeds,default")
    parser.add_argument("--n", type=int, default=2000, help="images compared by SWD")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()

    if args.data == "synthetic":
        train_set, reference = synthetic_set(args.image_size, 10_000), synthetic_set(args.image_size, args.n, seed=7)
        held_out = reference.images
    else:
        train_set = load_images(args.data, args.image_size)
        g = torch.Generator().manual_seed(0)
        held_out = train_set.images[torch.randperm(len(train_set), generator=g)[:args.n]]
    classifier = attribute_classifier() if args.data == "synthetic" else None

    print("| recipe | SWD x1e3 (levels) | hair colours | eye colours | hair styles | mouths | KL sum | train s |")
    print("|---|---|---|---|---|---|---|---|")
    for name in args.recipes.split(","):
        cfg = replace(Config(image_size=args.image_size, g_width=args.width, d_width=args.width),
                      **RECIPES[name], sample_every=10**9, checkpoint_every=10**9)
        trainer = Trainer(cfg, train_set, device=args.device)
        start = time.perf_counter()
        trainer.fit(args.steps, progress=False)
        seconds = time.perf_counter() - start
        samples = torch.cat([trainer.generate(noise(500, cfg, "quality", i)) for i in range(args.n // 500)])
        swd = sliced_wasserstein(held_out[:len(samples)], samples)
        levels = ", ".join(f"{v:.1f}" for v in swd["levels"])
        row = f"| {name} | **{swd['mean']:.2f}** ({levels}) |"
        if classifier is not None:
            modes = mode_coverage(samples, classifier)
            row += "".join(f" {m['covered']}/{m['values']} |" for m in modes.values())
            row += f" {sum(m['kl'] for m in modes.values()):.3f} |"
        else:
            row += " - | - | - | - | - |"
        print(row + f" {seconds:.0f} |", flush=True)


if __name__ == "__main__":
    main()
