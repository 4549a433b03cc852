"""The exceptions dedup raises, and the exit code each one means on the command line.

Every failure the library reports on purpose is a :class:`DedupError`:

* :class:`UsageError` (also a ``ValueError``): an option or argument is
  invalid, or two of them conflict (an output that is an input, one file
  named for two outputs). Raised before any input is read. Exit 2.
* :class:`InputError`: an input PATH cannot be used at all (it does not
  exist). A bad *document* is never an error: it is reported as skipped.
  Exit 2.
* :class:`OutputError`: an output cannot be written (missing folder,
  read-only place, full disk). Found before any input is read where it can
  be. Exit 1.

The messages are in the library's own terms (``threshold must be in (0,
1]``); the command line prints them as ``dedup: error: MESSAGE``.

Example:
    >>> try:
    ...     raise UsageError("threshold must be in (0, 1], got 2.0")
    ... except ValueError as err:  # a UsageError is a ValueError too
    ...     print(exit_code(err), err)
    2 threshold must be in (0, 1], got 2.0
"""

from __future__ import annotations

__all__ = [
    "EXIT_DUPLICATES",
    "EXIT_FATAL",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_USAGE",
    "DedupError",
    "InputError",
    "OutputError",
    "UsageError",
    "exit_code",
]

EXIT_OK = 0
EXIT_FATAL = 1
EXIT_USAGE = 2
EXIT_DUPLICATES = 3
EXIT_INTERRUPTED = 130


class DedupError(Exception):
    """Base of every error dedup raises on purpose."""


class UsageError(DedupError, ValueError):
    """An option or argument is invalid, or two of them conflict.

    Attributes:
        option: The parameter the message starts with, in the library's
            terms (``min_words``), so the command line can show its flag
            (``--min-words``) instead; None when the message names no option.
    """

    def __init__(self, message: str, *, option: str | None = None) -> None:
        super().__init__(message)
        self.option = option

    def for_command_line(self) -> str:
        """The message with its option spelled as a flag.

        Example:
            >>> UsageError("min_words must be at least 1, got 0", option="min_words").for_command_line()
            '--min-words must be at least 1, got 0'
        """
        message = str(self)
        if self.option and message.startswith(self.option):
            return "--" + self.option.replace("_", "-") + message[len(self.option) :]
        return message


class InputError(DedupError):
    """An input PATH argument cannot be used at all (e.g. it does not exist)."""


class OutputError(DedupError):
    """An output cannot be written."""


def exit_code(error: BaseException) -> int:
    """The command-line exit code of an error: 2 usage and input, 130
    interrupted, 1 everything else."""
    if isinstance(error, (UsageError, InputError)):
        return EXIT_USAGE
    if isinstance(error, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    return EXIT_FATAL
