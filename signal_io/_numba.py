"""Central numba settings for signal_io kernels, with an off switch.

Set ``WAVESCORE_DISABLE_NUMBA=1`` to run every kernel as plain Python (debugging, coverage).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])

JIT_OPTIONS: dict[str, Any] = {"cache": True, "nogil": True, "fastmath": False}


def jit(func: F) -> F:
    """Compile ``func`` with :data:`JIT_OPTIONS`, unless numba is switched off."""
    if os.environ.get("WAVESCORE_DISABLE_NUMBA"):
        return func
    import numba

    return numba.njit(**JIT_OPTIONS)(func)  # type: ignore[no-any-return]
