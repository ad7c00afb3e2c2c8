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


def check(name: str, answer: object, expected: object, tolerance: float = 0.0, hint: str = "") -> bool:
    """Print whether `answer` matches `expected` (numbers within tolerance, sequences item by item, strings without
    case); None means not answered yet. Returns True when right."""
    if answer is None:
        print(f"{name}: not answered yet (set the answer above, then run this cell again)")
        return False
    if _close(answer, expected, tolerance):
        print(f"{name}: right")
        return True
    print(f"{name}: not yet, {answer!r} is not it." + (f" Hint: {hint}" if hint else ""))
    return False
