"""Exceptions raised for bad input.

Every problem with what a user gave us (files, focus positions, parameters) raises
:class:`InputError`, a :class:`ValueError`, with one sentence that says what is wrong and,
where there is one, what to do. The command line turns it into exit status 2 and that
sentence on stderr, without a traceback.
"""


class InputError(ValueError):
    """Bad input: unreadable or inconsistent images, focus positions, parameters or paths."""


def error_message(exc: BaseException) -> str:
    """The one line a user sees for an :class:`InputError` or an ``OSError`` (its reason and file)."""
    if isinstance(exc, InputError):
        return str(exc)
    return f"{getattr(exc, 'strerror', None) or exc}: {getattr(exc, 'filename', None) or ''}".rstrip(": ")
