"""Write synthetic recordings (WFDB or EDF+) together with their truth files.

Every writer returns the paths it wrote: the recording file(s) first, then the truth files.

Truth files
-----------
``<stem>.truth.json``: ``{"schema": "wavescore.synth-truth/1", "kind": "ecg"|"psg"|"eeg",
"recording": <file name>, "start_time": ISO, "seed", "params", "duration_s", "channels",
...events}`` with onsets in seconds from the start of the recording (see
``docs/synthetic-data.md``). For a PSG, ``<stem>.hypnogram.txt`` holds one stage per line,
one line per 30-s epoch.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import numpy as np

from signal_io._recording import Annotation
from signal_io.synth.ecg import SynthECG
from signal_io.synth.psg import SynthChannel, SynthPSG
from signal_io.synth.seizure_eeg import SynthEEG

#: Start of every synthetic recording: a fixed clock time of night on a fixed date.
START_TIME = datetime(2024, 3, 14, 22, 47, 0)
TRUTH_SCHEMA = "wavescore.synth-truth/1"
#: EDF+ texts of the AASM stages, in the form the EDF reader recognises as stages.
STAGE_TEXT = {s: f"Sleep stage {s}" for s in ("W", "N1", "N2", "N3", "R")}
# WFDB storage: (digital units per mV, lowest valid digital value, highest).
_WFDB_FORMATS = {"16": (1000.0, -32767, 32767), "212": (200.0, -2047, 2047)}


def _atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _truth_path(stem: Path) -> Path:
    return stem.with_name(stem.name + ".truth.json")


def _strip_suffix(path: Path, suffixes: Sequence[str]) -> Path:
    return path.with_suffix("") if path.suffix.lower() in suffixes else path


def _channels_json(channels: Sequence[SynthChannel]) -> list[dict[str, Any]]:
    return [{"name": c.name, "kind": c.kind, "unit": c.unit, "fs": c.fs,
             "n_samples": int(c.data.size)} for c in channels]


def _truth_header(kind: str, recording: Path, seed: int, params: dict[str, object],
                  duration_s: float, start_time: datetime) -> dict[str, Any]:
    return {"schema": TRUTH_SCHEMA, "kind": kind, "recording": recording.name,
            "start_time": start_time.isoformat(), "seed": seed, "params": params,
            "duration_s": duration_s}


def _flatten_rhythms(synth: SynthECG) -> list[tuple[float, str]]:
    """Rhythm changes ``(time_s, label)``: NOISE over PAUSE over the underlying rhythm."""
    base = [r for r in synth.rhythms if r[2] not in ("NOISE", "PAUSE")]
    overlays = {lab: [r for r in synth.rhythms if r[2] == lab] for lab in ("NOISE", "PAUSE")}
    cuts = sorted({t for r in synth.rhythms for t in r[:2]})

    def label_at(t: float) -> str:
        for lab in ("NOISE", "PAUSE"):
            if any(a <= t < b for a, b, _ in overlays[lab]):
                return lab
        for a, b, lab in base:
            if a <= t < b:
                return lab
        return "N"

    changes: list[tuple[float, str]] = []
    for t in cuts:
        if t >= synth.duration_s:
            continue
        lab = label_at(t)
        if not changes or changes[-1][1] != lab:
            changes.append((t, lab))
    return changes


def write_ecg_record(
    path_stem: str | Path,
    synth: SynthECG,
    fmt: Literal["wfdb", "edf"] = "wfdb",
    *,
    wfdb_format: Literal["16", "212"] = "16",
    start_time: datetime = START_TIME,
) -> list[Path]:
    """Write a synthetic ECG as a WFDB record (``.hea``, ``.dat``, ``.atr``) or an EDF+ file.

    Parameters
    ----------
    path_stem
        Record path without extension (``out/synth_ecg``); a ``.hea``/``.edf`` suffix is
        dropped.
    synth
        The ECG to write.
    fmt
        ``"wfdb"``: signal in WFDB format ``wfdb_format``, beats and rhythm changes (``+`` with
        aux ``"(AFIB"``, ``"(N"``, ``"(VT"``, ``"(NOISE"``, ``"(PAUSE"``) in ``.atr``. ``"edf"``:
        EDF+C with beats (symbol texts) and rhythm changes (``"(AFIB"``...) as annotations.
    wfdb_format
        ``"16"`` (1000 units/mV, +-32 mV) or ``"212"`` (200 units/mV, +-10 mV, as MIT-BIH).
    start_time
        Recording start written to the header.

    Returns
    -------
    list of Path
        Files written: recording files, then ``<stem>.truth.json``.

    Raises
    ------
    ValueError
        Unknown format, or a rate the EDF writer cannot store in 1-s records.
    """
    stem = _strip_suffix(Path(path_stem), (".hea", ".edf", ".dat"))
    stem.parent.mkdir(parents=True, exist_ok=True)
    changes = _flatten_rhythms(synth)
    fs = synth.fs
    written: list[Path]
    if fmt == "wfdb":
        written = _write_ecg_wfdb(stem, synth, changes, wfdb_format, start_time)
    elif fmt == "edf":
        from signal_io.edf_writer import EdfSignal, write_edf

        path = stem.with_suffix(".edf")
        anns = [Annotation(float(t), 0.0, str(s), "beat")
                for t, s in zip(synth.beats_s, synth.beat_labels, strict=True)]
        anns += [Annotation(t, 0.0, f"({lab}", "rhythm") for t, lab in changes]
        anns.sort(key=lambda a: a.onset_s)
        n = int(synth.signal.size // fs * fs)
        write_edf(path, [EdfSignal("ECG", synth.signal[:n], fs, unit="mV",
                                   physical_min=-10.0, physical_max=10.0)],
                  start_time, annotations=anns)
        written = [path]
    else:
        raise ValueError(f"unknown ECG format {fmt!r}; expected 'wfdb' or 'edf'")
    truth = _truth_header("ecg", written[0], synth.seed, synth.params, synth.duration_s,
                          start_time)
    truth["fs"] = fs
    truth["channels"] = [{"name": "ECG", "kind": "ECG", "unit": "mV", "fs": fs,
                          "n_samples": int(synth.signal.size)}]
    truth["beats"] = {"time_s": [round(float(t), 6) for t in synth.beats_s],
                      "label": [str(s) for s in synth.beat_labels]}
    truth["rhythms"] = [{"onset_s": a, "offset_s": b, "label": lab}
                        for a, b, lab in synth.rhythms]
    tp = _truth_path(stem)
    _atomic_write_text(tp, json.dumps(truth, indent=1))
    return [*written, tp]


def _write_ecg_wfdb(stem: Path, synth: SynthECG, changes: list[tuple[float, str]],
                    wfdb_format: str, start_time: datetime) -> list[Path]:
    import wfdb

    if wfdb_format not in _WFDB_FORMATS:
        raise ValueError(f"unknown WFDB format {wfdb_format!r}; expected '16' or '212'")
    gain, lo, hi = _WFDB_FORMATS[wfdb_format]
    digital = np.clip(np.round(synth.signal.astype(np.float64) * gain), lo, hi)
    fs = synth.fs
    fs_out: float | int = int(fs) if float(fs).is_integer() else fs
    wfdb.wrsamp(
        stem.name, fs=fs_out, units=["mV"], sig_name=["ECG"],
        d_signal=digital.astype(np.int64)[:, None], fmt=[wfdb_format], adc_gain=[gain],
        baseline=[0], base_time=start_time.time(), base_date=start_time.date(),
        comments=[f"wavescore synthetic ECG, seed {synth.seed}"], write_dir=str(stem.parent),
    )
    beat_samples = np.round(synth.beats_s * fs).astype(np.int64)
    rows = [(int(s), 1, str(sym), "") for s, sym in zip(beat_samples, synth.beat_labels,
                                                         strict=True)]
    rows += [(round(t * fs), 0, "+", f"({lab}") for t, lab in changes]
    rows.sort(key=lambda r: (r[0], r[1]))
    n = synth.signal.size
    rows = [r for r in rows if 0 <= r[0] < n]
    wfdb.wrann(
        stem.name, "atr", np.array([r[0] for r in rows], dtype=np.int64),
        symbol=[r[2] for r in rows], aux_note=[r[3] for r in rows], fs=fs_out,
        write_dir=str(stem.parent),
    )
    return [stem.with_suffix(".hea"), stem.with_suffix(".dat"), stem.with_suffix(".atr")]


def _edf_signals(channels: Sequence[SynthChannel]) -> list[Any]:
    from signal_io.edf_writer import EdfSignal

    n_records = min(int(c.data.size // c.fs) for c in channels)
    out = []
    for c in channels:
        if not float(c.fs).is_integer():
            raise ValueError(f"channel {c.name!r}: fs {c.fs} Hz is not a whole number, which "
                             "1-s EDF data records need")
        n = int(n_records * c.fs)
        pmin = pmax = None
        if c.kind == "SpO2":
            pmin, pmax = 0.0, 100.0
        out.append(EdfSignal(c.name, c.data[:n], c.fs, unit=c.unit, physical_min=pmin,
                             physical_max=pmax))
    return out


def write_psg_edf(
    path: str | Path, synth: SynthPSG, *, start_time: datetime = START_TIME,
    embed_events: bool = False,
) -> list[Path]:
    """Write a synthetic night as EDF+C with its hypnogram; truth and hypnogram files beside it.

    Parameters
    ----------
    path
        Output ``.edf`` file (the suffix is added when missing).
    synth
        The night.
    start_time
        Recording start (default 22:47:00).
    embed_events
        Also store spindles (``"Spindle <channel>"``) and K-complexes as EDF+ annotations.
        Stages (``"Sleep stage N2"``, one per epoch) are always stored.

    Returns
    -------
    list of Path
        ``[edf, truth_json, hypnogram_txt]``.
    """
    from signal_io.edf_writer import write_edf

    p = Path(path)
    if p.suffix.lower() != ".edf":
        p = p.with_name(p.name + ".edf")
    p.parent.mkdir(parents=True, exist_ok=True)
    signals = _edf_signals(synth.channels)
    duration = signals[0].data.size / signals[0].fs
    anns = [Annotation(i * synth.epoch_s, min(synth.epoch_s, duration - i * synth.epoch_s),
                       STAGE_TEXT[str(s)], "stage")
            for i, s in enumerate(synth.hypnogram) if i * synth.epoch_s < duration]
    if embed_events:
        anns += [Annotation(o, d, f"Spindle {ch}", "spindle", ch)
                 for o, d, ch in synth.spindles if o + d <= duration]
        anns += [Annotation(o, 1.3, f"K-complex {ch}", "k-complex", ch)
                 for o, ch in synth.k_complexes if o + 1.3 <= duration]
    anns.sort(key=lambda a: a.onset_s)
    write_edf(p, signals, start_time, annotations=anns)
    stem = p.with_suffix("")
    truth = _truth_header("psg", p, synth.seed, synth.params, synth.duration_s, start_time)
    truth["channels"] = _channels_json(synth.channels)
    truth["epoch_s"] = synth.epoch_s
    truth["hypnogram"] = [str(s) for s in synth.hypnogram]
    truth["spindles"] = [{"onset_s": o, "duration_s": d, "channel": ch}
                         for o, d, ch in synth.spindles]
    truth["k_complexes"] = [{"onset_s": o, "channel": ch} for o, ch in synth.k_complexes]
    truth["vertex_waves"] = [{"onset_s": o} for o in synth.vertex_waves]
    truth["sawtooth_waves"] = [{"onset_s": o, "duration_s": d} for o, d in synth.sawtooth_waves]
    truth["eye_movements"] = [{"onset_s": o, "duration_s": d, "kind": k}
                              for o, d, k in synth.eye_movements]
    truth["respiratory_events"] = [{"onset_s": o, "duration_s": d, "kind": k}
                                   for o, d, k in synth.respiratory_events]
    truth["desaturations"] = [{"onset_s": o, "duration_s": d, "drop_pct": x}
                              for o, d, x in synth.desaturations]
    tp = _truth_path(stem)
    _atomic_write_text(tp, json.dumps(truth, indent=1))
    hp = stem.with_name(stem.name + ".hypnogram.txt")
    _atomic_write_text(hp, "".join(f"{s}\n" for s in synth.hypnogram))
    return [p, tp, hp]


def write_eeg_edf(
    path: str | Path, synth: SynthEEG, *, start_time: datetime = START_TIME,
    embed_seizures: bool = True,
) -> list[Path]:
    """Write a synthetic seizure EEG as EDF+C; truth file beside it.

    Parameters
    ----------
    path
        Output ``.edf`` file (the suffix is added when missing).
    synth
        The recording.
    start_time
        Recording start.
    embed_seizures
        Store each seizure as an EDF+ annotation ``"Seizure"`` with its duration.

    Returns
    -------
    list of Path
        ``[edf, truth_json]``.
    """
    from signal_io.edf_writer import write_edf

    p = Path(path)
    if p.suffix.lower() != ".edf":
        p = p.with_name(p.name + ".edf")
    p.parent.mkdir(parents=True, exist_ok=True)
    signals = _edf_signals(synth.channels)
    anns = []
    if embed_seizures:
        anns = [Annotation(on, off - on, "Seizure", "seizure") for on, off, _ in synth.seizures]
    write_edf(p, signals, start_time, annotations=anns)
    stem = p.with_suffix("")
    truth = _truth_header("eeg", p, synth.seed, synth.params, synth.duration_s, start_time)
    truth["channels"] = _channels_json(synth.channels)
    truth["seizures"] = [{"onset_s": on, "offset_s": off, "channels": list(chs)}
                         for on, off, chs in synth.seizures]
    truth["artifacts"] = [{"onset_s": o, "duration_s": d, "kind": k, "channels": list(chs)}
                          for o, d, k, chs in synth.artifacts]
    tp = _truth_path(stem)
    _atomic_write_text(tp, json.dumps(truth, indent=1))
    return [p, tp]


__all__ = [
    "STAGE_TEXT",
    "START_TIME",
    "TRUTH_SCHEMA",
    "write_ecg_record",
    "write_eeg_edf",
    "write_psg_edf",
]
