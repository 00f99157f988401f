"""Synthetic recordings with known truth: ECG, overnight PSG and seizure EEG.

They feed the demo, the tests and the benchmarks where no real recording of the needed length
exists. Generators are deterministic for a given seed. See ``docs/synthetic-data.md``.
"""

from __future__ import annotations

import os
from pathlib import Path

from signal_io.synth._write import (
    START_TIME,
    TRUTH_SCHEMA,
    write_ecg_record,
    write_eeg_edf,
    write_psg_edf,
)
from signal_io.synth.ecg import SynthECG, make_ecg
from signal_io.synth.psg import EEG_DERIVATIONS, STAGES, SynthChannel, SynthPSG, make_psg
from signal_io.synth.seizure_eeg import SynthEEG, make_seizure_eeg

#: Seed of the demo recordings.
DEMO_SEED = 20240314
DEMO_PSG_NAME = "demo-psg-8h.edf"
DEMO_EEG_NAME = "demo-seizure-eeg-1h.edf"


def _truth_of(recording: Path) -> Path:
    return recording.with_name(recording.stem + ".truth.json")


def ensure_demo_recordings(folder: str | Path) -> list[Path]:
    """Generate the demo recordings in ``folder`` unless they are already there.

    The set: an 8-h PSG (6 EEG + 2 EOG + chin EMG + ECG + 3 respiration + SpO2, EDF+ with the
    hypnogram) and a 1-h 19-channel seizure EEG (EDF+ with seizure annotations), each with a
    ``.truth.json`` file (the PSG also with ``.hypnogram.txt``). Seed :data:`DEMO_SEED`.
    A recording counts as present when both it and its truth file exist; files are written
    under temporary names and renamed, so an interrupted run leaves nothing that looks done.

    Parameters
    ----------
    folder
        Destination folder (created when missing), e.g. ``$WAVESCORE_DATA_DIR/synthetic``.

    Returns
    -------
    list of Path
        The recording files ``[psg_edf, eeg_edf]``.
    """
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    psg_path = out / DEMO_PSG_NAME
    eeg_path = out / DEMO_EEG_NAME
    if not (psg_path.exists() and _truth_of(psg_path).exists()):
        _write_then_rename(psg_path, "psg")
    if not (eeg_path.exists() and _truth_of(eeg_path).exists()):
        _write_then_rename(eeg_path, "eeg")
    return [psg_path, eeg_path]


def _write_then_rename(final: Path, kind: str) -> None:
    tmp_dir = final.parent / f".tmp-{final.stem}-{os.getpid()}"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    tmp = tmp_dir / final.name
    if kind == "psg":
        written = write_psg_edf(tmp, make_psg(8 * 3600, seed=DEMO_SEED, n_eeg=6))
    else:
        written = write_eeg_edf(tmp, make_seizure_eeg(3600, seed=DEMO_SEED, n_channels=19))
    # side files first, the recording last: its presence marks completion
    for f in sorted(written, key=lambda p: p == tmp):
        os.replace(f, final.parent / f.name)
    tmp_dir.rmdir()


__all__ = [
    "DEMO_EEG_NAME",
    "DEMO_PSG_NAME",
    "DEMO_SEED",
    "EEG_DERIVATIONS",
    "STAGES",
    "START_TIME",
    "TRUTH_SCHEMA",
    "SynthChannel",
    "SynthECG",
    "SynthEEG",
    "SynthPSG",
    "ensure_demo_recordings",
    "make_ecg",
    "make_psg",
    "make_seizure_eeg",
    "write_ecg_record",
    "write_eeg_edf",
    "write_psg_edf",
]
