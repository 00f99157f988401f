"""Min/max pyramid of one channel, and exact min/max envelopes assembled from it.

A pyramid holds, for levels ``k = 0 .. L-1``, the NaN-ignoring minimum and maximum of the raw
samples in consecutive bins of ``base_bin * factor**k`` samples (float32, the last bin of each
level covers the tail). An :class:`Envelope` answers "min and max per pixel column" for a sample
range: interior columns are unions of whole bins of one level, and the partial-bin parts at the
range's ends are scanned from the raw samples, so every column equals a full scan of its raw
samples (``docs/pyramid.md`` gives the argument and the measured figures).

Typical use::

    builder = PyramidBuilder(n_samples)
    for chunk in chunks:              # consecutive float32 chunks of any sizes
        builder.feed(chunk)
    write_pyramid(builder.finish(), "ch000.pyr")
    pyr = open_pyramid("ch000.pyr")    # memory-mapped
    env = envelope(raw, pyr, start, stop, px=1500)
"""

from __future__ import annotations

import functools
import operator
import time
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from signal_io._pyramid_kernels import (
    _coarsen_kernel,
    _envelope_kernel,
    _feed_kernel,
    _finalize_kernel,
)
from signal_io.errors import (
    PyramidError,
    SampleRangeError,
)

F32 = NDArray[np.float32]
I64 = NDArray[np.int64]

BASE_BIN = 16
"""Samples per level-0 bin (see ``docs/pyramid.md`` for the measurements behind 16 and 4)."""
FACTOR = 4
"""Bins of level ``k`` per bin of level ``k + 1``."""
MIN_BINS_PER_COLUMN = 4
"""An envelope uses the coarsest level whose bins fit at least this many times in a column.

It bounds how much a column's width is rounded up: the step is a multiple of the bin size, so it
exceeds the exact ``ceil((stop - start) / px)`` by less than ``1 / MIN_BINS_PER_COLUMN`` of it."""
RAW_SAMPLES_PER_PX = 2
""":func:`raw_or_envelope` returns raw samples when the range holds at most this many per pixel."""
_MAX_BIN = 1 << 20
_MAX_FACTOR = 1 << 10
_MAX_SAMPLES = 1 << 40



def level_sizes(n_samples: int, base_bin: int = BASE_BIN, factor: int = FACTOR) -> list[int]:
    """Number of bins per level for a signal of ``n_samples`` samples.

    Level 0 has ``ceil(n_samples / base_bin)`` bins; each further level has
    ``ceil(previous / factor)`` bins; levels are added while the new one has at least 2 bins.
    There is always at least one level (with 0 bins for an empty signal).
    """
    sizes = [-(-n_samples // base_bin)]
    while True:
        nxt = -(-sizes[-1] // factor)
        if nxt < 2:
            return sizes
        sizes.append(nxt)


@dataclass(frozen=True, eq=False)
class Pyramid:
    """Min/max pyramid of one channel.

    Attributes
    ----------
    n_samples
        Raw samples the pyramid summarises.
    base_bin
        Samples per bin at level 0.
    factor
        Bins of level ``k`` per bin of level ``k + 1``; level ``k`` bins hold
        ``base_bin * factor**k`` samples.
    mins, maxs
        One float32 array per level, shape ``(level_sizes(n_samples, base_bin, factor)[k],)``:
        NaN-ignoring min and max of the samples of each bin; NaN when every sample is NaN. Bin
        ``j`` of level ``k`` covers ``[j * b, min((j + 1) * b, n_samples))`` with ``b`` its size.
    """

    n_samples: int
    base_bin: int
    factor: int
    mins: tuple[F32, ...]
    maxs: tuple[F32, ...]

    def __post_init__(self) -> None:
        _check_layout(self.base_bin, self.factor)
        sizes = level_sizes(self.n_samples, self.base_bin, self.factor)
        if len(self.mins) != len(sizes) or len(self.maxs) != len(sizes):
            raise PyramidError(
                f"a pyramid of {self.n_samples} samples with base_bin={self.base_bin}, "
                f"factor={self.factor} has {len(sizes)} levels, got {len(self.mins)} mins and "
                f"{len(self.maxs)} maxs arrays"
            )
        for k, (size, lo, hi) in enumerate(zip(sizes, self.mins, self.maxs, strict=True)):
            for arr in (lo, hi):
                if arr.ndim != 1 or arr.dtype != np.float32 or arr.size != size:
                    raise PyramidError(
                        f"pyramid level {k} must be 1-D float32 arrays of {size} bins, got "
                        f"{arr.ndim}-D {arr.dtype} of {arr.size}"
                    )

    @property
    def levels(self) -> int:
        """Number of levels ``L``."""
        return len(self.mins)

    def bin_size(self, level: int) -> int:
        """Samples per bin at ``level`` (``0 <= level < levels``)."""
        if not 0 <= level < self.levels:
            raise PyramidError(
                f"pyramid level {level} does not exist; levels are 0..{self.levels - 1}"
            )
        return int(self.base_bin * self.factor**level)

    @property
    def nbytes(self) -> int:
        """Bytes held by the level arrays (the file adds a 64-byte header)."""
        return sum(int(a.nbytes) for a in self.mins) + sum(int(a.nbytes) for a in self.maxs)


def _check_layout(base_bin: int, factor: int) -> None:
    if not 1 <= base_bin <= _MAX_BIN:
        raise PyramidError(f"base_bin must be within 1..{_MAX_BIN} samples, got {base_bin}")
    if not 2 <= factor <= _MAX_FACTOR:
        raise PyramidError(f"factor must be within 2..{_MAX_FACTOR}, got {factor}")


def _as_samples(x: object, what: str) -> F32:
    arr = np.asarray(x)
    if arr.ndim != 1 or arr.dtype != np.float32:
        raise PyramidError(
            f"{what} must be a 1-D float32 array, got {arr.ndim}-D {arr.dtype}; convert the "
            "signal to float32 (the stored form) before building or querying a pyramid"
        )
    return arr


class PyramidBuilder:
    """Build a :class:`Pyramid` in one streaming pass over consecutive chunks.

    Only level 0 (``2 * 4 * ceil(n_samples / base_bin)`` bytes) is held while feeding; the coarser
    levels are computed from it by :meth:`finish`.

    Parameters
    ----------
    n_samples
        Total samples that will be fed.
    base_bin, factor
        Pyramid layout; see :class:`Pyramid`.
    """

    def __init__(self, n_samples: int, *, base_bin: int = BASE_BIN, factor: int = FACTOR) -> None:
        n_samples = operator.index(n_samples)
        if not 0 <= n_samples <= _MAX_SAMPLES:
            raise PyramidError(f"n_samples must be within 0..{_MAX_SAMPLES}, got {n_samples}")
        _check_layout(base_bin, factor)
        self.n_samples = n_samples
        self.base_bin = base_bin
        self.factor = factor
        n_bins = -(-n_samples // base_bin)
        self._mins = np.full(n_bins, np.inf, dtype=np.float32)
        self._maxs = np.full(n_bins, -np.inf, dtype=np.float32)
        self._pos = 0
        self._done = False

    @property
    def samples_fed(self) -> int:
        """Samples fed so far."""
        return self._pos

    def feed(self, chunk: F32) -> None:
        """Add the next samples.

        Parameters
        ----------
        chunk
            float32, shape ``(m,)``, any ``m >= 0``: the samples following those already fed.

        Raises
        ------
        PyramidError
            Wrong dtype or shape, more samples than ``n_samples`` in total, or called after
            :meth:`finish`.
        """
        if self._done:
            raise PyramidError("PyramidBuilder.feed() called after finish()")
        arr = np.ascontiguousarray(_as_samples(chunk, "pyramid chunk"))
        if self._pos + arr.size > self.n_samples:
            raise PyramidError(
                f"fed {self._pos + arr.size} samples but the pyramid was declared for "
                f"{self.n_samples}"
            )
        if arr.size:
            _feed_kernel(arr, self._pos, self.base_bin, self._mins, self._maxs)
            self._pos += arr.size

    def finish(self) -> Pyramid:
        """Compute the coarser levels and return the pyramid.

        Raises
        ------
        PyramidError
            Fewer samples were fed than declared, or :meth:`finish` was already called.
        """
        if self._done:
            raise PyramidError("PyramidBuilder.finish() called twice")
        if self._pos != self.n_samples:
            raise PyramidError(
                f"finish() after {self._pos} samples but the pyramid was declared for "
                f"{self.n_samples}"
            )
        self._done = True
        mins = [self._mins]
        maxs = [self._maxs]
        for size in level_sizes(self.n_samples, self.base_bin, self.factor)[1:]:
            lo = np.empty(size, dtype=np.float32)
            hi = np.empty(size, dtype=np.float32)
            _coarsen_kernel(mins[-1], maxs[-1], self.factor, lo, hi)
            mins.append(lo)
            maxs.append(hi)
        for lo, hi in zip(mins, maxs, strict=True):
            _finalize_kernel(lo, hi)
        return Pyramid(self.n_samples, self.base_bin, self.factor, tuple(mins), tuple(maxs))


def build_pyramid(x: F32, *, base_bin: int = BASE_BIN, factor: int = FACTOR) -> Pyramid:
    """Build the pyramid of a whole float32 signal (e.g. a memory-mapped channel).

    Parameters
    ----------
    x
        float32, shape ``(n,)``.
    base_bin, factor
        Pyramid layout; see :class:`Pyramid`.
    """
    arr = _as_samples(x, "signal")
    builder = PyramidBuilder(arr.size, base_bin=base_bin, factor=factor)
    builder.feed(arr)
    return builder.finish()


# ----------------------------------------------------------------------------------- envelopes


@dataclass(frozen=True, eq=False)
class Envelope:
    """Exact min/max per pixel column of a sample range.

    Attributes
    ----------
    start, stop
        The requested half-open sample range.
    step
        Samples per full column; interior column edges are multiples of ``step``.
    level
        Pyramid level whose bins filled the interior columns; ``-1`` when every column was
        scanned from raw samples (ranges too short for the pyramid to help).
    edges
        int64, shape ``(n_cols + 1,)``: column ``i`` covers samples ``[edges[i], edges[i+1])``;
        ``edges[0] == start``, ``edges[-1] == stop``; the first and last columns may be partial.
    mins, maxs
        float32, shape ``(n_cols,)`` with ``n_cols <= px``: min and max of the raw samples of
        each column ignoring NaN, NaN when all are NaN; equal to a full scan of those samples.
    kind
        ``"envelope"``, to tell it from a :class:`RawWindow` on the wire.
    """

    start: int
    stop: int
    step: int
    level: int
    edges: I64
    mins: F32
    maxs: F32
    kind: Literal["envelope"] = field(default="envelope", init=False)

    @property
    def n_cols(self) -> int:
        """Number of columns."""
        return int(self.mins.size)


@dataclass(frozen=True, eq=False)
class RawWindow:
    """Raw samples of a range short enough to draw sample by sample.

    Attributes
    ----------
    start, stop
        The half-open sample range.
    samples
        float32, shape ``(stop - start,)``: a copy of the raw samples (NaN in gaps).
    kind
        ``"raw"``.
    """

    start: int
    stop: int
    samples: F32
    kind: Literal["raw"] = field(default="raw", init=False)


def _check_request(
    raw: object, pyr: Pyramid, start: int, stop: int, px: int
) -> tuple[F32, int, int, int]:
    arr = _as_samples(raw, "raw signal")
    if arr.size != pyr.n_samples:
        raise PyramidError(
            f"raw signal has {arr.size} samples but the pyramid was built for {pyr.n_samples}"
        )
    try:
        start, stop, px = operator.index(start), operator.index(stop), operator.index(px)
    except TypeError as exc:
        raise PyramidError(f"start, stop and px must be integers: {exc}") from exc
    if not 0 <= start < stop <= pyr.n_samples:
        raise SampleRangeError(
            f"sample range [{start}, {stop}) is empty, reversed or outside [0, {pyr.n_samples})"
        )
    if px < 1:
        raise PyramidError(f"px (pixel columns) must be >= 1, got {px}")
    return arr, start, stop, px


def _n_cols(start: int, stop: int, step: int) -> int:
    return (stop - 1) // step - start // step + 1


def _round_up(value: int, multiple: int) -> int:
    return -(-value // multiple) * multiple


def plan_columns(pyr: Pyramid, start: int, stop: int, px: int) -> tuple[int, int, I64]:
    """Choose the level, column step and column edges for a request (arguments pre-validated).

    The step is the smallest multiple ``>= ceil((stop - start) / px)`` of the chosen level's bin
    size that gives at most ``px`` step-aligned columns; the level is the coarsest whose bins fit
    :data:`MIN_BINS_PER_COLUMN` times in that width (``-1``, raw scan, when none does).

    Plans depend only on the pyramid's layout and the request, so the channels of one window
    request (usually the same length and layout) share one cached plan.

    Returns
    -------
    level, step, edges
        ``edges`` is int64, shape ``(n_cols + 1,)``, read-only.
    """
    return _plan_columns(pyr.levels, pyr.base_bin, pyr.factor, start, stop, px)


@functools.lru_cache(maxsize=4096)
def _plan_columns(levels: int, base_bin: int, factor: int, start: int, stop: int, px: int
                  ) -> tuple[int, int, I64]:
    n = stop - start
    step0 = -(-n // px)
    level = -1
    for k in range(levels - 1, -1, -1):
        if base_bin * factor**k * MIN_BINS_PER_COLUMN <= step0:
            level = k
            break
    grain = base_bin * factor**level if level >= 0 else 1
    step = _round_up(step0, grain)
    if _n_cols(start, stop, step) > px:
        if px == 1:
            step = _round_up(stop, grain)  # no step multiple inside (start, stop)
        else:
            for _ in range(8):
                step += grain
                if _n_cols(start, stop, step) <= px:
                    break
            else:  # step >= n / (px - 1) guarantees <= px columns
                step = _round_up(-(-n // (px - 1)), grain)
    n_cols = _n_cols(start, stop, step)
    edges = np.empty(n_cols + 1, dtype=np.int64)
    first = start // step
    edges[1:-1] = np.arange(first + 1, first + n_cols, dtype=np.int64) * step
    edges[0] = start
    edges[-1] = stop
    edges.flags.writeable = False  # shared by every caller of the same plan
    return level, step, edges




def envelope(raw: F32, pyr: Pyramid, start: int, stop: int, px: int) -> Envelope:
    """Exact min/max envelope of ``raw[start:stop]`` in at most ``px`` columns.

    Parameters
    ----------
    raw
        float32, shape ``(pyr.n_samples,)``: the channel's raw samples (usually a memory map).
    pyr
        The channel's pyramid.
    start, stop
        Half-open sample range, ``0 <= start < stop <= pyr.n_samples``.
    px
        Maximum number of columns (the plot width in pixels), ``>= 1``.

    Raises
    ------
    SampleRangeError
        The range is empty, reversed or outside the signal.
    PyramidError
        ``px < 1``, ``raw`` not 1-D float32, or ``raw`` and ``pyr`` of different lengths.
    """
    arr, start, stop, px = _check_request(raw, pyr, start, stop, px)
    level, step, edges = plan_columns(pyr, start, stop, px)
    if level >= 0:
        lv_min, lv_max, bin_size = pyr.mins[level], pyr.maxs[level], pyr.bin_size(level)
    else:
        lv_min, lv_max, bin_size = pyr.mins[0][:0], pyr.maxs[0][:0], 0
    n_cols = edges.size - 1
    mins = np.empty(n_cols, dtype=np.float32)
    maxs = np.empty(n_cols, dtype=np.float32)
    _envelope_kernel(arr, lv_min, lv_max, bin_size, edges, mins, maxs)
    return Envelope(start, stop, step, level, edges, mins, maxs)


def raw_or_envelope(
    raw: F32, pyr: Pyramid, start: int, stop: int, px: int
) -> RawWindow | Envelope:
    """Raw samples when ``stop - start <= RAW_SAMPLES_PER_PX * px``, else :func:`envelope`.

    Parameters and errors are those of :func:`envelope`; the result's ``kind`` (``"raw"`` or
    ``"envelope"``) tells the server which body to send.
    """
    arr, start, stop, px = _check_request(raw, pyr, start, stop, px)
    if stop - start <= RAW_SAMPLES_PER_PX * px:
        return RawWindow(start, stop, np.array(arr[start:stop], dtype=np.float32))
    return envelope(arr, pyr, start, stop, px)


def warm_up() -> float:
    """Compile (or load from numba's cache) every pyramid kernel on tiny inputs.

    Covers writable and read-only (memory-mapped) arrays, so the first request after server
    start-up does not pay compilation. Returns the seconds it took.
    """
    t0 = time.perf_counter()
    x = np.arange(200, dtype=np.float32)
    x[3] = np.nan
    ro = x.copy()
    ro.flags.writeable = False
    for chunk in (x, ro):
        pyr = build_pyramid(chunk, base_bin=4, factor=2)
    pyr_ro = Pyramid(
        pyr.n_samples, pyr.base_bin, pyr.factor,
        tuple(_readonly(a) for a in pyr.mins), tuple(_readonly(a) for a in pyr.maxs),
    )
    for signal in (x, ro):
        for p in (pyr, pyr_ro):
            envelope(signal, p, 1, 199, 3)  # a pyramid level
            envelope(signal, p, 1, 199, 150)  # raw scan
    return time.perf_counter() - t0


def _readonly(a: F32) -> F32:
    b = a.view()
    b.flags.writeable = False
    return b


__all__ = [
    "BASE_BIN",
    "FACTOR",
    "FORMAT_VERSION",
    "HEADER_SIZE",
    "MAGIC",
    "MIN_BINS_PER_COLUMN",
    "RAW_SAMPLES_PER_PX",
    "Envelope",
    "Pyramid",
    "PyramidBuilder",
    "RawWindow",
    "build_pyramid",
    "envelope",
    "level_sizes",
    "open_pyramid",
    "plan_columns",
    "raw_or_envelope",
    "warm_up",
    "write_pyramid",
]


from signal_io._pyramid_file import (  # noqa: E402 - re-exported, needs Pyramid
    FORMAT_VERSION,
    HEADER_SIZE,
    MAGIC,
    open_pyramid,
    write_pyramid,
)
