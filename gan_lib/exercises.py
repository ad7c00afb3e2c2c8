"""Self-checks for the notebooks' exercises: one line that says whether an answer is right, never an exception,
so that "Run all" goes on past an exercise not yet done."""

from __future__ import annotations

from collections.abc import Sequence


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
