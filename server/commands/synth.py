"""``wavescore synth ecg|psg|eeg``: write a synthetic recording and its truth files."""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

_DEFAULT_DURATION_S = {"ecg": 1800.0, "psg": 8 * 3600.0, "eeg": 3600.0}
_DEFAULT_FS = {"ecg": 360.0, "psg": 256.0, "eeg": 256.0}


def register(subparsers: Any) -> None:
    """Add the ``synth`` subcommand."""
    parser = subparsers.add_parser(
        "synth",
        help="write a synthetic recording with known truth (ECG, overnight PSG, seizure EEG)",
        description=(
            "Write a synthetic recording and a <name>.truth.json file with its true events "
            "(beats and rhythms; hypnogram, spindles and K-complexes; seizures). "
            "See docs/synthetic-data.md."
        ),
    )
    parser.add_argument("kind", choices=("ecg", "psg", "eeg"), help="what to generate")
    parser.add_argument("--out", required=True, type=Path,
                        help="output path: record stem for WFDB, .edf file otherwise")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--duration-s", type=float, default=None,
                        help="length in seconds (default: ecg 1800, psg 28800, eeg 3600)")
    parser.add_argument("--fs", type=float, default=None,
                        help="sampling rate in Hz (ecg: 128-1000, default 360; psg: EEG rate, "
                             "default 256; eeg: default 256)")
    parser.add_argument("--format", choices=("wfdb", "edf"), default=None,
                        help="ecg only: wfdb (default) or edf; psg and eeg are always EDF+")
    parser.add_argument("--channels", type=int, default=None,
                        help="psg: number of EEG derivations (default 6); eeg: number of "
                             "electrodes (default 19)")
    parser.add_argument("--uniform-fs", type=float, default=None,
                        help="psg only: every channel at this rate (e.g. 256 with --channels "
                             "12 gives 20 channels at 256 Hz)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Generate and write; print the files written. Returns the exit status."""
    from signal_io.synth import (
        make_ecg,
        make_psg,
        make_seizure_eeg,
        write_ecg_record,
        write_eeg_edf,
        write_psg_edf,
    )

    kind: str = args.kind
    duration_s = args.duration_s if args.duration_s is not None else _DEFAULT_DURATION_S[kind]
    fs = args.fs if args.fs is not None else _DEFAULT_FS[kind]
    if args.format is not None and kind != "ecg" and args.format != "edf":
        raise ValueError(f"--format {args.format} is only available for ecg; {kind} is EDF+")
    if args.uniform_fs is not None and kind != "psg":
        raise ValueError("--uniform-fs applies to psg only")
    t0 = time.perf_counter()
    if kind == "ecg":
        ecg = make_ecg(fs, duration_s, seed=args.seed,
                       af_episodes=_default_af(duration_s),
                       pauses_s=[(0.55 * duration_s, 2.5)] if duration_s >= 120 else [],
                       noise_bursts=_default_noise(duration_s))
        written = write_ecg_record(args.out, ecg, fmt=args.format or "wfdb")
        summary = f"{ecg.beats_s.size} beats, {len(ecg.rhythms)} rhythm spans"
    elif kind == "psg":
        psg = make_psg(duration_s, seed=args.seed, n_eeg=args.channels or 6, eeg_fs=fs,
                       uniform_fs=args.uniform_fs)
        written = write_psg_edf(args.out, psg)
        summary = (f"{len(psg.channels)} channels, {psg.hypnogram.size} epochs, "
                   f"{len(psg.spindles)} spindle marks, {len(psg.k_complexes)} K-complex marks")
    else:
        eeg = make_seizure_eeg(duration_s, seed=args.seed, fs=fs,
                               n_channels=args.channels or 19)
        written = write_eeg_edf(args.out, eeg)
        summary = f"{len(eeg.channels)} channels, {len(eeg.seizures)} seizures"
    elapsed = time.perf_counter() - t0
    print(f"synthetic {kind}: {summary} ({duration_s:g} s, seed {args.seed}, {elapsed:.1f} s)")
    for path in written:
        print(f"wrote {path}")
    return 0


def _default_af(duration_s: float) -> list[tuple[float, float]]:
    """One AF episode over the middle fifth of recordings of at least 5 min."""
    if duration_s < 300:
        return []
    return [(0.3 * duration_s, 0.5 * duration_s)]


def _default_noise(duration_s: float) -> list[tuple[float, float]]:
    if duration_s < 120:
        return []
    return [(0.7 * duration_s, 0.7 * duration_s + 10.0)]


__all__ = ["register", "run"]
