"""Parse and validate the fixed-width ASCII header of EDF, EDF+, BDF and BDF+ files.

The header is ``256`` bytes of general fields followed by ``256`` bytes per signal, stored
field by field (all labels, then all transducers, ...). Every numeric field is checked here so
that the reader never meets a raw ``ValueError``/``struct.error`` later: anything inconsistent
raises :class:`~signal_io.errors.CorruptRecordingError` naming the file and the field.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from signal_io.errors import CorruptRecordingError, UnreadablePathError, UnsupportedFormatError

EDF_MAGIC = b"0       "
BDF_MAGIC = b"\xffBIOSEMI"

#: Largest number of signals accepted (EDF's 4-character field allows 9999).
MAX_SIGNALS = 4096
#: Largest record duration accepted, in seconds (one day).
MAX_RECORD_DURATION_S = 86_400.0
#: Largest total number of samples in one data record (all signals).
MAX_RECORD_SAMPLES = 1 << 26
#: Highest sampling rate accepted, in Hz.
MAX_FS = 1e7

_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_STARTDATE_RE = re.compile(r"^Startdate\s+(\d{1,2})-([A-Za-z]{3})-(\d{4})(?:\s|$)")
_ANNOTATION_LABELS = ("EDF Annotations", "BDF Annotations")
# Signal-type prefixes defined by the EDF+ specification ("EEG Fpz-Cz", "Resp Thorax").
_TYPE_PREFIXES = ("EEG", "ECG", "EOG", "ERG", "EMG", "MEG", "MCG", "EP", "TEMP", "RESP", "SAO2",
                  "LIGHT", "SOUND", "EVENT")


@dataclass(frozen=True, slots=True)
class EdfSignalHeader:
    """Header fields of one signal (annotation channels included).

    Attributes
    ----------
    label, transducer, unit, prefilter
        Text fields, stripped of padding.
    physical_min, physical_max, digital_min, digital_max
        Scaling fields as written.
    samples_per_record
        Number of samples of this signal in each data record.
    offset_bytes
        Byte offset of this signal's block inside one data record.
    is_annotation
        ``True`` for ``"EDF Annotations"``/``"BDF Annotations"`` channels.
    """

    label: str
    transducer: str
    unit: str
    prefilter: str
    physical_min: float
    physical_max: float
    digital_min: float
    digital_max: float
    samples_per_record: int
    offset_bytes: int
    is_annotation: bool

    @property
    def type_prefix(self) -> str:
        """EDF+ signal-type prefix of the label (``"EEG"`` for ``"EEG Fpz-Cz"``), or ``""``."""
        first = self.label.split(" ", 1)[0]
        return first if " " in self.label and first.upper() in _TYPE_PREFIXES else ""

    def gain_offset(self) -> tuple[float, float]:
        """Return ``(gain, offset)`` in float64 with ``physical = digital * gain + offset``."""
        gain = (self.physical_max - self.physical_min) / (self.digital_max - self.digital_min)
        return gain, self.physical_min - self.digital_min * gain


@dataclass(frozen=True, slots=True)
class EdfHeader:
    """The parsed header of an EDF/BDF file.

    Attributes
    ----------
    is_bdf
        ``True`` for BDF (24-bit samples), ``False`` for EDF (16-bit).
    patient, recording, reserved
        Raw identification fields and the reserved field, stripped of trailing padding.
    start_time
        Start date and time from the header (whole seconds), or ``None`` when blank.
    header_bytes
        Size of the header, ``256 * (n_signals + 1)``.
    n_records
        Number of data records actually used (after resolving ``-1``).
    record_duration_s
        Duration of one data record in seconds (0 only for annotation-only files).
    signals
        Every signal in file order, annotation channels included.
    record_bytes
        Size of one data record in bytes.
    """

    is_bdf: bool
    patient: str
    recording: str
    reserved: str
    start_time: datetime | None
    header_bytes: int
    n_records: int
    record_duration_s: float
    signals: tuple[EdfSignalHeader, ...]
    record_bytes: int

    @property
    def bytes_per_sample(self) -> int:
        """2 for EDF, 3 for BDF."""
        return 3 if self.is_bdf else 2

    @property
    def plus_kind(self) -> str:
        """``"C"`` or ``"D"`` for EDF+/BDF+ files, ``""`` for plain EDF/BDF."""
        head = self.reserved[:5].upper()
        if head in ("EDF+C", "BDF+C"):
            return "C"
        if head in ("EDF+D", "BDF+D"):
            return "D"
        return ""

    @property
    def annotation_indices(self) -> list[int]:
        """Positions of the annotation channels among :attr:`signals`."""
        return [i for i, s in enumerate(self.signals) if s.is_annotation]


def _text(raw: bytes) -> str:
    """Decode a header text field: ASCII by the standard, Latin-1 tolerated, padding stripped."""
    return raw.decode("latin-1").strip(" \x00")


def _number(raw: bytes, what: str, path: Path) -> float:
    text = _text(raw)
    try:
        value = float(text.replace(",", "."))
    except ValueError:
        raise CorruptRecordingError(f"EDF header field {what} is not a number: {text!r}",
                                    path) from None
    if not math.isfinite(value):
        raise CorruptRecordingError(f"EDF header field {what} is not finite: {text!r}", path)
    return value


def _integer(raw: bytes, what: str, path: Path) -> int:
    text = _text(raw)
    if not re.fullmatch(r"[+-]?\d+", text):
        raise CorruptRecordingError(f"EDF header field {what} is not an integer: {text!r}",
                                    path)
    return int(text)


def _parse_start(date_raw: bytes, time_raw: bytes, recording: str,
                 path: Path) -> datetime | None:
    date_s, time_s = _text(date_raw), _text(time_raw)
    if not date_s.strip(". ") and not time_s.strip(". :"):
        return None
    dm = re.fullmatch(r"(\d\d)\D(\d\d)\D(\d\d)", date_s)
    tm = re.fullmatch(r"(\d\d)\D(\d\d)\D(\d\d)", time_s)
    if dm is None or tm is None:
        raise CorruptRecordingError(
            f"EDF header start date/time {date_s!r} {time_s!r} is not dd.mm.yy hh.mm.ss", path)
    day, month, yy = (int(g) for g in dm.groups())
    # EDF clipping rule: 85-99 are 1985-1999, 00-84 are 2000-2084.
    year = 1900 + yy if yy >= 85 else 2000 + yy
    sd = _STARTDATE_RE.match(recording)
    if sd is not None and sd.group(2).upper() in _MONTHS:
        # EDF+ "Startdate dd-MMM-yyyy" carries the four-digit year (needed after 2084).
        full = datetime(1, 1, 1)
        try:
            full = datetime(int(sd.group(3)), _MONTHS.index(sd.group(2).upper()) + 1,
                            int(sd.group(1)))
        except ValueError:
            full = datetime(1, 1, 1)
        if full.year > 1 and full.day == day and full.month == month:
            year = full.year
    hour, minute, second = (int(g) for g in tm.groups())
    try:
        return datetime(year, month, day, hour, minute, second)
    except ValueError:
        raise CorruptRecordingError(
            f"EDF header start date/time {date_s!r} {time_s!r} is not a valid date", path
        ) from None


def _split(block: bytes, ns: int, width: int) -> list[bytes]:
    return [block[i * width:(i + 1) * width] for i in range(ns)]


def parse_header(path: Path, file_size: int) -> EdfHeader:
    """Read and validate the header of an EDF/BDF file.

    Parameters
    ----------
    path
        The file.
    file_size
        Its size in bytes (used to check the declared number of data records).

    Returns
    -------
    EdfHeader

    Raises
    ------
    UnreadablePathError
        The file cannot be opened.
    UnsupportedFormatError
        The file does not start with the EDF or BDF version field.
    CorruptRecordingError
        The header is short, inconsistent or has a malformed field.
    """
    try:
        fh = path.open("rb")
    except OSError as exc:
        raise UnreadablePathError(f"cannot read: {exc.strerror}", path) from exc
    with fh:
        head = fh.read(256)
        if len(head) == 0:
            raise CorruptRecordingError("EDF file is empty (0 bytes)", path)
        if head[:8] not in (EDF_MAGIC, BDF_MAGIC):
            raise UnsupportedFormatError(
                "not an EDF/BDF file: the first 8 bytes are not the EDF version field "
                "'0       ' or the BDF field '\\xffBIOSEMI'", path)
        if len(head) < 256:
            raise CorruptRecordingError(
                f"EDF header truncated: file holds {len(head)} bytes, the fixed header alone "
                "needs 256", path)
        is_bdf = head[:8] == BDF_MAGIC
        patient = head[8:88].decode("latin-1").rstrip(" \x00")
        recording = head[88:168].decode("latin-1").rstrip(" \x00")
        start_time = _parse_start(head[168:176], head[176:184], recording, path)
        header_bytes = _integer(head[184:192], "'number of bytes in header'", path)
        reserved = head[192:236].decode("latin-1").rstrip(" \x00")
        n_records = _integer(head[236:244], "'number of data records'", path)
        duration = _number(head[244:252], "'duration of a data record'", path)
        ns = _integer(head[252:256], "'number of signals'", path)
        if not 1 <= ns <= MAX_SIGNALS:
            raise CorruptRecordingError(
                f"EDF header declares {ns} signals; between 1 and {MAX_SIGNALS} are accepted",
                path)
        if header_bytes != 256 * (ns + 1):
            raise CorruptRecordingError(
                f"EDF header length field says {header_bytes} bytes but {ns} signals need "
                f"256 * ({ns} + 1) = {256 * (ns + 1)}", path)
        if header_bytes > file_size:
            raise CorruptRecordingError(
                f"EDF header truncated: {ns} signals need a {header_bytes}-byte header but the "
                f"file holds {file_size} bytes", path)
        block = fh.read(256 * ns)
    if len(block) != 256 * ns:
        raise CorruptRecordingError("EDF signal header truncated while reading", path)
    signals = _parse_signals(block, ns, is_bdf, path)
    annotation_only = all(s.is_annotation for s in signals)
    if not (0.0 <= duration <= MAX_RECORD_DURATION_S) or (duration == 0 and not annotation_only):
        raise CorruptRecordingError(
            f"EDF data record duration {duration} s is invalid: it must be > 0 and at most "
            f"{MAX_RECORD_DURATION_S:g} s (0 is allowed only when every signal is an "
            "annotation channel)", path)
    if duration > 0:
        fastest = max(s.samples_per_record for s in signals) / duration
        if fastest > MAX_FS:
            raise CorruptRecordingError(
                f"EDF header implies a sampling rate of {fastest:g} Hz (samples per record / "
                f"record duration {duration:g} s); more than {MAX_FS:g} Hz is not accepted",
                path)
    bps = 3 if is_bdf else 2
    record_bytes = bps * sum(s.samples_per_record for s in signals)
    n_records = _check_records(n_records, record_bytes, header_bytes, file_size, path)
    return EdfHeader(is_bdf=is_bdf, patient=patient, recording=recording, reserved=reserved,
                     start_time=start_time, header_bytes=header_bytes, n_records=n_records,
                     record_duration_s=duration, signals=tuple(signals),
                     record_bytes=record_bytes)


def _parse_signals(block: bytes, ns: int, is_bdf: bool, path: Path) -> list[EdfSignalHeader]:
    widths = (16, 80, 8, 8, 8, 8, 8, 80, 8, 32)
    fields: list[list[bytes]] = []
    pos = 0
    for w in widths:
        fields.append(_split(block[pos:pos + w * ns], ns, w))
        pos += w * ns
    labels, transducers, units, pmins, pmaxs, dmins, dmaxs, prefilters, nsamps, _ = fields
    bps = 3 if is_bdf else 2
    out: list[EdfSignalHeader] = []
    offset = 0
    total = 0
    for i in range(ns):
        label = _text(labels[i])
        name = f"signal {i} ({label!r})"
        is_ann = label in _ANNOTATION_LABELS
        n = _integer(nsamps[i], f"'samples per record' of {name}", path)
        if n < 1:
            raise CorruptRecordingError(
                f"EDF header gives {name} {n} samples per data record; at least 1 is needed",
                path)
        total += n
        if total > MAX_RECORD_SAMPLES:
            raise CorruptRecordingError(
                f"EDF data records would hold more than {MAX_RECORD_SAMPLES} samples; the "
                "samples-per-record fields are absurd", path)
        pmin = _number(pmins[i], f"'physical minimum' of {name}", path)
        pmax = _number(pmaxs[i], f"'physical maximum' of {name}", path)
        dmin = _number(dmins[i], f"'digital minimum' of {name}", path)
        dmax = _number(dmaxs[i], f"'digital maximum' of {name}", path)
        if not is_ann and dmin >= dmax:
            raise CorruptRecordingError(
                f"EDF header gives {name} digital minimum {dmin:g} >= digital maximum "
                f"{dmax:g}", path)
        out.append(EdfSignalHeader(
            label=label, transducer=_text(transducers[i]), unit=_text(units[i]),
            prefilter=_text(prefilters[i]), physical_min=pmin, physical_max=pmax,
            digital_min=dmin, digital_max=dmax, samples_per_record=n, offset_bytes=offset,
            is_annotation=is_ann))
        offset += n * bps
    return out


def _check_records(n_records: int, record_bytes: int, header_bytes: int, file_size: int,
                   path: Path) -> int:
    data_bytes = file_size - header_bytes
    if n_records == -1:
        # Still recording when the file was closed: the data size decides.
        if data_bytes % record_bytes != 0:
            raise CorruptRecordingError(
                f"EDF header gives -1 data records (unknown) and the {data_bytes} data bytes "
                f"are not a whole number of {record_bytes}-byte records", path)
        return data_bytes // record_bytes
    if n_records < 0:
        raise CorruptRecordingError(
            f"EDF header gives {n_records} data records; only -1 (unknown) or >= 0 are "
            "allowed", path)
    needed = n_records * record_bytes
    if data_bytes < needed:
        raise CorruptRecordingError(
            f"EDF file truncated: the header declares {n_records} data records of "
            f"{record_bytes} bytes ({needed} bytes) but the file holds {data_bytes} data bytes",
            path)
    if data_bytes - needed >= record_bytes:
        raise CorruptRecordingError(
            f"EDF header declares {n_records} data records of {record_bytes} bytes but the file "
            f"holds {data_bytes} data bytes, at least one more whole record than declared",
            path)
    # Fewer than one record of trailing bytes: tolerated and ignored.
    return n_records


def decode_samples(raw: NDArray[np.uint8], is_bdf: bool) -> NDArray[np.int32] | NDArray[
        np.int16]:
    """Turn raw little-endian sample bytes into integers.

    Parameters
    ----------
    raw
        Shape ``(..., 2 * n)`` for EDF or ``(..., 3 * n)`` for BDF, uint8.
    is_bdf
        Whether samples are 24-bit.

    Returns
    -------
    numpy.ndarray
        Shape ``(..., n)``: int16 for EDF, int32 (sign-extended 24-bit) for BDF.
    """
    if not is_bdf:
        return np.ascontiguousarray(raw).view("<i2")
    b = raw.reshape(*raw.shape[:-1], -1, 3)
    out = b[..., 2].view(np.int8).astype(np.int32)
    out <<= 16
    out |= b[..., 1].astype(np.int32) << 8
    out |= b[..., 0]
    return out
