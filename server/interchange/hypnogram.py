"""Hypnograms as text: one sleep stage per scoring epoch, one epoch per line.

Export writes the study's stage labels (``W N1 N2 N3 R ?``) one per line from the epoch
starting at 0 s; epochs no stage event covers are written ``?``. Import reads such files and
the common numeric codings, selected by ``codes`` (digits are ambiguous between tools, so a
file of digits needs an explicit coding unless it carries the DREAMS ``[Hypnogram]`` header):

========  ======================================================================
codes     mapping
========  ======================================================================
letters   ``W``/``WAKE``, ``N1``/``S1``, ``N2``/``S2``, ``N3``/``S3``/``S4``/``N4``,
          ``R``/``REM``, ``?``/``U``/``UNS``/``UNSCORED``/``MT``/``M``; other words are
          kept as they are (custom schemas)
dreams    DREAMS R&K 5-s files: 5 W, 4 R, 3 N1, 2 N2, 1 N3, 0 N3 (S4)
rk        R&K digits (Sleep-EDF order): 0 W, 1 N1, 2 N2, 3 N3, 4 N3, 5 R, 6 ? (movement),
          9 ? (unscored)
aasm      AASM integers (YASA order): 0 W, 1 N1, 2 N2, 3 N3, 4 R, -1 ? (artefact),
          -2 ? (unscored)
========  ======================================================================

The original token is kept in ``import_ref["original_label"]`` whenever it was mapped.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from server.interchange._common import (
    EventLike,
    ExportContext,
    ImportResult,
    atomic_output,
    check_draft,
    check_export_events,
    decode_text,
    finish_import,
    make_ref,
    read_file_bytes,
)
from store._event_types import EventDraft
from store.errors import ExportFormatError, ImportFormatError

Codes = Literal["auto", "letters", "dreams", "rk", "aasm"]

LETTERS = {
    "W": "W", "WAKE": "W", "N1": "N1", "S1": "N1", "N2": "N2", "S2": "N2", "N3": "N3",
    "S3": "N3", "S4": "N3", "N4": "N3", "R": "R", "REM": "R", "?": "?", "U": "?", "UNS": "?",
    "UNSCORED": "?", "MT": "?", "M": "?",
}
DIGITS: dict[str, dict[str, str]] = {
    "dreams": {"5": "W", "4": "R", "3": "N1", "2": "N2", "1": "N3", "0": "N3"},
    "rk": {"0": "W", "1": "N1", "2": "N2", "3": "N3", "4": "N3", "5": "R", "6": "?",
           "9": "?"},
    "aasm": {"0": "W", "1": "N1", "2": "N2", "3": "N3", "4": "R", "-1": "?", "-2": "?"},
}
_WORD_RE = re.compile(r"^[A-Za-z?][A-Za-z0-9_?+\-]{0,31}$")
_NUMBER_RE = re.compile(r"^-?\d+$")
#: Tolerance, in epochs, for an event boundary to count as lying on the epoch grid.
GRID_TOLERANCE = 1e-6


def _stage_lines(path: Path, text: str) -> tuple[bool, list[tuple[int, str]]]:
    """Return whether a DREAMS header was present and the ``(line, token)`` pairs."""
    lines = text.splitlines()
    dreams = False
    out: list[tuple[int, str]] = []
    for n, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]") and not out:
            dreams = dreams or line.lower() == "[hypnogram]"
            continue
        tokens = line.split()
        if len(tokens) != 1:
            raise ImportFormatError(f"{path}, line {n}: {line[:40]!r} holds {len(tokens)} "
                                    "values; a hypnogram has one stage per line")
        out.append((n, tokens[0]))
    if not out:
        raise ImportFormatError(f"{path}: no stage lines found; a hypnogram has one stage "
                                "per line")
    return dreams, out


def import_hypnogram(path: str | Path, *, epoch_s: float = 30.0, codes: Codes = "auto",
                     onset_s: float = 0.0) -> ImportResult:
    """Read a one-stage-per-line hypnogram as sleep-stage events, one per epoch.

    Parameters
    ----------
    path
        UTF-8 text; blank lines and ``#`` comments are skipped, as is a ``[...]`` header line.
    epoch_s
        Epoch length in seconds (30 for AASM; 5 for the DREAMS excerpts; 4 or 10 for animals).
    codes
        Stage coding (module docstring). ``auto``: ``dreams`` after a ``[Hypnogram]`` header,
        ``letters`` when no token is a number, otherwise an error asking for the coding.
    onset_s
        Onset of the first epoch in seconds from the recording start.

    Returns
    -------
    ImportResult
        One ``sleep_stage`` event per line, ``epoch_s`` long.

    Raises
    ------
    ImportFormatError
        Empty or binary file, more than one value on a line, an unknown code, digits without
        a coding, a word where digits were expected; the message names the line.
    """
    if not (math.isfinite(epoch_s) and epoch_s > 0):
        raise ImportFormatError(f"{path}: epoch length {epoch_s} s must be a positive number")
    if not (math.isfinite(onset_s) and onset_s >= 0):
        raise ImportFormatError(f"{path}: first-epoch onset {onset_s} s must be >= 0")
    p, data, sha = read_file_bytes(path, "hypnogram")
    dreams, tokens = _stage_lines(p, decode_text(p, data, "hypnogram"))
    numeric = [t for _, t in tokens if _NUMBER_RE.match(t)]
    mode: str = codes
    if codes == "auto":
        if dreams:
            mode = "dreams"
        elif not numeric:
            mode = "letters"
        else:
            raise ImportFormatError(
                f"{p}: the hypnogram holds numeric stage codes, whose meaning differs between "
                "tools; pass codes='dreams' (5 W ... 0 S4), 'rk' (0 W ... 5 R) or 'aasm' "
                "(0 W, 1-3 N1-N3, 4 R)")
    drafts: list[EventDraft] = []
    kept: set[str] = set()
    for i, (line, token) in enumerate(tokens):
        where = f"line {line}"
        if mode == "letters":
            if not _WORD_RE.match(token):
                raise ImportFormatError(f"{p}, {where}: {token!r} is not a stage label "
                                        "(letters mode expects W, N1, N2, N3, R, ? ...)")
            label = LETTERS.get(token.upper(), token)
            if token.upper() not in LETTERS:
                kept.add(token)
        else:
            table = DIGITS[mode]
            if token not in table:
                raise ImportFormatError(
                    f"{p}, {where}: {token!r} is not a {mode} stage code (allowed: "
                    f"{', '.join(sorted(table))})")
            label = table[token]
        onset = onset_s + i * epoch_s
        ref = make_ref(sha, "hypnogram", line=line,
                       original_label=token if token != label else None)
        drafts.append(check_draft(EventDraft(float(onset), float(epoch_s), label, "sleep_stage",
                                             import_ref=ref), p, where))
    warnings = []
    if kept:
        warnings.append("hypnogram labels outside W/N1/N2/N3/R/? were kept as they are: "
                        + ", ".join(sorted(kept)))
    return finish_import(drafts, sha, "hypnogram", warnings)


def _epochs(value_s: float, epoch_s: float) -> int | None:
    k = value_s / epoch_s
    return round(k) if abs(k - round(k)) <= GRID_TOLERANCE else None


def export_hypnogram(events: Sequence[EventLike], path: str | Path,
                     context: ExportContext | None = None) -> None:
    """Write the ``sleep_stage`` events as one label per epoch line.

    Parameters
    ----------
    events
        Any events; only category ``sleep_stage`` is written. Each must start on the epoch
        grid (multiples of ``context.epoch_s`` from 0) and last a whole number of epochs; an
        event of ``k`` epochs gives ``k`` lines.
    path
        Output text file (replaced atomically).
    context
        ``epoch_s`` is the epoch length.

    Raises
    ------
    ExportFormatError
        No stage events, an event off the epoch grid or of zero length, two stages for one
        epoch, or a label that would not read back as a word (whitespace, leading digit...).
    """
    ctx = context or ExportContext()
    out = Path(path)
    epoch_s = ctx.epoch_s
    drafts = [d for d in check_export_events(events, out, "hypnogram")
              if d.category == "sleep_stage"]
    if not drafts:
        raise ExportFormatError(f"cannot write {out} as a hypnogram: there are no "
                                "sleep_stage events")
    stages: dict[int, str] = {}
    for d in drafts:
        first = _epochs(d.onset_s, epoch_s)
        n = _epochs(d.duration_s, epoch_s)
        if first is None or n is None or n == 0:
            raise ExportFormatError(
                f"cannot write {out} as a hypnogram: stage {d.label!r} at {d.onset_s} s "
                f"lasting {d.duration_s} s is not a whole number of {epoch_s}-s epochs on "
                "the grid starting at 0 s")
        if not _WORD_RE.match(d.label):
            raise ExportFormatError(
                f"cannot write {out} as a hypnogram: label {d.label!r} is not a word of up to "
                "32 letters, digits, '_', '-', '+' or '?' starting with a letter or '?'")
        for k in range(first, first + n):
            if k in stages and stages[k] != d.label:
                raise ExportFormatError(
                    f"cannot write {out} as a hypnogram: epoch {k} ({k * epoch_s} s) has "
                    f"two stages, {stages[k]!r} and {d.label!r}")
            stages[k] = d.label
    last = max(stages)
    body = "".join(stages.get(k, "?") + "\n" for k in range(last + 1))
    with atomic_output(out) as tmp:
        tmp.write_text(body, encoding="utf-8", newline="\n")
