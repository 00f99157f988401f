"""Assemble a window of several channels and encode it as the binary wire format.

A window request names a time span in seconds, a pixel width and channels. Each channel is
served at its own native rate: raw samples when the span holds at most
:data:`RAW_SAMPLES_PER_PX` samples per pixel column, otherwise the exact min/max envelope per
column from the channel's pyramid (:func:`signal_io.pyramid.envelope`).

Display filters (high-pass, low-pass, notch) are applied to raw samples only, zero-phase
(``scipy.signal.sosfiltfilt``), on a segment padded with real neighbouring samples so the
window's edges carry no filter transient. Envelopes are never filtered; the response says so.

Wire format (little-endian): ``uint32 n`` then ``n`` bytes of UTF-8 JSON
(:class:`server.wire.WindowPreambleOut`, padded with spaces so ``4 + n`` is a multiple of 4),
then the float32 values of every channel, channel after channel.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import msgspec
import numpy as np
from numpy.typing import NDArray
from scipy import signal as sps

from server.errors import (
    InvalidFilterError,
    InvalidWindowError,
    UnknownChannelError,
    WindowLimitError,
)
from server.settings import Settings
from server.wire import FilterOut, WindowChannelOut, WindowPreambleOut
from signal_io.pyramid import RAW_SAMPLES_PER_PX, envelope

#: Identifies the binary layout; bumped on any incompatible change.
WIRE_FORMAT = "wavescore.window/1"
#: Padding read on each side of a filtered window, in decay time constants of the slowest stage
#: (``1 / (zeta * 2 pi f)`` with the Butterworth damping ``zeta = 1 / sqrt(2)``): a transient
#: falls to ``exp(-10)`` (< 5e-5) of its size before it reaches the window.
PAD_TIME_CONSTANTS = 10.0
#: Least padding on each side of a filtered window (s).
MIN_PAD_S = 0.5
#: Quality factor of the notch filter (bandwidth = notch_hz / Q).
NOTCH_Q = 30.0
#: Butterworth orders of the high-pass and low-pass stages (doubled by the forward-backward pass).
HP_ORDER = 2
LP_ORDER = 4


class StoredLike(Protocol):
    """What the window service needs from :class:`signal_io.stored.StoredRecording`."""

    @property
    def channels(self) -> Sequence[Any]: ...

    def raw(self, i: int) -> NDArray[np.float32]: ...

    def pyramid(self, i: int) -> Any: ...


@dataclass(frozen=True, slots=True)
class FilterSpec:
    """Cut-offs in Hz of the display filter for one channel; ``None`` switches a stage off."""

    hp_hz: float | None = None
    lp_hz: float | None = None
    notch_hz: float | None = None

    @property
    def empty(self) -> bool:
        """True when every stage is off."""
        return self.hp_hz is None and self.lp_hz is None and self.notch_hz is None


@dataclass(frozen=True, slots=True)
class WindowRequest:
    """A validated window request.

    Attributes
    ----------
    start_s, stop_s
        Requested span in seconds from the recording start (may extend past the recording).
    px
        Pixel columns of the plot.
    channels
        Channel indices, in the order the response lists them.
    filters
        Display filter per channel index (absent: no filter).
    """

    start_s: float
    stop_s: float
    px: int
    channels: tuple[int, ...]
    filters: dict[int, FilterSpec]


@dataclass(frozen=True, slots=True)
class ChannelWindow:
    """One channel of an assembled window; ``values`` is what goes on the wire."""

    meta: WindowChannelOut
    values: NDArray[np.float32]


# ---------------------------------------------------------------------------------------------
# parsing and validation


def _parse_float(text: str, what: str) -> float | None:
    text = text.strip()
    if text == "":
        return None
    try:
        value = float(text)
    except ValueError:
        raise InvalidFilterError(f"{what} must be a number in Hz, got {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise InvalidFilterError(f"{what} must be a positive number of Hz, got {text!r}")
    return value


def resolve_channels(channels_param: str | None, channels: Sequence[Any]) -> list[int]:
    """Turn ``channels=`` (comma-separated indices or names; empty or ``None``: all) into indices.

    Raises
    ------
    UnknownChannelError
        A token names no channel; the message lists the channels there are.
    """
    if channels_param is None or channels_param.strip() == "":
        return [int(c.index) for c in channels]
    by_name = {str(c.name): int(c.index) for c in channels}
    out: list[int] = []
    for token in channels_param.split(","):
        out.append(_resolve_one(token.strip(), channels, by_name))
    return out


def _resolve_one(token: str, channels: Sequence[Any], by_name: dict[str, int]) -> int:
    if token in by_name:
        return by_name[token]
    if token.lstrip("-").isdigit():
        i = int(token)
        if 0 <= i < len(channels):
            return i
        raise UnknownChannelError(
            f"channel index {i} out of range 0..{len(channels) - 1}"
        )
    names = ", ".join(str(c.name) for c in channels)
    raise UnknownChannelError(f"no channel named {token!r}; channels are {names}")


def parse_filters(
    hp: str | None,
    lp: str | None,
    notch: str | None,
    filters_param: str | None,
    selected: Sequence[int],
    channels: Sequence[Any],
) -> dict[int, FilterSpec]:
    """Build the filter of each selected channel from the query.

    ``hp``, ``lp`` and ``notch`` apply to every selected channel; ``filters`` overrides per
    channel with ``ch:hp:lp:notch`` items separated by ``;`` (``ch`` an index or name, an empty
    field switches that stage off, e.g. ``ECG:0.5:40:50;3:0.3::``).

    Raises
    ------
    InvalidFilterError
        A cut-off is not a positive number, or ``hp >= lp``.
    UnknownChannelError
        A per-channel item names no channel.
    """
    common = FilterSpec(
        _parse_float(hp or "", "hp"), _parse_float(lp or "", "lp"),
        _parse_float(notch or "", "notch"),
    )
    _check_order(common, "hp/lp")
    out = {i: common for i in selected if not common.empty}
    if filters_param:
        by_name = {str(c.name): int(c.index) for c in channels}
        for item in filters_param.split(";"):
            if not item.strip():
                continue
            parts = item.rsplit(":", 3)
            if len(parts) != 4:
                raise InvalidFilterError(
                    f"filters item {item!r} must be ch:hp:lp:notch (empty fields allowed)"
                )
            index = _resolve_one(parts[0].strip(), channels, by_name)
            spec = FilterSpec(
                _parse_float(parts[1], f"hp of {parts[0]}"),
                _parse_float(parts[2], f"lp of {parts[0]}"),
                _parse_float(parts[3], f"notch of {parts[0]}"),
            )
            _check_order(spec, f"filters item {item!r}")
            if spec.empty:
                out.pop(index, None)
            else:
                out[index] = spec
    return out


def _check_order(spec: FilterSpec, what: str) -> None:
    if spec.hp_hz is not None and spec.lp_hz is not None and spec.hp_hz >= spec.lp_hz:
        raise InvalidFilterError(
            f"{what}: high-pass {spec.hp_hz} Hz must be below low-pass {spec.lp_hz} Hz"
        )


def build_request(
    *,
    start_s: float,
    stop_s: float,
    px: int,
    channels: list[int],
    filters: dict[int, FilterSpec],
    settings: Settings,
) -> WindowRequest:
    """Check a window request against the bounds and the settings' limits.

    Raises
    ------
    InvalidWindowError
        Bounds not finite or ``stop_s <= start_s``.
    WindowLimitError
        ``px``, the channel count or the span exceed ``WAVESCORE_MAX_PX``,
        ``WAVESCORE_MAX_CHANNELS`` or ``WAVESCORE_MAX_WINDOW_S``.
    """
    if not (math.isfinite(start_s) and math.isfinite(stop_s)):
        raise InvalidWindowError(
            f"start_s and stop_s must be finite numbers of seconds, got {start_s!r}, {stop_s!r}"
        )
    if stop_s <= start_s:
        raise InvalidWindowError(
            f"stop_s ({stop_s:g}) must be greater than start_s ({start_s:g})"
        )
    if px < 1 or px > settings.max_px:
        raise WindowLimitError(
            f"px={px} is outside 1..{settings.max_px}; the limit is WAVESCORE_MAX_PX",
            "WAVESCORE_MAX_PX",
        )
    if len(channels) > settings.max_channels:
        raise WindowLimitError(
            f"{len(channels)} channels requested; at most {settings.max_channels} per window, "
            "the limit is WAVESCORE_MAX_CHANNELS",
            "WAVESCORE_MAX_CHANNELS",
        )
    if stop_s - start_s > settings.max_window_s:
        raise WindowLimitError(
            f"window of {stop_s - start_s:g} s is longer than {settings.max_window_s:g} s; "
            "the limit is WAVESCORE_MAX_WINDOW_S",
            "WAVESCORE_MAX_WINDOW_S",
        )
    return WindowRequest(start_s, stop_s, px, tuple(channels), filters)


# ---------------------------------------------------------------------------------------------
# filters


def design_filter(spec: FilterSpec, fs: float) -> tuple[NDArray[np.float64] | None, float, str]:
    """Design the second-order sections of ``spec`` at rate ``fs``.

    Stages at or above the Nyquist frequency cannot act and are skipped (the note says which).

    Returns
    -------
    sos
        Shape ``(n_sections, 6)``, or ``None`` when no stage remains.
    pad_s
        Seconds of neighbouring signal to read on each side so the window edges are free of the
        filter's transient.
    note
        Text listing skipped stages, ``""`` if none.
    """
    nyquist = fs / 2.0
    sections: list[NDArray[np.float64]] = []
    slowest_hz = math.inf
    skipped: list[str] = []
    if spec.hp_hz is not None:
        if spec.hp_hz < nyquist:
            sections.append(sps.butter(HP_ORDER, spec.hp_hz, "highpass", fs=fs, output="sos"))
            slowest_hz = min(slowest_hz, spec.hp_hz)
        else:
            skipped.append(f"hp {spec.hp_hz:g} Hz")
    if spec.lp_hz is not None:
        if spec.lp_hz < nyquist:
            sections.append(sps.butter(LP_ORDER, spec.lp_hz, "lowpass", fs=fs, output="sos"))
            slowest_hz = min(slowest_hz, spec.lp_hz)
        else:
            skipped.append(f"lp {spec.lp_hz:g} Hz")
    if spec.notch_hz is not None:
        if spec.notch_hz < nyquist:
            b, a = sps.iirnotch(spec.notch_hz, NOTCH_Q, fs=fs)
            sections.append(sps.tf2sos(b, a))
            slowest_hz = min(slowest_hz, spec.notch_hz / NOTCH_Q)
        else:
            skipped.append(f"notch {spec.notch_hz:g} Hz")
    note = ""
    if skipped:
        note = f"skipped at or above Nyquist ({nyquist:g} Hz): " + ", ".join(skipped)
    if not sections:
        return None, 0.0, note
    sos = np.concatenate(sections, axis=0).astype(np.float64)
    # Decay time constant of the slowest stage; read several of them on each side.
    tau_s = math.sqrt(2.0) / (2.0 * math.pi * slowest_hz)
    pad_s = max(MIN_PAD_S, PAD_TIME_CONSTANTS * tau_s)
    return sos, pad_s, note


def apply_sos(x: NDArray[np.floating], sos: NDArray[np.float64]) -> NDArray[np.float32]:
    """Zero-phase filter ``x`` (shape ``(n,)``) run by run of finite samples; NaN gaps stay NaN.

    Runs too short for the forward-backward pass are returned unfiltered.
    """
    y = np.asarray(x, dtype=np.float64).copy()
    finite = np.isfinite(y)
    edge = 3 * (2 * len(sos) + 1)
    if finite.all():
        runs = [(0, len(y))]
    else:
        d = np.diff(np.concatenate(([0], finite.view(np.int8), [0])))
        runs = list(zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1), strict=True))
    for lo, hi in runs:
        if hi - lo > edge:
            y[lo:hi] = sps.sosfiltfilt(sos, y[lo:hi], padlen=edge)
    return y.astype(np.float32)


# ---------------------------------------------------------------------------------------------
# assembly


def _span(start_s: float, stop_s: float, fs: float, n_samples: int) -> tuple[int, int]:
    """Samples covering ``[start_s, stop_s)`` at ``fs``, clipped to ``[0, n_samples]``."""
    start = min(max(math.floor(start_s * fs + 1e-9), 0), n_samples)
    stop = min(max(math.ceil(stop_s * fs - 1e-9), start), n_samples)
    return start, stop


def _channel_raw(
    rec: StoredLike, i: int, fs: float, start: int, stop: int, spec: FilterSpec | None
) -> tuple[NDArray[np.float32], FilterOut | None, str]:
    raw = rec.raw(i)
    if spec is None or stop <= start:
        return np.ascontiguousarray(raw[start:stop], dtype=np.float32), None, ""
    sos, pad_s, note = design_filter(spec, fs)
    if sos is None:
        return np.ascontiguousarray(raw[start:stop], dtype=np.float32), None, note
    pad = math.ceil(pad_s * fs)
    lo = max(start - pad, 0)
    hi = min(stop + pad, raw.shape[0])
    filtered = apply_sos(raw[lo:hi], sos)[start - lo: stop - lo]
    nyquist = fs / 2.0
    applied = FilterOut(
        hp_hz=spec.hp_hz if spec.hp_hz is not None and spec.hp_hz < nyquist else None,
        lp_hz=spec.lp_hz if spec.lp_hz is not None and spec.lp_hz < nyquist else None,
        notch_hz=spec.notch_hz if spec.notch_hz is not None and spec.notch_hz < nyquist
        else None,
    )
    return np.ascontiguousarray(filtered), applied, note


def assemble_window(
    rec: StoredLike, recording_id: str, duration_s: float, req: WindowRequest
) -> tuple[WindowPreambleOut, list[NDArray[np.float32]]]:
    """Read every requested channel of ``req``.

    Returns
    -------
    preamble
        Layout and time base of each channel (offsets into the data block).
    blocks
        float32 arrays, one per channel, in the preamble's order.
    """
    eff_start = max(req.start_s, 0.0)
    eff_stop = min(req.stop_s, duration_s)
    clipped = eff_start != req.start_s or eff_stop != req.stop_s
    if eff_stop < eff_start:
        eff_stop = eff_start
    metas: list[WindowChannelOut] = []
    blocks: list[NDArray[np.float32]] = []
    offset = 0
    for i in req.channels:
        ch = rec.channels[i]
        fs = float(ch.fs)
        start, stop = _span(eff_start, eff_stop, fs, int(ch.n_samples))
        n = stop - start
        spec = req.filters.get(i)
        if n <= RAW_SAMPLES_PER_PX * req.px:
            values, applied, note = _channel_raw(rec, i, fs, start, stop, spec)
            mode, t0_s, step_s, count = "raw", start / fs, 1.0 / fs, n
        else:
            env = envelope(rec.raw(i), rec.pyramid(i), start, stop, req.px)
            count = len(env.mins)
            values = np.empty(2 * count, dtype=np.float32)
            values[0::2] = env.mins
            values[1::2] = env.maxs
            step = int(env.step)
            # Column k covers [first + k*step, first + (k+1)*step) clipped to [start, stop):
            # interior edges are aligned to the step, so the first column may be partial.
            first = int(env.edges[1]) - step if count > 1 else start
            mode, t0_s, step_s = "minmax", first / fs, step / fs
            applied = None
            note = "display filters are not applied to envelopes; zoom in" if spec else ""
        metas.append(
            WindowChannelOut(
                index=i, name=str(ch.name), unit=str(ch.unit), fs=fs, mode=mode, t0_s=t0_s,
                step_s=step_s, n=count, offset=offset, length=len(values),
                filtered=applied is not None, filter=applied, note=note,
            )
        )
        blocks.append(values)
        offset += len(values)
    preamble = WindowPreambleOut(
        format=WIRE_FORMAT, recording_id=recording_id, requested_start_s=req.start_s,
        requested_stop_s=req.stop_s, start_s=eff_start, stop_s=eff_stop, clipped=clipped,
        px=req.px, channels=metas,
    )
    return preamble, blocks


def encode_window(preamble: WindowPreambleOut, blocks: Sequence[NDArray[np.float32]]) -> bytes:
    """Encode a window as ``uint32 length + JSON (space-padded to 4 bytes) + float32 LE data``."""
    head = msgspec.json.encode(preamble)
    head += b" " * (-(4 + len(head)) % 4)
    parts = [struct.pack("<I", len(head)), head]
    parts.extend(np.ascontiguousarray(b, dtype="<f4").tobytes() for b in blocks)
    return b"".join(parts)


def decode_window(body: bytes) -> tuple[dict[str, Any], NDArray[np.float32]]:
    """Split a window body into its preamble (a dict) and its float32 data (clients, tests)."""
    (n,) = struct.unpack_from("<I", body, 0)
    preamble: dict[str, Any] = msgspec.json.decode(body[4: 4 + n])
    data = np.frombuffer(body, dtype="<f4", offset=4 + n)
    return preamble, data


__all__ = [
    "RAW_SAMPLES_PER_PX",
    "WIRE_FORMAT",
    "FilterSpec",
    "WindowRequest",
    "apply_sos",
    "assemble_window",
    "build_request",
    "decode_window",
    "design_filter",
    "encode_window",
    "parse_filters",
    "resolve_channels",
]
