"""Loaders for the public EEG evaluation sets: DREAMS spindles, Bonn EEG, DOD scorer hypnograms.

Every loader reads the files as published (see ``shared/data/README.md``) and raises
:class:`DatasetError` naming the file when a file is missing or malformed.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

__all__ = [
    "BONN_FS",
    "BONN_SETS",
    "DatasetError",
    "DreamsExcerpt",
    "dod_nights",
    "list_dreams_excerpts",
    "load_bonn_set",
    "load_dreams_excerpt",
    "rk_to_aasm_30s",
]

BONN_FS = 173.61
BONN_SETS = ("Z", "O", "N", "F", "S")
DREAMS_DURATION_S = 1800.0
# R&K codes of the DREAMS hypnograms (5-s epochs) -> AASM stage names; S3 + S4 -> N3.
_RK = {5: "W", 4: "R", 3: "N1", 2: "N2", 1: "N3", 0: "N3"}
_DOD = {0: "W", 1: "N1", 2: "N2", 3: "N3", 4: "R"}


class DatasetError(ValueError):
    """An evaluation file is missing or not in the expected format."""


@dataclass(frozen=True)
class DreamsExcerpt:
    """One DREAMS spindle excerpt.

    Attributes
    ----------
    name
        ``excerptN``.
    channel
        Channel label from line 1 (``C3-A1``, ``CZ-A1``...).
    data
        Shape ``(n,)`` float32 EEG in µV.
    fs
        Sampling rate in Hz (samples / 1800 s).
    stages
        30-s AASM stages (``"?"`` where the six 5-s stages have no scored majority).
    expert1, expert2
        ``(onset_s, duration_s)`` spindles; expert 1 scored only the first 1000 s.
    """

    name: str
    channel: str
    data: NDArray[np.float32]
    fs: float
    stages: NDArray[np.str_]
    expert1: list[tuple[float, float]]
    expert2: list[tuple[float, float]]


def _read_values(path: Path) -> tuple[str, NDArray[np.float64]]:
    if not path.exists():
        raise DatasetError(f"{path}: file not found")
    with path.open() as fh:
        header = fh.readline().strip()
        try:
            values = np.loadtxt(fh, dtype=np.float64, ndmin=1)
        except ValueError as exc:
            raise DatasetError(f"{path}: not a list of numbers after the header: {exc}") from exc
    return header.strip("[]"), values


def _read_events(path: Path) -> list[tuple[float, float]]:
    if not path.exists():
        return []
    _, values = _read_values(path)
    if values.size == 0:
        return []
    return [(float(a), float(b)) for a, b in values.reshape(-1, 2)]


def rk_to_aasm_30s(codes: NDArray[np.float64], per_epoch: int = 6) -> NDArray[np.str_]:
    """Turn R&K 5-s codes into 30-s AASM stages by majority of each group of ``per_epoch``.

    Ties go to the stage that appears first in the 30-s epoch; codes outside 0–5 (movement,
    unscored) are ignored, and an epoch with none scored is ``"?"``.
    """
    n = codes.size // per_epoch
    out = []
    for e in range(n):
        labels = [_RK[int(c)] for c in codes[e * per_epoch : (e + 1) * per_epoch]
                  if int(c) in _RK]
        if not labels:
            out.append("?")
            continue
        counts = Counter(labels)
        best = max(counts.values())
        out.append(next(lab for lab in labels if counts[lab] == best))
    return np.asarray(out)


def list_dreams_excerpts(db: Path) -> list[str]:
    """Names ``excerptN`` with a signal text file in ``db``, sorted by N."""
    names = [p.stem for p in db.glob("excerpt*.txt")]
    return sorted(names, key=lambda s: int(re.sub(r"\D", "", s) or 0))


def load_dreams_excerpt(db: Path, name: str) -> DreamsExcerpt:
    """Read ``name.txt``, its hypnogram and both experts' spindle scorings."""
    channel, values = _read_values(db / f"{name}.txt")
    fs = round(values.size / DREAMS_DURATION_S)
    if fs <= 0:
        raise DatasetError(f"{db / name}.txt: {values.size} samples is not a 30-min excerpt")
    _, hyp = _read_values(db / f"Hypnogram_{name}.txt")
    return DreamsExcerpt(
        name=name, channel=channel, data=values.astype(np.float32), fs=float(fs),
        stages=rk_to_aasm_30s(hyp),
        expert1=_read_events(db / f"Visual_scoring1_{name}.txt"),
        expert2=_read_events(db / f"Visual_scoring2_{name}.txt"),
    )


def load_bonn_set(db: Path, set_name: str) -> list[tuple[str, NDArray[np.float32]]]:
    """Segments of one Bonn set as ``(file stem, samples)``, sorted by name."""
    folder = db / set_name
    if not folder.is_dir():
        raise DatasetError(f"{folder}: Bonn set folder not found")
    out = []
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() != ".txt":
            continue
        try:
            x = np.loadtxt(path, dtype=np.float32, ndmin=1)
        except ValueError as exc:
            raise DatasetError(f"{path}: not one number per line: {exc}") from exc
        out.append((path.stem, x))
    if not out:
        raise DatasetError(f"{folder}: no .txt segments")
    return out


def dod_nights(db: Path) -> list[list[NDArray[np.str_]]]:
    """Per night, each scorer's 30-s stages (``"?"`` for not scored) from the DOD JSON files.

    ``db`` is the ``dod-scorers`` folder (with ``scorers/<dataset>/<scorer>/<night>.json``).
    """
    root = db / "scorers"
    if not root.is_dir():
        raise DatasetError(f"{root}: DOD scorers folder not found")
    nights: dict[tuple[str, str], list[NDArray[np.str_]]] = {}
    for path in sorted(root.glob("*/*/*.json")):
        dataset = path.parent.parent.name
        try:
            codes = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise DatasetError(f"{path}: not JSON: {exc}") from exc
        stages = np.asarray([_DOD.get(int(c), "?") for c in codes])
        nights.setdefault((dataset, path.stem), []).append(stages)
    return list(nights.values())
