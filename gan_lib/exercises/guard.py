"""What a check protects from the learner's code: torch's global state (grad mode, default dtype, random number
generators, threads, anomaly mode) is put back as it was, and calls into gan_lib's own answers are noticed."""

from __future__ import annotations

import random
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager

import numpy as np
import torch


def global_state() -> dict:
    """Everything global that a learner's function could change and a later cell would feel."""
    state = {"grad mode": torch.is_grad_enabled(), "default dtype": torch.get_default_dtype(),
             "threads": torch.get_num_threads(), "anomaly mode": torch.is_anomaly_enabled(),
             "torch RNG": torch.random.get_rng_state(), "python RNG": random.getstate(),
             "numpy RNG": np.random.get_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["CUDA RNG"] = torch.cuda.get_rng_state_all()
    return state


def restore(state: dict) -> None:
    torch.set_grad_enabled(state["grad mode"])
    torch.set_default_dtype(state["default dtype"])
    torch.set_num_threads(state["threads"])
    torch.autograd.set_detect_anomaly(state["anomaly mode"])
    torch.random.set_rng_state(state["torch RNG"])
    random.setstate(state["python RNG"])
    np.random.set_state(state["numpy RNG"])
    if "CUDA RNG" in state:
        torch.cuda.set_rng_state_all(state["CUDA RNG"])


def clean_state() -> None:
    """The state every check runs in, whatever an earlier cell left: grad mode on, float32 by default."""
    torch.set_grad_enabled(True)
    torch.set_default_dtype(torch.float32)


@contextmanager
def preserved_state() -> Iterator[None]:
    """Run a check in the clean state and leave the notebook's global state exactly as it was."""
    saved = global_state()
    clean_state()
    try:
        yield
    finally:
        restore(saved)


def changed_global_state(before: dict) -> str | None:
    """What the learner's call changed that it should not have (grad mode or the default dtype), named."""
    if torch.is_grad_enabled() != before["grad mode"]:
        return ("it turns grad mode off for everything after it (torch.set_grad_enabled(False)); use "
                "`with torch.no_grad():` around the lines that need it, or nothing")
    if torch.get_default_dtype() != before["default dtype"]:
        return (f"it changes torch's default dtype to {torch.get_default_dtype()} for everything after it; give "
                "dtype=... to the tensors that need it instead")
    return None


@contextmanager
def calls_into(functions: Iterable[Callable]) -> Iterator[set[str]]:
    """Within the block, the names of `functions` that were called (at any depth): a learner's answer that calls
    gan_lib's own reference copies the answer instead of writing it."""
    codes = {f.__code__: f"{f.__module__.removeprefix('gan_lib.')}.{f.__qualname__}" for f in functions}
    called: set[str] = set()
    previous = sys.getprofile()

    def watch(frame, event, arg):
        if event == "call" and frame.f_code in codes:
            called.add(codes[frame.f_code])

    sys.setprofile(watch)
    try:
        yield called
    finally:
        sys.setprofile(previous)
