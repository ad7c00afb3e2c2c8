"""Helpers shared by notebook 06's implement-it checks on the style-based generator's parts (style_layers,
style_noise, style_networks and style_mixing): seeded generators, the learner's code run safely with the untouched
stub read as not answered, verdicts that name no mistake told apart, and the learner's module built and read before
gan_lib's weights are copied in.

The untouched stub, a function or forward that returns None or raises NotImplementedError (or a class without a
forward), is not answered yet; a learner's code that uses gan_lib's own answer is told to write it."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from .guard import guarded_call, preserved_state
from .verdicts import NOT_ANSWERED, _raised, exception_line


def _rng(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _is_stub(exc: BaseException | None) -> bool:
    """A NotImplementedError of the learner's stub (`raise NotImplementedError`, or nn.Module's missing forward),
    not one of torch's operators missing for a backend ("Could not run 'aten::...'")."""
    return isinstance(exc, NotImplementedError) and not str(exc).startswith("Could not run")


def _answering(fn: Callable | None) -> Callable:
    """fn, with the untouched stub read as not answered: where it raises NotImplementedError it returns None."""
    def call(*args):
        if fn is None:
            return None
        try:
            return fn(*args)
        except NotImplementedError as exc:
            if not _is_stub(exc):
                raise
            return None
    return call


def _safely(name: str, make_line: Callable[[], str]) -> str:
    """The verdict make_line() gives, in the clean state and leaving the notebook's as it was; never an exception.
    It runs on one thread: on cases this small, threads only wait for each other (and for a busy machine's cores)."""
    with preserved_state():
        torch.set_num_threads(1)
        try:
            return make_line()
        except Exception as exc:  # what the learner's code returned resists reading: one line all the same
            return f"{name}: not yet, its result could not be read: {exception_line(exc)}"


def _generic(line: str) -> bool:
    """A verdict that only says where the answer differs (no problem named, no mistake recognised)."""
    return ": not yet, on case" in line


# --- Modules the learner builds --------------------------------------------------------------------------------

def _build(name: str, cls: Callable | None, args: tuple, watched: tuple[Callable, ...]) -> nn.Module | str:
    """The learner's module cls(*args), or the verdict line when there is none to judge."""
    if cls is None:
        return f"{name}: {NOT_ANSWERED}"
    call = guarded_call(cls, *args, watched=watched)
    if call.changed:
        return f"{name}: not yet, {call.changed}"
    if call.called:
        return (f"{name}: not yet, it builds on gan_lib's own {', '.join(sorted(call.called))}, which is the answer: "
                "write the layers yourself")
    if _is_stub(call.error):
        return f"{name}: {NOT_ANSWERED}"
    if call.error is not None:
        return f"{name}: not yet, building it {_raised(call.error).removeprefix('it ')}"
    if call.value is None:
        return f"{name}: {NOT_ANSWERED}"
    if not isinstance(call.value, nn.Module):
        return (f"{name}: not yet, building it gives a {type(call.value).__name__} where an nn.Module is expected "
                "(a class that subclasses nn.Module)")
    return call.value


def _forward_unanswered(module: nn.Module, *inputs: object) -> bool:
    """Whether the module's forward is the untouched stub (it returns None or raises NotImplementedError)."""
    call = guarded_call(_answering(module), *inputs)
    return call.error is None and not call.changed and call.value is None


def _frozen(name: str, module: nn.Module) -> str | None:
    frozen = [key for key, p in module.named_parameters() if not p.requires_grad]
    return f"{name}: not yet, its {frozen[0]} does not require grad, so it would never train" if frozen else None
