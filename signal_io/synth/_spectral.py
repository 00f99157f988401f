"""Time-varying coloured noise by spectral overlap-add, shared by the EEG generators.

A night of EEG is a mixture of band-limited components (1/f background, delta, theta, alpha,
beta...) whose amplitudes change with sleep stage or brain state. Filtering white noise once per
component and channel is too slow for 8-h recordings, so each channel is synthesised in frames:
frame ``k`` (length ``2 * hop`` samples, centred on sample ``k * hop``) is the inverse FFT of
complex Gaussian noise shaped by that frame's power spectrum, multiplied by a sqrt-Hann window.
Consecutive frames overlap by half; the squared windows sum to one, so the variance of the sum
follows the frames' spectra with smooth cross-fades (no steps at state changes).

Channels share part of their noise (``shared`` argument) so that neighbouring electrodes are
correlated, as scalp EEG is.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


def band_shape(freqs_hz: FloatArray, kind: str, lo_hz: float, hi_hz: float) -> FloatArray:
    """Power spectral shape of one component on a frequency grid, normalised later.

    Parameters
    ----------
    freqs_hz
        (n_freq,) frequencies in Hz.
    kind
        ``"pink"`` (1/f between ``lo_hz`` and ``hi_hz`` with smooth edges), ``"band"`` (flat
        band with Gaussian skirts) or ``"peak"`` (Gaussian peak centred on the band middle,
        its standard deviation a quarter of the band width).
    lo_hz, hi_hz
        Band edges in Hz.

    Returns
    -------
    ndarray
        (n_freq,) non-negative power values (arbitrary scale).
    """
    f = np.asarray(freqs_hz, dtype=np.float64)
    if kind == "pink":
        safe = np.maximum(f, 1e-3)
        shape = 1.0 / safe
        shape *= 1.0 / (1.0 + (lo_hz / safe) ** 4)
        shape *= 1.0 / (1.0 + (f / hi_hz) ** 8)
    elif kind == "band":
        width = max(0.15 * (hi_hz - lo_hz), 0.2)
        inside = (f >= lo_hz) & (f <= hi_hz)
        below = np.exp(-0.5 * ((f - lo_hz) / width) ** 2)
        above = np.exp(-0.5 * ((f - hi_hz) / width) ** 2)
        shape = np.where(inside, 1.0, np.where(f < lo_hz, below, above))
    elif kind == "peak":
        centre = 0.5 * (lo_hz + hi_hz)
        sd = max(0.25 * (hi_hz - lo_hz), 0.1)
        shape = np.exp(-0.5 * ((f - centre) / sd) ** 2)
    else:
        raise ValueError(f"unknown spectral shape {kind!r}; expected 'pink', 'band' or 'peak'")
    return np.asarray(shape, dtype=np.float64)


@dataclass(frozen=True)
class FrameGrid:
    """Frame layout of a spectral overlap-add synthesis.

    Attributes
    ----------
    n_samples
        Output length in samples.
    fs
        Sampling rate in Hz.
    hop
        Samples between frame centres (half a frame).
    """

    n_samples: int
    fs: float
    hop: int

    @classmethod
    def for_signal(cls, n_samples: int, fs: float, hop_s: float = 2.0) -> FrameGrid:
        """Layout for ``n_samples`` at ``fs`` with frames every ``hop_s`` seconds."""
        return cls(n_samples=n_samples, fs=fs, hop=max(round(hop_s * fs), 8))

    @property
    def n_frames(self) -> int:
        """Number of frames (frame ``k`` is centred on sample ``k * hop``)."""
        return -(-self.n_samples // self.hop) + 1

    @property
    def frame_len(self) -> int:
        """Samples per frame (``2 * hop``)."""
        return 2 * self.hop

    @property
    def centres_s(self) -> FloatArray:
        """(n_frames,) centre time of each frame in seconds."""
        return np.arange(self.n_frames, dtype=np.float64) * self.hop / self.fs

    @property
    def freqs_hz(self) -> FloatArray:
        """(frame_len // 2 + 1,) frequencies of the frame spectra in Hz."""
        return np.asarray(np.fft.rfftfreq(self.frame_len, d=1.0 / self.fs), dtype=np.float64)

    def unit_psd(self, shape: FloatArray) -> FloatArray:
        """Scale a spectral shape so that the synthesised component has unit variance.

        DC and Nyquist bins are zeroed (EEG amplifiers are AC-coupled).
        """
        p = np.array(shape, dtype=np.float64)
        p[0] = 0.0
        p[-1] = 0.0
        total = 2.0 * p.sum() / self.frame_len**2
        if total <= 0.0:
            raise ValueError("spectral shape has no power below the Nyquist frequency")
        return np.asarray(p / total, dtype=np.float64)


def iter_chunks(grid: FrameGrid, chunk_frames: int = 1024) -> Iterator[tuple[int, int]]:
    """Yield ``(k0, k1)`` frame ranges of at most ``chunk_frames`` frames."""
    for k0 in range(0, grid.n_frames, chunk_frames):
        yield k0, min(k0 + chunk_frames, grid.n_frames)


class OverlapAdd:
    """Accumulate windowed frames of one channel into a float32 output array.

    Frames must be fed in order, in chunks of consecutive frames.
    """

    def __init__(self, grid: FrameGrid) -> None:
        self.grid = grid
        # block b (hop samples) covers samples [(b - 1) * hop, b * hop): block 0 lies before
        # the signal, so the buffer starts one hop early; frame k adds to blocks k and k + 1
        self._buf = np.zeros((grid.n_frames + 1) * grid.hop, dtype=np.float32)
        self._next_frame = 0
        n = grid.frame_len
        self.window = np.sin(np.pi * (np.arange(n) + 0.5) / n).astype(np.float32)

    def feed(self, k0: int, frames: NDArray[np.floating[Any]]) -> None:
        """Add frames ``k0 .. k0 + len(frames)`` (each already windowed), shape (m, 2 * hop)."""
        if k0 != self._next_frame:
            raise ValueError(f"frames fed out of order: expected {self._next_frame}, got {k0}")
        hop = self.grid.hop
        m = frames.shape[0]
        blocks = self._buf[k0 * hop : (k0 + m + 1) * hop].reshape(m + 1, hop)
        blocks[:-1] += frames[:, :hop]
        blocks[1:] += frames[:, hop:]
        self._next_frame = k0 + m

    def finish(self) -> NDArray[np.float32]:
        """Return the output, (n_samples,) float32."""
        if self._next_frame != self.grid.n_frames:
            raise ValueError(f"only {self._next_frame} of {self.grid.n_frames} frames were fed")
        hop = self.grid.hop
        return self._buf[hop : hop + self.grid.n_samples]


def synth_frames(
    magnitude: NDArray[np.floating[Any]],
    noise: NDArray[np.complex64],
    frame_len: int,
    window: NDArray[np.floating[Any]],
) -> NDArray[np.floating[Any]]:
    """Turn per-frame magnitude spectra and complex noise into windowed time frames.

    Parameters
    ----------
    magnitude
        (m, n_freq) square root of each frame's power spectrum (from :meth:`FrameGrid.unit_psd`
        scaled by component variances).
    noise
        (m, n_freq) complex noise with ``E|z|^2 = 1``; overwritten (scaled in place).
    frame_len
        Samples per frame.
    window
        (frame_len,) synthesis window.

    Returns
    -------
    ndarray
        (m, frame_len) windowed frames.
    """
    noise *= magnitude.astype(np.float32, copy=False)
    frames = np.fft.irfft(noise, n=frame_len, axis=1)
    frames *= window.astype(frames.dtype, copy=False)[None, :]
    return frames


def complex_noise(rng: np.random.Generator, shape: tuple[int, int]) -> NDArray[np.complex64]:
    """Complex white noise with unit mean power (``E|z|^2 = 1``), complex64.

    Real and imaginary parts are uniform (4-6 times cheaper to draw than Gaussian ones); each
    synthesised sample sums hundreds of bins, so the time-domain signal is Gaussian all the
    same (central limit theorem).
    """
    z = rng.random((*shape, 2), dtype=np.float32)
    z -= np.float32(0.5)
    z *= np.float32(np.sqrt(6.0))
    return z.view(np.complex64)[..., 0]


def box_average(values_s: FloatArray, centres_s: FloatArray, half_width_s: float) -> FloatArray:
    """Average a per-second series over ``[t - half_width_s, t + half_width_s)`` at each centre.

    Parameters
    ----------
    values_s
        (n_seconds, ...) values, one row per second of recording.
    centres_s
        (m,) times in seconds.
    half_width_s
        Half width of the averaging window in seconds.

    Returns
    -------
    ndarray
        (m, ...) averages; windows are clipped to the series.
    """
    v = np.asarray(values_s, dtype=np.float64)
    n = v.shape[0]
    csum = np.concatenate([np.zeros((1, *v.shape[1:])), np.cumsum(v, axis=0)], axis=0)
    lo = np.clip(np.floor(centres_s - half_width_s).astype(np.int64), 0, n - 1)
    hi = np.clip(np.ceil(centres_s + half_width_s).astype(np.int64), lo + 1, n)
    counts = (hi - lo).astype(np.float64)
    return np.asarray((csum[hi] - csum[lo]) / counts.reshape(-1, *([1] * (v.ndim - 1))))


@functools.lru_cache(maxsize=64)
def _bandpass_sos(fs: float, lo_hz: float, hi_hz: float) -> FloatArray:
    from scipy.signal import butter

    return np.asarray(butter(4, [lo_hz, hi_hz], btype="bandpass", fs=fs, output="sos"))


def bandpass_noise(
    rng: np.random.Generator, n_samples: int, fs: float, lo_hz: float, hi_hz: float
) -> FloatArray:
    """White Gaussian noise band-passed (4th-order Butterworth), unit variance.

    Used for short artifact bursts; ``hi_hz`` is clipped below Nyquist.
    """
    from scipy.signal import sosfilt

    x = rng.standard_normal(n_samples)
    if n_samples < 64:
        return x
    y = sosfilt(_bandpass_sos(fs, lo_hz, min(hi_hz, 0.45 * fs)), x)
    sd = float(np.std(y))
    return np.asarray(y / sd if sd > 0 else y, dtype=np.float64)


__all__ = [
    "FrameGrid",
    "OverlapAdd",
    "band_shape",
    "bandpass_noise",
    "box_average",
    "complex_noise",
    "iter_chunks",
    "synth_frames",
]
