"""Min/max pyramid and exact envelopes (``signal_io.pyramid``).

Truth is always a full scan of the raw samples (NaN ignored, all-NaN -> NaN); the pyramid must
never change an envelope, only make it cheaper.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

import signal_io.pyramid as pyramid_mod
from signal_io._pyramid_kernels import (
    _coarsen_kernel,
    _coarsen_py,
    _envelope_kernel,
    _envelope_py,
    _feed_kernel,
    _feed_py,
    _finalize_kernel,
    _finalize_py,
)
from signal_io.errors import (
    CorruptRecordingError,
    PyramidError,
    RecordingNotFoundError,
    SampleRangeError,
    SignalIOError,
    UnreadablePathError,
)
from signal_io.pyramid import (
    HEADER_SIZE,
    MIN_BINS_PER_COLUMN,
    Envelope,
    Pyramid,
    PyramidBuilder,
    RawWindow,
    build_pyramid,
    envelope,
    level_sizes,
    open_pyramid,
    plan_columns,
    raw_or_envelope,
    warm_up,
    write_pyramid,
)
from tests.conftest import need_shared

F32 = NDArray[np.float32]
AWKWARD_BINS = (1, 2, 3, 4, 7, 16)
PRIMES = (2, 3, 5, 13, 31, 61, 127, 257)


# ------------------------------------------------------------------------------------- helpers


def make_signal(rng: np.random.Generator, n: int, *, inf: bool = False) -> F32:
    """EEG-like noise with isolated one-sample spikes, NaN gaps and constant runs."""
    x = (rng.standard_normal(n) * 20.0).astype(np.float32)
    if n == 0:
        return x
    for _ in range(int(rng.integers(0, 4))):  # one-sample spikes, far outside the noise
        x[rng.integers(0, n)] = np.float32(rng.choice([-1.0, 1.0]) * rng.uniform(500, 5000))
    for _ in range(int(rng.integers(0, 3))):  # NaN gaps (some longer than a bin)
        a = int(rng.integers(0, n))
        x[a : a + int(rng.integers(1, 300))] = np.nan
    for _ in range(int(rng.integers(0, 3))):  # constant runs (flat line, clipped amplifier)
        a = int(rng.integers(0, n))
        x[a : a + int(rng.integers(1, 200))] = np.float32(rng.uniform(-50, 50))
    if inf:
        x[rng.integers(0, n)] = np.inf
        x[rng.integers(0, n)] = -np.inf
    return x


def scan(x: F32, lo: int, hi: int) -> tuple[float, float]:
    """Full NaN-ignoring scan of ``x[lo:hi]``: the truth every envelope column must equal."""
    seg = x[lo:hi]
    seg = seg[~np.isnan(seg)]
    if seg.size == 0:
        return float("nan"), float("nan")
    return float(seg.min()), float(seg.max())


def scan_columns(x: F32, edges: NDArray[np.int64]) -> tuple[F32, F32]:
    cols = [scan(x, int(edges[i]), int(edges[i + 1])) for i in range(edges.size - 1)]
    mins = np.array([c[0] for c in cols], dtype=np.float32)
    maxs = np.array([c[1] for c in cols], dtype=np.float32)
    return mins, maxs


def reference_pyramid(x: F32, base_bin: int, factor: int) -> tuple[list[F32], list[F32]]:
    """Every level computed directly from raw samples (not from the level below)."""
    mins: list[F32] = []
    maxs: list[F32] = []
    for k, size in enumerate(level_sizes(x.size, base_bin, factor)):
        b = base_bin * factor**k
        padded = np.full(size * b, np.nan, dtype=np.float32)
        padded[: x.size] = x
        rows = padded.reshape(size, b)
        mins.append(np.fmin.reduce(rows, axis=1) if size else np.empty(0, np.float32))
        maxs.append(np.fmax.reduce(rows, axis=1) if size else np.empty(0, np.float32))
    return mins, maxs


def assert_same(a: F32, b: F32) -> None:
    assert a.dtype == b.dtype == np.float32
    assert np.array_equal(a, b, equal_nan=True), (a, b)


def check_exact(x: F32, pyr: Pyramid, start: int, stop: int, px: int) -> Envelope:
    env = envelope(x, pyr, start, stop, px)
    assert 1 <= env.n_cols <= px
    assert env.edges.dtype == np.int64 and env.edges.size == env.n_cols + 1
    assert env.edges[0] == start and env.edges[-1] == stop
    assert np.all(np.diff(env.edges) > 0)
    assert np.all(env.edges[1:-1] % env.step == 0), "interior edges must be step-aligned"
    assert env.step >= -(-(stop - start) // px)
    if env.level >= 0:
        assert env.step % pyr.bin_size(env.level) == 0
    mins, maxs = scan_columns(x, env.edges)
    assert_same(env.mins, mins)
    assert_same(env.maxs, maxs)
    return env


# ------------------------------------------------------------------------------- kernel pairs


def awkward_sizes(bin_size: int) -> list[int]:
    sizes = {0, 1, bin_size - 1, bin_size, bin_size + 1, 2 * bin_size + 1, *PRIMES}
    return sorted(s for s in sizes if s >= 0)


@pytest.mark.parametrize("bin_size", AWKWARD_BINS)
@pytest.mark.parametrize("kind", ["noise", "nan_runs", "all_nan", "inf"])
def test_feed_kernel_matches_reference_for_awkward_sizes_and_offsets(
    bin_size: int, kind: str
) -> None:
    rng = np.random.default_rng(bin_size)
    for size in awkward_sizes(bin_size):
        for pos in sorted({0, 1, bin_size - 1, bin_size, 3 * bin_size + 1}):
            chunk = make_signal(rng, size, inf=kind == "inf")
            if kind == "nan_runs" and size:
                chunk[: size // 2] = np.nan
            if kind == "all_nan":
                chunk[:] = np.nan
            n_bins = -(-(pos + size) // bin_size) + 1
            # bins already partly filled by an earlier chunk, plus untouched (empty) bins
            start_min = np.full(n_bins, np.inf, np.float32)
            start_max = np.full(n_bins, -np.inf, np.float32)
            start_min[0], start_max[0] = -3.0, 3.0
            got = (start_min.copy(), start_max.copy())
            want = (start_min.copy(), start_max.copy())
            _feed_kernel(chunk, pos, bin_size, *got)
            _feed_py(chunk, pos, bin_size, *want)
            assert_same(got[0], want[0])
            assert_same(got[1], want[1])


@pytest.mark.parametrize("factor", [2, 3, 4, 5])
def test_coarsen_and_finalize_kernels_match_reference(factor: int) -> None:
    rng = np.random.default_rng(factor)
    for n_in in [0, 1, factor - 1, factor, factor + 1, *PRIMES]:
        lo = (rng.standard_normal(n_in) * 10).astype(np.float32)
        hi = lo + np.float32(1)
        empty = rng.random(n_in) < 0.3  # sentinel (all-NaN) bins
        lo[empty], hi[empty] = np.inf, -np.inf
        lo[rng.random(n_in) < 0.1] = -np.inf
        n_out = -(-n_in // factor)
        got = (np.empty(n_out, np.float32), np.empty(n_out, np.float32))
        want = (np.empty(n_out, np.float32), np.empty(n_out, np.float32))
        _coarsen_kernel(lo, hi, factor, *got)
        _coarsen_py(lo, hi, factor, *want)
        assert_same(got[0], want[0])
        assert_same(got[1], want[1])
        _finalize_kernel(*got)
        _finalize_py(*want)
        assert_same(got[0], want[0])
        assert_same(got[1], want[1])


@pytest.mark.parametrize("bin_size", [0, *AWKWARD_BINS])
@pytest.mark.parametrize("n", [0, 1, 2, 15, 16, 17, 61, 257])
def test_envelope_kernel_matches_full_scan_reference(bin_size: int, n: int) -> None:
    rng = np.random.default_rng(n * 31 + bin_size)
    for kind in ("noise", "nan_run", "all_nan", "inf"):
        x = make_signal(rng, n, inf=kind == "inf" and n > 0)
        if kind == "nan_run":
            x[n // 3 : n // 3 + 20] = np.nan
        if kind == "all_nan":
            x[:] = np.nan
        b = max(bin_size, 1)
        pyr_min, pyr_max = reference_pyramid(x, b, 2)
        lv_min, lv_max = pyr_min[0], pyr_max[0]
        for _ in range(20):
            cuts = np.unique(rng.integers(0, n + 1, size=int(rng.integers(1, 8))))
            edges = cuts.astype(np.int64)  # a single edge: zero columns
            got = (np.empty(edges.size - 1, np.float32), np.empty(edges.size - 1, np.float32))
            want = (np.empty(edges.size - 1, np.float32), np.empty(edges.size - 1, np.float32))
            _envelope_kernel(x, lv_min, lv_max, bin_size, edges, *got)
            _envelope_py(x, lv_min, lv_max, bin_size, edges, *want)
            assert_same(got[0], want[0])
            assert_same(got[1], want[1])


# ------------------------------------------------------------------------------------ builder


@pytest.mark.parametrize(("base_bin", "factor"), [(16, 4), (8, 2), (1, 2), (5, 3)])
def test_streaming_builder_with_random_chunks_equals_whole_build_and_reference(
    base_bin: int, factor: int
) -> None:
    rng = np.random.default_rng(base_bin * 7 + factor)
    for n in [0, 1, base_bin - 1, base_bin, base_bin + 1, 1009, 20_011]:
        x = make_signal(rng, n, inf=n > 100)
        builder = PyramidBuilder(n, base_bin=base_bin, factor=factor)
        pos = 0
        while pos < n:
            choices = [0, 1, 2, base_bin - 1, base_bin + 1, int(rng.integers(1, 3000))]
            step = choices[int(rng.integers(0, len(choices)))]
            builder.feed(x[pos : pos + step])
            pos += min(step, n - pos)
        streamed = builder.finish()
        whole = build_pyramid(x, base_bin=base_bin, factor=factor)
        ref_min, ref_max = reference_pyramid(x, base_bin, factor)
        assert streamed.levels == whole.levels == len(ref_min)
        for k in range(whole.levels):
            assert_same(streamed.mins[k], ref_min[k])
            assert_same(streamed.maxs[k], ref_max[k])
            assert_same(whole.mins[k], ref_min[k])
            assert_same(whole.maxs[k], ref_max[k])


def test_builder_accepts_strided_chunks() -> None:
    x = make_signal(np.random.default_rng(3), 4000)
    two_channels = np.stack([x, -x], axis=1)  # column views are strided
    builder = PyramidBuilder(x.size)
    builder.feed(two_channels[:1234, 0])
    builder.feed(two_channels[1234:, 0])
    ref_min, _ = reference_pyramid(x, 16, 4)
    assert_same(builder.finish().mins[0], ref_min[0])


def test_pyramid_levels_cover_the_tail_and_all_nan_bins_are_nan() -> None:
    x = np.arange(100, dtype=np.float32)
    x[16:32] = np.nan  # one whole level-0 bin
    pyr = build_pyramid(x, base_bin=16, factor=4)
    assert level_sizes(100, 16, 4) == [7, 2]
    assert [m.size for m in pyr.mins] == [7, 2]
    assert np.isnan(pyr.mins[0][1]) and np.isnan(pyr.maxs[0][1])
    assert pyr.mins[0][6] == 96 and pyr.maxs[0][6] == 99  # tail bin: samples 96..99
    assert pyr.mins[1][1] == 64 and pyr.maxs[1][1] == 99
    assert pyr.mins[1][0] == 0 and pyr.maxs[1][0] == 63
    assert pyr.nbytes == 8 * (7 + 2)


def test_pyramid_rejects_arrays_that_do_not_match_its_layout() -> None:
    good = build_pyramid(np.arange(100, dtype=np.float32))
    with pytest.raises(PyramidError, match="2 levels"):
        Pyramid(100, 16, 4, good.mins[:1], good.maxs[:1])
    with pytest.raises(PyramidError, match="7 bins"):
        Pyramid(100, 16, 4, (good.mins[0][:6], good.mins[1]), good.maxs)
    with pytest.raises(PyramidError, match="float64"):
        Pyramid(100, 16, 4, good.mins, (good.maxs[0].astype(np.float64), good.maxs[1]))
    with pytest.raises(PyramidError, match="level 5 does not exist"):
        good.bin_size(5)


def test_builder_rejects_misuse_with_typed_errors() -> None:
    with pytest.raises(PyramidError, match="n_samples"):
        PyramidBuilder(-1)
    with pytest.raises(PyramidError, match="factor"):
        PyramidBuilder(10, factor=1)
    with pytest.raises(PyramidError, match="base_bin"):
        PyramidBuilder(10, base_bin=0)
    b = PyramidBuilder(10)
    with pytest.raises(PyramidError, match="float32"):
        b.feed(np.zeros(3))  # type: ignore[arg-type]  # float64
    with pytest.raises(PyramidError, match="1-D"):
        b.feed(np.zeros((2, 2), np.float32))
    b.feed(np.zeros(6, np.float32))
    with pytest.raises(PyramidError, match="declared for 10"):
        b.feed(np.zeros(5, np.float32))
    with pytest.raises(PyramidError, match="after 6 samples"):
        b.finish()
    b.feed(np.zeros(4, np.float32))
    b.finish()
    with pytest.raises(PyramidError, match="twice"):
        b.finish()
    with pytest.raises(PyramidError, match="after finish"):
        b.feed(np.zeros(0, np.float32))
    with pytest.raises(ValueError):  # PyramidError is a ValueError too
        build_pyramid(np.zeros(4, np.float64))


# ---------------------------------------------------------------------------- exact envelopes


@pytest.mark.parametrize(("base_bin", "factor"), [(16, 4), (8, 2), (3, 5)])
def test_envelope_equals_full_scan_on_seeded_random_requests(base_bin: int, factor: int) -> None:
    rng = np.random.default_rng(2024 + base_bin)
    levels_used: set[int] = set()
    for i in range(15):
        tiny = [1, 5, base_bin - 1, base_bin + 1]
        n = max(tiny[i % 4] if i < 4 else int(rng.integers(1000, 300_000)), 1)
        x = make_signal(rng, n, inf=bool(rng.random() < 0.3))
        pyr = build_pyramid(x, base_bin=base_bin, factor=factor)
        for _ in range(40):
            start = int(rng.integers(0, n))
            if rng.random() < 0.3:  # shorter than one bin, often mid-bin
                stop = min(n, start + int(rng.integers(1, base_bin + 1)))
            else:
                stop = int(rng.integers(start + 1, n + 1))
            pxs = [1, 2, 3, int(rng.integers(1, 40)), int(rng.integers(1, 5001)), 1500]
            px = pxs[int(rng.integers(0, len(pxs)))]
            levels_used.add(check_exact(x, pyr, start, stop, px).level)
    # the sweep must exercise raw scans and several pyramid levels, not only one path
    assert {-1, 0, 1, 2} <= levels_used, levels_used


@settings(max_examples=150, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(
    n=st.integers(1, 60_000),
    seed=st.integers(0, 2**32 - 1),
    start_frac=st.floats(0, 1, exclude_max=True),
    len_frac=st.floats(0, 1),
    px=st.one_of(st.integers(1, 40), st.integers(1, 5000)),
    layout=st.sampled_from([(16, 4), (8, 2), (4, 3)]),
)
def test_envelope_equals_full_scan_hypothesis(
    n: int, seed: int, start_frac: float, len_frac: float, px: int, layout: tuple[int, int]
) -> None:
    rng = np.random.default_rng(seed)
    x = make_signal(rng, n, inf=seed % 5 == 0)
    pyr = build_pyramid(x, base_bin=layout[0], factor=layout[1])
    start = min(int(start_frac * n), n - 1)
    stop = start + 1 + int(len_frac * (n - start - 1))
    check_exact(x, pyr, start, stop, px)


def test_envelope_uses_pyramid_levels_and_keeps_columns_close_to_px() -> None:
    x = make_signal(np.random.default_rng(5), 2_000_000)
    pyr = build_pyramid(x)
    env = check_exact(x, pyr, 12_345, 1_987_654, 1500)
    assert env.level >= 2
    assert env.n_cols > 1500 / (1 + 1 / MIN_BINS_PER_COLUMN) - 2
    # columns that are whole bins of the chosen level: no raw samples scanned but the edges
    b = pyr.bin_size(env.level)
    assert np.all(env.edges[1:-1] % b == 0)
    short = check_exact(x, pyr, 100, 160, 20)  # few samples per column: raw scan
    assert short.level == -1


def test_plan_columns_never_exceeds_px_even_when_alignment_adds_a_column() -> None:
    pyr = build_pyramid(np.zeros(10_000, np.float32))
    rng = np.random.default_rng(9)
    for _ in range(3000):
        start = int(rng.integers(0, 9_999))
        stop = int(rng.integers(start + 1, 10_001))
        px = int(rng.integers(1, 40))
        level, step, edges = plan_columns(pyr, start, stop, px)
        assert edges.size - 1 <= px
        grain = pyr.bin_size(level) if level >= 0 else 1
        assert step % grain == 0
        if level >= 0:
            assert pyr.bin_size(level) * MIN_BINS_PER_COLUMN <= -(-(stop - start) // px)


def test_single_sample_spike_in_8h_night_survives_whole_night_view_at_1500px() -> None:
    fs, n = 256, 8 * 3600 * 256
    rng = np.random.default_rng(11)
    x = (rng.standard_normal(n) * 30).astype(np.float32)
    up, down = 3_141_593, 6_000_001  # odd positions, mid-bin at every level
    x[up] = 900.0
    x[down] = -850.0
    x[1_000_000:1_000_000 + 60 * fs] = np.nan  # a one-minute dropout
    pyr = build_pyramid(x)
    env = envelope(x, pyr, 0, n, 1500)
    assert env.n_cols <= 1500
    col_up = int(np.searchsorted(env.edges, up, side="right")) - 1
    col_down = int(np.searchsorted(env.edges, down, side="right")) - 1
    assert env.maxs[col_up] == np.float32(900.0)
    assert env.mins[col_down] == np.float32(-850.0)
    assert np.nanmax(env.maxs) == np.float32(900.0)
    assert np.nanmin(env.mins) == np.float32(-850.0)
    # the one-minute gap (15360 samples) is wider than a column: exactly the columns wholly
    # inside it are NaN (drawn as a gap), its partly covered neighbours are not
    inside = (env.edges[:-1] >= 1_000_000) & (env.edges[1:] <= 1_000_000 + 60 * fs)
    assert inside.sum() >= 2
    assert np.array_equal(np.isnan(env.mins), inside)
    assert np.array_equal(np.isnan(env.maxs), inside)


def test_all_nan_columns_are_nan_and_others_ignore_nan() -> None:
    x = np.full(4096, np.nan, np.float32)
    x[100] = 7.0
    pyr = build_pyramid(x)
    env = check_exact(x, pyr, 0, 4096, 8)
    assert np.isnan(env.mins).sum() == env.n_cols - 1


def test_envelope_rejects_bad_requests_before_any_kernel_runs() -> None:
    x = np.zeros(1000, np.float32)
    pyr = build_pyramid(x)
    for start, stop in [(-1, 10), (0, 1001), (10, 10), (20, 10)]:
        with pytest.raises(SampleRangeError, match=r"\[0, 1000\)"):
            envelope(x, pyr, start, stop, 100)
    with pytest.raises(IndexError):  # SampleRangeError is an IndexError too
        raw_or_envelope(x, pyr, 0, 2000, 10)
    with pytest.raises(PyramidError, match="px"):
        envelope(x, pyr, 0, 10, 0)
    with pytest.raises(PyramidError, match="integers"):
        envelope(x, pyr, 0.5, 10, 3)  # type: ignore[arg-type]
    with pytest.raises(PyramidError, match="999 samples"):
        envelope(x[:999], pyr, 0, 10, 3)
    with pytest.raises(PyramidError, match="float32"):
        envelope(x.astype(np.float64), pyr, 0, 10, 3)


def test_raw_or_envelope_switches_to_raw_at_two_samples_per_pixel() -> None:
    x = make_signal(np.random.default_rng(4), 10_000)
    pyr = build_pyramid(x)
    raw = raw_or_envelope(x, pyr, 333, 333 + 200, 100)
    assert isinstance(raw, RawWindow) and raw.kind == "raw"
    assert_same(raw.samples, x[333:533])
    raw.samples[:] = 0  # a copy: the caller cannot write into the stored signal
    assert not np.array_equal(x[333:533], raw.samples)
    env = raw_or_envelope(x, pyr, 333, 333 + 201, 100)
    assert isinstance(env, Envelope) and env.kind == "envelope"
    assert env.n_cols <= 100


# ---------------------------------------------------------------------------------- files


def test_write_open_round_trip_is_memory_mapped_and_exact(tmp_path: Path) -> None:
    x = make_signal(np.random.default_rng(8), 123_457, inf=True)
    pyr = build_pyramid(x)
    path = tmp_path / "ch000.pyr"
    write_pyramid(pyr, path)
    assert path.stat().st_size == HEADER_SIZE + pyr.nbytes
    back = open_pyramid(path, verify=True)
    assert (back.n_samples, back.base_bin, back.factor, back.levels) == (
        pyr.n_samples, pyr.base_bin, pyr.factor, pyr.levels)
    for k in range(pyr.levels):
        assert_same(back.mins[k], pyr.mins[k])
        assert_same(back.maxs[k], pyr.maxs[k])
        assert not back.mins[k].flags.writeable
    ro = x.copy()
    ro.flags.writeable = False
    check_exact(ro, back, 17, 120_001, 700)


@pytest.mark.parametrize("n", [0, 1, 16, 17])
def test_round_trip_of_tiny_pyramids(tmp_path: Path, n: int) -> None:
    pyr = build_pyramid(np.arange(n, dtype=np.float32))
    write_pyramid(pyr, tmp_path / "p.pyr")
    back = open_pyramid(tmp_path / "p.pyr", verify=True)
    assert back.n_samples == n and back.levels == pyr.levels
    for k in range(pyr.levels):
        assert_same(back.mins[k], pyr.mins[k])


def _header_with(raw: bytes, offset: int, fmt: str, value: int) -> bytes:
    head = bytearray(raw[:HEADER_SIZE])
    struct.pack_into(fmt, head, offset, value)
    struct.pack_into("<I", head, HEADER_SIZE - 4, zlib.crc32(bytes(head[:-4])))  # valid CRC
    return bytes(head) + raw[HEADER_SIZE:]


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda b: b"", "shorter than"),
        (lambda b: b[:40], "shorter than"),
        (lambda b: b"XXXXXXXX" + b[8:], "magic"),
        (lambda b: _header_with(b, 8, "<H", 2), "version 2"),
        (lambda b: b[:30] + bytes([b[30] ^ 0xFF]) + b[31:], "header checksum"),
        (lambda b: _header_with(b, 12, "<I", 0), "base_bin=0"),
        (lambda b: _header_with(b, 20, "<I", 9), "levels"),
        (lambda b: _header_with(b, 24, "<Q", 1024), "bytes but its header"),
        (lambda b: b[:-4], "truncated"),
        (lambda b: b + b"\0" * 8, "truncated or padded"),
    ],
)
def test_corrupt_pyramid_files_raise_corrupt_recording_error(
    tmp_path: Path, damage: object, message: str
) -> None:
    path = tmp_path / "ch.pyr"
    write_pyramid(build_pyramid(np.arange(1000, dtype=np.float32)), path)
    assert callable(damage)
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(CorruptRecordingError, match=message) as info:
        open_pyramid(path)
    assert info.value.path == path
    assert isinstance(info.value, ValueError)


def test_damaged_data_is_caught_by_verify(tmp_path: Path) -> None:
    path = tmp_path / "ch.pyr"
    write_pyramid(build_pyramid(np.arange(1000, dtype=np.float32)), path)
    data = bytearray(path.read_bytes())
    data[HEADER_SIZE + 5] ^= 0x40
    path.write_bytes(bytes(data))
    open_pyramid(path)  # the header alone is intact
    with pytest.raises(CorruptRecordingError, match="data checksum"):
        open_pyramid(path, verify=True)


def test_missing_or_unreadable_pyramid_paths_raise_typed_errors(tmp_path: Path) -> None:
    with pytest.raises(RecordingNotFoundError):
        open_pyramid(tmp_path / "absent.pyr")
    with pytest.raises(UnreadablePathError):
        open_pyramid(tmp_path)
    with pytest.raises(SignalIOError):
        open_pyramid(tmp_path / "absent.pyr")


def test_warm_up_compiles_every_kernel_and_reports_seconds() -> None:
    seconds = warm_up()
    assert seconds >= 0.0
    for kernel in (_feed_kernel, _coarsen_kernel, _finalize_kernel, _envelope_kernel):
        signatures = getattr(kernel, "signatures", None)
        if signatures is not None:  # None when WAVESCORE_DISABLE_NUMBA is set
            assert signatures, f"{kernel} was not compiled"
    if getattr(_envelope_kernel, "signatures", None) is not None:
        # writable and read-only (memory-mapped) raw and pyramid arrays
        assert len(getattr(_envelope_kernel, "signatures", ())) >= 4


def test_module_exports_its_public_names() -> None:
    for name in pyramid_mod.__all__:
        assert hasattr(pyramid_mod, name)


# ---------------------------------------------------------------------------------- real data


@pytest.mark.shared_data
def test_real_ecg_every_pvc_peak_survives_zoom_out_and_envelopes_are_exact() -> None:
    """MIT-BIH 208 (many PVCs): streamed like 1-s records, viewed at several zooms."""
    import wfdb

    folder = need_shared("mitdb")
    need_shared("mitdb", "208.hea")
    rec = wfdb.rdrecord(str(folder / "208"), channels=[0])
    ann = wfdb.rdann(str(folder / "208"), "atr")
    assert rec.p_signal is not None
    x = np.ascontiguousarray(rec.p_signal[:, 0], dtype=np.float32)
    fs = int(rec.fs)
    builder = PyramidBuilder(x.size)
    for lo in range(0, x.size, fs):
        builder.feed(x[lo : lo + fs])
    pyr = builder.finish()
    ref_min, ref_max = reference_pyramid(x, pyr.base_bin, pyr.factor)
    for k in range(pyr.levels):
        assert_same(pyr.mins[k], ref_min[k])
        assert_same(pyr.maxs[k], ref_max[k])
    pvcs = np.asarray(ann.sample)[np.asarray(ann.symbol) == "V"]
    assert pvcs.size > 900  # 208 has ~990 PVCs
    env = check_exact(x, pyr, 0, x.size, 1500)  # whole record: ~430 samples per column
    half = int(0.1 * fs)
    for beat in pvcs[(pvcs > half) & (pvcs < x.size - half)]:
        local = x[beat - half : beat + half]
        cols = slice(int(np.searchsorted(env.edges, beat - half, side="right")) - 1,
                     int(np.searchsorted(env.edges, beat + half, side="left")))
        # the columns spanning the beat reach at least its peak and trough (a decimated view
        # that skips samples fails this for narrow QRS complexes)
        assert env.maxs[cols].max() >= local.max()
        assert env.mins[cols].min() <= local.min()
    rng = np.random.default_rng(208)
    for _ in range(200):
        start = int(rng.integers(0, x.size - 1))
        stop = int(rng.integers(start + 1, x.size + 1))
        check_exact(x, pyr, start, stop, int(rng.integers(1, 3000)))
