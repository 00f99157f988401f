"""Write EDF+C (or BDF+C) files, streaming blocks of data records.

The writer converts each block of data records from float to digital values in one vectorised
step per signal, so an 8-hour, 20-channel night is written in seconds without a float64 copy of
any whole signal. Annotations go in one ``"EDF Annotations"`` (``"BDF Annotations"``) channel,
sized to hold every annotation close to its onset, after each record's time-keeping TAL.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from pathlib import Path
from typing import BinaryIO

import numpy as np
from numpy.typing import NDArray

from signal_io._recording import Annotation

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
#: Samples converted per signal per step.
_BLOCK_SAMPLES = 1 << 18


@dataclass
class EdfSignal:
    """One signal to write.

    Attributes
    ----------
    label
        Channel label, at most 16 ASCII characters (EDF+ style ``"EEG Fpz-Cz"`` welcome).
    data
        Shape ``(n_samples,)``, physical values in ``unit``; any float dtype, finite.
    fs
        Sampling rate in Hz; ``fs * record_duration_s`` must be a whole number.
    unit
        Physical dimension, at most 8 ASCII characters.
    physical_min, physical_max
        Range mapped to the digital range; taken from the data when ``None`` (a flat signal
        gets a range of ±1 around its value). Values outside a given range are clipped.
    transducer, prefilter
        Free text, at most 80 ASCII characters each.
    """

    label: str
    data: NDArray[np.floating]
    fs: float
    unit: str = "uV"
    physical_min: float | None = None
    physical_max: float | None = None
    transducer: str = ""
    prefilter: str = ""


def _ascii_field(value: str, width: int, what: str) -> bytes:
    if not all(32 <= ord(c) < 127 for c in value):
        raise ValueError(f"{what} {value!r} must be printable ASCII for an EDF header")
    if len(value) > width:
        raise ValueError(f"{what} {value!r} is longer than the {width} characters EDF allows")
    return value.ljust(width).encode("ascii")


def _format_number(value: float, rounding: str, what: str) -> str:
    """Format ``value`` in at most 8 characters, rounding toward ``rounding``."""
    d = Decimal(repr(float(value)))
    for decimals in range(7, -1, -1):
        q = d.quantize(Decimal(1).scaleb(-decimals), rounding=rounding)
        text = f"{q:f}"
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        if text in ("-0", ""):
            text = "0"
        if len(text) <= 8:
            return text
    raise ValueError(f"{what} {value!r} does not fit the 8 characters of an EDF header field")


def _format_seconds(value: float) -> str:
    """Format a TAL time with a sign and no more digits than needed (microsecond precision)."""
    text = f"{value:+.6f}".rstrip("0").rstrip(".")
    return "+0" if text in ("+", "-", "-0", "+0") else text


def _physical_range(sig: EdfSignal, data: NDArray[np.floating], i: int) -> tuple[str, str]:
    if data.size:
        lo_d, hi_d = float(np.min(data)), float(np.max(data))
        if not (math.isfinite(lo_d) and math.isfinite(hi_d)):
            raise ValueError(f"signal {i} ({sig.label!r}) holds NaN or infinite values; EDF "
                             "cannot store them")
    else:
        lo_d, hi_d = 0.0, 0.0
    lo = lo_d if sig.physical_min is None else float(sig.physical_min)
    hi = hi_d if sig.physical_max is None else float(sig.physical_max)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"signal {i} ({sig.label!r}) physical range must be finite")
    if lo == hi:
        if sig.physical_min is not None and sig.physical_max is not None:
            raise ValueError(f"signal {i} ({sig.label!r}) physical_min equals physical_max")
        lo, hi = lo - 1.0, hi + 1.0
    if lo > hi:
        raise ValueError(f"signal {i} ({sig.label!r}) physical_min {lo} > physical_max {hi}")
    lo_s = _format_number(lo, ROUND_FLOOR, f"signal {i} physical minimum")
    hi_s = _format_number(hi, ROUND_CEILING, f"signal {i} physical maximum")
    if float(lo_s) >= float(hi_s):
        raise ValueError(
            f"signal {i} ({sig.label!r}) physical range [{lo}, {hi}] is too narrow for the "
            "8-character EDF fields; write it in a smaller unit (uV rather than V)")
    return lo_s, hi_s


def _tal(onset_s: float, duration_s: float, text: str) -> bytes:
    for bad in ("\x00", "\x14", "\x15"):
        if bad in text:
            raise ValueError(f"annotation text {text!r} contains the reserved byte {bad!r}")
    if not text:
        raise ValueError("annotation text must not be empty (empty texts are time-keeping)")
    if not (math.isfinite(onset_s) and math.isfinite(duration_s)) or duration_s < 0:
        raise ValueError(f"annotation {text!r} needs a finite onset and a duration >= 0")
    timing = _format_seconds(onset_s)
    if duration_s > 0:
        timing += "\x15" + _format_seconds(duration_s)[1:]
    return (timing + "\x14" + text + "\x14\x00").encode("utf-8")


def _plan_annotations(keeping: list[bytes], tals: list[tuple[float, bytes]],
                      record_duration_s: float, bps: int) -> tuple[int, list[bytes]]:
    """Place TALs after each record's time-keeping TAL, each at or after its onset's record.

    Returns the annotation channel's samples per record and each record's bytes (unpadded).
    """
    n = len(keeping)
    longest = max((len(t) for _, t in tals), default=0)
    capacity = max(len(k) for k in keeping) + longest
    capacity = max(capacity, sum(len(t) for _, t in tals) // n + longest)
    while True:
        blocks: list[bytes] = []
        queue = 0
        for r in range(n):
            parts = [keeping[r]]
            used = len(keeping[r])
            end_s = (r + 1) * record_duration_s
            while queue < len(tals) and (tals[queue][0] < end_s or r == n - 1):
                t = tals[queue][1]
                if used + len(t) > capacity:
                    break
                parts.append(t)
                used += len(t)
                queue += 1
            blocks.append(b"".join(parts))
        if queue == len(tals):
            break
        capacity += max(longest, capacity // 2)
    return -(-capacity // bps), blocks


def write_edf(path: str | Path, signals: Sequence[EdfSignal], start_time: datetime, *,
              annotations: Sequence[Annotation] = (), patient: str = "X X X X",
              recording: str | None = None, record_duration_s: float = 1.0,
              bdf: bool = False) -> None:
    """Write signals and annotations to an EDF+C (or BDF+C) file.

    Parameters
    ----------
    path
        Output file; written to ``path + ".part"`` and renamed into place when complete.
    signals
        The signals; all must last the same whole number of data records.
    start_time
        Start of the recording (naive local time, 1985-2084). Microseconds are kept through
        the time-keeping annotations (EDF+ subsecond start).
    annotations
        Written as TALs (onset, duration, label; ``kind``/``channel``/``source`` are not
        stored). Labels are UTF-8 and must not contain the bytes 0x00, 0x14 or 0x15.
    patient, recording
        EDF+ identification fields, at most 80 ASCII characters; ``recording`` defaults to
        ``"Startdate dd-MMM-yyyy X X X"``.
    record_duration_s
        Duration of a data record in seconds.
    bdf
        Write BDF+C with 24-bit samples instead of EDF+C with 16-bit samples.

    Raises
    ------
    ValueError
        Inconsistent rates or lengths, header text that is too long or not ASCII, non-finite
        data, an unrepresentable physical range, a start year outside 1985-2084.
    """
    if not signals:
        raise ValueError("write_edf needs at least one signal")
    if not (math.isfinite(record_duration_s) and record_duration_s > 0):
        raise ValueError(f"record_duration_s must be > 0, got {record_duration_s}")
    if not 1985 <= start_time.year <= 2084:
        raise ValueError(f"EDF start dates must lie in 1985-2084, got {start_time.year}")
    dur_text = _format_number(record_duration_s, ROUND_FLOOR, "record_duration_s")
    if float(dur_text) != record_duration_s:
        raise ValueError(f"record_duration_s {record_duration_s} does not fit 8 characters")
    spr: list[int] = []
    arrays: list[NDArray[np.floating]] = []
    for i, sig in enumerate(signals):
        data = np.asarray(sig.data)
        numeric = np.issubdtype(data.dtype, np.floating) or np.issubdtype(data.dtype,
                                                                          np.integer)
        if data.ndim != 1 or not numeric:
            raise ValueError(f"signal {i} ({sig.label!r}) data must be a 1-D numeric array")
        n = sig.fs * record_duration_s
        if not (math.isfinite(n) and n >= 1 and abs(n - round(n)) < 1e-9 * max(1.0, n)):
            raise ValueError(
                f"signal {i} ({sig.label!r}): fs {sig.fs} Hz * record_duration_s "
                f"{record_duration_s} = {n} samples per record, which must be a whole number "
                ">= 1")
        spr.append(round(n))
        arrays.append(data)
    n_records = len(arrays[0]) // spr[0]
    for i, (data, k) in enumerate(zip(arrays, spr, strict=True)):
        if len(data) % k or len(data) // k != n_records:
            raise ValueError(
                f"signal {i} ({signals[i].label!r}) has {len(data)} samples: every signal must "
                f"fill the same whole number of {record_duration_s} s data records "
                f"({n_records} records of {k} samples here)")
    if n_records == 0:
        raise ValueError("signals are shorter than one data record")

    bps = 3 if bdf else 2
    dmin, dmax = (-(1 << 23), (1 << 23) - 1) if bdf else (-(1 << 15), (1 << 15) - 1)
    ranges = [_physical_range(s, a, i) for i, (s, a) in enumerate(zip(signals, arrays,
                                                                       strict=True))]
    frac_s = start_time.microsecond / 1e6
    keeping = [(_format_seconds(r * record_duration_s + frac_s) + "\x14\x14\x00").encode()
               for r in range(n_records)]
    tals = sorted(((a.onset_s, _tal(a.onset_s + frac_s, a.duration_s, a.label))
                   for a in annotations), key=lambda t: t[0])
    ann_spr, ann_blocks = _plan_annotations(keeping, tals, record_duration_s, bps)

    ann_label = "BDF Annotations" if bdf else "EDF Annotations"
    labels = [s.label for s in signals] + [ann_label]
    ns = len(labels)
    if recording is None:
        recording = (f"Startdate {start_time.day:02d}-{_MONTHS[start_time.month - 1]}-"
                     f"{start_time.year} X X X")
    head = b"".join([
        b"\xffBIOSEMI" if bdf else b"0       ",
        _ascii_field(patient, 80, "patient"),
        _ascii_field(recording, 80, "recording"),
        start_time.strftime("%d.%m.%y").encode(),
        start_time.strftime("%H.%M.%S").encode(),
        _ascii_field(str(256 * (ns + 1)), 8, "header size"),
        _ascii_field("BDF+C" if bdf else "EDF+C", 44, "reserved"),
        _ascii_field(str(n_records), 8, "number of records"),
        _ascii_field(dur_text, 8, "record duration"),
        _ascii_field(str(ns), 4, "number of signals"),
    ])
    cols: list[list[bytes]] = [[] for _ in range(10)]
    for i, s in enumerate(signals):
        what = f"signal {i}"
        cols[0].append(_ascii_field(s.label, 16, f"{what} label"))
        cols[1].append(_ascii_field(s.transducer, 80, f"{what} transducer"))
        cols[2].append(_ascii_field(s.unit, 8, f"{what} unit"))
        cols[3].append(_ascii_field(ranges[i][0], 8, f"{what} physical minimum"))
        cols[4].append(_ascii_field(ranges[i][1], 8, f"{what} physical maximum"))
        cols[5].append(_ascii_field(str(dmin), 8, f"{what} digital minimum"))
        cols[6].append(_ascii_field(str(dmax), 8, f"{what} digital maximum"))
        cols[7].append(_ascii_field(s.prefilter, 80, f"{what} prefilter"))
        cols[8].append(_ascii_field(str(spr[i]), 8, f"{what} samples per record"))
        cols[9].append(b" " * 32)
    for k, value in enumerate([ann_label, "", "", "-1", "1", str(dmin), str(dmax), "",
                               str(ann_spr), ""]):
        cols[k].append(_ascii_field(value, (16, 80, 8, 8, 8, 8, 8, 80, 8, 32)[k], "annotation"))
    header = head + b"".join(b"".join(c) for c in cols)

    out_path = Path(path)
    tmp = out_path.with_name(out_path.name + ".part")
    scales = []
    for lo_s, hi_s in ranges:
        lo, hi = float(lo_s), float(hi_s)
        scales.append(((dmax - dmin) / (hi - lo), lo))
    try:
        with tmp.open("wb") as fh:
            fh.write(header)
            _write_records(fh, arrays, spr, scales, ann_blocks, ann_spr, dmin, dmax, bps)
        os.replace(tmp, out_path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _write_records(fh: BinaryIO, arrays: list[NDArray[np.floating]], spr: list[int],
                   scales: list[tuple[float, float]], ann_blocks: list[bytes], ann_spr: int,
                   dmin: int, dmax: int, bps: int) -> None:
    """Write data records in blocks; each block is converted signal by signal, vectorised."""
    n_records = len(ann_blocks)
    rec_samples = sum(spr) + ann_spr
    per_block = max(1, _BLOCK_SAMPLES // max(spr))
    offsets = np.concatenate(([0], np.cumsum([*spr, ann_spr]))).tolist()
    ann_bytes = ann_spr * bps
    for r0 in range(0, n_records, per_block):
        r1 = min(n_records, r0 + per_block)
        nr = r1 - r0
        block = np.empty((nr, rec_samples), dtype=np.int32)
        for i, data in enumerate(arrays):
            k = spr[i]
            scale, lo = scales[i]
            x = np.asarray(data[r0 * k:r1 * k], dtype=np.float64).reshape(nr, k)
            d = np.rint((x - lo) * scale + dmin)
            np.clip(d, dmin, dmax, out=d)
            block[:, offsets[i]:offsets[i + 1]] = d
        if bps == 2:
            rows = block[:, :offsets[-2]].astype("<i2")
            raw = rows.view(np.uint8).reshape(nr, -1)
        else:
            le = block[:, :offsets[-2]].astype("<i4").view(np.uint8).reshape(nr, -1, 4)
            raw = np.ascontiguousarray(le[:, :, :3]).reshape(nr, -1)
        ann = np.zeros((nr, ann_bytes), dtype=np.uint8)
        for j in range(nr):
            b = ann_blocks[r0 + j]
            ann[j, :len(b)] = np.frombuffer(b, dtype=np.uint8)
        fh.write(np.concatenate((raw, ann), axis=1).tobytes())
