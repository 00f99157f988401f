"""Turn exceptions into one-line CLI errors with an exit status."""

from __future__ import annotations

import os
import sys
import traceback

from signal_io.errors import SignalIOError


def report_error(exc: BaseException) -> int:
    """Print ``exc`` as a one-line error and return the exit status for it.

    Known (typed) errors exit with 1 and their message. Anything else is a bug: it exits with 70
    (EX_SOFTWARE) and says so; set ``WAVESCORE_DEBUG=1`` to see the traceback.
    """
    known: tuple[type[BaseException], ...] = (SignalIOError, OSError, ValueError, LookupError)
    try:
        from store.errors import StoreError

        known = (*known, StoreError)
    except ImportError:  # store not built yet
        pass
    if isinstance(exc, known):
        print(f"wavescore: error: {exc}", file=sys.stderr)
        return 1
    print(f"wavescore: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
    if os.environ.get("WAVESCORE_DEBUG"):
        traceback.print_exception(exc)
    return 70
