"""Where and how a Trainer's networks run, decided in one object: the device, the precision (autocast, and the loss
scaler fp16 needs), the memory format, torch.compile, fused Adam and, under torchrun, DistributedDataParallel and
cross-process BatchNorm. The training step uses its `autocast` and `scaler` and reads as the algorithm."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from .runtime import (
    PRECISIONS,
    amp_dtype,
    autocast,
    check_compiler,
    precision_note,
    resolve_device,
    switched_on,
    sync_batchnorm,
    world_size,
)


class Placement:
    """The placement a config asks for on a device ("auto": CUDA if present, else the CPU). `kept_precision` is a
    resumed run's own precision and why (checkpoint.resumed_precision); (None, "") decides it from cfg.amp."""

    def __init__(self, cfg, device: str | torch.device = "auto", kept_precision: tuple[str | None, str] = (None, "")):
        self.cfg = cfg
        self.device = resolve_device(device)
        self.cuda = self.device.type == "cuda"
        kept, why = kept_precision
        self.amp_dtype = PRECISIONS[kept] if kept else amp_dtype(cfg.amp, self.device)
        self.precision = precision_note(cfg.amp, self.amp_dtype, self.device, why)  # "cpu: bf16 autocast (native)"
        self.autocast = autocast(self.device, self.amp_dtype)
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=self.amp_dtype == torch.float16)  # fp16 only
        # channels_last: 1.1-1.3x on the CPU too (benchmarks/throughput.py --widths)
        channels_last = switched_on(cfg.channels_last, self.device.type in ("cuda", "cpu"))
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        if self.cuda:
            torch.backends.cudnn.benchmark = True
        if cfg.compile:
            check_compiler()

    def networks(self, G: nn.Module, D: nn.Module) -> tuple[nn.Module, nn.Module]:
        """G and D on the device in the memory format (with BatchNorm across processes where asked for)."""
        if self.cfg.sync_batchnorm and world_size() > 1:
            G, D = sync_batchnorm(G, self.device), sync_batchnorm(D, self.device)
        return G.to(memory_format=self.memory_format), D.to(memory_format=self.memory_format)

    def adam(self, module: nn.Module, lr: float) -> torch.optim.Adam:
        """The DCGAN paper's optimiser for one network (fused kernels on CUDA unless switched off)."""
        fused = switched_on(self.cfg.fused_adam, self.cuda) or None
        return torch.optim.Adam(module.parameters(), lr=lr, betas=(self.cfg.beta1, self.cfg.beta2), fused=fused)

    def forward(self, module: nn.Module) -> nn.Module:
        """What a step calls to run the network: DDP-wrapped under torchrun, compiled where asked."""
        if world_size() > 1:
            module = DistributedDataParallel(module, device_ids=[self.device.index] if self.cuda else None)
        return torch.compile(module) if self.cfg.compile else module
