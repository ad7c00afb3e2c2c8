"""Where and how the computation runs: the device, the mixed-precision policy, and several processes under
`torchrun` (the process group, each rank's device and share of the batch, BatchNorm across ranks). One process (no
torchrun) is the world of size 1, and none of the distributed part changes anything for it."""

from __future__ import annotations

import hashlib
import os
import shutil
import signal
import sys
import threading
import time
import warnings
from collections.abc import Callable
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.distributed.nn.functional import all_reduce

from .environment import count_setting, switch_setting
from .errors import GanLibError


def derive_seed(*parts: object) -> int:
    """A 63-bit seed that is a pure function of its parts, e.g. (run seed, "noise", step)."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") >> 1


def seeded(rng: torch.Generator, *key: object) -> torch.Generator:
    """rng reseeded with derive_seed(*key): draws from it happen on rng's device, with no copy from the host."""
    return rng.manual_seed(derive_seed(*key))



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


def native_bf16_cpu(cpuinfo: str = "/proc/cpuinfo") -> bool:
    """Whether this CPU computes in bf16 natively (the avx512_bf16 or amx_bf16 flags, read where Linux lists them;
    $GAN_LIB_NATIVE_BF16=1 or 0 says so where they cannot be read or are wrong). Without them torch emulates bf16,
    about 20 times slower than fp32 on an AVX2 CPU; with them a training step is 1.4-1.7x faster in bf16
    (benchmarks/throughput.py --precisions)."""
    if "GAN_LIB_NATIVE_BF16" in os.environ:
        return switch_setting("GAN_LIB_NATIVE_BF16")
    try:
        flags = next((line.split(":", 1)[1].split() for line in Path(cpuinfo).read_text().splitlines()
                      if line.startswith("flags")), [])
    except OSError:  # not Linux: no way to tell here, so no
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def amp_dtype(amp: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype, None for full precision. 'auto' means bf16 on GPUs of compute capability 8.0 and up
    (Ampere, Hopper), fp16 with loss scaling below (Colab's T4 is 7.5: torch.cuda.is_bf16_supported() says True
    there, but only through slow emulation), bf16 on a CPU that has it natively (native_bf16_cpu) and full precision
    on other CPUs and Apple's GPUs; 'bf16' and 'fp16' are honoured on any device, 'off' everywhere. Resume is exact
    under each (autocast on the CPU is deterministic)."""
    if amp == "auto":
        if device.type == "cpu":
            return torch.bfloat16 if native_bf16_cpu() else None
        if device.type != "cuda":
            return None
        return torch.bfloat16 if torch.cuda.get_device_capability(device) >= (8, 0) else torch.float16
    return {"off": None, "bf16": torch.bfloat16, "fp16": torch.float16}[amp]


PRECISIONS = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}  # what a checkpoint records
AMP_PRECISION = {"off": "fp32", "bf16": "bf16", "fp16": "fp16"}  # the precision each explicit --amp names


def precision_name(dtype: torch.dtype | None) -> str:
    """The name a checkpoint records for an autocast dtype (None: full precision): fp32, bf16 or fp16."""
    return next(name for name, value in PRECISIONS.items() if value == dtype)


def precision_note(amp: str, dtype: torch.dtype | None, device: torch.device, kept: str = "") -> str:
    """The precision a run trains in, and why, in a few words: "cpu: bf16 autocast (native)", say. `kept` says why
    a resumed run keeps the precision it trained in, which may not be this machine's choice for `amp`."""
    name = {None: "fp32", torch.bfloat16: "bf16 autocast", torch.float16: "fp16 autocast with loss scaling"}[dtype]
    if kept:
        default = amp_dtype(amp, device)
        other = "" if default == dtype else f"; this machine would choose {precision_name(default)}"
        return f"{device.type}: {name} ({kept}{other})"
    if amp != "auto":
        return f"{device.type}: {name} (--amp {amp})"
    if device.type == "cpu":
        return f"cpu: {name} ({'native' if dtype else 'no native bf16 on this CPU'})"
    return f"{device.type}: {name}"


def autocast(device: torch.device, dtype: torch.dtype | None) -> torch.autocast:
    """The autocast context of a run in `dtype` (None: off); a precision this device cannot compute in is refused."""
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        context = torch.autocast(device.type, dtype=dtype, enabled=dtype is not None)
    if dtype is not None and not context._enabled:  # torch warns and turns itself off: the run would be fp32
        raise GanLibError(f"{device.type} cannot train in {precision_name(dtype)} autocast here "
                          f"({said[0].message if said else 'not supported'}): pass --amp off, or another --amp")
    return context


def switched_on(setting: str, auto: bool) -> bool:
    """An 'auto', 'on' or 'off' setting of the config as a yes or no; `auto` is the answer for 'auto'."""
    return auto if setting == "auto" else setting == "on"


def check_compiler() -> None:
    """torch.compile builds its kernels with a C++ compiler: refuse, before any work, a machine without one."""
    if not any(shutil.which(name) for name in (os.environ.get("CXX", "g++"), "c++", "clang++")):
        raise GanLibError("compile needs a C++ compiler (torch.compile builds its kernels with one), and none was "
                          "found: install one (Debian: apt-get install g++; macOS: xcode-select --install) or "
                          "train without --compile")


def launched() -> bool:
    """True in a process started by torchrun with more than one process."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def rank() -> int:
    """This process's rank under torchrun (0 in one process)."""
    return dist.get_rank() if dist.is_initialized() else 0


def world_size() -> int:
    return dist.get_world_size() if dist.is_initialized() else 1


def is_main() -> bool:
    """Rank 0 alone writes files and prints reports."""
    return rank() == 0


class HeldInterrupts:
    """Ctrl-C (SIGINT) and SIGTERM held back while a block trains, so that a step is never cut in half: `arrived`
    says one came, and `deliver` then hands it to the handler it was meant for (Ctrl-C's KeyboardInterrupt, the
    command line's SIGTERM), after the caller has saved. Only one process in its main thread holds them: under
    torchrun the ranks would stop at different steps and wait on each other."""

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self):
        self.arrived: list[int] = []
        self.handlers: dict[int, object] = {}

    def __enter__(self) -> HeldInterrupts:
        if threading.current_thread() is threading.main_thread() and world_size() == 1:
            self.handlers = {sig: signal.signal(sig, lambda signum, frame: self.arrived.append(signum))
                             for sig in self.SIGNALS if signal.getsignal(sig) != signal.SIG_IGN}  # nohup's stay
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self.handlers.items():
            signal.signal(sig, handler)

    def deliver(self) -> None:
        """Hand the first signal that arrived to its own handler (which raises, or ends the process)."""
        signum = self.arrived[0]
        handler = self.handlers[signum]
        if callable(handler):
            handler(signum, None)
        elif handler == signal.SIG_DFL:
            signal.raise_signal(signum)


class SlowCpuNote:
    """An on_log callback for Trainer.fit that says once, on the CPU, when training runs slowly because other work
    shares the cores: after `after_s` seconds, slower than `slow_s` a step while the load average exceeds what this
    process's own threads make by a core or more (rank 0 alone says it)."""

    def __init__(self, device: torch.device, after_s: float = 30.0, slow_s: float = 0.5):
        self.watching = device.type == "cpu" and hasattr(os, "getloadavg") and is_main()
        self.after_s, self.slow_s, self.start = after_s, slow_s, None

    def __call__(self, trainer) -> None:
        if not self.watching:
            return
        now = time.perf_counter()
        if self.start is None:
            self.start = (now, trainer.step)
            return
        elapsed, steps = now - self.start[0], trainer.step - self.start[1]
        if elapsed < self.after_s or not steps:
            return
        self.watching = False  # once
        per_step, threads = elapsed / steps, torch.get_num_threads()
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        others = os.getloadavg()[0] - min(threads, cores)
        if per_step > self.slow_s and others >= 1:
            print(f"note: {per_step:.1f} s a step, and other work is keeping about {others:.0f} of this machine's "
                  f"{cores} cores busy (load {os.getloadavg()[0]:.1f}); training runs several times faster on cores "
                  f"of its own: stop the other work, or run with fewer threads than its {threads} "
                  f"(OMP_NUM_THREADS=1)", file=sys.stderr)


SIGTERM_GRACE_S = 5  # how long a process of a torchrun run may take to answer SIGTERM before it is ended anyway


class SigtermWatch:
    """Under torchrun a process may be waiting inside a collective on a peer that died, where Python cannot run its
    SIGTERM handler until the wait times out (GAN_LIB_PEER_TIMEOUT, minutes). A thread woken by the signal itself
    (signal.set_wakeup_fd) gives the main thread SIGTERM_GRACE_S seconds, then prints `line()` and ends the process,
    unless the main thread has said its own line (`say`): one line, whichever thread says it."""

    def __init__(self, line: Callable[[], str]):
        self.line, self.said, self.lock = line, False, threading.Lock()
        self.read, write = os.pipe()
        os.set_blocking(write, False)
        self.previous = signal.set_wakeup_fd(write)
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self) -> None:
        while signal.SIGTERM not in os.read(self.read, 64):
            pass
        time.sleep(SIGTERM_GRACE_S)
        with self.lock:
            if not self.said:
                print(self.line(), file=sys.stderr, flush=True)
            os._exit(143)

    def say(self, line: str | None = None) -> None:
        """The main thread's outcome, printed (None: nothing to print); from here on the watch says nothing."""
        with self.lock:
            self.said = True
            if line is not None:
                print(line, file=sys.stderr, flush=True)

    def close(self) -> None:
        signal.set_wakeup_fd(self.previous)


PEER_TIMEOUT_S = 600  # how long a process waits for a stalled peer: a step or a checkpoint takes seconds; the longest
# wait is rank 0 downloading and preparing the data for the others (minutes). torch's own default is 30 minutes.


def peer_timeout() -> timedelta:
    """$GAN_LIB_PEER_TIMEOUT seconds, else PEER_TIMEOUT_S: how long any collective waits before the run stops."""
    return timedelta(seconds=count_setting("GAN_LIB_PEER_TIMEOUT", PEER_TIMEOUT_S, 1, 86400, "seconds"))


def setup(device: str = "auto") -> str:
    """Join torchrun's process group (NCCL on GPUs, gloo on the CPU); returns this rank's device name."""
    use_cuda = device.startswith("cuda") or device == "auto" and torch.cuda.is_available()
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if use_cuda:
        if local_rank >= torch.cuda.device_count():
            raise GanLibError(f"torchrun started more processes on this machine than it has GPUs "
                              f"({torch.cuda.device_count()}): lower --nproc_per_node")
        torch.cuda.set_device(local_rank)
        device = f"cuda:{local_rank}"
    elif device == "auto":
        device = "cpu"
    if not dist.is_initialized():
        dist.init_process_group("nccl" if use_cuda else "gloo", timeout=peer_timeout())
    return device


@contextmanager
def main_first():
    """Rank 0 runs the block first (building a cache, say), then the other ranks do, reading what it made."""
    if not is_main():
        dist.barrier()
    yield
    if is_main() and world_size() > 1:
        dist.barrier()


def teardown() -> None:
    """Leave the process group, if this process joined one."""
    if dist.is_initialized():
        dist.destroy_process_group()


def my_share(n: int) -> slice:
    """This rank's slice of a global batch of n (a step's images and noise are the same as in one process)."""
    world = world_size()
    if n % world:
        raise GanLibError(f"the batch size {n} does not divide among {world} processes: choose a multiple of {world}")
    per_rank = n // world
    return slice(rank() * per_rank, (rank() + 1) * per_rank)


def my_part(draw: Callable[[int], torch.Tensor], n: int) -> torch.Tensor:
    """This process's part of a random draw for a batch of n images per process: draw(n * world size), sliced to
    this rank's share, so that each process gets numbers of its own and together they are the one-process draw."""
    world = world_size()
    return draw(n) if world == 1 else draw(n * world)[my_share(n * world)]


def mean_over_ranks(x: torch.Tensor) -> torch.Tensor:
    """The mean of x over all ranks (x itself in one process)."""
    if world_size() == 1:
        return x
    x = x.clone()
    dist.all_reduce(x)
    return x / world_size()


class CrossRankBatchNorm2d(nn.BatchNorm2d):
    """BatchNorm2d whose training statistics are those of the global batch, for the CPU (gloo), where
    nn.SyncBatchNorm does not run. Each rank holds an equal share; the all-reduce is differentiable."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or world_size() == 1:
            return super().forward(x)
        dtype, x = x.dtype, x.float()  # statistics in fp32 under autocast too, as BatchNorm2d keeps them
        moments = torch.cat([x.mean((0, 2, 3)), (x * x).mean((0, 2, 3))])
        mean, square = (all_reduce(moments) / world_size()).chunk(2)
        var = square - mean * mean
        with torch.no_grad():
            count = x.numel() // x.shape[1] * world_size()
            self.running_mean.lerp_(mean, self.momentum)
            self.running_var.lerp_(var * count / (count - 1), self.momentum)
            self.num_batches_tracked += 1
        shape = (1, -1, 1, 1)
        x = (x - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        return (x * self.weight.view(shape) + self.bias.view(shape)).to(dtype)


def sync_batchnorm(model: nn.Module, device: torch.device) -> nn.Module:
    """BatchNorm over the global batch: torch's SyncBatchNorm on GPUs, CrossRankBatchNorm2d on the CPU."""
    if device.type == "cuda":
        return nn.SyncBatchNorm.convert_sync_batchnorm(model)
    for module in model.modules():
        if type(module) is nn.BatchNorm2d:
            module.__class__ = CrossRankBatchNorm2d  # same parameters and buffers, global statistics
    return model
