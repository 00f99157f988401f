"""Parse WFDB header (``.hea``) files without trusting them.

The parser follows the header format of the WFDB Applications Guide (``header(5)``):

* record line ``name[/nseg] [nsig [fs[/counter_freq[(base_counter)]] [nsamp [time [date]]]]]``;
* one signal line per signal ``file format[xspf][:skew][+offset] [gain[(baseline)][/units]
  [adc_res [adc_zero [init_value [checksum [block_size [description]]]]]]]``;
* ``#`` comment lines anywhere, kept raw in order.

It is stricter than the reference in what it believes (every number is range-checked, file
names may not leave the record's folder) and more lenient in what it accepts: the base date may
be written ``dd/mm/yyyy`` or in ISO form ``yyyy-mm-dd`` (as the PhysioNet/CinC 2017 headers do,
which ``wfdb.rdheader`` rejects), and the date may come before the time.

Every problem raises a :class:`~signal_io.errors.SignalIOError` subclass naming the header file.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from pathlib import Path

from signal_io.errors import (
    CorruptRecordingError,
    RecordingNotFoundError,
    UnreadablePathError,
    UnsupportedFormatError,
)

#: Storage formats this reader decodes, with the digital value WFDB reserves for "no sample".
INVALID_SAMPLE: dict[int, int] = {
    16: -(2**15),
    61: -(2**15),
    160: -(2**15),
    24: -(2**23),
    32: -(2**31),
    80: -(2**7),
    212: -(2**11),
}
#: Formats known to WFDB that this reader does not decode.
KNOWN_UNSUPPORTED = frozenset({0, 8, 310, 311, 508, 516, 524})
#: A header larger than this is not a WFDB header.
MAX_HEADER_BYTES = 4 * 1024 * 1024
#: Limits on declared values: past these a header is corrupt, not merely unusual.
MAX_SIGNALS = 4096
MIN_FS_HZ = 1e-3
MAX_FS_HZ = 1e7
MIN_ABS_GAIN = 1e-9
MAX_ABS_GAIN = 1e12
MAX_SAMPLES_PER_FRAME = 1024
MAX_ABS_SKEW = 10**9
DEFAULT_FS_HZ = 250.0
DEFAULT_GAIN = 200.0
DEFAULT_UNIT = "mV"

_REC_NAME = re.compile(r"^[A-Za-z0-9_.\-+~]+$")
_FMT = re.compile(r"^(?P<fmt>\d+)(?:x(?P<spf>\d+))?(?::(?P<skew>-?\d+))?(?:\+(?P<off>\d+))?$")
_GAIN = re.compile(
    r"^(?P<gain>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"
    r"(?:\((?P<base>[-+]?\d+)\))?(?:/(?P<unit>\S+))?$"
)
_FS = re.compile(
    r"^(?P<fs>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"
    r"(?:/(?P<cf>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)(?:\((?P<bc>[-+]?[\d.]+)\))?)?$"
)
_TIME = re.compile(r"^(?P<h>\d{1,2}):(?P<m>\d{1,2})(?::(?P<s>\d{1,2})(?:\.(?P<frac>\d+))?)?$")
_DMY = re.compile(r"^(?P<d>\d{1,2})/(?P<m>\d{1,2})/(?P<y>\d{4})$")
_ISO = re.compile(r"^(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})$")


@dataclass(frozen=True, slots=True)
class SignalSpec:
    """One signal line of a WFDB header.

    Attributes
    ----------
    file_name
        Data file name (a bare name in the header's folder).
    fmt
        Storage format number (16, 212...).
    samples_per_frame
        Samples of this signal in each frame (``xN``); the signal's rate is ``fs * spf``.
    skew
        Frames by which this signal is delayed in the file.
    byte_offset
        Bytes to skip at the start of the data file (prolog, e.g. the 24-byte MAT v4 header).
    gain
        Digital units per physical unit.
    baseline
        Digital value of physical zero.
    unit
        Physical unit.
    adc_res, adc_zero, init_value, checksum, block_size
        Remaining numeric fields (0 when absent).
    description
        Signal name (``"MLII"``, ``"ii"``...).
    """

    file_name: str
    fmt: int
    samples_per_frame: int
    skew: int
    byte_offset: int
    gain: float
    baseline: int
    unit: str
    adc_res: int
    adc_zero: int
    init_value: int
    checksum: int
    block_size: int
    description: str


@dataclass(slots=True)
class WfdbHeader:
    """A parsed single-segment WFDB header.

    Attributes
    ----------
    record_name
        Record name from the record line.
    n_signals
        Number of signals declared.
    fs
        Frame rate in Hz.
    n_frames
        Declared number of frames (samples per signal at ``spf = 1``), or ``None`` when the
        header leaves it out (then the data file size decides).
    start_time
        Base date and time, or ``None`` when the header has no base date.
    base_time
        Base time of day when present (with or without a date).
    signals
        One entry per signal line, in order.
    comments
        ``#`` lines without the leading ``#`` and one following space, in order.
    record_line
        The record line as written.
    """

    record_name: str
    n_signals: int
    fs: float
    n_frames: int | None
    start_time: datetime | None
    base_time: time | None
    signals: list[SignalSpec] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)
    record_line: str = ""


def _int(tok: str, what: str, path: Path, lo: int, hi: int) -> int:
    try:
        value = int(tok)
    except ValueError:
        raise CorruptRecordingError(
            f"WFDB header field {what} is {tok!r}, not an integer", path
        ) from None
    if not lo <= value <= hi:
        raise CorruptRecordingError(
            f"WFDB header field {what} is {value}, outside the allowed {lo}..{hi}", path
        )
    return value


def _float(tok: str, what: str, path: Path) -> float:
    try:
        value = float(tok)
    except ValueError:
        raise CorruptRecordingError(
            f"WFDB header field {what} is {tok!r}, not a number", path
        ) from None
    if not math.isfinite(value):
        raise CorruptRecordingError(f"WFDB header field {what} is {tok!r}, not finite", path)
    return value


def _parse_time(tok: str, path: Path) -> time:
    m = _TIME.match(tok)
    if m is None:
        raise CorruptRecordingError(f"WFDB base time {tok!r} is not HH:MM[:SS[.fff]]", path)
    frac = m.group("frac") or ""
    micro = int((frac + "000000")[:6]) if frac else 0
    try:
        return time(int(m.group("h")), int(m.group("m")), int(m.group("s") or 0), micro)
    except ValueError as exc:
        raise CorruptRecordingError(f"WFDB base time {tok!r} is invalid: {exc}", path) from None


def _parse_date(tok: str, path: Path) -> date:
    m = _DMY.match(tok) or _ISO.match(tok)
    if m is None:
        raise CorruptRecordingError(
            f"WFDB base date {tok!r} is neither dd/mm/yyyy nor yyyy-mm-dd", path
        )
    try:
        return date(int(m.group("y")), int(m.group("m")), int(m.group("d")))
    except ValueError as exc:
        raise CorruptRecordingError(f"WFDB base date {tok!r} is invalid: {exc}", path) from None


def _parse_record_line(line: str, path: Path) -> WfdbHeader:
    toks = line.split()
    name = toks[0]
    if "/" in name:
        raise UnsupportedFormatError(
            f"multi-segment WFDB record {name!r}: only single-segment records are read", path
        )
    if not _REC_NAME.match(name):
        raise CorruptRecordingError(f"WFDB record name {name!r} has characters not allowed", path)
    n_signals = _int(toks[1], "number of signals", path, 0, MAX_SIGNALS) if len(toks) > 1 else 0
    fs = DEFAULT_FS_HZ
    if len(toks) > 2:
        m = _FS.match(toks[2])
        if m is None:
            raise CorruptRecordingError(
                f"WFDB sampling frequency {toks[2]!r} is not a number", path
            )
        fs = _float(m.group("fs"), "sampling frequency", path)
        # WFDB tools read 0 as "use the default 250 Hz"; a clinical reader refuses to guess.
        if not MIN_FS_HZ <= fs <= MAX_FS_HZ:
            raise CorruptRecordingError(
                f"WFDB sampling frequency {fs} Hz is outside [{MIN_FS_HZ:g}, {MAX_FS_HZ:g}] Hz",
                path,
            )
    n_frames: int | None = None
    if len(toks) > 3:
        n_frames = _int(toks[3], "number of samples", path, 0, 2**62) or None
    base_time: time | None = None
    base_date: date | None = None
    for tok in toks[4:6]:
        if _TIME.match(tok):
            if base_time is not None:
                raise CorruptRecordingError(f"WFDB record line has two base times: {line!r}",
                                            path)
            base_time = _parse_time(tok, path)
        else:
            if base_date is not None:
                raise CorruptRecordingError(f"WFDB record line has two base dates: {line!r}",
                                            path)
            base_date = _parse_date(tok, path)
    if len(toks) > 6:
        raise CorruptRecordingError(
            f"WFDB record line has {len(toks)} fields; at most 6 are defined", path
        )
    start = None
    if base_date is not None:
        start = datetime.combine(base_date, base_time or time(0, 0))
    return WfdbHeader(name, n_signals, fs, n_frames, start, base_time, record_line=line)


def _parse_signal_line(line: str, path: Path, index: int) -> SignalSpec:
    toks = line.split(maxsplit=8)
    file_name = toks[0]
    if (
        file_name in (".", "..")
        or "/" in file_name
        or "\\" in file_name
        or "\x00" in file_name
    ):
        raise CorruptRecordingError(
            f"WFDB signal {index} data file {file_name!r} is not a plain file name in the "
            "header's folder",
            path,
        )
    if file_name == "~":
        raise UnsupportedFormatError(
            f"WFDB signal {index} has no data file ('~'); such records are not read", path
        )
    if len(toks) < 2:
        raise CorruptRecordingError(f"WFDB signal line {index} has no storage format", path)
    m = _FMT.match(toks[1])
    if m is None:
        raise CorruptRecordingError(
            f"WFDB signal {index} format field {toks[1]!r} is not FORMAT[xN][:SKEW][+OFFSET]",
            path,
        )
    fmt = _int(m.group("fmt"), f"signal {index} format", path, 0, 10**6)
    if fmt not in INVALID_SAMPLE:
        known = "a WFDB format not supported here" if fmt in KNOWN_UNSUPPORTED else "unknown"
        supported = ", ".join(str(f) for f in sorted(INVALID_SAMPLE))
        raise UnsupportedFormatError(
            f"WFDB signal {index} storage format {fmt} is {known}; supported: {supported}",
            path,
        )
    spf_tok = m.group("spf")
    spf = 1 if spf_tok is None else _int(spf_tok, "samples per frame", path, 0,
                                         MAX_SAMPLES_PER_FRAME)
    spf = spf or 1
    skew = 0 if m.group("skew") is None else _int(m.group("skew"), "skew", path,
                                                  -MAX_ABS_SKEW, MAX_ABS_SKEW)
    offset = 0 if m.group("off") is None else _int(m.group("off"), "byte offset", path, 0,
                                                   2**62)
    gain, baseline_tok, unit = DEFAULT_GAIN, None, DEFAULT_UNIT
    if len(toks) > 2:
        g = _GAIN.match(toks[2])
        if g is None:
            raise CorruptRecordingError(
                f"WFDB signal {index} gain field {toks[2]!r} is not GAIN[(BASELINE)][/UNITS]",
                path,
            )
        gain = _float(g.group("gain"), f"signal {index} gain", path) or DEFAULT_GAIN
        if not MIN_ABS_GAIN <= abs(gain) <= MAX_ABS_GAIN:
            raise CorruptRecordingError(
                f"WFDB signal {index} gain {gain:g} is outside +-[{MIN_ABS_GAIN:g}, "
                f"{MAX_ABS_GAIN:g}] units per physical unit",
                path,
            )
        baseline_tok = g.group("base")
        unit = g.group("unit") or DEFAULT_UNIT
    big = 2**31
    names = ("ADC resolution", "ADC zero", "initial value", "checksum", "block size")
    nums = [
        _int(toks[3 + i], f"signal {index} {what}", path, -big, big) if len(toks) > 3 + i else 0
        for i, what in enumerate(names)
    ]
    adc_res, adc_zero, init_value, checksum, block_size = nums
    baseline = adc_zero if baseline_tok is None else _int(
        baseline_tok, f"signal {index} baseline", path, -big, big
    )
    description = toks[8].strip() if len(toks) > 8 else ""
    return SignalSpec(file_name, fmt, spf, skew, offset, gain, baseline, unit, adc_res,
                      adc_zero, init_value, checksum, block_size, description)


def parse_header_text(text: str, path: Path) -> WfdbHeader:
    """Parse the text of a WFDB header.

    Parameters
    ----------
    text
        Whole header content (any line endings).
    path
        Header file, named in errors.

    Returns
    -------
    WfdbHeader

    Raises
    ------
    CorruptRecordingError
        Empty header, fields that are not numbers, values out of range, missing signal lines.
    UnsupportedFormatError
        Multi-segment records, storage formats not decoded here.
    """
    comments: list[str] = []
    content: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("#"):
            body = line[1:]
            comments.append(body[1:] if body.startswith(" ") else body)
        elif line:
            content.append(line)
    if not content:
        raise CorruptRecordingError("WFDB header has no record line (empty header)", path)
    header = _parse_record_line(content[0], path)
    lines = content[1:]
    if len(lines) < header.n_signals:
        raise CorruptRecordingError(
            f"WFDB header declares {header.n_signals} signals but has {len(lines)} signal "
            "lines",
            path,
        )
    header.signals = [_parse_signal_line(lines[i], path, i) for i in range(header.n_signals)]
    # Lines past the signal lines are "info strings" in old headers; keep them as comments.
    comments.extend(lines[header.n_signals:])
    header.comments = comments
    for i, sig in enumerate(header.signals):
        if not sig.description:
            header.signals[i] = replace(
                sig, description=f"record {header.record_name}, signal {i}"
            )
    return header


def read_header(path: Path) -> WfdbHeader:
    """Read and parse a WFDB header file.

    Parameters
    ----------
    path
        The ``.hea`` file.

    Returns
    -------
    WfdbHeader

    Raises
    ------
    RecordingNotFoundError, UnreadablePathError, CorruptRecordingError, UnsupportedFormatError
    """
    raw = read_small_file(path, MAX_HEADER_BYTES, "WFDB header")
    if not raw.strip():
        raise CorruptRecordingError("WFDB header is empty (0 bytes of content)", path)
    if b"\x00" in raw:
        raise CorruptRecordingError("WFDB header contains NUL bytes: not a text header", path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("latin-1")
    return parse_header_text(text, path)


def read_small_file(path: Path, max_bytes: int, what: str) -> bytes:
    """Read a whole small file, turning every OS failure into a typed error.

    Parameters
    ----------
    path
        File to read.
    max_bytes
        Larger files are refused as corrupt.
    what
        Words for the file in messages (``"WFDB header"``).

    Raises
    ------
    RecordingNotFoundError, UnreadablePathError, CorruptRecordingError
    """
    try:
        with path.open("rb") as fh:
            raw = fh.read(max_bytes + 1)
    except FileNotFoundError:
        raise RecordingNotFoundError(f"{what} not found", path) from None
    except IsADirectoryError:
        raise UnreadablePathError(f"{what} is a folder, not a file", path) from None
    except OSError as exc:
        raise UnreadablePathError(f"cannot read {what}: {exc.strerror}", path) from None
    if len(raw) > max_bytes:
        raise CorruptRecordingError(
            f"{what} is larger than {max_bytes} bytes: not a {what}", path
        )
    return raw
