"""gan_lib: the thin library behind the anime-face-gan course (DCGAN on anime faces)."""

from .support.errors import GanLibError

__all__ = ["Config", "GanLibError"]
__version__ = "0.1.0"


def __getattr__(name: str):
    """Config on first use: importing gan_lib alone does not import torch (so `python -m gan_lib` can tell a Ctrl-C
    while torch loads from one during the work)."""
    if name == "Config":
        from .config import Config

        return Config
    raise AttributeError(f"module 'gan_lib' has no attribute {name!r}")
