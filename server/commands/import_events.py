"""``wavescore import``: import an annotation file into a stored recording.

All the file's events are stored (source ``import``, status ``confirmed`` unless
``--proposed``) or none: a malformed file, an event outside the recording or a label outside the
study's schema stops the import with a one-line error naming the file's line or field. Runs as
the ``system`` user; the server must be stopped (or use ``POST /api/recordings/{id}/import``).
Formats: ``docs/import-export.md``.
"""

from __future__ import annotations

import argparse
from typing import Any

from server.settings import Settings


def _run(args: argparse.Namespace) -> int:
    from server.services.interchange import ImportOptions, import_events_file
    from store import SYSTEM_USER, EventStatus, Store

    settings = Settings.from_env()
    options = ImportOptions(epoch_s=args.epoch_s, codes=args.codes, onset_s=args.onset_s,
                            default_category=args.category, fs=args.fs)
    status = EventStatus.PROPOSED if args.proposed else EventStatus.CONFIRMED
    with Store.open(settings.database_path) as store:
        out = import_events_file(store, args.recording_id, args.file, args.format, SYSTEM_USER,
                                 status=status, options=options,
                                 allow_duplicate=args.allow_duplicate)
    counts = ", ".join(f"{n} {c}" for c, n in sorted(out.n_by_category.items()))
    print(f"imported {out.n_events} events ({counts}) from {args.file} as {out.format} into "
          f"{out.recording_id}, status {out.status}; file sha256 {out.file_sha256}")
    for warning in out.warnings:
        print(f"warning: {warning}")
    return 0


def register(subparsers: Any) -> None:
    """Add ``import`` to the CLI."""
    from server.services.interchange import FORMAT_ALIASES

    parser = subparsers.add_parser("import", help="import an annotation file into a recording",
                                   description=__doc__)
    parser.add_argument("recording_id", help="stored recording id")
    parser.add_argument("file", help="annotation file (RECORD.EXT for WFDB)")
    parser.add_argument("--format", required=True, choices=sorted(FORMAT_ALIASES),
                        help="file format")
    parser.add_argument("--category", default="other",
                        help="BIDS TSV: category of rows without one (default other)")
    parser.add_argument("--epoch-s", type=float, default=None,
                        help="hypnogram epoch in seconds (default: the study's)")
    parser.add_argument("--codes", default="auto",
                        choices=["auto", "letters", "dreams", "rk", "aasm"],
                        help="hypnogram stage coding (default auto)")
    parser.add_argument("--onset-s", type=float, default=0.0,
                        help="hypnogram: onset of the first epoch in seconds")
    parser.add_argument("--fs", type=float, default=None,
                        help="WFDB: rate in Hz of files that declare none (default: the "
                             "recording's reference channel)")
    parser.add_argument("--proposed", action="store_true",
                        help="store the events as proposals to review, not confirmed")
    parser.add_argument("--allow-duplicate", action="store_true",
                        help="import even if this file was already imported")
    parser.set_defaults(func=_run)


__all__ = ["register"]
