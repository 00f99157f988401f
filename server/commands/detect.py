"""``wavescore detect``: run a registered detector on a stored recording.

The proposals are stored (status ``proposed``) together with a detector-run row naming the
detector, its version, the parameters and the wavescore version, ready for review in the viewer
(``GET /api/recordings/{id}/review-queue?run_id=...``). ``--list`` prints the detectors.
Runs as the ``system`` user; the server must be stopped (or use ``POST
/api/recordings/{id}/detect``).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Any

from server.settings import Settings


def _list() -> int:
    from detectors.registry import list_detectors

    for spec in list_detectors():
        print(f"{spec.name}  v{spec.version}  needs {'/'.join(spec.needs)}: {spec.description}")
        try:
            defaults = dataclasses.asdict(spec.params_type())
        except TypeError:
            defaults = {}
        for key, value in defaults.items():
            print(f"    {key}={value}")
    return 0


class _Progress:
    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.last = -1

    def __call__(self, fraction: float) -> None:
        pct = int(max(0.0, min(1.0, fraction)) * 100)
        if self.enabled and pct != self.last:
            self.last = pct
            print(f"\rdetecting... {pct:3d}%", end="", file=sys.stderr, flush=True)


def _run(args: argparse.Namespace) -> int:
    if args.list:
        return _list()
    if not args.recording_id or not args.detector:
        print("wavescore: error: give RECORDING_ID and --detector NAME (or --list)",
              file=sys.stderr)
        return 2
    from server.services.detect import parse_param_pairs, run_detection
    from store import SYSTEM_USER, Store

    settings = Settings.from_env()
    params = parse_param_pairs(args.param)
    progress = _Progress(not args.quiet)
    with Store.open(settings.database_path) as store:
        out = run_detection(store, args.recording_id, args.detector, params, SYSTEM_USER,
                            data_dir=settings.data_dir, progress=progress)
    if progress.enabled:
        print(file=sys.stderr)
    print(f"{out.detector} v{out.detector_version} on {args.recording_id}: {out.n_events} "
          f"proposals stored as run {out.run_id} ({out.elapsed_s:.1f} s, channels "
          f"{', '.join(map(str, out.channels))})")
    return 0


def register(subparsers: Any) -> None:
    """Add ``detect`` to the CLI."""
    parser = subparsers.add_parser("detect", help="run a detector and store its proposals",
                                   description=__doc__)
    parser.add_argument("recording_id", nargs="?", help="stored recording id")
    parser.add_argument("--detector", help="detector name (see --list)")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="override a parameter (repeatable)")
    parser.add_argument("--list", action="store_true", help="list detectors and parameters")
    parser.add_argument("--quiet", action="store_true", help="no progress on stderr")
    parser.set_defaults(func=_run)


__all__ = ["register"]
