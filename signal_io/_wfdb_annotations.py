"""Turn WFDB annotation files into :class:`~signal_io._recording.Annotation` lists.

The MIT annotation format is decoded by ``wfdb.rdann``; this module interprets it:

* beat annotations (the WFDB ``isqrs`` set: ``N L R B A a J S V r F e j n E / f Q ?``) become
  kind ``"beat"`` with the symbol as label;
* rhythm changes (symbol ``+`` with aux text ``(AFIB``, ``(N``...) become kind ``"rhythm"``
  episodes labelled without the parenthesis, lasting until the next rhythm change of the same
  file or the end of the record;
* in ``.seizures`` files (CHB-MIT style), ``[`` / ``]`` pairs become kind ``"seizure"``
  episodes;
* everything else becomes kind ``"text"``: the aux text for comments (``"``), otherwise the
  symbol followed by any aux text.

An annotation gets a channel name only when the file uses the ``chan`` field (some annotation
has a non-zero ``chan``); when every ``chan`` is 0 the file does not target channels and the
channel is ``None``.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from signal_io._recording import Annotation
from signal_io.errors import CorruptRecordingError, UnreadablePathError

#: Annotation file extensions read next to a header, in this order.
ANNOTATION_EXTENSIONS = ("atr", "qrs", "ecg", "seizures", "ann", "apn", "arousal")
#: WFDB beat (QRS) symbols.
BEAT_SYMBOLS = frozenset("NLRBAaJSVrFejnE/fQ?")
#: An annotation file larger than this is refused (the MIT-BIH files are ~5 kB per 1000 beats).
MAX_ANNOTATION_BYTES = 512 * 1024 * 1024


def _declared_resolution(path: Path) -> bool:
    """Whether the file starts with a ``## time resolution`` definition."""
    try:
        with path.open("rb") as fh:
            head = fh.read(4096)
    except OSError as exc:
        raise UnreadablePathError(f"cannot read annotation file: {exc.strerror}", path) from None
    return b"## time resolution" in head


def _clean_aux(text: str) -> str:
    return text.replace("\x00", "").strip()


def read_annotation_file(
    path: Path,
    fs: float,
    channel_names: Sequence[str],
    record_duration_s: float | None,
) -> list[Annotation]:
    """Read one WFDB annotation file.

    Parameters
    ----------
    path
        Annotation file ``RECORD.EXT``.
    fs
        Frame rate of the record in Hz, used unless the file declares its own time resolution.
    channel_names
        Signal names of the record, indexed by the annotation ``chan`` field.
    record_duration_s
        Length of the record in seconds; open episodes end there (at the last annotation when
        ``None``).

    Returns
    -------
    list of Annotation
        In file order (sorted by onset for well-formed files).

    Raises
    ------
    CorruptRecordingError
        The file cannot be decoded.
    UnreadablePathError
        The file cannot be read.
    """
    import wfdb

    try:
        size = path.stat().st_size
    except OSError as exc:
        raise UnreadablePathError(f"cannot read annotation file: {exc.strerror}", path) from None
    if size > MAX_ANNOTATION_BYTES:
        raise CorruptRecordingError(
            f"annotation file is {size} bytes, above the {MAX_ANNOTATION_BYTES}-byte limit", path
        )
    if size == 0:
        raise CorruptRecordingError("annotation file is empty (0 bytes)", path)
    record, _, ext = path.name.rpartition(".")
    own_resolution = _declared_resolution(path)
    try:
        ann = wfdb.rdann(str(path.with_name(record)), ext)
        samples = np.asarray(ann.sample, dtype=np.int64)
        symbols = [str(s) for s in ann.symbol]
        chans = np.asarray(ann.chan, dtype=np.int64)
        aux = [_clean_aux(str(a)) for a in ann.aux_note]
        file_fs = float(ann.fs) if own_resolution and ann.fs else None
    except Exception as exc:  # wfdb raises bare Exception, ValueError, IndexError...
        raise CorruptRecordingError(
            f"annotation file cannot be decoded: {type(exc).__name__}: {exc}", path
        ) from None
    if not (len(samples) == len(symbols) == len(chans) == len(aux)):
        raise CorruptRecordingError("annotation file fields have different lengths", path)
    rate = file_fs if file_fs is not None and np.isfinite(file_fs) and file_fs > 0 else fs
    onsets = samples / rate
    end_s = record_duration_s
    if end_s is None:
        end_s = float(onsets.max()) if len(onsets) else 0.0
    use_chan = bool(len(chans) and np.any(chans != 0))

    def channel_of(i: int) -> str | None:
        if not use_chan:
            return None
        c = int(chans[i])
        return channel_names[c] if 0 <= c < len(channel_names) else None

    if ext == "seizures":
        return _seizures(onsets, symbols, aux, end_s, ext, channel_of)
    out: list[Annotation] = []
    rhythm_idx = [i for i, s in enumerate(symbols) if s == "+" and aux[i].startswith("(")]
    next_change = dict(itertools.pairwise(rhythm_idx))
    for i, sym in enumerate(symbols):
        onset = float(onsets[i])
        if sym in BEAT_SYMBOLS:
            out.append(Annotation(onset, 0.0, sym, "beat", channel_of(i), ext))
        elif sym == "+" and aux[i].startswith("("):
            stop = float(onsets[next_change[i]]) if i in next_change else max(end_s, onset)
            out.append(Annotation(onset, max(stop - onset, 0.0), aux[i][1:].strip(), "rhythm",
                                  channel_of(i), ext))
        else:
            label = aux[i] if sym == '"' and aux[i] else " ".join(x for x in (sym, aux[i]) if x)
            out.append(Annotation(onset, 0.0, label, "text", channel_of(i), ext))
    return out


def _seizures(
    onsets: NDArray[np.float64],
    symbols: list[str],
    aux: list[str],
    end_s: float,
    ext: str,
    channel_of: Callable[[int], str | None],
) -> list[Annotation]:
    """Pair ``[`` / ``]`` marks into seizure episodes; other marks become text."""
    out: list[Annotation] = []
    open_at: tuple[float, int] | None = None
    for i, sym in enumerate(symbols):
        onset = float(onsets[i])
        if sym == "[":
            if open_at is not None:  # two onsets in a row: close the first one here
                out.append(_seizure(open_at, onset, ext, channel_of))
            open_at = (onset, i)
        elif sym == "]":
            if open_at is None:
                out.append(Annotation(onset, 0.0, "seizure end without onset", "text",
                                      channel_of(i), ext))
            else:
                out.append(_seizure(open_at, onset, ext, channel_of))
                open_at = None
        else:
            label = " ".join(x for x in (sym, aux[i]) if x)
            out.append(Annotation(onset, 0.0, label, "text", channel_of(i), ext))
    if open_at is not None:
        out.append(_seizure(open_at, max(end_s, open_at[0]), ext, channel_of))
    return out


def _seizure(
    open_at: tuple[float, int], stop_s: float, ext: str, channel_of: Callable[[int], str | None]
) -> Annotation:
    onset, i = open_at
    return Annotation(onset, max(stop_s - onset, 0.0), "seizure", "seizure", channel_of(i), ext)
