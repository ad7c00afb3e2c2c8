"""The verdicts: one line that says whether an answer is right, never an exception, so that "Run all" goes on past
an exercise not yet done; for a function the learner wrote, its outputs against gan_lib's on fixed inputs, with the
typical mistake named when the outputs match it."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch


def _close(answer: object, expected: object, tolerance: float) -> bool:
    if isinstance(expected, (int, float)) and not isinstance(expected, bool):
        try:
            return abs(float(answer) - float(expected)) <= tolerance
        except (TypeError, ValueError):
            return False
    if isinstance(expected, Sequence) and not isinstance(expected, str):
        return (isinstance(answer, Sequence) and not isinstance(answer, str) and len(answer) == len(expected)
                and all(_close(a, e, tolerance) for a, e in zip(answer, expected)))
    if isinstance(expected, str):
        return isinstance(answer, str) and answer.strip().lower() == expected.lower()
    return answer == expected


def verdict(name: str, answer: object, expected: object, tolerance: float = 0.0, hint: str = "") -> str:
    """One line that says whether `answer` matches `expected` (numbers within tolerance, sequences item by item,
    strings without case); None means not answered yet."""
    if answer is None:
        return f"{name}: not answered yet (set the answer above, then run this cell again)"
    if _close(answer, expected, tolerance):
        return f"{name}: right"
    return f"{name}: not yet, {answer!r} is not it." + (f" Hint: {hint}" if hint else "")


def check(name: str, answer: object, expected: object, tolerance: float = 0.0, hint: str = "") -> None:
    """Print the verdict on an answer (a notebook's self-check cell)."""
    print(verdict(name, answer, expected, tolerance, hint))


# --- Implement-it checks: the learner's function against gan_lib's own, on fixed inputs -------------------------

def implementation_verdict(name: str, learner: Callable, reference: Callable, cases: list[tuple],
                           mistakes: dict[str, Callable] | None = None, tolerance: float = 1e-5) -> str:
    """One line on a learner's function: 'right' when it matches `reference` on every case (tuples of arguments);
    else the first typical mistake (name -> a function that makes it) that it matches, or where it first differs.
    A function that returns None has not been written yet; one that raises says what it raised."""
    for number, args in enumerate(cases, 1):
        try:
            answer = learner(*args)
        except Exception as exc:  # the learner's code: whatever it raises is reported, never re-raised
            return f"{name}: not yet, case {number} raised {type(exc).__name__}: {exc}"
        if answer is None:
            return f"{name}: not answered yet (fill in the function above, then run this cell again)"
        if _same(answer, reference(*args), tolerance):
            continue
        for mistake, make_it in (mistakes or {}).items():
            if all(_same(_quiet(learner, a), make_it(*a), tolerance) for a in cases):
                return f"{name}: not yet, this looks like {mistake}"
        return f"{name}: not yet, case {number} gives {_short(answer)} where {_short(reference(*args))} is expected"
    return f"{name}: right"


def _quiet(fn: Callable, args: tuple) -> object:
    try:
        return fn(*args)
    except Exception:  # a mistake that raises on another case is not that mistake
        return None


def _same(answer: object, expected: torch.Tensor, tolerance: float) -> bool:
    try:
        answer = torch.as_tensor(answer, dtype=expected.dtype)
    except (TypeError, ValueError, RuntimeError):
        return False
    return answer.shape == expected.shape and torch.allclose(answer, expected, rtol=tolerance, atol=tolerance)


def _short(value: object) -> str:
    tensor = torch.as_tensor(value).detach().float().flatten()
    shown = ", ".join(f"{v:.4f}" for v in tensor[:3].tolist())
    return f"[{shown}{', ...' if len(tensor) > 3 else ''}]" if tensor.dim() and len(tensor) != 1 else shown
