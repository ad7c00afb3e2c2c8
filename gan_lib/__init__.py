"""gan_lib: the thin library behind the anime-face-gan course (DCGAN on anime faces)."""

from .config import Config
from .errors import GanLibError

__all__ = ["Config", "GanLibError"]
__version__ = "0.1.0"
