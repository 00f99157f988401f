"""Benchmark the min/max pyramid against tsdownsample and on-the-fly NumPy envelopes.

Input: one raw channel of an 8-h night at 256 Hz (7,372,800 float32 samples), synthetic
EEG-like noise (1/f-ish background plus alpha bursts and rare spikes), seeded and cached as a raw
float32 file in ``ctx.cache_dir``, read through a memory map as the server does.

Figures (medians of repeated ``time.perf_counter`` runs after a warm-up):

- pyramid build throughput (samples/s) of :func:`signal_io.pyramid.build_pyramid` and of the
  streaming :class:`~signal_io.pyramid.PyramidBuilder` fed in 64 Ki-sample chunks, against
  ``tsdownsample`` ``MinMaxDownsampler`` / ``NaNMinMaxDownsampler`` asked for
  ``n_out = n / base_bin * 2`` points (the same bins as pyramid level 0). tsdownsample returns the
  *indices* of each bin's min and max (no values, one level); the pyramid returns NaN-ignoring
  min/max values for level 0 plus every coarser level. The NaN-aware peer is the like-for-like one.
- whole-night envelope at 1500 px from the pyramid (goal <= 0.1 ms per channel) and the same
  request computed on the fly with NumPy (reshape + min/max over raw) as the baseline ratio, and
  with tsdownsample ``MinMaxDownsampler`` (``n_out = 3000``), the fastest raw scan available.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.signal import lfilter

from signal_io.pyramid import (
    BASE_BIN,
    PyramidBuilder,
    build_pyramid,
    envelope,
    open_pyramid,
    warm_up,
    write_pyramid,
)
from tests.benchmarks.run import BenchContext, BenchResult

GROUP = "pyramid"
FS_HZ = 256
DURATION_S = 8 * 3600
N_SAMPLES = FS_HZ * DURATION_S
PX = 1500
SEED = 20240601


def make_eeg_like(n: int, fs: float, seed: int) -> NDArray[np.float32]:
    """Seeded EEG-like float32 noise in uV: AR(1) background, 10 Hz alpha bursts, rare spikes."""
    rng = np.random.default_rng(seed)
    out = np.empty(n, dtype=np.float32)
    hour = int(3600 * fs)
    state = 0.0
    for lo in range(0, n, hour):
        m = min(hour, n - lo)
        white = rng.standard_normal(m)
        # AR(1) background y[t] = 0.97 y[t-1] + w[t], continued across the hour blocks
        y, _ = lfilter([1.0], [1.0, -0.97], white, zi=[0.97 * state])
        state = float(y[-1])
        t = (lo + np.arange(m)) / fs
        alpha = 15.0 * np.sin(2 * np.pi * 10.0 * t) * (np.sin(2 * np.pi * t / 40.0) > 0.5)
        out[lo : lo + m] = (8.0 * y + alpha).astype(np.float32)
    spikes = rng.integers(0, n, size=20)
    out[spikes] = rng.choice([-400.0, 400.0], size=20).astype(np.float32)
    return out


def _signal(cache_dir: Path) -> NDArray[np.float32]:
    path = cache_dir / f"pyramid_eeg_{DURATION_S}s_{FS_HZ}hz_seed{SEED}.f32"
    if not path.exists() or path.stat().st_size != 4 * N_SAMPLES:
        tmp = path.with_suffix(".tmp")
        make_eeg_like(N_SAMPLES, FS_HZ, SEED).tofile(tmp)
        tmp.replace(path)
    return np.asarray(np.memmap(path, dtype=np.float32, mode="r", shape=(N_SAMPLES,)))


def _median_s(fn: Callable[[], Any], repeats: int) -> tuple[float, float]:
    fn()  # warm-up (compilation, page cache)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(0.95 * len(times)))]


def _stream(x: NDArray[np.float32], chunk: int) -> None:
    builder = PyramidBuilder(x.size)
    for lo in range(0, x.size, chunk):
        builder.feed(x[lo : lo + chunk])
    builder.finish()


def _numpy_envelope(x: NDArray[np.float32], start: int, stop: int, px: int) -> None:
    """On-the-fly envelope: reshape the raw range into columns, min/max each (not NaN-aware)."""
    step = -(-(stop - start) // px)
    n_full = (stop - start) // step
    body = x[start : start + n_full * step].reshape(n_full, step)
    mins, maxs = body.min(axis=1), body.max(axis=1)
    if start + n_full * step < stop:
        tail = x[start + n_full * step : stop]
        mins = np.append(mins, tail.min())
        maxs = np.append(maxs, tail.max())


def run(ctx: BenchContext) -> list[BenchResult]:
    """Measure pyramid build, tsdownsample and whole-night envelopes; see the module docstring."""
    from tsdownsample import MinMaxDownsampler, NaNMinMaxDownsampler

    x = _signal(ctx.cache_dir)
    n = x.size
    reps = 3 if ctx.quick else 9
    env_reps = 200 if ctx.quick else 2000
    warm_s = warm_up()
    results: list[BenchResult] = []

    build_s, _ = _median_s(lambda: build_pyramid(x), reps)
    stream_s, _ = _median_s(lambda: _stream(x, 65536), reps)
    n_out = n // BASE_BIN * 2
    mm = MinMaxDownsampler()  # type: ignore[no-untyped-call]
    nanmm = NaNMinMaxDownsampler()  # type: ignore[no-untyped-call]
    mm_s, _ = _median_s(lambda: mm.downsample(x, n_out=n_out), reps)
    nanmm_s, _ = _median_s(lambda: nanmm.downsample(x, n_out=n_out), reps)
    build_rate = n / build_s
    results += [
        BenchResult(GROUP, "pyramid build (whole channel-night)", build_rate / 1e6, "Msamples/s",
                    note=f"{build_s * 1e3:.1f} ms for {n} samples, all levels, NaN-aware"),
        BenchResult(GROUP, "pyramid build streamed (64 Ki chunks)", n / stream_s / 1e6,
                    "Msamples/s", note=f"{stream_s * 1e3:.1f} ms"),
        BenchResult(GROUP, "build vs tsdownsample NaNMinMax (like for like)", nanmm_s / build_s,
                    "ratio", goal=">= 0.8x", met=nanmm_s / build_s >= 0.8,
                    note=f"NaNMinMaxDownsampler n_out={n_out}: {nanmm_s * 1e3:.1f} ms "
                    f"({n / nanmm_s / 1e6:.0f} Msamples/s), returns indices of level 0 only"),
        BenchResult(GROUP, "build vs tsdownsample MinMax", mm_s / build_s, "ratio",
                    goal=">= 0.8x", met=mm_s / build_s >= 0.8,
                    note=f"MinMaxDownsampler n_out={n_out}: {mm_s * 1e3:.1f} ms "
                    f"({n / mm_s / 1e6:.0f} Msamples/s), not NaN-aware, indices only"),
    ]

    pyr_path = ctx.cache_dir / "pyramid_bench.pyr"
    write_pyramid(build_pyramid(x), pyr_path)
    pyr = open_pyramid(pyr_path)
    env = envelope(x, pyr, 0, n, PX)
    env_s, env_p95 = _median_s(lambda: envelope(x, pyr, 0, n, PX), env_reps)
    np_s, _ = _median_s(lambda: _numpy_envelope(x, 0, n, PX), max(reps, 5))
    ts_s, _ = _median_s(lambda: mm.downsample(x, n_out=2 * PX), max(reps, 5))
    zoom = (3 * 3600 * FS_HZ + 77, 3 * 3600 * FS_HZ + 77 + 30 * FS_HZ * 10)  # 5 min, mid-bin
    zoom_s, _ = _median_s(lambda: envelope(x, pyr, *zoom, PX), env_reps)
    zoom_env = envelope(x, pyr, *zoom, PX)
    results += [
        BenchResult(GROUP, "whole-night envelope from pyramid, 1500 px", env_s * 1e3, "ms",
                    goal="<= 0.1 ms", met=env_s <= 1e-4,
                    note=f"p95 {env_p95 * 1e3:.3f} ms; {env.n_cols} columns, step {env.step}, "
                    f"level {env.level}; memory-mapped pyramid"),
        BenchResult(GROUP, "5-min envelope from pyramid, 1500 px", zoom_s * 1e3, "ms",
                    note=f"starts and stops mid-bin; {zoom_env.n_cols} columns of "
                    f"{zoom_env.step} samples, level {zoom_env.level}"
                    + (" (raw scan)" if zoom_env.level < 0 else "")),
        BenchResult(GROUP, "on-the-fly numpy envelope, 1500 px", np_s * 1e3, "ms",
                    note="reshape + min/max over raw float32 (not NaN-aware)"),
        BenchResult(GROUP, "numpy on-the-fly / pyramid envelope", np_s / env_s, "ratio",
                    note="speed-up of the pyramid for the whole-night request"),
        BenchResult(GROUP, "tsdownsample MinMax on the fly, 1500 px", ts_s * 1e3, "ms",
                    note=f"n_out={2 * PX} indices over raw, {ts_s / env_s:.0f}x the pyramid "
                    "envelope; the memory-bandwidth floor for a raw scan"),
        BenchResult(GROUP, "pyramid memory per channel-night", pyr.nbytes / 2**20, "MiB",
                    note=f"{pyr.levels} levels, base_bin {pyr.base_bin}, factor {pyr.factor}; "
                    f"raw is {4 * n / 2**20:.1f} MiB"),
        BenchResult(GROUP, "warm_up (compile or load cache)", warm_s, "s"),
    ]
    return results
