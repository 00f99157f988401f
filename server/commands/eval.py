"""``wavescore eval ecg|sleep|seizure``: score detectors against annotated databases."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable
from typing import Any

from server.evaluation import options

_TARGETS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None]]] = {
    "ecg": ("ECG beats, AAMI classes and AF against WFDB .atr files or a REFERENCE.csv folder",
            options.add_ecg_arguments),
    "sleep": ("sleep staging and spindles against DREAMS-style hypnograms and expert scorings",
              options.add_sleep_arguments),
    "seizure": ("seizure detection on Bonn segments and spliced long recordings",
                options.add_seizure_arguments),
}


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("eval", help="evaluate detectors against expert annotations")
    targets = parser.add_subparsers(dest="target", metavar="TARGET", required=True)
    for name, (help_text, add_arguments) in _TARGETS.items():
        sub = targets.add_parser(name, help=help_text)
        add_arguments(sub)
        sub.set_defaults(func=_run_target(name))


def _run_target(name: str) -> Callable[[argparse.Namespace], int]:
    """The target's ``run``, importing its harness (detectors, SciPy) only when it runs."""
    def run(args: argparse.Namespace) -> int:
        module = importlib.import_module(f"server.evaluation.{name}")
        status: int = module.run(args)
        return status
    return run


__all__ = ["register"]
