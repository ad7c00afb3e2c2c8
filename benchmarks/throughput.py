"""Training throughput: the canonical DCGAN loop against gan_lib's trainer, same model, batch and images.

    python benchmarks/throughput.py [--data FOLDER] [--image-size 64] [--batch-size 64 256] [--steps 50]
                                    [--device auto] [--compile] [--processes 1 2]
    python benchmarks/throughput.py --precisions [--sizes 32 64] [--steps 10] [--warmup 2]
    OMP_NUM_THREADS=1 python benchmarks/throughput.py --widths 32 48 64 [--batch-size 64] [--image-size 64] \
        [--amps auto off]
    python benchmarks/throughput.py --profile [--widths 32] [--image-size 64] [--steps 5]

(a) canonical: the PyTorch DCGAN tutorial's loop, written plainly: ImageFolder + DataLoader that decode, resize and
    normalise every image every epoch, Sigmoid + BCELoss in fp32, a loss read back (.item()) every step.
(b) gan_lib: Trainer with its defaults for the device (uint8 data on the device, mixed precision, channels_last and
    fused Adam on a GPU; losses read back every log_every steps).
Both train the DCGAN paper's recipe (no EMA or augmentation) for the same number of steps after a warm-up. Prints img/s,
the ratio, and the model FLOP utilisation (FLOPs per step from torch.utils.flop_counter) where the peak is known.
--processes N ... also times gan_lib's trainer on N processes under torchrun (DDP, the same global batch; one
thread each on the CPU), against one process, and prints a second table.
--precisions times gan_lib's trainer alone in fp32 and bf16 (autocast), contiguous and channels_last, at each
--sizes, in one run, beside the device's measured matmul peak in each dtype (2048 x 2048, or 512 where a dtype is
emulated and slow), and says whether the CPU has native bf16 (runtime.native_bf16_cpu).
--widths times gan_lib's trainer alone with our default recipe (EMA included) at each G and D width: img/s and
training steps per minute, the rate that turns benchmarks/quality.py's curves against steps into budgets of time;
--amps auto off times what train picks on this device beside full precision (bf16 autocast on a native-bf16 CPU).
--profile shows where a training step's time goes (torch.profiler, self CPU time of each operator, in groups:
convolutions, BatchNorm, activations, optimiser and EMA, copies and layout, the rest), contiguous and channels_last,
with our default recipe at the first --widths (default 64).
The data folder defaults to ../shared/data/animefacedataset, else synthetic faces written to a temporary folder.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch
import torchvision.transforms as T
from torch import nn
from torch.utils.data import DataLoader
from torch.utils.flop_counter import FlopCounterMode
from torchvision.datasets import ImageFolder

from gan_lib.config import Config
from gan_lib.data import prepare_folder
from gan_lib.networks import build_models
from gan_lib.runs.cli import OneLineParser, at_least, run_script
from gan_lib.runs.recipes import DCGAN_RECIPE
from gan_lib.support.runtime import resolve_device
from gan_lib.train import Trainer

# dense bf16/fp16 tensor-core peaks (FLOP/s) for the GPUs we report on
PEAK_FLOPS = {"H100": 989e12, "H200": 989e12, "A100": 312e12, "L4": 121e12, "T4": 65e12}


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def canonical(cfg: Config, folder: Path, steps: int, warmup: int, device: torch.device, workers: int) -> float:
    """img/s of the tutorial's loop."""
    transform = T.Compose([T.Resize(cfg.image_size), T.CenterCrop(cfg.image_size), T.ToTensor(),
                           T.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))])
    loader = DataLoader(ImageFolder(str(folder), transform=transform), batch_size=cfg.batch_size, shuffle=True,
                        num_workers=workers, drop_last=True, persistent_workers=workers > 0)
    G, D = build_models(cfg, device)
    criterion = nn.BCELoss()
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr_d, betas=(cfg.beta1, cfg.beta2))
    opt_g = torch.optim.Adam(G.parameters(), lr=cfg.lr_g, betas=(cfg.beta1, cfg.beta2))
    losses, step, start = [], 0, None
    while step < warmup + steps:
        for real, _ in loader:
            if step == warmup:
                _sync(device)
                start = time.perf_counter()
            if step == warmup + steps:
                break
            real = real.to(device)
            D.zero_grad()
            output = torch.sigmoid(D(real))
            error_real = criterion(output, torch.full_like(output, 1.0))
            error_real.backward()
            fake = G(torch.randn(len(real), cfg.latent_dim, device=device))
            output = torch.sigmoid(D(fake.detach()))
            error_fake = criterion(output, torch.zeros_like(output))
            error_fake.backward()
            opt_d.step()
            G.zero_grad()
            output = torch.sigmoid(D(fake))
            error_g = criterion(output, torch.ones_like(output))
            error_g.backward()
            opt_g.step()
            losses.append((error_real + error_fake).item() + error_g.item())
            step += 1
    _sync(device)
    return steps * cfg.batch_size / (time.perf_counter() - start)


def ours(cfg: Config, images: torch.Tensor, steps: int, warmup: int, device: torch.device) -> tuple[float, float]:
    """(img/s, FLOPs per step) of gan_lib's trainer."""
    from gan_lib.data import ImageSet

    trainer = Trainer(cfg, ImageSet(images, "benchmark"), device=str(device))
    trainer.fit(warmup, progress=False)
    with FlopCounterMode(display=False) as counter:
        trainer.train_step(trainer.batches.batch(trainer.step))
    _sync(device)
    start = time.perf_counter()
    trainer.fit(trainer.step + steps, progress=False)
    _sync(device)
    return steps * cfg.batch_size / (time.perf_counter() - start), counter.get_total_flops()


def worker(args: argparse.Namespace, folder: Path) -> None:
    """One rank under torchrun: time the trainer; rank 0 prints the global img/s."""
    from gan_lib.support import runtime
    device = runtime.setup(args.device)
    with runtime.main_first():
        images = prepare_folder(folder, args.image_size).images
    for batch in args.batch_size:
        cfg = replace(Config(image_size=args.image_size, batch_size=batch), **DCGAN_RECIPE)
        fast, _ = ours(cfg, images, args.steps, args.warmup, torch.device(device))
        if runtime.is_main():
            print(f"img/s {batch} {fast:.1f}", flush=True)
    runtime.teardown()


def processes_table(args: argparse.Namespace, folder: Path) -> None:
    """gan_lib's img/s on each number of processes in args.processes, each run under torchrun."""
    print("\n| processes | batch (global) | gan_lib img/s | vs 1 process |\n|---|---|---|---|")
    first = {}
    for n in args.processes:
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={n}", __file__,
                   "--worker", "--data", str(folder), "--image-size", str(args.image_size), "--steps", str(args.steps),
                   "--warmup", str(args.warmup), "--device", args.device, "--batch-size",
                   *map(str, args.batch_size)]
        env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", str(max(1, os.cpu_count() // n)))}
        result = subprocess.run(command, capture_output=True, text=True, env=env)
        if result.returncode:
            raise SystemExit(f"{n} processes failed:\n{result.stderr[-2000:]}")
        for line in result.stdout.splitlines():
            if line.startswith("img/s "):
                _, batch, speed = line.split()
                first.setdefault(batch, float(speed))
                print(f"| {n} | {batch} | {float(speed):.0f} | {float(speed) / first[batch]:.2f}x |", flush=True)


def matmul_peak(dtype: torch.dtype, device: torch.device) -> float:
    """FLOP/s of a square matmul in `dtype`: 2048 a side, or 512 where one of 512 already takes 0.1 s (emulated)."""
    for side in (512, 2048):
        a = torch.randn(side, side, device=device).to(dtype)
        a @ a
        _sync(device)
        start = time.perf_counter()
        for _ in range(3):
            a @ a
        _sync(device)
        seconds = (time.perf_counter() - start) / 3
        if seconds > 0.1 or side == 2048:
            return 2 * side**3 / seconds


LAYOUTS = {"off": "contiguous", "on": "channels_last"}  # the values of --channels-last timed, and their names


def precision_table(args: argparse.Namespace, folder: Path, device: torch.device) -> None:
    """gan_lib's img/s and FLOP/s in fp32 and bf16, contiguous and channels_last, at each size, in one run."""
    from gan_lib.support.runtime import native_bf16_cpu

    peaks = {amp: matmul_peak(dtype, device) for amp, dtype in (("off", torch.float32), ("bf16", torch.bfloat16))}
    native = "yes" if native_bf16_cpu() else "no (bf16 is emulated)"
    print(f"\nmatmul peak: fp32 {peaks['off'] / 1e9:.1f} GFLOP/s, bf16 {peaks['bf16'] / 1e9:.1f} GFLOP/s; "
          f"native bf16 on this CPU: {native}")
    print("| px | precision | layout | gan_lib img/s | vs fp32 contiguous | GFLOP/s | of the dtype's matmul peak |")
    print("|---|---|---|---|---|---|---|")
    for size in args.sizes:
        images = prepare_folder(folder, size).images
        first = None
        for amp in ("off", "bf16"):
            for layout, layout_name in LAYOUTS.items():
                cfg = replace(Config(image_size=size, batch_size=args.batch_size[0], amp=amp, channels_last=layout),
                              **DCGAN_RECIPE)
                fast, flops = ours(cfg, images, args.steps, args.warmup, device)
                first = first or fast
                achieved = flops * fast / cfg.batch_size
                print(f"| {size} | {'bf16' if amp == 'bf16' else 'fp32'} | "
                      f"{layout_name} | {fast:.1f} | {fast / first:.2f}x | "
                      f"{achieved / 1e9:.1f} | {achieved / peaks[amp]:.0%} |", flush=True)


def default_recipe(args: argparse.Namespace, width: int, batch: int, layout: str, amp: str = "auto") -> Config:
    """Our default recipe at these widths, batch size, layout and precision, at --image-size."""
    return Config(image_size=args.image_size, g_width=width, d_width=width, batch_size=batch, channels_last=layout,
                  amp=amp)


def widths_table(args: argparse.Namespace, folder: Path, device: torch.device) -> None:
    """gan_lib's img/s and steps per minute with our default recipe at each width and batch size, contiguous and
    channels_last (--channels-last auto picks channels_last on CPUs and CUDA GPUs), in each --amps precision."""
    from gan_lib.support.runtime import amp_dtype, precision_note

    images = prepare_folder(folder, args.image_size).images
    print("| px | widths | batch | layout | precision | gan_lib img/s | steps per minute |")
    print("|---|---|---|---|---|---|---|")
    for width in args.widths:
        for batch in args.batch_size:
            for layout, layout_name in LAYOUTS.items():
                for amp in args.amps:
                    fast, _ = ours(default_recipe(args, width, batch, layout, amp), images, args.steps, args.warmup,
                                   device)
                    precision = precision_note(amp, amp_dtype(amp, device), device)
                    print(f"| {args.image_size} | {width} | {batch} | {layout_name} | {precision} | {fast:.1f} | "
                          f"{60 * fast / batch:.0f} |", flush=True)


PROFILE_GROUPS = {  # operator name fragments -> group; the first group that matches wins
    "convolutions": ("conv",),
    "BatchNorm": ("batch_norm",),
    "activations": ("relu", "leaky", "tanh", "threshold", "sigmoid"),
    "optimiser and EMA": ("_foreach", "adam", "lerp"),
    "copies and layout": ("copy", "contiguous", "clone", "empty", "as_strided", "_to_"),
}


def profile_table(args: argparse.Namespace, folder: Path, device: torch.device) -> None:
    """Share of a training step's self CPU time per group of operators, contiguous and channels_last; then the
    operators that take the most of it (channels_last)."""
    from torch.profiler import ProfilerActivity, profile

    from gan_lib.data import ImageSet

    images = prepare_folder(folder, args.image_size).images
    width = (args.widths or [64])[0]
    shares = {}
    for layout in LAYOUTS:
        cfg = default_recipe(args, width, args.batch_size[0], layout)
        trainer = Trainer(cfg, ImageSet(images, "benchmark"), device=str(device))
        trainer.fit(args.warmup, progress=False)
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            trainer.fit(trainer.step + args.steps, progress=False)
        totals = dict.fromkeys([*PROFILE_GROUPS, "the rest"], 0.0)
        for event in prof.key_averages():
            group = next((g for g, parts in PROFILE_GROUPS.items() if any(p in event.key for p in parts)), "the rest")
            totals[group] += event.self_cpu_time_total
        whole = sum(totals.values())
        shares[layout] = {g: t / whole for g, t in totals.items()}
        shares[layout]["ms per step"] = whole / 1000 / args.steps
    print(f"| {args.image_size} px, widths {width}, batch {args.batch_size[0]} | {' | '.join(LAYOUTS.values())} |")
    print("|---|---|---|")
    for group in shares["off"]:
        cells = [f"{shares[k][group]:.0f}" if group == "ms per step" else f"{shares[k][group]:.0%}"
                 for k in LAYOUTS]
        print(f"| {group} | " + " | ".join(cells) + " |")
    print("\nchannels_last, the operators that take the most time:")
    for event in sorted(prof.key_averages(), key=lambda e: -e.self_cpu_time_total)[:6]:
        print(f"  {event.key}: {event.self_cpu_time_total / whole:.0%}")


def main() -> None:
    parser = OneLineParser(prog="benchmarks/throughput.py", description=__doc__,
                           formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=Path("../shared/data/animefacedataset"))
    parser.add_argument("--image-size", type=at_least(1), default=64)
    parser.add_argument("--batch-size", type=at_least(1), nargs="+", default=[64])
    parser.add_argument("--steps", type=at_least(1), default=30)
    parser.add_argument("--warmup", type=at_least(1), default=5)
    parser.add_argument("--workers", type=at_least(0), default=2, help="DataLoader workers of the canonical loop")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--compile", action="store_true", help="also torch.compile gan_lib's G and D")
    parser.add_argument("--processes", type=at_least(1), nargs="+", help="also time gan_lib on N processes (torchrun)")
    parser.add_argument("--precisions", action="store_true",
                        help="only gan_lib's trainer: fp32 and bf16, contiguous and channels_last, at each --sizes")
    parser.add_argument("--sizes", type=at_least(1), nargs="+", default=[32, 64], help="image sizes for --precisions")
    parser.add_argument("--widths", type=at_least(1), nargs="+",
                        help="only gan_lib's trainer, our default recipe, at these G and D widths (steps per minute, "
                        "for benchmarks/quality.py --minutes)")
    parser.add_argument("--amps", nargs="+", default=["auto"], choices=("auto", "bf16", "fp16", "off"),
                        help="with --widths: the --amp settings to time (auto: what train picks on this device)")
    parser.add_argument("--profile", action="store_true",
                        help="only gan_lib's trainer: where a step's time goes, per group of operators")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        return worker(args, args.data)
    device = resolve_device(args.device)

    with tempfile.TemporaryDirectory() as tmp:
        folder = args.data
        if not folder.is_dir():
            from gan_lib.data.synthetic import draw_face

            folder = Path(tmp) / "faces"
            (folder / "images").mkdir(parents=True)
            for i in range(2000):
                draw_face(0, i, 96)[0].save(folder / "images" / f"{i}.png")
        name = torch.cuda.get_device_name() if device.type == "cuda" else f"CPU ({torch.get_num_threads()} threads)"
        if args.profile:
            print(f"device: {name}; {folder}; our default recipe")
            return profile_table(args, folder, device)
        if args.widths:
            print(f"device: {name}; {folder}; our default recipe")
            return widths_table(args, folder, device)
        if args.precisions:
            print(f"device: {name}; {folder}; the DCGAN paper's widths, batch {args.batch_size[0]}")
            return precision_table(args, folder, device)
        images = prepare_folder(folder, args.image_size).images
        peak = next((v for k, v in PEAK_FLOPS.items() if k in name), None)
        print(f"device: {name}; {len(images)} images from {folder} at {args.image_size} px; the DCGAN paper's widths")
        print("| batch | canonical img/s | gan_lib img/s | ratio | gan_lib TFLOP/s | MFU |")
        print("|---|---|---|---|---|---|")
        for batch in args.batch_size:
            cfg = replace(Config(image_size=args.image_size, batch_size=batch, compile=args.compile), **DCGAN_RECIPE)
            base = canonical(cfg, folder, args.steps, args.warmup, device, args.workers)
            fast, flops = ours(cfg, images, args.steps, args.warmup, device)
            achieved = flops * fast / batch
            mfu = f"{achieved / peak:.1%}" if peak else "-"
            print(f"| {batch} | {base:.0f} | {fast:.0f} | {fast / base:.2f}x | {achieved / 1e12:.2f} | {mfu} |",
                  flush=True)
        if args.processes:
            processes_table(args, folder)


if __name__ == "__main__":
    sys.exit(run_script(main))
