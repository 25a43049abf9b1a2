"""Errors a user can fix: raised with a message that says what is wrong and how to fix it.

The CLI prints such an error as one paragraph (exit code 2) and never a traceback
unless ``--debug`` is given.  Anything else that escapes is a bug in this package.
"""


class ReportError(Exception):
    """A problem with the input or the parameters that the user can fix."""

    def _render_traceback_(self) -> list[str]:
        # IPython shows this instead of a traceback: in a notebook, as on the command line,
        # the message is the whole story.
        return [f"error: {self}"]


class SourceError(ReportError):
    """The events could not be read: a missing file, a bad header, an unreachable sheet."""


class ParameterError(ReportError):
    """A parameter file or override names an unknown key or holds a bad value."""


class DataError(ReportError):
    """The events were read, but a report on them would rest on nothing (most datetimes
    unreadable): nothing is written, so the last good report is not replaced."""
