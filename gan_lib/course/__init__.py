"""The notebooks' wing, apart from the library: the settings every notebook shares (`settings`), the latent
explorer (`widgets`), notebook 02's theory (`theory`), notebook 03's 2-D toy (`toy`) and the exercises' checks
(`exercises`). The library never imports it."""

from .settings import SOLUTION_HIDDEN, course_settings, show_solutions

__all__ = ["SOLUTION_HIDDEN", "course_settings", "show_solutions"]
