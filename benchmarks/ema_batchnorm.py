"""What measuring the EMA generator's own BatchNorm statistics changes, on one checkpoint: evaluate's SWD (the same
held-out faces and latents as `python -m gan_lib evaluate`) with the statistics averaged from the raw generator's (what
gan_lib drew before) and recomputed on 16 batches of fixed noise (gan_lib now) and on 50.

    python benchmarks/ema_batchnorm.py runs/real/checkpoint.pt
"""

from __future__ import annotations

import argparse
import sys

import torch

from gan_lib.data import load_images, reference_samples
from gan_lib.measure.metrics import sliced_wasserstein
from gan_lib.models import Generator, generate, noise, recompute_batchnorm
from gan_lib.runs.checkpoint import read_checkpoint
from gan_lib.runs.cli import OneLineParser, at_least, run_script


def main() -> None:
    parser = OneLineParser(prog="benchmarks/ema_batchnorm.py", description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", help="a checkpoint trained with an EMA (the default) and --holdout")
    parser.add_argument("--n", type=at_least(1), default=2000)
    args = parser.parse_args()

    state = read_checkpoint(args.checkpoint)
    cfg, record = state.config, state.data
    if state.ema is None:
        raise SystemExit(f"{args.checkpoint} has no EMA generator (trained with --ema-decay 0)")
    averaged = Generator(cfg)
    averaged.load_state_dict(state.sampling_weights)
    data = load_images(record["name"], cfg.image_size, record["files"], record.get("drop_duplicates", False))
    real, other = reference_samples(data, record.get("holdout", 0), args.n)
    z = torch.cat([noise(min(500, len(real) - i), cfg, "evaluate", i) for i in range(0, len(real), 500)])
    print(f"step {state.step}, {len(real)} held-out faces, {cfg.image_size} px; SWD x1e3, real-vs-real floor "
          f"{sliced_wasserstein(real, other)['mean']:.2f}")
    for name, G in [("averaged statistics (gan_lib before)", averaged.eval()),
                    ("recomputed, 16 batches (gan_lib now)", recompute_batchnorm(averaged, cfg)),
                    ("recomputed, 50 batches", recompute_batchnorm(averaged, cfg, 50))]:
        swd = sliced_wasserstein(real, generate(G, z, as_uint8=True))
        print(f"{name}: {swd['mean']:.2f} ({', '.join(f'{v:.2f}' for v in swd['levels'])})", flush=True)


if __name__ == "__main__":
    sys.exit(run_script(main))
