"""The one exception type for a user's mistake (the CLI prints its message without a traceback), and `printable`, which
keeps any message on one line."""


class GanLibError(Exception):
    """A problem the user can fix; the message says what happened and what to do."""

    def _render_traceback_(self) -> list[str]:
        """What IPython (a notebook cell) shows: the one line, not a traceback; the cell still fails, so "Run all"
        stops there."""
        return [f"\x1b[0;31m{type(self).__name__}\x1b[0m: {printable(str(self))}"]


def printable(text: str) -> str:
    """Text (a file name, a message) that prints as itself on one line whatever it holds: undecodable bytes as
    U+FFFD, and characters that move the cursor or restyle a terminal (newline, escape, ...) as their escapes."""
    text = text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)
