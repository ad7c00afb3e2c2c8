"""What a check protects from the learner's code: torch's global state (grad mode, default dtype, random number
generators, threads, anomaly mode, cuDNN's flags) is put back as it was, and the side effects a right answer does
not have are named: calls into gan_lib's own answers, a global random number generator reseeded by the learner's
own lines, warnings filters changed, and gradients written into .grad (a backward() inside the answer)."""

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

def _flag(owner: object, name: str) -> tuple[Callable, Callable]:
    return (lambda: getattr(owner, name)), (lambda value: setattr(owner, name, value))


for _owner, _name, _what in ((torch.backends.cudnn, "benchmark", "cuDNN's benchmark mode"),
                             (torch.backends.cudnn, "deterministic", "cuDNN's deterministic mode"),
                             (torch.backends.cudnn, "enabled", "whether cuDNN is used"),
                             (torch.backends.cudnn, "allow_tf32", "cuDNN's TF32 switch"),
                             (torch.backends.cuda.matmul, "allow_tf32", "CUDA matmul's TF32 switch")):
    SETTINGS[_what] = (*_flag(_owner, _name), f"it changes {_what} (torch.backends...{_name}) for everything after "
                                               "it: a function that computes a value leaves such switches alone")
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
    state |= {"torch RNG": torch.random.get_rng_state(), "torch seed": torch.initial_seed(),
              "python RNG": random.getstate(), "numpy RNG": np.random.get_state(), "gan_lib": _gan_lib_namespaces(),
              "warnings filters": list(warnings.filters)}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["CUDA RNG"] = torch.cuda.get_rng_state_all()
    return state


def restore_settings(state: dict) -> None:
    """torch's settings (SETTINGS) as `state` holds them."""
    for name, (_, write, _) in SETTINGS.items():
        write(state[name])


def restore(state: dict) -> None:
    restore_settings(state)
    torch.manual_seed(state["torch seed"])  # the seed torch.initial_seed() reports, then the generator's state
    torch.random.set_rng_state(state["torch RNG"])
    random.setstate(state["python RNG"])
    np.random.set_state(state["numpy RNG"])
    warnings.filters[:] = state["warnings filters"]
    getattr(warnings, "_filters_mutated", lambda: None)()  # the module's cache of them, where it keeps one
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
    replaced = sorted(f"{module.rsplit('.', 1)[-1]}.{key}" for module, namespace in before["gan_lib"].items()
                      for key, value in namespace.items() if now.get(module, {}).get(key, value) is not value)
    if replaced:
        _restore_gan_lib(before["gan_lib"])
        return f"it replaces gan_lib's own {', '.join(replaced[:3])}: leave gan_lib as it is and write your own code"
    return None


RESEEDS = ("it reseeds torch's global random number generator ({}) each time it runs, so every call draws the same "
           "\"random\" numbers: seed once, in a cell of its own, or draw from a torch.Generator it is given")
SEEDING_CODES = {torch.random.manual_seed.__code__: "torch.manual_seed", torch.random.seed.__code__: "torch.seed"}
OTHER_RNG = ("it reseeds or draws from {}'s global random number generator, which every later cell shares: compute "
             "with torch alone (a draw it needs from a torch.Generator it is given, or torch's own)")
WARNINGS = ("it changes Python's warnings filters (warnings.filterwarnings or simplefilter) for everything after it: "
            "use `with warnings.catch_warnings():` around the lines that need it, or nothing")
BACKWARD = ("it calls backward() itself, which writes gradients into .grad of {}: the training step calls backward "
            "once on what the function returns, so the gradient would be added twice; return the value and leave "
            "backward to the caller")


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
    codes = {f.__code__: f"{f.__module__.rsplit('.', 1)[-1]}.{f.__qualname__.removesuffix('.__init__')}"
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
        elif (event == "c_call" and getattr(arg, "__self__", None) is torch.default_generator
              and getattr(arg, "__name__", "") in ("manual_seed", "seed", "set_state") and _learners_frame(frame)):
            seeded.append(f"torch.default_generator.{arg.__name__}")


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


def _same_rng_state(a: object, b: object) -> bool:
    """Python's state is a tuple of numbers, numpy's a tuple holding an array."""
    return all(np.array_equal(x, y) if isinstance(x, np.ndarray) else x == y for x, y in zip(a, b))


def _gradient_holders(args: Iterable[object]) -> list[tuple[str, torch.Tensor]]:
    """The tensors whose .grad a backward() inside a call would write: tensor arguments, and modules' parameters."""
    held = []
    for index, arg in enumerate(args):
        if isinstance(arg, torch.Tensor):
            held.append((f"its input {index + 1}", arg))
        elif isinstance(arg, torch.nn.Module):
            held += [(f"the module's {key}", p) for key, p in arg.named_parameters()]
        elif isinstance(arg, (list, tuple)):
            held += _gradient_holders(arg)
    return held


def _grad_written(held: list[tuple[str, torch.Tensor]], before: list[torch.Tensor | None]) -> str | None:
    for (name, tensor), grad in zip(held, before):
        if tensor.grad is not grad and (grad is None or not torch.equal(tensor.grad, grad)):
            return name
    return None


def guarded_call(fn: Callable, *args: object, watched: Iterable[Callable] = (), backward: bool = False) -> Call:
    """Call a learner's function in the clean state, its warnings recorded, not shown (a check prints one line),
    and leave the clean state behind whatever it did; nothing it raises escapes. Unless `backward` (a training
    step's own), a gradient it writes into .grad is named."""
    before, call, seeded = global_state(), Call(), []
    held = [] if backward else _gradient_holders(args)
    grads = [None if t.grad is None else t.grad.clone() for _, t in held]
    filters_changed, modules = False, len(sys.modules)
    try:
        with calls_into(watched, seeded) as call.called, warnings.catch_warnings(record=True):  # none printed
            filters = list(warnings.filters)
            try:
                call.value = fn(*args)
            finally:
                # a module imported for the first time may add its own filters (scipy.stats does): not the learner's
                filters_changed = warnings.filters != filters and len(sys.modules) == modules
    except (Exception, SystemExit) as exc:  # the learner's code: reported by the check, never re-raised
        call.error = exc
    written = _grad_written(held, grads)
    other_rng = next((name for name, now in (("Python", random.getstate()), ("numpy", np.random.get_state()))
                      if not _same_rng_state(now, before[f"{name.lower()} RNG"])), None)
    call.changed = (changed_global_state(before) or (RESEEDS.format(seeded[0]) if seeded else None)
                    or (OTHER_RNG.format(other_rng) if other_rng else None)
                    or (WARNINGS if filters_changed else None) or (BACKWARD.format(written) if written else None))
    restore_settings(before)  # each call starts as this one did: a switch it flips is named again
    clean_state()
    return call
