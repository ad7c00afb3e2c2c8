"""The conditional DCGAN's conditioning accuracy against training steps, on the synthetic faces.

    python benchmarks/conditional.py [--condition hair_color] [--steps 2000] [--every 250] [--width 32]

Trains a conditional DCGAN (our default recipe, 32 px, batch 64, seed 0) on the training part of the 10,000
synthetic faces labelled by one attribute; every --every steps it asks the EMA generator for each class in turn
(100 faces per class) and the attribute classifier reads the attribute back: the share read as the class asked for
is the conditioning accuracy (chance: one over the number of classes). At the end, SWD against held-out faces beside
the real-vs-real floor. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import sys
import time

import torch

from gan_lib.config import Config
from gan_lib.data import HOLDOUT_EVERY, load_images, reference_samples
from gan_lib.data.synthetic import ATTRIBUTES
from gan_lib.measure.attributes import attribute_classifier
from gan_lib.measure.metrics import conditioning_accuracy, sliced_wasserstein
from gan_lib.models import generate, noise
from gan_lib.runs.cli import OneLineParser, at_least, run_script
from gan_lib.train import Trainer


def main() -> None:
    parser = OneLineParser(prog="benchmarks/conditional.py", description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--condition", default="hair_color", choices=tuple(ATTRIBUTES))
    parser.add_argument("--steps", type=at_least(1), default=2000)
    parser.add_argument("--every", type=at_least(1), default=250)
    parser.add_argument("--width", type=at_least(1), default=32)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()

    data = load_images("synthetic", 32, condition=args.condition)
    train_part, _ = data.split(HOLDOUT_EVERY)
    held_out, other = reference_samples(data, HOLDOUT_EVERY, 2000)
    classifier = attribute_classifier()
    cfg = Config(image_size=32, g_width=args.width, d_width=args.width, condition=args.condition,
                 classes=data.classes, sample_every=10**9, checkpoint_every=10**9)
    trainer = Trainer(cfg, train_part, device=args.device)
    asked = torch.arange(100 * len(data.classes)) % len(data.classes)
    print(f"conditional DCGAN on {len(train_part)} synthetic faces labelled by {args.condition} "
          f"({len(data.classes)} classes: chance {1 / len(data.classes):.1%}), widths {args.width}\n")
    print("| step | conditioning accuracy | CPU s |")
    print("|---|---|---|")
    seconds = 0.0
    for target in range(args.every, args.steps + args.every, args.every):
        start = time.perf_counter()
        trainer.fit(min(target, args.steps), progress=False)
        seconds += time.perf_counter() - start
        faces = generate(trainer.sampling_generator, noise(len(asked), cfg, "conditional"), labels=asked)
        accuracy = conditioning_accuracy(faces, asked, args.condition, classifier)
        print(f"| {trainer.step} | {accuracy:.1%} | {seconds:.0f} |", flush=True)
    samples = trainer.generate(noise(len(held_out), cfg, "quality"))  # every class in turn
    swd, floor = sliced_wasserstein(held_out, samples)["mean"], sliced_wasserstein(held_out, other)["mean"]
    print(f"\nSWD x1e3 after {trainer.step} steps: {swd:.2f} ({len(held_out)} held-out faces); floor {floor:.2f}")


if __name__ == "__main__":
    sys.exit(run_script(main))
