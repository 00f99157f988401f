"""``wavescore eval ecg|sleep|seizure``: score detectors against annotated databases."""

from __future__ import annotations

import importlib
from typing import Any

_TARGETS = {
    "ecg": "ECG beats, AAMI classes and AF against WFDB .atr files or a REFERENCE.csv folder",
    "sleep": "sleep staging and spindles against DREAMS-style hypnograms and expert scorings",
    "seizure": "seizure detection on Bonn segments and spliced long recordings",
}


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("eval", help="evaluate detectors against expert annotations")
    targets = parser.add_subparsers(dest="target", metavar="TARGET", required=True)
    for name, help_text in _TARGETS.items():
        try:
            module = importlib.import_module(f"server.evaluation.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"server.evaluation.{name}":
                raise
            continue
        sub = targets.add_parser(name, help=help_text)
        module.add_arguments(sub)
        sub.set_defaults(func=module.run)


__all__ = ["register"]
