"""Command-line options of ``wavescore eval ecg|sleep|seizure``.

Kept apart from the harnesses so that building the ``wavescore`` parser imports no detector or
SciPy code (the harness module is imported only when its target runs).
"""

from __future__ import annotations

import argparse
from pathlib import Path

__all__ = ["DEV_SEEDS", "HELDOUT_SEEDS", "add_ecg_arguments", "add_seizure_arguments",
           "add_sleep_arguments"]

DEV_SEEDS = (1, 2, 3)
"""Spliced seeds on which ``SeizureParams.z_threshold`` was chosen (largest sensitivity with at
most 10 false alarms per 24 h)."""
HELDOUT_SEEDS = (100, 101, 102, 103, 104)
"""Spliced seeds used only for the reported held-out figure."""


def add_seizure_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``wavescore eval seizure``."""
    parser.add_argument("--db", type=Path, required=True, help="Bonn EEG folder (sets Z O N F S)")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    parser.add_argument("--seed", type=int, default=20240601, help="splicing / CV seed")
    parser.add_argument("--hours", type=float, default=24.0, help="spliced hours in total")
    parser.add_argument("--recordings", type=int, default=8, help="spliced recordings")
    parser.add_argument("--z-threshold", type=float, default=None,
                        help="detector z threshold for the main spliced figures (default: the "
                             "detector's own, SeizureParams.z_threshold)")
    parser.add_argument("--sweep", type=float, nargs="*", default=[3.0, 3.5, 4.0, 4.5],
                        help="extra z thresholds reported as spliced.z<thr>.* (operating curve)")
    parser.add_argument("--dev-seeds", type=int, nargs="*", default=list(DEV_SEEDS),
                        help="splicing seeds the operating point was chosen on "
                             "(spliced.dev.*, pooled)")
    parser.add_argument("--heldout-seeds", type=int, nargs="*", default=list(HELDOUT_SEEDS),
                        help="splicing seeds never used for a choice (spliced.heldout.*, pooled)")


def add_ecg_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``eval ecg`` options to ``parser``."""
    parser.add_argument("--db", type=Path, required=True,
                        help="folder of WFDB records with .atr, or a folder with REFERENCE.csv")
    parser.add_argument("--records", nargs="*", default=None,
                        help="record names (default: every record in the folder)")
    parser.add_argument("--json", type=Path, default=None,
                        help="write the figures as a flat JSON object with dotted keys")
    parser.add_argument("--lead", default="MLII",
                        help="lead to analyse (default MLII; the first lead when absent)")
    parser.add_argument("--paced", nargs="*", default=[],
                        help="records to run with paced=True (default: none; pacing is then "
                             "detected automatically in every record)")
    parser.add_argument("--af-fraction", type=float, default=0.5,
                        help="REFERENCE.csv folders: a record is AF when at least this fraction "
                             "of it is in detected AF (default 0.5)")


def add_sleep_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``wavescore eval sleep``."""
    parser.add_argument("--db", type=Path, required=True, help="DREAMS spindles folder")
    parser.add_argument("--json", type=Path, default=None, help="write the figures here")
    parser.add_argument("--dod", type=Path, default=None,
                        help="dod-scorers folder (default: beside --db, when present)")
    parser.add_argument("--no-yasa", action="store_true", help="skip the YASA peer figures")
    parser.add_argument("--no-cv", action="store_true",
                        help="skip the leave-one-excerpt-out spindle threshold CV (~10 s)")
    parser.add_argument("--no-hmm", action="store_true",
                        help="main staging figures without the HMM pass (both are reported)")
