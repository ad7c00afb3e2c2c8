"""The verdicts: one line that says whether an answer is right, never an exception, so that "Run all" goes on past
an exercise not yet done, and the notebook's state left as it was.

An implement-it check runs the learner's function on copies of fixed cases beside gan_lib's own, compares the
values and, where training must flow through the result, the gradients autograd takes through it; it accepts
every correct form, names the typical mistake it recognises, and otherwise says where the answer first differs."""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
from torch import nn

from .guard import guarded_call, preserved_state

NOT_ANSWERED = "not answered yet (fill in the function above, then run this cell again)"


def _close(answer: object, expected: object, tolerance: float) -> bool:
    if isinstance(expected, bool) or isinstance(expected, str):
        if isinstance(expected, str):
            return isinstance(answer, str) and answer.strip().lower() == expected.lower()
        return isinstance(answer, bool) and answer == expected
    if isinstance(expected, (int, float)):
        if isinstance(answer, (bool, str)):
            return False
        return abs(float(answer) - float(expected)) <= tolerance
    if isinstance(expected, Sequence):
        return (isinstance(answer, Sequence) and not isinstance(answer, str) and len(answer) == len(expected)
                and all(_close(a, e, tolerance) for a, e in zip(answer, expected)))
    return bool(answer == expected)


def verdict(name: str, answer: object, expected: object, tolerance: float = 0.0, hint: str = "") -> str:
    """One line that says whether `answer` matches `expected` (numbers, or 0-d tensors, within tolerance; sequences
    item by item; strings without case); None means not answered yet. The expected answer is never shown."""
    if answer is None:
        return f"{name}: not answered yet (set the answer above, then run this cell again)"
    try:
        right = _close(answer, expected, tolerance)
    except Exception:  # an answer of another kind (a tensor of many numbers, an object): not it
        right = False
    if right:
        return f"{name}: right"
    shown = repr(answer)
    return f"{name}: not yet, {shown if len(shown) <= 60 else shown[:57] + '...'} is not it." + (
        f" Hint: {hint}" if hint else "")


def check(name: str, answer: object, expected: object, tolerance: float = 0.0, hint: str = "") -> None:
    """Print the verdict on an answer (a notebook's self-check cell)."""
    print(verdict(name, answer, expected, tolerance, hint))


# --- Implement-it checks: the learner's function against gan_lib's own, on copies of fixed cases ---------------

@dataclass(frozen=True)
class Case:
    """One call of the function under test: its arguments, and a few words on what makes this case differ."""

    args: tuple
    about: str = ""
    redraw: Callable[[torch.Generator], tuple] | None = None  # fresh arguments of this kind, where scaling breaks them


@dataclass
class Outcome:
    """What one call gave: its value and the gradients of that value with respect to the watched inputs, or the
    problem that leaves nothing to compare."""

    value: torch.Tensor | None = None
    grads: list[torch.Tensor] = field(default_factory=list)
    problem: str | None = None
    unanswered: bool = False
    returned: str = "Tensor"  # the type of what the function returned
    draws: list[torch.Tensor] = field(default_factory=list)  # each torch.Generator argument's state after the call
    drew_globally: bool = False  # whether the call drew from torch's global random number generator


@dataclass(frozen=True)
class Signature:
    """How to call and judge a function: its argument names, the arguments whose gradients must match (a tensor,
    or a module's parameters) and gan_lib's functions that give the answer away when called."""

    names: tuple[str, ...]
    wrt: tuple[int, ...] = ()
    watched: tuple[Callable, ...] = ()


def _copy(arg: object, watch_grad: bool) -> object:
    if isinstance(arg, torch.Tensor):
        tensor = arg.detach().clone()
        return tensor.requires_grad_(True) if watch_grad and tensor.is_floating_point() else tensor
    if isinstance(arg, torch.Generator):
        fresh = torch.Generator(arg.device)
        fresh.set_state(arg.get_state())
        return fresh
    if isinstance(arg, nn.Module):
        return copied_module(arg)
    return arg


def copied_module(module: nn.Module) -> nn.Module:
    """A deep copy of a learner's module; a tensor it keeps from an earlier forward (part of a graph, which deepcopy
    refuses), itself or in a list, tuple or dict, is carried over detached."""
    kept = {id(v): v.detach() for m in module.modules() for v in _tensors_in(vars(m).values()) if v.grad_fn is not None}
    return copy.deepcopy(module, memo=kept)


def _tensors_in(values) -> list[torch.Tensor]:
    """The tensors among `values`, and in the lists, tuples and dicts among them (a layer that keeps its last
    outputs in a list, say)."""
    found = []
    for value in values:
        if isinstance(value, torch.Tensor):
            found.append(value)
        elif isinstance(value, (list, tuple)):
            found += _tensors_in(value)
        elif isinstance(value, dict):
            found += _tensors_in(value.values())
    return found


def upstream_gradient(value: torch.Tensor) -> torch.Tensor:
    """The gradient a check sends back into a result: fixed random weights for a tensor of many values (ones would
    hide mistakes whose gradient sums to 0, as AdaIN's with respect to x does), 1 for a single number."""
    if value.dim() == 0:
        return torch.ones_like(value)
    weights = torch.randn(value.shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    return weights.to(value.dtype).to(value.device)


def _watched_inputs(args: list, signature: Signature) -> list[tuple[str, torch.Tensor]]:
    inputs = []
    for index in signature.wrt:
        arg, name = args[index], signature.names[index]
        if isinstance(arg, nn.Module):
            inputs += [(f"{name}'s {key}", p) for key, p in arg.named_parameters()]
        else:
            inputs.append((name, arg))
    return inputs


def _unchanged(arg: object, pristine: object, watched: bool) -> bool:
    if isinstance(arg, torch.Tensor):
        return (arg.shape == pristine.shape and torch.equal(arg.detach(), pristine)
                and (watched or not arg.requires_grad))
    if isinstance(arg, nn.Module):
        return all(torch.equal(a, b) for a, b in zip(arg.state_dict().values(), pristine.state_dict().values()))
    return True


def _message(exc: BaseException) -> str:
    try:
        return str(exc).strip()
    except Exception:  # an exception whose message itself raises
        return ""


def exception_line(exc: BaseException) -> str:
    """The exception's type and the first line of its message, cut to a line's length (a verdict is one line)."""
    message = _message(exc)
    first = message.splitlines()[0] if message else ""
    text = f"{type(exc).__name__}: {first}".rstrip(": ")
    return text if len(text) <= 160 else text[:157] + "..."


def _raised(exc: Exception) -> str:
    text = exception_line(exc)
    said = _message(exc).lower()
    if "leaf variable that requires grad" in said or "modified by an inplace operation" in said:
        return (f"an in-place operation (a method ending in _, or +=) changes a tensor that autograd needs, so "
                f"training would stop with an error: use the out-of-place form ({text})")
    if "does not require grad" in said:
        return (f"autograd was asked for a gradient through a tensor that does not require one (grad mode off, a "
                f"detached tensor, or points not yet given .requires_grad_(True)) ({text})")
    if any(words in said for words in ("dtype", "result type", "same device")):
        return (f"it raised {text}: the tensors it combines differ in dtype or device; follow the input's (new "
                "tensors with torch.full_like, ones_like or zeros_like, others with .to(x.dtype))")
    return f"it raised {text}"


def _kind_problem(value: object, differentiable: bool) -> str | None:
    """Why a returned value is not one tensor to judge, or None when it is (numbers pass where no gradient is
    asked for)."""
    if isinstance(value, str):
        return f"it returns a string ({value[:30]!r}) where a tensor is expected"
    if isinstance(value, bool):
        return f"it returns {value} where a tensor is expected"
    if isinstance(value, (tuple, list)):
        comma = " (a trailing comma after the value?)" if len(value) == 1 else ""
        joins = " (torch.stack joins a list of tensors)" if isinstance(value, list) else ""
        return f"it returns a {type(value).__name__} of {len(value)}{comma} where one tensor is expected{joins}"
    if isinstance(value, torch.Tensor):
        if value.layout != torch.strided:
            return (f"it returns a {str(value.layout).removeprefix('torch.').replace('_', ' ')} tensor where an "
                    "ordinary (dense) one is expected: .to_dense() it, or build it without to_sparse")
        if value.is_complex():
            return ("its result is complex (a square root of a negative or complex number?): take the real part "
                    "with .real where the maths says the result is real")
        if differentiable and not value.requires_grad:
            return ("autograd cannot follow its result: it was detached, rebuilt with torch.tensor(...) or computed "
                    "under no_grad, so no gradient would ever reach the network from it")
        return None
    if isinstance(value, (int, float)) or type(value).__module__ == "numpy":
        return ("it returns a plain number (from .item(), float() or numpy): autograd cannot follow a number, so no "
                "gradient would ever reach the network: return the tensor itself") if differentiable else None
    return f"it returns a {type(value).__name__} where a tensor is expected"


def run_case(fn: Callable, case: Case, signature: Signature, learner: bool = False) -> Outcome:
    """Call fn on fresh copies of the case's arguments, in the clean global state, and take the gradients of its
    result with respect to the watched inputs; a learner's function is also watched for calls into the answer."""
    differentiable = bool(signature.wrt)
    args = [_copy(a, i in signature.wrt) for i, a in enumerate(case.args)]
    pristine = [_copy(a, False) for a in case.args]
    modes = [(signature.names[i], a.training) for i, a in enumerate(args) if isinstance(a, nn.Module)]
    global_rng = torch.random.get_rng_state()
    call = guarded_call(fn, *args, watched=signature.watched if learner else ())
    drew_globally = not torch.equal(global_rng, torch.random.get_rng_state())
    torch.random.set_rng_state(global_rng)  # every call starts from the same global state, the reference's too
    if call.changed:  # named first: it may be why the call raised
        return Outcome(problem=call.changed)
    for (name, training), module in zip(modes, (a for a in args if isinstance(a, nn.Module))):
        if module.training != training:
            return Outcome(problem=f"it leaves {name} in {'train' if module.training else 'eval'} mode: put it back "
                                   "as it was given (the caller's next step depends on it)")
    if call.called:
        return Outcome(problem=f"it calls gan_lib's own {', '.join(sorted(call.called))}, which is the answer: "
                               "write the computation yourself")
    if call.error is not None:
        return Outcome(problem=_raised(call.error))
    value = call.value
    if value is None:
        return Outcome(unanswered=True)
    for index, (name, arg, original) in enumerate(zip(signature.names, args, pristine)):
        if not _unchanged(arg, original, index in signature.wrt):
            return Outcome(problem=f"it changes its input {name} in place: work on a copy (or out-of-place "
                                   "operations), since the caller still needs it")
    problem = _kind_problem(value, differentiable)
    if problem:
        return Outcome(problem=problem)
    returned = "Tensor" if isinstance(value, torch.Tensor) else type(value).__name__
    if not isinstance(value, torch.Tensor):
        try:
            value = torch.as_tensor(value, dtype=torch.float64)
        except Exception:  # a numpy array of objects, say
            return Outcome(problem=f"it returns a {returned} where a tensor is expected")
    if value.is_floating_point() and not torch.isfinite(value).all():
        return Outcome(problem="its result holds NaN or inf (a log of 0, a division by 0, an exp that overflows, "
                               "or a square root of a negative number?)")
    grads = []
    if differentiable:
        inputs = _watched_inputs(args, signature)
        try:
            found = torch.autograd.grad(value, [t for _, t in inputs], upstream_gradient(value), allow_unused=True)
        except Exception as exc:  # the learner's graph
            return Outcome(problem=_raised(exc))
        grads = [torch.zeros_like(t) if g is None else g.detach() for (_, t), g in zip(inputs, found)]
    draws = [a.get_state() for a in args if isinstance(a, torch.Generator)]
    return Outcome(value=value.detach(), grads=grads, returned=returned, draws=draws, drew_globally=drew_globally)


def _first_mismatch(got: torch.Tensor, expected: torch.Tensor, tolerance: float, reveal: bool = True) -> str | None:
    """Where got first differs from expected: its value and the expected one, or (reveal False, for a drawn case)
    only how far off it is."""
    got, expected = got.double(), expected.double()
    wrong = ~torch.isclose(got, expected, rtol=tolerance, atol=tolerance)
    if not wrong.any():
        return None
    index = tuple(int(i) for i in wrong.nonzero()[0]) if expected.dim() else ()
    at = f" at {list(index)}" if index else ""
    if not reveal:
        off = abs(got[index].item() - expected[index].item()) / max(abs(expected[index].item()), 1e-12)
        if off >= 10:
            return f"a value{at} far off (its sign or scale)"
        return f"a value{at} about {off:.0%} off" if off >= 0.01 else f"a value{at} off by {off:.1e} of itself"
    return f"{got[index].item():.6g}{at} where {expected[index].item():.6g} is expected"


def _shape(t: torch.Tensor) -> str:
    return "a single number (shape ())" if t.dim() == 0 else f"shape {tuple(t.shape)}"


def difference(got: Outcome, expected: Outcome, grad_names: Sequence[str], tolerance: float,
               reveal: bool = True, draws: bool = True) -> str | None:
    """Where `got` first differs from `expected` (its value's shape, then its value, then each gradient), or None;
    the expected values are not shown unless `reveal`. A result that training would use (gradients are watched)
    must not be widened past the inputs' and the default dtype."""
    if expected.value.dim() and got.returned != expected.returned:
        return f"it returns a {got.returned} where a torch {expected.returned} is expected"
    if expected.value.dim() and got.value.dtype != expected.value.dtype:
        return f"it returns {got.value.dtype} where {expected.value.dtype}, the inputs' dtype, is expected"
    if (grad_names and got.returned == expected.returned == "Tensor" and got.value.is_floating_point()
            and got.value.dtype != expected.value.dtype
            and not (got.value.dtype == torch.get_default_dtype()  # a notebook that made float64 the default
                     and torch.finfo(got.value.dtype).bits > torch.finfo(expected.value.dtype).bits)):
        return (f"it returns {got.value.dtype} where {expected.value.dtype}, the inputs' dtype, is expected (a "
                "tensor made without dtype= is float32, and a float64 constant or .double() widens: torch.full_like(x, "
                "...) and x.new_tensor(...) follow x)")
    if got.value.shape != expected.value.shape:
        reduce = " (reduce it: a loss is a mean over the batch)" if expected.value.dim() == 0 else ""
        return f"it gives {_shape(got.value)} where {_shape(expected.value)} is expected{reduce}"
    mismatch = _first_mismatch(got.value, expected.value, tolerance, reveal)
    if mismatch:
        return f"it gives {mismatch}"
    if draws and got.drew_globally and not expected.drew_globally:
        return ("it draws from torch's global random number generator, which this computation needs not: every "
                "later random draw in the notebook shifts")
    if draws and any(not torch.equal(a, b) for a, b in zip(got.draws, expected.draws)):
        return ("it draws more or fewer numbers from the generator it is given than the one draw it needs (a draw of "
                "another shape, or of another dtype: float64 takes twice the state), so every later draw of the "
                "caller's shifts: draw exactly what the computation uses")
    for name, g, e in zip(grad_names, got.grads, expected.grads):
        if not g.any() and e.any():
            return (f"its value is right but no gradient reaches {name} through it (is something detached, or "
                    "computed without create_graph?)")
        mismatch = _first_mismatch(g, e, tolerance, reveal)
        if mismatch:
            return f"its value is right but its gradient with respect to {name} is not: {mismatch}"
    return None


def implementation_verdict(name: str, learner: Callable, reference: Callable, cases: Sequence[Case],
                           signature: Signature, mistakes: dict[str, Callable] | None = None,
                           also_right: Sequence[Callable] = (), tolerance: float = 1e-5) -> str:
    """One line on a learner's function: 'right' when it agrees with `reference` (or one of `also_right`, other
    correct forms) on every case, in value and in the watched gradients; else its first problem, the typical
    mistake (name -> a function that makes it) it agrees with on every case, or where it first differs."""
    with preserved_state():
        try:
            return _implementation_verdict(name, learner, reference, cases, signature, mistakes or {}, also_right,
                                           tolerance)
        except Exception as exc:  # what it returned resists reading (a tensor subclass, a meta tensor): one line
            return f"{name}: not yet, its result could not be read: {exception_line(exc)}"


def _implementation_verdict(name, learner, reference, cases, signature, mistakes, also_right, tolerance) -> str:
    grad_names = [n for n, _ in _watched_inputs([_copy(a, True) for a in cases[0].args], signature)]
    got = []
    for number, case in enumerate(cases, 1):
        outcome = run_case(learner, case, signature, learner=True)
        if outcome.unanswered:
            return f"{name}: {NOT_ANSWERED}"
        if outcome.problem:
            where = f" (case {number} of {len(cases)}: {case.about})" if len(cases) > 1 and case.about else ""
            return f"{name}: not yet, {outcome.problem}{where}"
        got.append(outcome)

    def agrees(outcomes: list[Outcome], draws: bool = True) -> bool:  # a mistake is named whatever it draws
        return all(not theirs.problem and not theirs.unanswered
                   and difference(mine, theirs, grad_names, tolerance, draws=draws) is None
                   for mine, theirs in zip(got, outcomes))

    def outcomes(fn: Callable) -> list[Outcome]:
        return [run_case(fn, case, signature) for case in cases]

    expected = outcomes(reference)
    if broken := next((n for n, e in enumerate(expected, 1) if e.problem or e.unanswered), None):
        return (f"{name}: the check could not run gan_lib's own answer on case {broken} ({expected[broken - 1].problem}"
                "): this is the check's fault, not your answer's; restart the kernel and run the notebook from the top")
    right_by = next((fn for fn in also_right if agrees(outcomes(fn))), None) if not agrees(expected) else reference
    if right_by is not None:
        return f"{name}: {_on_drawn_cases(learner, right_by, cases, signature, grad_names, tolerance) or 'right'}"
    for mistake, make_it in mistakes.items():
        if agrees(outcomes(make_it), draws=False):
            return f"{name}: not yet, this looks like {mistake}"
    for number, (case, mine, theirs) in enumerate(zip(cases, got, expected), 1):
        where = difference(mine, theirs, grad_names, tolerance)
        if where:
            about = f" ({case.about})" if case.about else ""
            return f"{name}: not yet, on case {number}{about} {where}"
    return f"{name}: not yet"  # unreachable: a learner that agrees with the reference on every case is right


# on drawn values a right answer computed in a less stable form (a sigmoid, then binary_cross_entropy) may round
# differently; an answer that remembers results or fits the fixed values is off by more
DRAWN_TOLERANCE = 5e-3


def _drawn(case: Case, rng: torch.Generator) -> Case:
    """The case again with values drawn afresh: each float tensor of one dimension or more multiplied, element by
    element, by a factor from 0.5 to 2 (shapes and signs kept; the fixed cases hold the extremes), each integer
    tensor (labels) drawn anew between its smallest and largest value; numbers, counts and modules as they were. A
    case with its own `redraw` (covariances, unit directions: what element-wise factors would spoil) uses that."""
    if case.redraw is not None:
        return Case(case.redraw(rng), case.about)

    def draw(arg: object) -> object:
        if isinstance(arg, torch.Tensor) and arg.is_floating_point() and arg.dim():
            factor = 2.0 ** (2 * torch.rand(arg.shape, generator=rng, dtype=torch.float64) - 1)  # 0.5 to 2
            return (arg.detach().double() * factor).to(arg.dtype)
        if isinstance(arg, torch.Tensor) and arg.dtype in (torch.int64, torch.int32) and arg.numel() > 1:
            return torch.randint(int(arg.min()), int(arg.max()) + 1, arg.shape, generator=rng).to(arg.dtype)
        return arg
    return Case(tuple(draw(a) for a in case.args), case.about)


def _on_drawn_cases(learner, right_by, cases, signature, grad_names, tolerance) -> str | None:
    """A learner right on the fixed cases, run again on each case's shapes with values drawn afresh (from a
    generator seeded anew at every check, never shown): where it differs, without the expected values. A drawn
    case outside the right answer's own domain (it fails there) is skipped."""
    rng = torch.Generator().manual_seed(int.from_bytes(os.urandom(8), "little") >> 1)
    for number, case in enumerate(cases, 1):
        drawn = _drawn(case, rng)
        graded = number % 2 or not signature.wrt  # every other case: inputs that do not require grad, values only
        judged = signature if graded else Signature(signature.names, (), signature.watched)
        theirs = run_case(right_by, drawn, judged)
        if theirs.problem or theirs.unanswered:
            continue
        mine = run_case(learner, drawn, judged, learner=True)
        where = (mine.problem or ("it returns None" if mine.unanswered else None)
                 or difference(mine, theirs, grad_names if graded else [], max(tolerance, DRAWN_TOLERANCE),
                               reveal=False))
        if where:
            inputs = "" if graded else " and inputs that do not require grad"
            return (f"not yet, right on the fixed cases but not on case {number}'s shapes with other values{inputs} "
                    f"(drawn afresh at every check): {where}; an answer must hold for any values, not only on the "
                    "fixed cases")
    return None


def _short(value: object) -> str:
    tensor = torch.as_tensor(value).detach().float().flatten()
    shown = ", ".join(f"{v:.4f}" for v in tensor[:3].tolist())
    return f"[{shown}{', ...' if len(tensor) > 3 else ''}]" if tensor.dim() and len(tensor) != 1 else shown
