"""Events as WFDB (MIT format) annotation files, and import of such files.

Times are sample numbers of the reference channel: ``sample = round(onset_s * fs)``; import
divides by the file's own time resolution (``## time resolution``, which export always
writes), else the ``fs`` given, else the rate in the record's header next to the file.

Export writes each event in the most standard form that holds it exactly (``docs/import-export.md``
has the full table):

* beats of duration 0 -> their symbol (``N``, ``V``...). A label outside the standard table
  gets a custom label definition (``custom_labels``, description ``wavescore beat label``);
  WFDB has nine such free codes next to the one wavescore reserves.
* rhythm episodes -> ``+`` with aux ``(LABEL`` at the onset. An episode ends at the next
  rhythm change of its ``chan``; when that is not where it really ends (gap, last episode), a
  closing ``+`` with aux ``LABEL)`` is written at its end (the European ST-T database's
  episode-end convention). Overlapping episodes of one ``chan`` cannot be told apart this way:
  the later ones use the generic form.
* ``other`` marks of duration 0 -> the WFDB symbol when the label is one (``~``, ``|``...),
  else a comment ``"`` with the label as aux (not at sample 0, where WFDB keeps only
  definitions).
* everything else (sleep stages, seizures, spindles..., multi-channel events, labels WFDB cannot
  hold) -> the custom symbol ``&`` with aux JSON ``{"c": category, "l": label, "ch":
  [channels], "stop": end sample}``.

``chan``: when no event names a channel every ``chan`` is 0; otherwise a one-channel event
gets its index and an all-channel event 255 (announced in the ``&`` definition). Confidence
and import provenance are not written: WFDB has no field for them.
"""

from __future__ import annotations

import json
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from server.interchange._common import (
    EventLike,
    ExportContext,
    ImportResult,
    check_draft,
    check_export_events,
    finish_import,
    make_ref,
    read_file_bytes,
)
from store._event_types import EventDraft
from store.errors import ExportFormatError, ImportFormatError

#: WFDB beat (QRS) symbols.
BEAT_SYMBOLS = frozenset("NLRBAaJSVrFejnE/fQ?")
#: Every symbol of wfdb's standard label table.
STANDARD_SYMBOLS = frozenset('NLRaVFJASEj/Q~|sT*D"=pB^t+u?![]en@xf()r')
#: Standard non-beat symbols written as themselves for ``other`` marks.
MARK_SYMBOLS = STANDARD_SYMBOLS - BEAT_SYMBOLS - {'"', "+"}
#: Label-store codes the standard table leaves free for custom labels.
FREE_CODES = (15, 17, 42, 43, 44, 45, 46, 47, 48, 49)
#: Custom one-character symbol of the generic form (WFDB symbols are one character).
GENERIC_SYMBOL = "&"
_GENERIC_DESC = "wavescore event; aux holds JSON c l ch stop; "
_CHAN_ALL_DESC = "chan 255 = all channels"
_CHAN_UNUSED_DESC = "chan unused"
BEAT_DESC = "wavescore beat label"
CHAN_ALL = 255
MAX_AUX = 255
_CUSTOM_SYMBOL_RE = re.compile(r"^[!-~]$")


def _printable(text: str) -> bool:
    return all(" " <= c <= "~" for c in text)


@dataclass(slots=True)
class _Ann:
    sample: int
    rank: int
    seq: int
    symbol: str
    chan: int
    aux: str


def _split_name(path: Path) -> tuple[str, str]:
    record, dot, ext = path.name.rpartition(".")
    if not dot or not record or not ext.isalpha():
        raise ExportFormatError(f"cannot write {path} as WFDB: the name must be RECORD.EXT "
                                "with a letters-only extension (e.g. 100.atr)")
    return record, ext


def export_wfdb(events: Sequence[EventLike], path: str | Path,
                context: ExportContext) -> None:
    """Write events to a WFDB annotation file readable by ``wfdb.rdann``.

    Parameters
    ----------
    events
        Stored events or drafts.
    path
        ``RECORD.EXT`` (e.g. ``100.atr``); replaced atomically.
    context
        ``fs`` (Hz, the reference channel's rate) is required.

    Raises
    ------
    ExportFormatError
        No ``fs``, a bad file name, an invalid event, or a generic annotation longer than the
        255 characters of a WFDB aux field.
    """
    out = Path(path)
    record, ext = _split_name(out)
    fs = context.fs
    if fs is None or not fs > 0:
        raise ExportFormatError(f"cannot write {out} as WFDB: the reference sampling rate "
                                "(fs) is needed to turn onsets into sample numbers")
    drafts = check_export_events(events, out, "WFDB")
    spans = [(round(d.onset_s * fs), round((d.onset_s + d.duration_s) * fs)) for d in drafts]
    order = sorted(range(len(drafts)), key=lambda i: (spans[i][0], spans[i][1], i))
    uses_chan = any(d.channels for d in drafts)

    def chan_of(d: EventDraft) -> int | None:
        if not uses_chan:
            return 0
        if not d.channels:
            return CHAN_ALL
        if len(d.channels) == 1 and d.channels[0] < CHAN_ALL:
            return d.channels[0]
        return None

    custom: dict[str, int] = {}
    free = iter(FREE_CODES[1:])
    anns: list[_Ann] = []
    natives: dict[int, list[tuple[int, int, str, int]]] = {}  # chan -> (start, stop, label, seq)
    last_stop: dict[int, int] = {}
    for seq, i in enumerate(order):
        d, (start, stop) = drafts[i], spans[i]
        chan = chan_of(d)
        if chan is not None and d.category == "beat" and start == stop:
            if d.label in BEAT_SYMBOLS:
                anns.append(_Ann(start, 0, seq, d.label, chan, ""))
                continue
            if (_CUSTOM_SYMBOL_RE.match(d.label) and d.label not in STANDARD_SYMBOLS
                    and d.label != GENERIC_SYMBOL):
                code = custom.get(d.label) or next(free, None)
                if code is not None:
                    custom[d.label] = code
                    anns.append(_Ann(start, 0, seq, d.label, chan, ""))
                    continue
        elif (chan is not None and d.category == "rhythm" and _printable(d.label)
              and not d.label.startswith("(") and len(d.label) < MAX_AUX
              and start >= last_stop.get(chan, 0)):
            last_stop[chan] = stop
            natives.setdefault(chan, []).append((start, stop, d.label, seq))
            anns.append(_Ann(start, 0, seq, "+", chan, "(" + d.label))
            continue
        elif chan is not None and d.category == "other" and start == stop:
            if d.label in MARK_SYMBOLS and not (ext == "seizures" and d.label in "[]"):
                anns.append(_Ann(start, 0, seq, d.label, chan, ""))
                continue
            if start > 0 and _printable(d.label) and len(d.label) <= MAX_AUX:
                anns.append(_Ann(start, 0, seq, '"', chan, d.label))
                continue
        aux = json.dumps({"c": d.category, "l": d.label, "ch": list(d.channels), "stop": stop},
                         separators=(",", ":"))
        if len(aux) > MAX_AUX:
            raise ExportFormatError(f"cannot write {out} as WFDB: event {d.category} "
                                    f"{d.label[:40]!r} at {d.onset_s} s needs {len(aux)} "
                                    f"characters of aux text; WFDB allows {MAX_AUX}")
        anns.append(_Ann(start, 0, seq, GENERIC_SYMBOL, chan if chan is not None else 0, aux))
    for chan, eps in natives.items():
        for k, (_, stop, label, seq) in enumerate(eps):
            implicit = eps[k + 1][0] if k + 1 < len(eps) else None
            if implicit != stop:
                anns.append(_Ann(stop, 1, seq, "+", chan, label + ")"))
    anns.sort(key=lambda a: (a.sample, a.rank, a.seq))
    desc = _GENERIC_DESC + (_CHAN_ALL_DESC if uses_chan else _CHAN_UNUSED_DESC)
    labels = [(FREE_CODES[0], GENERIC_SYMBOL, desc)]
    labels += [(code, sym, BEAT_DESC) for sym, code in custom.items()]
    _write(out, record, ext, anns, fs, labels)


def _write(out: Path, record: str, ext: str, anns: list[_Ann], fs: float,
           labels: list[tuple[int, str, str]]) -> None:
    import wfdb

    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".wfdb-") as tmp:
        if anns:
            wfdb.wrann(record, ext, sample=np.array([a.sample for a in anns], dtype=np.int64),
                       symbol=[a.symbol for a in anns],
                       chan=np.array([a.chan for a in anns], dtype=np.int64),
                       aux_note=[a.aux for a in anns], fs=fs, custom_labels=labels,
                       write_dir=tmp)
        else:
            # wrann refuses an empty file; an MIT annotation file with no annotation is just
            # its end-of-file word.
            Path(tmp, f"{record}.{ext}").write_bytes(b"\x00\x00")
        os.replace(Path(tmp, f"{record}.{ext}"), out)


# ---------------------------------------------------------------------------------- import


def _header_info(path: Path, record: str) -> tuple[float | None, float | None]:
    """Rate and length (s) from ``RECORD.hea`` next to the annotation file, if readable."""
    import wfdb

    hea = path.with_name(record + ".hea")
    if not hea.is_file():
        return None, None
    try:
        h = wfdb.rdheader(str(hea.with_suffix("")))
        fs = float(h.fs) if h.fs else None
        length = float(h.sig_len) / fs if fs and h.sig_len else None
    except Exception:  # wfdb raises bare Exception; a bad header only loses the fallback
        return None, None
    return fs, length


def import_wfdb(path: str | Path, *, fs: float | None = None, duration_s: float | None = None,
                channel_names: Sequence[str] = ()) -> ImportResult:
    """Read a WFDB annotation file (ours or third-party, e.g. MIT-BIH ``.atr``) as events.

    Parameters
    ----------
    path
        ``RECORD.EXT``.
    fs
        Rate in Hz of the sample numbers, used when the file does not declare its own time
        resolution; else the header ``RECORD.hea`` next to the file is read.
    duration_s
        Record length; rhythm episodes still open at the end of the file end there (else at
        the header's length, else at the last annotation, with a warning).
    channel_names
        Unused by the format; accepted for a uniform importer signature.

    Returns
    -------
    ImportResult
        Beats (category ``beat``, label = symbol), rhythm episodes (``rhythm``, label = aux
        without the parenthesis), ``.seizures`` ``[``/``]`` pairs (``seizure``), the generic
        ``&`` form decoded, everything else ``other`` (label = comment text, or symbol and aux).

    Raises
    ------
    ImportFormatError
        Empty, truncated or garbled file, no known rate, a malformed ``&`` annotation.
    """
    del channel_names
    p, data, sha = read_file_bytes(path, "WFDB annotation")
    record, dot, ext = p.name.rpartition(".")
    if not dot or not record or not ext:
        raise ImportFormatError(f"{p}: a WFDB annotation file is named RECORD.EXT")
    try:
        import wfdb

        ann = wfdb.rdann(str(p.with_name(record)), ext)
        samples = np.asarray(ann.sample, dtype=np.int64)
        symbols = [str(s) for s in ann.symbol]
        chans = [int(c) for c in np.asarray(ann.chan, dtype=np.int64)]
        auxes = [str(a or "").replace("\x00", "").strip() for a in ann.aux_note]
        custom = ann.custom_labels
    except Exception as exc:  # wfdb raises bare Exception, ValueError, IndexError...
        raise ImportFormatError(f"{p}: not a readable WFDB annotation file: "
                                f"{type(exc).__name__}: {exc}") from None
    if not len(samples) == len(symbols) == len(chans) == len(auxes):
        raise ImportFormatError(f"{p}: annotation fields have different lengths")
    if len(samples) and (samples.min() < 0 or np.any(np.diff(samples) < 0)):
        raise ImportFormatError(f"{p}: sample numbers are negative or out of order; the file "
                                "is garbled")
    if not len(samples):
        return finish_import([], sha, "wfdb")
    descs: dict[str, str] = {}
    if custom is not None:
        rows = (zip(custom["symbol"], custom["description"], strict=True)
                if hasattr(custom, "columns") else ((t[-2], t[-1]) for t in custom))
        descs = {str(sym): str(desc) for sym, desc in rows}
    generic_desc = descs.get(GENERIC_SYMBOL, "")
    ours = generic_desc.startswith(_GENERIC_DESC)
    hdr_fs, hdr_len = _header_info(p, record)
    rate = float(ann.fs) if b"## time resolution" in data[:4096] and ann.fs else None
    rate = rate or fs or hdr_fs
    if not rate or not rate > 0:
        raise ImportFormatError(f"{p}: the file does not declare its time resolution and no "
                                "RECORD.hea is next to it; pass the sampling rate (fs)")
    warnings: list[str] = []
    end_sample = int(samples.max()) if len(samples) else 0
    if duration_s is not None or hdr_len is not None:
        end_sample = max(end_sample, round((duration_s or hdr_len or 0.0) * rate))
    elif any(s == "+" and a.startswith("(") for s, a in zip(symbols, auxes, strict=True)):
        warnings.append("record length unknown: the last rhythm episode ends at the last "
                        "annotation")
    literal_chan = ours and generic_desc.endswith(_CHAN_ALL_DESC)
    uses_chan = literal_chan or (not ours and any(chans))

    def channels_of(i: int) -> tuple[int, ...]:
        if not uses_chan or (literal_chan and chans[i] == CHAN_ALL):
            return ()
        return (chans[i],)

    ends = _rhythm_ends(symbols, auxes, chans, samples, end_sample)
    drafts: list[EventDraft] = []
    open_seizure: tuple[int, int] | None = None
    for i, sym in enumerate(symbols):
        s, aux, where = int(samples[i]), auxes[i], f"annotation {i} (sample {samples[i]})"
        ref: dict[str, Any] = {"sample": s, "symbol": sym, "chan": chans[i]}
        if aux:
            ref["aux"] = aux
        if i in ends.closes:
            continue
        if sym == GENERIC_SYMBOL and ours:
            c, label, channels, stop = _decode_generic(aux, p, where)
            item = (s, stop, label, c, channels)
        elif sym in BEAT_SYMBOLS or descs.get(sym) == BEAT_DESC:
            item = (s, s, sym, "beat", channels_of(i))
        elif i in ends.stops:
            item = (s, ends.stops[i], aux[1:].strip(), "rhythm", channels_of(i))
        elif ext == "seizures" and not ours and sym in "[]":
            if sym == "[":
                if open_seizure is not None:
                    drafts.append(_seizure(open_seizure, s, rate, sha, p, channels_of))
                open_seizure = (s, i)
                continue
            if open_seizure is not None:
                drafts.append(_seizure(open_seizure, s, rate, sha, p, channels_of))
                open_seizure = None
                continue
            item = (s, s, "]", "other", channels_of(i))
        elif sym == '"':
            item = (s, s, aux or '"', "other", channels_of(i))
        else:
            item = (s, s, " ".join(x for x in (sym, aux) if x), "other", channels_of(i))
        start, stop, label, category, channels = item
        drafts.append(check_draft(EventDraft(start / rate, (stop - start) / rate, label,
                                             category, channels,
                                             import_ref=make_ref(sha, "wfdb", **ref)),
                                  p, where))
    if open_seizure is not None:
        drafts.append(_seizure(open_seizure, max(end_sample, open_seizure[0]), rate, sha, p,
                               channels_of))
    return finish_import(drafts, sha, "wfdb", warnings)


@dataclass(slots=True)
class _Ends:
    stops: dict[int, int]  # opening index -> end sample
    closes: set[int]  # indices of closing annotations consumed


def _rhythm_ends(symbols: list[str], auxes: list[str], chans: list[int],
                 samples: np.ndarray[Any, np.dtype[np.int64]], end_sample: int) -> _Ends:
    """Pair rhythm openings ``(X`` with closes ``X)`` or the next opening of their chan."""
    opens: dict[int, list[int]] = {}
    closes: dict[int, list[int]] = {}
    for i, (sym, aux) in enumerate(zip(symbols, auxes, strict=True)):
        if sym != "+":
            continue
        if aux.startswith("("):
            opens.setdefault(chans[i], []).append(i)
        elif aux.endswith(")") and len(aux) > 1:
            closes.setdefault(chans[i], []).append(i)
    result = _Ends({}, set())
    for chan, idx in opens.items():
        pending = list(closes.get(chan, ()))
        for k, i in enumerate(idx):
            nxt = idx[k + 1] if k + 1 < len(idx) else None
            label = auxes[i][1:].strip()
            match = next((j for j in pending if j > i and (nxt is None or j < nxt)
                          and auxes[j][:-1].strip() == label), None)
            if match is not None:
                pending.remove(match)
                result.closes.add(match)
                result.stops[i] = int(samples[match])
            elif nxt is not None:
                result.stops[i] = int(samples[nxt])
            else:
                result.stops[i] = max(end_sample, int(samples[i]))
    return result


def _decode_generic(aux: str, path: Path, where: str) -> tuple[str, str, tuple[int, ...], int]:
    try:
        obj = json.loads(aux)
        category, label, stop = obj["c"], obj["l"], obj["stop"]
        channels = tuple(int(c) for c in obj["ch"])
        if not (isinstance(category, str) and isinstance(label, str)
                and isinstance(stop, int)):
            raise TypeError("wrong field types")
    except (ValueError, KeyError, TypeError) as exc:
        raise ImportFormatError(f"{path}, {where}: malformed wavescore annotation "
                                f"{aux[:60]!r}: {exc}") from None
    return category, label, channels, stop


def _seizure(open_at: tuple[int, int], stop: int, rate: float, sha: str, path: Path,
             channels_of: Any) -> EventDraft:
    start, i = open_at
    ref = make_ref(sha, "wfdb", sample=start, symbol="[", stop_sample=stop)
    return check_draft(EventDraft(start / rate, max(stop - start, 0) / rate, "seizure",
                                  "seizure", channels_of(i), import_ref=ref),
                       path, f"annotation {i} (sample {start})")
