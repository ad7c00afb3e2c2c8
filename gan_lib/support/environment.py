"""gan_lib's environment variables (GAN_LIB_*), each read by one of these functions: a value that makes no sense
(an empty path, "²" steps, "maybe" for a switch) is one line that names the variable and what to set."""

from __future__ import annotations

import os
import re
from pathlib import Path

from .errors import GanLibError, printable

SWITCH = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False,
          "": False}
ASCII_WHOLE_NUMBER = re.compile(r"\s*[+-]?[0-9]+\s*")  # not "²", "٣", "1_000" or "1e3"


def text_setting(name: str, default: str) -> str:
    """$name, else the default; set but empty, it is refused (an empty data or folder would mean the current one)."""
    value = os.environ.get(name)
    if value is None:
        return default
    if not value.strip():
        raise GanLibError(f"{name} is set but empty, which would mean the current folder: unset it (the default is "
                          f"{default}) or give it a value")
    return value


def path_setting(name: str, default: Path) -> Path:
    """$name as a path (~ expanded), else the default."""
    return Path(text_setting(name, str(default))).expanduser()


def count_setting(name: str, default: int, lowest: int, highest: int, unit: str) -> int:
    """$name as a whole number from lowest to highest, else the default."""
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        number = int(value) if ASCII_WHOLE_NUMBER.fullmatch(value) else None  # int() alone takes any script's digits
    except ValueError:  # more than int()'s 4,300 digits
        number = None
    if number is None or not lowest <= number <= highest:
        raise GanLibError(printable(f"{name} must be a whole number of {unit} from {lowest:,} to {highest:,}, got "
                                    f"{value!r}: set it to one, or unset it (the default is {default:,})"))
    return number


def switch_setting(name: str, default: bool = False) -> bool:
    """An on/off variable: 1/true/yes/on or 0/false/no/off (any case; empty is off), else the default."""
    if name not in os.environ:
        return default
    value = os.environ[name].strip().lower()
    if value not in SWITCH:
        raise GanLibError(printable(f"{name}={os.environ[name]!r} is neither on nor off: set it to 1 or 0"))
    return SWITCH[value]
