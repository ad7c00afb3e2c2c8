"""The notebooks' cells under `pytest --nbval-lax` (the test command re-executes them in tiny mode): a cell that
runs but prints `nan`, a warning or an error-looking line fails, naming the line, as an exception would."""

import re

import pytest

# what a learner must never read in a notebook's output: a number that is not one, or a message meant for a developer
NOT_A_NUMBER = re.compile(r"(?<![\w.])[-+]?(nan|inf)(?![\w(])", re.I)
ALARMING = re.compile(r"Traceback|Error\b|Exception\b|Warning\b|warn\(")


def output_text(output: dict) -> tuple[str, str]:
    """(text, where) of one cell output: a stream's text with its name, or a result's plain text."""
    if output.get("output_type") == "stream":
        return output.get("text", ""), output.get("name", "stdout")
    if output.get("output_type") == "error":
        return "\n".join(output.get("traceback", [])), "error"
    return output.get("data", {}).get("text/plain", ""), "result"


def alarming_line(outputs: list[dict]) -> str:
    """The first output line a learner should not see in a healthy run, with why; "" when there is none."""
    for output in outputs:
        text, where = output_text(output)
        for line in text.splitlines():
            if NOT_A_NUMBER.search(line):
                return f"prints a value that is not a number: {line.strip()!r}"
            if where == "stderr" and ALARMING.search(line) or where == "error":
                return f"writes an error or warning to {where}: {line.strip()!r}"
    return ""


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    result = yield
    outputs = getattr(item, "test_outputs", None)  # nbval's cell items: what the cell printed and displayed
    if outputs and (problem := alarming_line(outputs)):
        raise AssertionError(f"cell {getattr(item, 'cell_num', '?')} ran, but {problem}")
    return result
