"""StyleGAN's disentanglement claim on our synthetic faces: is w (the mapping network's output) more disentangled than
z? The paper's numbers at 1024 px (FFHQ-like faces, CelebA attributes): perceptual path length 664.9 in z against
233.3 in w, linear separability 165.0 against 3.74 (lower is more disentangled for both).

    python benchmarks/z_against_w.py [--steps 1500] [--width 32] [--seeds 0,1,2] [--n 2000] [--pairs 1000]
    python benchmarks/z_against_w.py --checkpoint runs/style/checkpoint.pt --seeds 0,1,2,3,4
    nohup python benchmarks/z_against_w.py --steps 1500 --out /tmp/z_against_w > /tmp/z_against_w.log 2>&1 &

Without --checkpoint, a style-based G (`train --arch style`, the `style` recipe) trains on the synthetic faces for
--steps (into --out when given: an earlier run there is resumed to --steps); its EMA weights are measured. Each
measurement seed draws new faces, paths and moved faces (gan_lib/measure/disentanglement.py says how each measure works:
path length on the attribute classifier's features, separability as the paper's exp of summed H(Y|X), entanglement
with steps of 3 standard deviations along each direction); the table gives the mean ± the standard deviation over
the seeds. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from gan_lib.data import load_images
from gan_lib.measure.attributes import attribute_classifier
from gan_lib.measure.disentanglement import check_space, format_table, z_against_w
from gan_lib.runs.checkpoint import load_generator
from gan_lib.runs.cli import OneLineParser, at_least, run_script
from gan_lib.runs.recipes import recipe
from gan_lib.runs.run_folder import start_or_resume
from gan_lib.train import Trainer


def seeds(text: str) -> list[int]:
    """An argparse type: a comma list of measurement seeds (non-negative integers)."""
    try:
        values = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma list of integers") from None
    if any(value < 0 for value in values):
        raise argparse.ArgumentTypeError(f"{text!r}: the seeds must be at least 0")
    return values


def main() -> None:
    parser = OneLineParser(prog="benchmarks/z_against_w.py", description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, help="measure this run's generator instead of training one")
    parser.add_argument("--steps", type=at_least(1), default=1500)
    parser.add_argument("--image-size", type=int, default=32)
    parser.add_argument("--width", type=at_least(1), default=32, help="G's and D's widths")
    parser.add_argument("--out", type=Path, help="train into (or resume) this run folder; by default none is kept")
    parser.add_argument("--seeds", type=seeds, default=[0, 1, 2], help="measurement seeds, a comma list")
    parser.add_argument("--n", type=at_least(100), default=2000,
                        help="faces labelled for the directions and separability")
    parser.add_argument("--pairs", type=at_least(10), default=1000, help="path-length pairs")
    parser.add_argument("--moved", type=at_least(10), default=500, help="faces moved along each direction")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()

    start = time.perf_counter()
    if args.checkpoint:
        G, cfg = load_generator(args.checkpoint, device=args.device)
        check_space(G, "w")  # a DCGAN checkpoint: one line, before the classifier
        trained = f"{args.checkpoint}"
    else:
        cfg = recipe("style", image_size=args.image_size, g_width=args.width, d_width=args.width,
                     **({} if args.out else {"sample_every": 10**9, "checkpoint_every": 10**9}))
        data = load_images("synthetic", args.image_size)
        trainer = (start_or_resume(cfg, data, args.out, args.device) if args.out
                   else Trainer(cfg, data, device=args.device))
        trainer.fit(args.steps, progress=False)
        G, trained = trainer.sampling_generator.eval(), f"{trainer.step} steps"
    train_s = time.perf_counter() - start
    classifier = attribute_classifier()
    print(f"style G ({trained}; {cfg.image_size} px, widths {cfg.g_width}/{cfg.d_width}, latent {cfg.latent_dim}, "
          f"{cfg.mapping_layers} mapping layers), {train_s:.0f} s; seeds {', '.join(map(str, args.seeds))}: "
          f"{args.n} labelled faces, {args.pairs} path pairs, {args.moved} moved faces each\n", flush=True)
    tables = []
    for seed in args.seeds:
        began = time.perf_counter()
        tables.append(z_against_w(G, classifier, n=args.n, seed=seed, pairs=args.pairs, moved=args.moved))
        cells = ", ".join(f"{row} {t['z']:.3g} / {t['w']:.3g}" for row, t in tables[-1].items()
                          if not row.startswith("separability:"))
        print(f"  seed {seed} ({time.perf_counter() - began:.0f} s), z / w: {cells}", flush=True)
    print("\n" + format_table(tables))
    print(f"\nlower is more disentangled, except entanglement's own attribute (a slider's strength); "
          f"{time.perf_counter() - start:.0f} s in all")


if __name__ == "__main__":
    sys.exit(run_script(main))
