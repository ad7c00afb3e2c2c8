"""The one exception type for a user's mistake: the CLI prints its message without a traceback."""


class GanLibError(Exception):
    """A problem the user can fix; the message says what happened and what to do."""
