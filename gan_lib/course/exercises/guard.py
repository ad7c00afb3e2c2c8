"""What a check protects from the learner's code: torch's global state (grad mode, default dtype, random number
generators, threads, anomaly mode) is put back as it was, and calls into gan_lib's own answers, and torch's global
random number generator reseeded by the learner's own lines, are noticed."""

from __future__ import annotations

import random
import sys
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import torch

# torch's global settings: how each is read, how it is set, and what to say when a learner's function changes it
SETTINGS = {
    "grad mode": (torch.is_grad_enabled, torch.set_grad_enabled,
                  "it turns grad mode off for everything after it (torch.set_grad_enabled(False)); use `with "
                  "torch.no_grad():` around the lines that need it, or nothing"),
    "default dtype": (torch.get_default_dtype, torch.set_default_dtype,
                      "it changes torch's default dtype for everything after it; give dtype=... to the tensors that "
                      "need it instead"),
    "threads": (torch.get_num_threads, torch.set_num_threads,
                "it changes torch's number of threads for everything after it (torch.set_num_threads)"),
    "anomaly mode": (torch.is_anomaly_enabled, torch.autograd.set_detect_anomaly,
                     "it turns autograd's anomaly detection on or off for everything after it"),
    "deterministic algorithms": (torch.are_deterministic_algorithms_enabled, torch.use_deterministic_algorithms,
                                 "it changes torch.use_deterministic_algorithms for everything after it"),
    "matmul precision": (torch.get_float32_matmul_precision, torch.set_float32_matmul_precision,
                         "it changes torch.set_float32_matmul_precision for everything after it"),
}
CLEAN = {"grad mode": True, "default dtype": torch.float32}
if hasattr(torch, "get_default_device"):  # torch 2.3 and later (pyproject admits 2.1)
    SETTINGS["default device"] = (torch.get_default_device, torch.set_default_device,
                                  "it changes torch's default device for everything after it; give device=... to the "
                                  "tensors that need it instead")
    CLEAN["default device"] = torch.device("cpu")


def _gan_lib_namespaces() -> dict[str, dict]:
    return {name: dict(vars(module)) for name, module in list(sys.modules.items())
            if (name == "gan_lib" or name.startswith("gan_lib.")) and module is not None}


def global_state() -> dict:
    """Everything global that a learner's function could change and a later cell would feel: torch's settings,
    the random number generators (drawing from them is fair; they are put back), and gan_lib's own names."""
    state = {name: read() for name, (read, _, _) in SETTINGS.items()}
    state |= {"torch RNG": torch.random.get_rng_state(), "python RNG": random.getstate(),
              "numpy RNG": np.random.get_state(), "gan_lib": _gan_lib_namespaces()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["CUDA RNG"] = torch.cuda.get_rng_state_all()
    return state


def restore(state: dict) -> None:
    for name, (_, write, _) in SETTINGS.items():
        write(state[name])
    torch.random.set_rng_state(state["torch RNG"])
    random.setstate(state["python RNG"])
    np.random.set_state(state["numpy RNG"])
    if "CUDA RNG" in state:
        torch.cuda.set_rng_state_all(state["CUDA RNG"])
    _restore_gan_lib(state["gan_lib"])


def _restore_gan_lib(namespaces: dict[str, dict]) -> None:
    for name, namespace in namespaces.items():
        module = sys.modules.get(name)
        if module is not None:  # names added since (a submodule imported, say) stay
            vars(module).update(namespace)


def clean_state() -> None:
    """The state every check runs in, whatever an earlier cell left: grad mode on, float32 on the CPU by default."""
    for name, value in CLEAN.items():
        SETTINGS[name][1](value)


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
    """What the learner's call changed that it should not have (one of torch's settings, or a name of gan_lib's),
    named; gan_lib's names are put back at once, so that the check goes on against gan_lib's own code."""
    for name, (read, _, said) in SETTINGS.items():
        if read() != before[name]:
            return said
    now = _gan_lib_namespaces()
    replaced = sorted(f"{module.removeprefix('gan_lib.')}.{key}" for module, namespace in before["gan_lib"].items()
                      for key, value in namespace.items() if now.get(module, {}).get(key, value) is not value)
    if replaced:
        _restore_gan_lib(before["gan_lib"])
        return f"it replaces gan_lib's own {', '.join(replaced[:3])}: leave gan_lib as it is and write your own code"
    return None


RESEEDS = ("it reseeds torch's global random number generator ({}) each time it runs, so every call draws the same "
           "\"random\" numbers: seed once, in a cell of its own, or draw from a torch.Generator it is given")
SEEDING_CODES = {torch.random.manual_seed.__code__: "torch.manual_seed", torch.random.seed.__code__: "torch.seed"}


def _module(frame) -> str:
    return frame.f_globals.get("__name__", "").split(".")[0] if frame is not None else ""


def _learners_frame(frame) -> bool:
    """Whether the frame, or the first one outside torch's wrappers that called it, runs the learner's code (a
    notebook cell or their module), not a library's."""
    while _module(frame) == "torch":
        frame = frame.f_back
    return frame is not None and _module(frame) not in {"gan_lib", "contextlib"}


@contextmanager
def calls_into(functions: Iterable[Callable], seeded: list[str] | None = None) -> Iterator[set[str]]:
    """Within the block, the names of `functions` that were called (at any depth): a learner's answer that calls
    gan_lib's own reference copies the answer instead of writing it; and, into `seeded`, the global generators the
    learner's own lines reseed."""
    codes = {f.__code__: f"{f.__module__.removeprefix('gan_lib.')}.{f.__qualname__.removesuffix('.__init__')}"
             for f in functions}
    called: set[str] = set()
    seeded = [] if seeded is None else seeded
    previous = sys.getprofile()

    def watch(frame, event, arg):
        if event == "call":
            if frame.f_code in codes:
                called.add(codes[frame.f_code])
            elif frame.f_code in SEEDING_CODES and _learners_frame(frame.f_back):
                seeded.append(SEEDING_CODES[frame.f_code])

    sys.setprofile(watch)
    try:
        yield called
    finally:
        sys.setprofile(previous)


@dataclass
class Call:
    """What one call of a learner's function did: its value, what it raised, the global change it made (named;
    already undone) and the gan_lib answers it called."""

    value: object = None
    error: BaseException | None = None
    changed: str | None = None
    called: set[str] = field(default_factory=set)


def guarded_call(fn: Callable, *args: object, watched: Iterable[Callable] = ()) -> Call:
    """Call a learner's function in the clean state, its warnings silenced (a check prints one line), and leave the
    clean state behind whatever it did; nothing it raises escapes."""
    before, call, seeded = global_state(), Call(), []
    try:
        with calls_into(watched, seeded) as call.called, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            call.value = fn(*args)
    except (Exception, SystemExit) as exc:  # the learner's code: reported by the check, never re-raised
        call.error = exc
    call.changed = changed_global_state(before) or (RESEEDS.format(seeded[0]) if seeded else None)
    clean_state()
    return call
